"""Wires GateDeck's window, tray, gateway and Ollama watcher together, once.

Every widget receives the services it uses through its constructor; this module is the only
place that knows them all.

The window's first frame needs only the panel in front. The others (and the libraries behind
them: SDKs, plotting) are built right after that frame, or earlier when something asks for one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication

from core.clients.claude_code import claude_code_env, render_env
from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.ui_state import open_ui_state
from core.gateway.running import RunningRecord, find_running
from core.ollama.hosts import OllamaHosts
from core.ollama.models import only_embedding
from core.ollama.server import EnsureResult
from gui.dialogs.preferences import PreferencesDialog, apply_theme
from gui.first_paint import after_first_paint
from gui.gateway_bridge import BridgeState, GatewayBridge
from gui.main_window import MainWindow
from gui.ollama_watch import OllamaWatcher, first_backend_state
from gui.ops import BackgroundOps
from gui.tray import GatewayTray

if TYPE_CHECKING:
    from core.clients.tool_probe import ProbeResult
    from gui.dialogs.claude import ClaudeCodeDialog
    from gui.dialogs.setup_run import SetupServices
    from gui.dialogs.setup_wizard import SetupWizard
    from gui.observability import Observability
    from gui.panels.gateway import GatewayPanel
    from gui.panels.hardware import HardwarePanel
    from gui.panels.mappings import MappingsPanel
    from gui.panels.models import ModelsPanel

#: How long the window waits after a change (a panel switch…) before writing its state file, so
#: a burst of clicks is written once.
STATE_SAVE_DELAY_MS = 1000


class AppController(QObject):
    """Owns the top-level objects and the app's lifecycle (start, hide to tray, quit)."""

    def __init__(
        self,
        install: Installation,
        gateway: GatewayBridge | None = None,
        watcher: OllamaWatcher | None = None,
        use_tray: bool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.install = install
        self.holder = ConfigHolder(install.store, install.config)
        self.ui_state = open_ui_state(install.paths.state_file, install.loaded.moved_out)
        #: The window's own background work (tray and menu actions, loading the engine).
        self.ops = BackgroundOps(self._show_error, owner="window")
        self.gateway = gateway or GatewayBridge(
            self.holder, install.secrets, install.master_key, metrics_key=install.metrics_token
        )
        #: Tells `gatedeck claude-env` / `gatedeck claude` in a terminal where this window serves.
        self.running = RunningRecord(install.paths, "window")
        #: What Ollama has (installed, loaded, details) and the hardware: asked once, shared by
        #: the watcher and the Models and Hardware panels.
        self.watcher = watcher or OllamaWatcher(self.holder, first_backend_state(self.holder))
        self.ollama = self.watcher.ollama
        #: Every Ollama host's state, by name (the first host's is the watcher's).
        self.hosts = OllamaHosts(self.holder, self.ollama)
        self._observability: Observability | None = None
        self.window = MainWindow(
            {
                "gateway": self._build_gateway_panel,
                "mappings": self._build_mappings_panel,
                "models": self._build_models_panel,
                "hardware": self._build_hardware_panel,
                "monitor": lambda: self.observability.monitor,
                "chat": lambda: self.observability.chat,
            }
        )
        self.tray = GatewayTray(self)
        self.tray_enabled = GatewayTray.available() if use_tray is None else use_tray
        self._quitting = False
        self._installed: list[str] | None = None
        self._offer_setup = False
        #: The setup wizard while it is open.
        self.setup: SetupWizard | None = None
        self.quit_finished = asyncio.Event()
        self._state_timer = QTimer(self)
        self._state_timer.setSingleShot(True)
        self._state_timer.setInterval(STATE_SAVE_DELAY_MS)
        self._state_timer.timeout.connect(self._on_state_timer_timeout)

        self._add_menu()
        self.window.close_requested.connect(self._on_window_close_requested)
        self.window.panel_changed.connect(self._on_window_panel_changed)
        self.gateway.state_changed.connect(self._on_gateway_state_changed)
        self.watcher.changed.connect(self._on_watcher_changed)
        self.watcher.went_away.connect(self._on_watcher_went_away)
        self.tray.start_requested.connect(lambda: self.ops.run(self.gateway.start()))
        self.tray.stop_requested.connect(lambda: self.ops.run(self.gateway.stop()))
        self.tray.open_requested.connect(self.show_window)
        self.tray.copy_env_requested.connect(self.copy_claude_env)
        self.tray.quit_requested.connect(lambda: self.ops.run(self.quit()))
        self._on_gateway_state_changed(self.gateway.state, self.gateway.reason)
        apply_theme(self.holder.config.ui.theme)
        state = self.ui_state.state
        self.window.restore_layout(state.window_geometry, state.splitters)
        self.window.show_panel(state.last_panel)

    # ---------------------------------------------------------------- panels
    @property
    def gateway_panel(self) -> GatewayPanel:
        return cast("GatewayPanel", self.window.panel("gateway"))

    @property
    def mappings_panel(self) -> MappingsPanel:
        return cast("MappingsPanel", self.window.panel("mappings"))

    @property
    def models_panel(self) -> ModelsPanel:
        return cast("ModelsPanel", self.window.panel("models"))

    @property
    def hardware_panel(self) -> HardwarePanel:
        return cast("HardwarePanel", self.window.panel("hardware"))

    @property
    def observability(self) -> Observability:
        """The monitor and chat panels, alerts and the metrics recorder (built when first used)."""
        if self._observability is None:
            from gui.observability import Observability

            observability = Observability(self.gateway, self.holder, self.install.paths)
            observability.attach_tray(self.tray, self.tray_enabled)
            observability.raise_context_requested.connect(self.raise_context)
            self._observability = observability
        return self._observability

    def _build_gateway_panel(self) -> GatewayPanel:
        from gui.panels.gateway import GatewayPanel

        panel = GatewayPanel(self.holder, self.gateway, self.hosts)
        panel.hosts_changed.connect(lambda: self.ops.run(self.watcher.refresh()))
        panel.claude_code_requested.connect(self.open_claude_setup)
        panel.setup_requested.connect(self.open_setup)
        return panel

    def _build_mappings_panel(self) -> MappingsPanel:
        from gui.panels.mappings import MappingsPanel

        panel = MappingsPanel(
            self.holder,
            self.gateway.apply,
            probe=self._probe_mapping,
            verdicts_dir=self.install.paths.data_dir,
            hosts=self.hosts,
        )
        panel.pull_requested.connect(self._on_mappings_pull_requested)
        return panel

    async def _probe_mapping(self, name: str, num_ctx: int | None) -> ProbeResult:
        from core.clients.tool_probe import probe_tool_calls

        gateway = self.gateway
        return await probe_tool_calls(
            gateway.url, gateway.master_key, name, num_ctx=num_ctx, records=gateway.metrics
        )

    def _build_models_panel(self) -> ModelsPanel:
        from gui.panels.models import ModelsPanel

        panel = ModelsPanel(self.holder, self.ollama, hosts=self.hosts)
        panel.models_changed.connect(lambda: self.ops.run(self.watcher.refresh()))
        panel.models_changed.connect(lambda: self.mappings_panel.schedule_host_refresh())
        return panel

    def _build_hardware_panel(self) -> HardwarePanel:
        from gui.panels.hardware import HardwarePanel

        return HardwarePanel(self.holder, self.gateway, self.ollama)

    def _add_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&GateDeck")
        prefs = QAction("Preferences…", self.window)
        prefs.setObjectName("preferencesAction")
        prefs.triggered.connect(self.open_preferences)
        quit_action = QAction("Quit", self.window)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(lambda: self.ops.run(self.quit()))
        menu.addAction(prefs)
        menu.addSeparator()
        menu.addAction(quit_action)

    # ---------------------------------------------------------------- lifecycle
    def start(self, show_window: bool = True, offer_setup: bool = False) -> None:
        """Show the window (and tray), then start background work.

        ``show_window=False`` (a start on login) stays in the tray, unless there is no tray.
        ``offer_setup``: open the first-run setup once the window is up, while it is pending
        (GateDeck wrote a new config and the person has not finished or skipped the setup yet).
        """
        if offer_setup and self.install.loaded.source == "new":
            self.ui_state.update(setup_pending=True)
            self.ui_state.save()
        self._offer_setup = offer_setup
        if show_window or not self.tray_enabled:
            self.window.show()
        if self.tray_enabled:
            self.tray.show()
        after_first_paint(self.window, self._start_background)

    def _start_background(self) -> None:
        """Everything the window's first frame did not need: the other panels, the monitor,
        asking Ollama, loading the gateway engine."""
        if self._quitting:
            return
        self.window.build_panels()
        self.observability.start()
        # The watcher's first ask loads the HTTP client on this thread before the engine's
        # thread starts importing LiteLLM, which uses the same libraries.
        self.watcher.start()
        self.ops.run(self.gateway.load_engine())
        if self.holder.config.ollama_server.managed:
            self.ops.run(self.start_managed_ollama())
        if self._offer_setup and self.ui_state.state.setup_pending and self.window.isVisible():
            self.open_setup()

    async def start_managed_ollama(self) -> None:
        """Start GateDeck's own ``ollama serve`` when none answers (the user asked GateDeck to
        manage it); quitting stops it again, and only a server GateDeck started."""
        result = await self.hardware_panel.server.ensure_running()
        if result is EnsureResult.STARTED:
            await self.watcher.refresh()

    def raise_context(self, mapping: str) -> None:
        """Open the Hardware panel on ``mapping`` (a Monitor or alert "Raise context…")."""
        self.show_window("hardware")
        self.ops.run(self._tune_context_of(mapping))

    async def _tune_context_of(self, mapping: str) -> None:
        await self.hardware_panel.select_mapping(mapping)
        self.hardware_panel.tuning.context.slider.setFocus()

    def show_window(self, panel: str = "") -> None:
        if panel:
            self.window.show_panel(panel)
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    async def quit(self) -> None:
        """Stop the gateway cleanly, then leave."""
        if self._quitting:  # a second request waits for the first to finish
            await self.quit_finished.wait()
            return
        self._quitting = True
        self.save_ui_state()
        self.window.hide()
        self.tray.hide()
        if self.setup is not None:  # still offered at the next start
            wizard = self.setup
            wizard.close()
            await wizard.shutdown()
        await self.watcher.stop()
        if self.window.is_built("gateway"):
            await self.gateway_panel.shutdown()
        if self.window.is_built("models"):
            await self.models_panel.shutdown()  # cancels pulls; Ollama keeps what it has
        if self.window.is_built("hardware"):
            await self.hardware_panel.shutdown()
        if self.window.is_built("mappings"):
            await self.mappings_panel.shutdown()
        await self.hosts.aclose()  # the first host's state (the watcher's) included
        if self._observability is not None:
            await self._observability.stop()
        await self.ops.shutdown()  # e.g. the engine still loading
        await self.gateway.close()
        self.running.withdraw()
        self.window.allow_close = True
        self.window.close()
        self.quit_finished.set()
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def _show_error(self, message: str) -> None:
        self.window.banner.show_message(message, "error")

    def open_preferences(self) -> None:
        dialog = PreferencesDialog(self.holder, self.window)
        dialog.open()

    def open_claude_setup(self) -> ClaudeCodeDialog:
        from gui.dialogs.claude import ClaudeCodeDialog

        dialog = ClaudeCodeDialog(
            self.holder.config, self.claude_base_url(), self.gateway.master_key, parent=self.window
        )
        dialog.open()
        return dialog

    def open_setup(self) -> SetupWizard:
        """Open the first-run setup (or bring the open one to the front)."""
        if self.setup is not None:
            self.setup.raise_()
            self.setup.activateWindow()
            return self.setup
        from gui.dialogs.setup_wizard import SetupWizard

        wizard = self.setup = SetupWizard(self.setup_services(), self.window)
        wizard.ollama_changed.connect(lambda: self.ops.run(self.watcher.refresh()))
        wizard.finished.connect(self._on_setup_finished)
        wizard.open()
        self.ops.run(wizard.begin())
        return wizard

    def setup_services(self) -> SetupServices:
        """What the setup works with: this window's config, gateway, Ollama, pulls and probe."""
        from gui.dialogs.setup_run import SetupServices

        return SetupServices(
            holder=self.holder,
            gateway=self.gateway,
            ollama=self.ollama,
            server=self.hardware_panel.server,
            pulls=self.models_panel.queue,
            probe=self._probe_mapping,
            claude_base_url=self.claude_base_url,
            verdicts_dir=self.install.paths.data_dir,
        )

    def save_ui_state(self) -> None:
        """Write the window's state file now (if anything changed): last panel, and the window's
        geometry and splitters while it is shown (a hidden window keeps what was saved)."""
        self._state_timer.stop()
        if self.window.isVisible():
            geometry, splitters = self.window.saved_layout()
            self.ui_state.update(window_geometry=geometry, splitters=splitters)
        self.ui_state.save()

    def claude_base_url(self) -> str:
        """This window's gateway; while it is not serving, a `gatedeck serve` that is."""
        if not self.gateway.serving:
            elsewhere = find_running(self.install.paths)
            if elsewhere is not None:
                return elsewhere.url
        return self.gateway.url

    def copy_claude_env(self) -> None:
        QGuiApplication.clipboard().setText(self.claude_env_text())
        if self.tray_enabled:
            self.tray.notify("GateDeck", "Claude Code environment copied to the clipboard.")

    def claude_env_text(self) -> str:
        env = claude_code_env(self.holder.config, self.claude_base_url(), self.gateway.master_key)
        return render_env(env, "bash")

    # ---------------------------------------------------------------- slots
    def _on_setup_finished(self, _result: int) -> None:
        """Finished or skipped: not offered again at start (Set up… still runs it)."""
        wizard, self.setup = self.setup, None
        if self._quitting:  # closed because GateDeck quits: offered again next time
            return
        if self.ui_state.update(setup_pending=False):
            self.ui_state.save()
        if wizard is not None:
            self.ops.run(self._dispose_setup(wizard))

    @staticmethod
    async def _dispose_setup(wizard: SetupWizard) -> None:
        """Stop what the closed setup still runs, then free it (each Set up… builds a new one)."""
        await wizard.shutdown()
        wizard.deleteLater()

    def _on_window_close_requested(self) -> None:
        if not self.tray_enabled:
            self.ops.run(self.quit())
            return
        if not self.ui_state.state.tray_hint_shown:
            self.tray.notify(
                "GateDeck is still running",
                "The gateway keeps serving from the tray. Right-click the tray icon to quit.",
            )
            self.ui_state.update(tray_hint_shown=True)
        self.save_ui_state()
        self.window.hide()

    def _on_window_panel_changed(self, key: str) -> None:
        if self.ui_state.update(last_panel=key):
            self._state_timer.start()

    def _on_state_timer_timeout(self) -> None:
        self.save_ui_state()

    def _on_gateway_state_changed(self, state: str, reason: str) -> None:
        words = {
            "loading": "Gateway: loading engine…",
            "stopped": "Gateway stopped",
            "starting": "Gateway starting…",
            "running": f"Gateway on {self.gateway.url}",
            "stopping": "Gateway stopping…",
            "failed": "Gateway failed",
        }
        self.window.set_gateway_status(state, words.get(state, state))
        self.running.update(state == BridgeState.RUNNING, self.gateway.url)
        self.tray.set_state(BridgeState(state), self.gateway.url, reason)
        if state == BridgeState.FAILED and self.tray_enabled:
            self.tray.notify("GateDeck gateway failed", reason or "See the Gateway panel.", critical=True)

    def _on_watcher_changed(self, ok: bool, message: str, installed: object) -> None:
        if ok:
            self.window.set_ollama_status(True, f"Ollama {message}")
            self.window.banner.clear()
        else:
            self.window.set_ollama_status(False, "Ollama not answering")
            self.window.banner.show_message(message, "error")
        models = installed if isinstance(installed, list) else None
        self.mappings_panel.set_installed_models(models)
        if models is not None:
            self.ops.run(self._mark_embedding_models())
        self.models_panel.on_ollama_changed(ok, models)
        self.hardware_panel.on_ollama_changed(ok, models)
        if models is not None and models != self._installed and self.gateway.serving:
            # Installed models are served under their own names too: keep that list current.
            self.ops.run(self.gateway.refresh_installed())
        self._installed = models

    async def _mark_embedding_models(self) -> None:
        """Mark the mappings whose model only makes embeddings (details asked once per model)."""
        described = await self.ollama.describe_installed()
        self.mappings_panel.set_embedding_models(only_embedding(described))

    def _on_mappings_pull_requested(self, model: str, host: str) -> None:
        self.window.show_panel("models")
        self.models_panel.request_pull(model, host)

    def _on_watcher_went_away(self, message: str) -> None:
        if self.tray_enabled:
            self.tray.notify("Ollama went away", message, critical=True)
