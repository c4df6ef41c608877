"""Gateway panel: state, address, start/stop/restart, port and bind address, Ollama hosts, master key,
the metrics token."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.clients.claude_code import follow_gateway
from core.config.holder import ConfigHolder
from core.gateway.net import exposure_warning
from core.ollama.hosts import OllamaHosts
from gui.gateway_bridge import BridgeState, GatewayBridge
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, css, follow_palette, tint
from gui.widgets.banner import Banner
from gui.widgets.confirm import ask_yes_no
from gui.widgets.hosts_table import HostsWidget
from gui.widgets.metrics_token_box import MetricsTokenBox

STATE_WORDS = {
    "stopped": "Stopped",
    "starting": "Starting…",
    "running": "Running",
    "stopping": "Stopping…",
    "failed": "Failed",
    "loading": "Loading gateway engine…",
}
STATE_TONES = {"running": Tone.GOOD, "failed": Tone.BAD, "stopped": Tone.MUTED}
BIND_CHOICES = (
    ("127.0.0.1", "This computer only (127.0.0.1)"),
    ("0.0.0.0", "All network interfaces (0.0.0.0) — other machines can connect"),
)


class GatewayPanel(QWidget):
    """Controls for the embedded gateway.

    Signals:
        claude_code_requested(): the user wants the Claude Code setup dialog.
        setup_requested(): the user wants the setup wizard (Ollama, a model, Claude Code).
        hosts_changed(): the Ollama hosts were changed and saved.
    """

    claude_code_requested = Signal()
    setup_requested = Signal()
    hosts_changed = Signal()

    def __init__(
        self,
        holder: ConfigHolder,
        gateway: GatewayBridge,
        hosts: OllamaHosts,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ops = BackgroundOps(self._show_error, owner="gateway panel")
        self.setObjectName("gatewayPanel")
        self._holder = holder
        self._gateway = gateway
        self._suggested_port: int | None = None

        self.banner = Banner()
        self.banner.action.clicked.connect(self._on_banner_action_clicked)

        self.state_label = QLabel()
        self.state_label.setObjectName("gatewayState")
        self._state = ""
        follow_palette(self.state_label, self._show_state)
        self.url_field = QLineEdit()
        self.url_field.setObjectName("gatewayUrl")
        self.url_field.setReadOnly(True)
        copy_url = QPushButton("Copy")
        copy_url.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.url_field.text()))
        url_row = QHBoxLayout()
        url_row.addWidget(self.url_field, 1)
        url_row.addWidget(copy_url)

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startGateway")
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopGateway")
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.restart_button = QPushButton("Restart")
        self.restart_button.setObjectName("restartGateway")
        self.restart_button.clicked.connect(self._on_restart_button_clicked)
        claude = QPushButton("Set up Claude Code…")
        claude.setObjectName("claudeCodeSetup")
        claude.clicked.connect(self.claude_code_requested)
        controls = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.restart_button):
            controls.addWidget(button)
        controls.addStretch(1)
        controls.addWidget(claude)
        setup = QPushButton("Set up…")
        setup.setObjectName("openSetup")
        setup.setToolTip("Check Ollama, pick a model that fits this machine, and point Claude Code at it.")
        setup.clicked.connect(self.setup_requested)
        controls.addWidget(setup)

        status_box = QGroupBox("Gateway")
        status_form = QFormLayout(status_box)
        status_form.addRow("State", self.state_label)
        status_form.addRow("Address", url_row)
        status_form.addRow(controls)

        self.port = QSpinBox()
        self.port.setObjectName("gatewayPort")
        self.port.setRange(1, 65535)
        self.port.setMaximumWidth(120)
        self.bind = QComboBox()
        self.bind.setObjectName("gatewayBind")
        for value, title in BIND_CHOICES:
            self.bind.addItem(title, value)
        self.bind_warning = QLabel(
            "Other machines on your network will be able to reach the gateway. Anyone with the master "
            "key can use your models."
        )
        self.bind_warning.setObjectName("bindWarning")
        self.bind_warning.setWordWrap(True)
        tint(self.bind_warning, Tone.WARNING)
        self.start_on_launch = QCheckBox("Start the gateway when GateDeck starts")
        self.start_on_launch.setObjectName("startOnLaunch")
        self.direct_path = QCheckBox("Answer Ollama mappings directly (fast path)")
        self.direct_path.setObjectName("directPath")
        self.direct_path.setToolTip(
            "Requests for mappings served only by Ollama go straight to Ollama: about 1–2 ms added "
            "per request instead of 20–40 ms through LiteLLM, and far less CPU; a mapping's "
            "Ollama fallbacks are tried directly too. Cloud models (a fallback's included) go "
            "through LiteLLM, as do mappings on several backends when the config sets a routing "
            "strategy other than simple-shuffle. Turn off to send every request through LiteLLM."
        )
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveGatewaySettings")
        self.save_button.clicked.connect(self._on_save_button_clicked)
        settings_box = QGroupBox("Serving")
        settings_form = QFormLayout(settings_box)
        settings_form.addRow("Port", self.port)
        settings_form.addRow("Listen on", self.bind)
        settings_form.addRow(self.bind_warning)
        settings_form.addRow(self.start_on_launch)
        settings_form.addRow(self.direct_path)
        self.settings_status = QLabel()
        self.settings_status.setObjectName("gatewaySettingsStatus")
        self.settings_status.setWordWrap(True)
        save_row = QHBoxLayout()
        save_row.addWidget(self.settings_status, 1)
        save_row.addWidget(self.save_button)
        settings_form.addRow(save_row)

        self.hosts = HostsWidget(holder, gateway.apply, hosts)
        self.hosts.hosts_changed.connect(self.hosts_changed)
        ollama_box = QGroupBox("Ollama hosts")
        ollama_layout = QVBoxLayout(ollama_box)
        ollama_box.setToolTip(
            "Mappings send requests to these Ollama servers; the first is the default for new "
            "mappings. A mapping on several hosts keeps each conversation on one of them."
        )
        ollama_layout.addWidget(self.hosts)

        self.key_field = QLineEdit()
        self.key_field.setObjectName("masterKey")
        self.key_field.setReadOnly(True)
        self.key_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_key = QPushButton("Show")
        self.show_key.setObjectName("showMasterKey")
        self.show_key.setCheckable(True)
        self.show_key.toggled.connect(self._on_show_key_toggled)
        copy_key = QPushButton("Copy")
        copy_key.setObjectName("copyMasterKey")
        copy_key.clicked.connect(lambda: QGuiApplication.clipboard().setText(self._gateway.master_key))
        self.regenerate = QPushButton("Regenerate…")
        self.regenerate.setObjectName("regenerateMasterKey")
        self.regenerate.clicked.connect(self._on_regenerate_clicked)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_field, 1)
        for button in (self.show_key, copy_key, self.regenerate):
            key_row.addWidget(button)
        key_box = QGroupBox("Master key")
        key_layout = QVBoxLayout(key_box)
        key_note = QLabel(
            "Clients send this key as <code>Authorization: Bearer …</code> or <code>x-api-key</code>. "
            "It is stored outside the config file."
        )
        key_note.setWordWrap(True)
        key_layout.addWidget(key_note)
        key_layout.addLayout(key_row)

        # The boxes scroll in a small window (the hosts list grows with each host).
        content = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.banner)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)
        layout.addWidget(status_box)
        layout.addWidget(settings_box)
        layout.addWidget(ollama_box)
        layout.addWidget(key_box)
        self.metrics_box = MetricsTokenBox(gateway.metrics_token)
        layout.addWidget(self.metrics_box)
        layout.addStretch(1)
        scroll.setWidget(content)

        self.port.valueChanged.connect(self._update_save_button)
        self.bind.currentIndexChanged.connect(self._update_save_button)
        self.start_on_launch.toggled.connect(self._update_save_button)
        self.direct_path.toggled.connect(self._update_save_button)
        gateway.state_changed.connect(self._on_gateway_state_changed)
        self.load_settings()
        self._on_gateway_state_changed(gateway.state, gateway.reason)

    # ---------------------------------------------------------------- public API
    def load_settings(self) -> None:
        settings = self._holder.config.gateway
        self.port.setValue(settings.port)
        index = self.bind.findData(settings.host)
        if index < 0:
            self.bind.addItem(settings.host, settings.host)
            index = self.bind.count() - 1
        self.bind.setCurrentIndex(index)
        self.start_on_launch.setChecked(settings.start_on_launch)
        self.direct_path.setChecked(settings.direct_path)
        self.key_field.setText(self._gateway.master_key)
        self._update_save_button()

    async def save_settings(self) -> bool:
        """Save port/bind/start-on-launch/fast path; a running gateway restarts on a new address
        (the fast path switches without a restart)."""
        config = self._holder.config
        gateway = config.gateway.model_copy(
            update={
                "port": self.port.value(),
                "host": str(self.bind.currentData()),
                "start_on_launch": self.start_on_launch.isChecked(),
                "direct_path": self.direct_path.isChecked(),
            }
        )
        before = {"ANTHROPIC_BASE_URL": self._gateway.url, "ANTHROPIC_AUTH_TOKEN": self._gateway.master_key}
        message = await self._gateway.apply(config.model_copy(update={"gateway": gateway}))
        self._update_save_button()
        self.url_field.setText(self._gateway.url)
        self.metrics_box.show_gateway(self._gateway.url)
        if self._gateway.url != before["ANTHROPIC_BASE_URL"]:
            followed = await self.ops.in_thread(
                follow_gateway, before, {"ANTHROPIC_BASE_URL": self._gateway.url}
            )
            if followed:
                message += f" Claude Code's settings ({followed.path}) now point at {self._gateway.url}."
        self.settings_status.setText(message)
        return True

    async def shutdown(self) -> None:
        """Stop the hosts list's checks (and close its dialog)."""
        await self.hosts.shutdown()
        await self.ops.shutdown()

    async def regenerate_key(self) -> str:
        """A new master key; Claude Code's settings follow it where they held the old one."""
        old = self._gateway.master_key
        key = await self._gateway.regenerate_master_key()
        self.key_field.setText(key)
        followed = await self.ops.in_thread(
            follow_gateway, {"ANTHROPIC_AUTH_TOKEN": old}, {"ANTHROPIC_AUTH_TOKEN": key}
        )
        claude = (
            f" Claude Code's settings ({followed.path}) now hold it: Claude Code sessions started "
            "from now on use it (restart the ones already running)."
            if followed
            else ""
        )
        self.banner.show_message(
            f"A new master key is in use.{claude} Clients using the old key now get 401: give them "
            "the new one (the Claude Code setup shows it).",
            "info",
        )
        return key

    # ---------------------------------------------------------------- slots
    def _show_error(self, message: str) -> None:
        self.banner.show_message(message, "error")

    @async_slot()
    async def _on_start_button_clicked(self) -> None:
        await self._gateway.start()

    @async_slot()
    async def _on_stop_button_clicked(self) -> None:
        await self._gateway.stop()

    @async_slot()
    async def _on_restart_button_clicked(self) -> None:
        await self._gateway.restart()

    @async_slot()
    async def _on_save_button_clicked(self) -> None:
        await self.save_settings()

    @async_slot()
    async def _on_regenerate_clicked(self) -> None:
        if await ask_yes_no(
            self,
            "Regenerate the master key?",
            "Every client using the current key will be refused until you give it the new key. "
            "Claude Code's settings file gets it where it holds the current key; Claude Code "
            "sessions already running must be restarted. Continue?",
        ):
            await self.regenerate_key()

    @async_slot()
    async def _on_banner_action_clicked(self) -> None:
        if self._suggested_port is not None:
            self.port.setValue(self._suggested_port)
            self._suggested_port = None
            await self.save_settings()
            if self._gateway.state is BridgeState.STOPPED:
                await self._gateway.start()

    def _on_show_key_toggled(self, shown: bool) -> None:
        self.key_field.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_key.setText("Hide" if shown else "Show")

    def _show_state(self) -> None:
        if self._state:
            colour = css(STATE_TONES.get(self._state, Tone.WARNING))
            words = STATE_WORDS.get(self._state, self._state)
            self.state_label.setText(f"<b style='color:{colour}'>●</b> {words}")

    def _on_gateway_state_changed(self, value: str, reason: str) -> None:
        state = BridgeState(value)
        self._state = state
        self._show_state()
        self.url_field.setText(self._gateway.url)
        self.metrics_box.show_gateway(self._gateway.url)
        busy = state in (BridgeState.STARTING, BridgeState.STOPPING, BridgeState.LOADING)
        self.start_button.setEnabled(state in (BridgeState.STOPPED, BridgeState.FAILED))
        self.stop_button.setEnabled(state in (BridgeState.RUNNING, BridgeState.STARTING))
        self.restart_button.setEnabled(state in (BridgeState.RUNNING, BridgeState.FAILED))
        self.save_button.setEnabled(not busy and self._settings_changed())
        if state is BridgeState.FAILED:
            self._suggested_port = self._gateway.suggested_port
            action = f"Use port {self._suggested_port}" if self._suggested_port else ""
            self.banner.show_message(reason or "The gateway stopped unexpectedly.", "error", action)
        elif state is BridgeState.RUNNING:
            self.banner.clear()
            if self._holder.config.gateway.exposed:
                self.banner.show_message(exposure_warning(self._holder.config.gateway.host), "warning")

    def _settings_changed(self) -> bool:
        settings = self._holder.config.gateway
        return (
            self.port.value() != settings.port
            or self.bind.currentData() != settings.host
            or self.start_on_launch.isChecked() != settings.start_on_launch
            or self.direct_path.isChecked() != settings.direct_path
        )

    def _update_save_button(self, *_args: object) -> None:
        self.save_button.setEnabled(self._settings_changed())
        self.bind_warning.setVisible(self.bind.currentData() not in ("127.0.0.1", "localhost", "::1"))
