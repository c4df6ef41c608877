"""The first-run setup's last step: Claude Code pointed at GateDeck (its settings file, or the
``gatedeck claude`` launcher), and Codex too (its ``config.toml``, or the lines to copy)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from core.clients.claude_code import claude_code_env, default_settings_path
from core.clients.codex import codex_model
from core.paths import home_path
from gui.dialogs.claude import ClaudeCodeDialog, write_claude_settings
from gui.dialogs.setup_run import SetupPage, SetupRun, note
from gui.ops import BackgroundOps
from gui.palette import Tone, tint
from gui.widgets.codex_config import CodexConfigWidget


class ClaudePage(SetupPage):
    """Points Claude Code at GateDeck (settings.json, or the launcher) and offers Codex's config."""

    title = "Claude Code"

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.settings_path = self.services.settings_path or default_settings_path()
        self.summary = note("", "setupClaudeSummary")
        self.write_button = QPushButton(f"Write to {home_path(self.settings_path)}")
        self.write_button.setObjectName("setupWriteClaudeSettings")
        self.write_button.setToolTip(
            f"Merges GateDeck's address, key and model names into {self.settings_path}; other "
            "settings stay, the old file is kept as settings.json.bak, and your file from before "
            "GateDeck as settings.json.before-gatedeck (`gatedeck claude-env --restore-settings` "
            "puts it back)."
        )
        self.write_button.clicked.connect(self.write_settings)
        self.more_button = QPushButton("Other shells…")
        self.more_button.setObjectName("setupClaudeMore")
        self.more_button.clicked.connect(self._on_more_button_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.write_button)
        buttons.addWidget(self.more_button)
        buttons.addStretch(1)
        self.status = note("", "setupClaudeStatus")
        self.launcher = note(
            "Or leave the file alone and start Claude Code through GateDeck whenever you want it: "
            "<code>gatedeck claude</code>",
            "setupClaudeLauncher",
        )
        self.codex = CodexConfigWidget(
            self.services.claude_base_url(), self._codex_model(), self.services.codex_config_path
        )
        self.codex.text.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = self.codex.layout()
        if inner is not None:  # the group box's own margins are enough
            inner.setContentsMargins(0, 0, 0, 0)
        codex = QGroupBox("Codex CLI (optional)")
        QVBoxLayout(codex).addWidget(self.codex)
        self.column.addWidget(self.summary)
        self.column.addLayout(buttons)
        self.column.addWidget(self.status)
        self.column.addWidget(self.launcher)
        self.column.addSpacing(8)
        self.column.addWidget(codex)
        self.column.addStretch(1)

    def env(self) -> dict[str, str]:
        services = self.services
        return claude_code_env(
            services.holder.config, services.claude_base_url(), services.gateway.master_key
        )

    async def enter(self) -> None:
        env = self.env()
        models = sorted({env[k] for k in env if k.startswith("ANTHROPIC_DEFAULT_") or k == "ANTHROPIC_MODEL"})
        chosen = self.run.chosen
        served = f", and every model it asks for is answered by {escape(chosen.model)}" if chosen else ""
        self.summary.setText(
            f"Claude Code talks to GateDeck at <b>{escape(env['ANTHROPIC_BASE_URL'])}</b> with the gateway's key"
            f"{served}. Writing its settings file makes every new Claude Code session use GateDeck"
            + (f" (model names: {', '.join(models)})." if models else ".")
        )
        self.codex.point_at(self.services.claude_base_url(), self._codex_model())
        box = self.codex.text  # tall enough for every line, no scroll bar
        lines = box.toPlainText().rstrip("\n").count("\n") + 1
        margins = 2 * (box.frameWidth() + box.document().documentMargin())
        box.setFixedHeight(round(box.fontMetrics().lineSpacing() * (lines + 0.5) + margins))
        self.set_done(True)

    def write_settings(self) -> bool:
        written, message = write_claude_settings(self.env(), self.settings_path)
        tint(self.status, Tone.GOOD if written else Tone.BAD)
        self.status.setText(message)
        return written

    def _codex_model(self) -> str | None:
        return codex_model(self.services.holder.config)

    def _on_more_button_clicked(self) -> None:
        services = self.services
        dialog = ClaudeCodeDialog(
            services.holder.config,
            services.claude_base_url(),
            services.gateway.master_key,
            settings_path=self.settings_path,
            parent=self,
            codex_path=services.codex_config_path,
        )
        dialog.open()
