"""The monitor and chat panels, alerts, and the metrics recorder they share, wired once.

The recorder is the gateway's own (``Gateway.metrics``), so the window and ``gatedeck serve``
record the same way.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.clients.chat import ChatClient
from core.clients.probe_verdicts import keep_verdict
from core.clients.tool_probe import ProbeResult, probe_tool_calls
from core.config.holder import ConfigHolder
from core.metrics.alerts import AlertPolicy, load_thresholds, save_thresholds
from core.paths import AppPaths
from gui.alert_notifier import AlertNotifier
from gui.gateway_bridge import GatewayBridge
from gui.panels.chat import ChatPanel
from gui.panels.monitor import MonitorPanel
from gui.tray import GatewayTray


class Observability(QObject):
    """Builds and connects the monitor panel, the chat panel and the alert notifier.

    Signals:
        raise_context_requested(str): the user wants a larger context for this mapping.
    """

    raise_context_requested = Signal(str)

    def __init__(
        self, gateway: GatewayBridge, holder: ConfigHolder, paths: AppPaths, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._gateway = gateway
        self._holder = holder
        self._paths = paths
        self.recorder = gateway.metrics
        self.policy = AlertPolicy(load_thresholds(paths.data_dir))
        self.monitor = MonitorPanel(self.recorder, self.policy)
        self.chat = ChatPanel(self._new_client, self._probe, self._names)
        self.notifier = AlertNotifier(self.recorder, self.policy)

        self.notifier.alerted.connect(self.monitor.show_alert)
        self.notifier.raise_context_requested.connect(self.raise_context_requested)
        self.monitor.raise_context_requested.connect(self.raise_context_requested)
        self.monitor.stats_table.threshold_changed.connect(self._on_threshold_changed)

    def attach_tray(self, tray: GatewayTray, enabled: bool) -> None:
        """Show alerts as tray notifications (when there is a tray); a click may open a panel.
        The tray's tooltip says what answering locally saved today."""
        self.monitor.saved_today_changed.connect(tray.set_saved_today)
        if enabled:
            self.notifier.notify = tray.notify
            tray.icon.messageClicked.connect(self.notifier.on_message_clicked)

    def start(self) -> None:
        self.monitor.start()
        self.notifier.start()

    async def stop(self) -> None:
        self.chat.stop()
        await self.monitor.shutdown()
        self.notifier.stop()

    # ---------------------------------------------------------------- internals
    def _new_client(self) -> ChatClient:
        return ChatClient(self._gateway.url, self._gateway.master_key)

    async def _probe(self, mapping: str) -> ProbeResult:
        found = next((m for m in self._holder.config.mappings if m.name == mapping), None)
        num_ctx = found.options.num_ctx if found else None
        result = await probe_tool_calls(
            self._gateway.url,
            self._gateway.master_key,
            mapping,
            num_ctx=num_ctx,
            records=self._gateway.metrics,
        )
        if found is not None:  # the Mappings table shows it too
            keep_verdict(self._paths.data_dir, result, found.model, num_ctx)
        return result

    def _names(self) -> list[str]:
        names = [m.name for m in self._holder.config.mappings]
        return names + [name for name in self._gateway.installed_models if name not in names]

    def _on_threshold_changed(self, _mapping: str, _seconds: float) -> None:
        save_thresholds(self._paths.data_dir, self.policy.thresholds)  # the panel updated the policy
