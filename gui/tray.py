"""The tray icon: gateway state at a glance, start/stop without opening the window."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from core.metrics.savings import dollars
from gui.gateway_bridge import BridgeState
from gui.resources import icon

STATE_TEXT = {
    "loading": "loading its engine…",
    "stopped": "stopped",
    "starting": "starting…",
    "running": "running",
    "stopping": "stopping…",
    "failed": "failed",
}
_PICTURED = (BridgeState.STOPPED, BridgeState.STARTING, BridgeState.RUNNING, BridgeState.FAILED)


class GatewayTray(QObject):
    """Tray icon and its menu.

    Signals:
        start_requested(): "Start gateway" chosen.
        stop_requested(): "Stop gateway" chosen.
        open_requested(): "Open GateDeck" chosen, or the icon clicked.
        copy_env_requested(): "Copy Claude Code environment" chosen.
        quit_requested(): "Quit" chosen.
    """

    start_requested = Signal()
    stop_requested = Signal()
    open_requested = Signal()
    copy_env_requested = Signal()
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.toggle_action = QAction("Start gateway", self.menu)
        self.toggle_action.setObjectName("trayToggleGateway")
        self.toggle_action.triggered.connect(self._on_toggle_action_triggered)
        self.open_action = QAction("Open GateDeck", self.menu)
        self.open_action.triggered.connect(self.open_requested)
        self.copy_action = QAction("Copy Claude Code environment", self.menu)
        self.copy_action.triggered.connect(self.copy_env_requested)
        self.quit_action = QAction("Quit GateDeck", self.menu)
        self.quit_action.triggered.connect(self.quit_requested)
        self.menu.addAction(self.toggle_action)
        self.menu.addSeparator()
        self.menu.addAction(self.open_action)
        self.menu.addAction(self.copy_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_icon_activated)
        self.state = BridgeState.STOPPED
        self.saved_today = 0.0
        self._url = self._reason = ""
        self.set_state(BridgeState.STOPPED, "")

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_state(self, state: BridgeState, url: str, reason: str = "") -> None:
        """Show ``state`` in the icon, menu and tooltip (loading the engine shows as starting)."""
        self.state, self._url, self._reason = state, url, reason
        pictured = state if state in _PICTURED else BridgeState.STARTING
        self.icon.setIcon(icon(f"tray-{pictured.value}"))
        running = state in (BridgeState.RUNNING, BridgeState.STARTING, BridgeState.LOADING)
        self.toggle_action.setText("Stop gateway" if running else "Start gateway")
        self.toggle_action.setEnabled(state is not BridgeState.STOPPING)
        tip = f"GateDeck — gateway {STATE_TEXT.get(state, state)}"
        if state is BridgeState.RUNNING and url:
            tip += f"\n{url}"
        if reason:
            tip += f"\n{reason}"
        if self.saved_today > 0:
            tip += f"\nSaved {dollars(self.saved_today)} today by answering locally"
        self.icon.setToolTip(tip)

    def set_saved_today(self, dollars_saved: float) -> None:
        """Show what answering locally saved today in the tooltip."""
        self.saved_today = dollars_saved
        self.set_state(self.state, self._url, self._reason)

    def notify(self, title: str, message: str, critical: bool = False) -> None:
        kind = QSystemTrayIcon.MessageIcon.Critical if critical else QSystemTrayIcon.MessageIcon.Information
        self.icon.showMessage(title, message, kind, 8000)

    def _on_toggle_action_triggered(self) -> None:
        if self.state in (BridgeState.RUNNING, BridgeState.STARTING, BridgeState.LOADING):
            self.stop_requested.emit()
        else:
            self.start_requested.emit()

    def _on_icon_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.open_requested.emit()
