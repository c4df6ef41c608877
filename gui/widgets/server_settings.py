"""The Ollama server's own settings: editable when GateDeck runs ``ollama serve``, read-only otherwise."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.config.schema import OllamaServerSettings
from core.ollama.server import SERVER_ENV_NAMES, server_environment
from gui.palette import Tone, tint

DEFAULT = "Ollama's default"


def _env_lines(settings: OllamaServerSettings) -> list[str]:
    """The tuning variables these settings give (where Ollama listens and keeps models aside)."""
    env = server_environment(settings, base={})
    tuning = (name for name in SERVER_ENV_NAMES if name not in ("OLLAMA_HOST", "OLLAMA_MODELS"))
    return [f"{name}={env[name]}" for name in tuning if name in env]


def unmanaged_note(settings: OllamaServerSettings) -> str:
    """How to set these when someone else starts Ollama (a service, the desktop app)."""
    lines = _env_lines(settings) or ["OLLAMA_FLASH_ATTENTION=1", "OLLAMA_KV_CACHE_TYPE=q8_0"]
    env = " ".join(lines)
    return (
        "GateDeck does not start Ollama on this machine, so these are shown read-only: Ollama reads "
        "them from its environment when it starts. Set them where Ollama is started, then restart it "
        "— Linux service: <code>sudo systemctl edit ollama</code>, add <code>[Service]</code> and "
        f'<code>Environment="…"</code> lines ({env}); macOS app: <code>launchctl setenv NAME '
        "value</code>; Windows: the user's environment variables. Or tick the box above to let "
        "GateDeck run <code>ollama serve</code> itself."
    )


class ServerSettingsBox(QGroupBox):
    """Flash attention, KV cache type, parallel requests, loaded models, keep-alive, context.

    Signals:
        apply_requested(object): the user pressed Apply; carries the :class:`OllamaServerSettings`.
    """

    apply_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Ollama server", parent)
        self.setObjectName("serverSettings")
        self.managed = QCheckBox("GateDeck starts and manages `ollama serve`")
        self.managed.setObjectName("serverManaged")
        self.managed.toggled.connect(self._on_managed_toggled)
        self.flash = QComboBox()
        self.flash.setObjectName("serverFlashAttention")
        for text, flag in ((DEFAULT, None), ("On", True), ("Off", False)):
            self.flash.addItem(text, flag)
        self.kv_cache = QComboBox()
        self.kv_cache.setObjectName("serverKvCache")
        for text, value in (
            (DEFAULT + " (f16)", None),
            ("f16 (full precision)", "f16"),
            ("q8_0 (half the memory)", "q8_0"),
            ("q4_0 (a quarter)", "q4_0"),
        ):
            self.kv_cache.addItem(text, value)
        self.kv_cache.setToolTip("Quantised KV caches need flash attention on.")
        self.parallel = self._spin("serverParallel", 64)
        self.max_loaded = self._spin("serverMaxLoaded", 64)
        self.keep_alive = QLineEdit()
        self.keep_alive.setObjectName("serverKeepAlive")
        self.keep_alive.setPlaceholderText(DEFAULT + " (5m)")
        self.context = QSpinBox()
        self.context.setObjectName("serverContext")
        self.context.setRange(0, 1_048_576)
        self.context.setSingleStep(2048)
        self.context.setSpecialValueText(DEFAULT)
        self.note = QLabel()
        self.note.setObjectName("serverNote")
        self.note.setWordWrap(True)
        tint(self.note, Tone.MUTED)
        self.busy = QProgressBar()
        self.busy.setObjectName("serverBusy")
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.hide()
        self.status = QLabel()
        self.status.setObjectName("serverStatus")
        self.status.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyServerSettings")
        self.apply_button.clicked.connect(lambda: self.apply_requested.emit(self.settings()))

        form = QFormLayout(self)
        form.addRow(self.managed)
        form.addRow("Flash attention", self.flash)
        form.addRow("KV cache type", self.kv_cache)
        form.addRow("Parallel requests", self.parallel)
        form.addRow("Max loaded models", self.max_loaded)
        form.addRow("Default keep-alive", self.keep_alive)
        form.addRow("Default context", self.context)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.busy)
        row.addWidget(self.apply_button)
        form.addRow(self.note)
        form.addRow(row)
        self._base = OllamaServerSettings()

    @staticmethod
    def _spin(name: str, top: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(0, top)
        spin.setSpecialValueText(DEFAULT)
        return spin

    def load(self, settings: OllamaServerSettings) -> None:
        """Show ``settings`` (the config's ``ollama_server``)."""
        self._base = settings
        self.managed.setChecked(settings.managed)
        self.flash.setCurrentIndex(self.flash.findData(settings.flash_attention))
        self.kv_cache.setCurrentIndex(self.kv_cache.findData(settings.kv_cache_type))
        self.parallel.setValue(settings.num_parallel or 0)
        self.max_loaded.setValue(settings.max_loaded_models or 0)
        self.keep_alive.setText(settings.keep_alive or "")
        self.context.setValue(settings.context_length or 0)
        self._on_managed_toggled(settings.managed)

    def settings(self) -> OllamaServerSettings:
        """What the fields say (host and models folder kept from the loaded settings)."""
        return self._base.model_copy(
            update={
                "managed": self.managed.isChecked(),
                "flash_attention": self.flash.currentData(),
                "kv_cache_type": self.kv_cache.currentData(),
                "num_parallel": self.parallel.value() or None,
                "max_loaded_models": self.max_loaded.value() or None,
                "keep_alive": self.keep_alive.text().strip() or None,
                "context_length": self.context.value() or None,
            }
        )

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy.setVisible(busy)
        self.apply_button.setEnabled(not busy)
        self.managed.setEnabled(not busy)
        if text:
            self.status.setText(text)

    @property
    def editable(self) -> bool:
        return self.flash.isEnabled()

    def _on_managed_toggled(self, managed: bool) -> None:
        for field in (
            self.flash,
            self.kv_cache,
            self.parallel,
            self.max_loaded,
            self.keep_alive,
            self.context,
        ):
            field.setEnabled(managed)
        if managed:
            self.note.setText(
                "Ollama reads these when it starts: Apply saves them and restarts the "
                "<code>ollama serve</code> GateDeck runs (loaded models are unloaded)."
            )
            self.apply_button.setText("Apply and restart Ollama")
        else:
            self.note.setText(unmanaged_note(self._base))
            self.apply_button.setText("Save")
