"""The first-run setup's last step: Claude Code pointed at GateDeck (its settings file, or the
``gatedeck claude`` launcher), and Codex too (its ``config.toml``, or the lines to copy)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from core.clients.claude_code import claude_code_env, default_settings_path
from core.clients.codex import KEY_VARIABLE, codex_config, codex_model
from core.clients.codex_config_file import default_codex_config_path, write_codex_config
from core.errors import CodexConfigError
from gui.dialogs.claude import ClaudeCodeDialog, home_relative, write_claude_settings
from gui.dialogs.setup_run import SetupPage, SetupRun, note
from gui.ops import BackgroundOps
from gui.palette import Tone, tint


class ClaudePage(SetupPage):
    """Points Claude Code at GateDeck (settings.json, or the launcher) and offers Codex's config."""

    title = "Claude Code"

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.settings_path = self.services.settings_path or default_settings_path()
        self.codex_path = self.services.codex_config_path or default_codex_config_path()
        self.summary = note("", "setupClaudeSummary")
        self.write_button = QPushButton(f"Write to {home_relative(self.settings_path)}")
        self.write_button.setObjectName("setupWriteClaudeSettings")
        self.write_button.setToolTip(
            f"Merges GateDeck's address, key and model names into {self.settings_path}; other "
            "settings stay, and the old file is kept as settings.json.bak."
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
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.codex_text = QPlainTextEdit()
        self.codex_text.setObjectName("setupCodexConfig")
        self.codex_text.setReadOnly(True)
        self.codex_text.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.codex_text.setFont(mono)
        copy_codex = QPushButton("Copy")
        copy_codex.setObjectName("setupCopyCodex")
        copy_codex.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.codex_text.toPlainText()))
        self.codex_button = QPushButton(f"Write to {home_relative(self.codex_path)}")
        self.codex_button.setObjectName("setupWriteCodexConfig")
        self.codex_button.setToolTip(
            "Merges these lines into Codex's config.toml; every other line stays, and the old file "
            "is kept as config.toml.bak."
        )
        self.codex_button.clicked.connect(self.write_codex)
        self.codex_status = note("", "setupCodexStatus")
        codex = QGroupBox("Codex CLI (optional)")
        codex_column = QVBoxLayout(codex)
        codex_column.addWidget(
            note(
                "Codex uses GateDeck with these lines in its <code>config.toml</code> and "
                f"<code>{KEY_VARIABLE}</code> set to the gateway's master key where it runs; "
                "or run <code>gatedeck codex</code>, which needs neither."
            )
        )
        codex_row = QHBoxLayout()
        codex_row.addWidget(self.codex_text, 1)
        codex_buttons = QVBoxLayout()
        codex_buttons.addWidget(self.codex_button)
        codex_buttons.addWidget(copy_codex)
        codex_buttons.addStretch(1)
        codex_row.addLayout(codex_buttons)
        codex_column.addLayout(codex_row)
        codex_column.addWidget(self.codex_status)
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
        text = codex_config(self.services.claude_base_url(), self._codex_model()).rstrip("\n")
        self.codex_text.setPlainText(text)
        box = self.codex_text  # tall enough for every line, no scroll bar
        margins = 2 * (box.frameWidth() + box.document().documentMargin())
        box.setFixedHeight(round(box.fontMetrics().lineSpacing() * (text.count("\n") + 1.5) + margins))
        self.set_done(True)

    def write_settings(self) -> bool:
        written, message = write_claude_settings(self.env(), self.settings_path)
        tint(self.status, Tone.GOOD if written else Tone.BAD)
        self.status.setText(message)
        return written

    def write_codex(self) -> bool:
        """Merge GateDeck's provider into Codex's config.toml (other lines kept, old file backed up)."""
        try:
            written = write_codex_config(
                self.services.claude_base_url(), self.codex_path, self._codex_model()
            )
        except (CodexConfigError, OSError) as exc:
            tint(self.codex_status, Tone.BAD)
            self.codex_status.setText(f"Not written: {exc}")
            return False
        if not written.changed:
            message = f"{written.path} already uses GateDeck."
        else:
            backup = f" The previous file is kept as {written.backup.name}." if written.backup else ""
            message = f"Written to {written.path}.{backup} Export {KEY_VARIABLE} (the gateway key) where Codex runs."
        tint(self.codex_status, Tone.GOOD)
        self.codex_status.setText(f"{message} {written.note}".strip())
        return True

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
        )
        dialog.open()
