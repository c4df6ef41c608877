"""Claude Code setup: the environment for each shell, copy buttons, and writing settings.json."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.clients.backups import original_note
from core.clients.claude_code import (
    Shell,
    claude_code_env,
    claude_context,
    default_settings_path,
    render_env,
    unserved_tiers,
    write_settings,
)
from core.clients.codex import codex_model
from core.config.schema import Config
from core.errors import ClaudeSettingsError
from core.paths import home_path
from gui.widgets.codex_config import CodexConfigWidget

TABS: tuple[tuple[Shell, str], ...] = (
    ("bash", "bash / zsh"),
    ("fish", "fish"),
    ("powershell", "PowerShell"),
    ("json", "settings.json"),
)


class ClaudeCodeDialog(QDialog):
    """Shows how to point Claude Code at the gateway, and can write it into settings.json."""

    def __init__(
        self,
        config: Config,
        base_url: str,
        token: str,
        settings_path: Path | None = None,
        parent: QWidget | None = None,
        codex_path: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("claudeCodeDialog")
        self.setWindowTitle("Set up Claude Code")
        self.resize(720, 420)
        self.env = claude_code_env(config, base_url, token)
        self.settings_path = settings_path or default_settings_path()

        intro = QLabel(
            "Run Claude Code with these variables set and it talks to GateDeck's gateway instead "
            "of Anthropic. Paste them into your shell, or write them into Claude Code's settings "
            "file so every session uses them."
        )
        intro.setWordWrap(True)
        context = claude_context(config)
        self.context_note = QLabel(
            context.explain()
            + " Without this, Claude Code would take every model for a 200,000-token one and Ollama "
            "would cut its prompt without a word."
            if context
            else ""
        )
        self.context_note.setObjectName("claudeContextNote")
        self.context_note.setWordWrap(True)
        self.context_note.setVisible(context is not None)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("claudeEnvTabs")
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.texts: dict[str, QPlainTextEdit] = {}
        for shell, title in TABS:
            page = QWidget()
            text = QPlainTextEdit(self._render(shell))
            text.setReadOnly(True)
            text.setFont(mono)
            text.setObjectName(f"claudeEnv_{shell}")
            copy = QPushButton("Copy")
            copy.setObjectName(f"copyClaudeEnv_{shell}")
            copy.clicked.connect(lambda _c=False, s=shell: self.copy(s))
            column = QVBoxLayout(page)
            column.addWidget(text)
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(copy)
            column.addLayout(row)
            self.tabs.addTab(page, title)
            self.texts[shell] = text
        self.codex = CodexConfigWidget(base_url, codex_model(config), codex_path)
        self.tabs.addTab(self.codex, "Codex CLI")

        self.status = QLabel()
        self.status.setObjectName("claudeSetupStatus")
        self.status.setWordWrap(True)
        missing = unserved_tiers(config)
        if missing:
            self.status.setText(
                f"⚠ No mapping serves Claude Code's {', '.join(missing)} model(s): add one on the Mappings panel."
            )
        self.write_button = QPushButton(f"Write to {home_path(self.settings_path)}")
        self.write_button.setObjectName("writeClaudeSettings")
        self.write_button.clicked.connect(self.write)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.write_button)
        bottom.addStretch(1)
        bottom.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.context_note)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        layout.addLayout(bottom)

    def _render(self, shell: Shell) -> str:
        if shell == "json":
            return render_env(self.env, "json")
        return render_env(self.env, shell) + "\nclaude"

    def copy(self, shell: Shell) -> None:
        QGuiApplication.clipboard().setText(self._render(shell))
        self.status.setText("Copied to the clipboard.")

    def write(self) -> bool:
        """Merge the variables into settings.json (other keys kept, old file backed up)."""
        written, message = write_claude_settings(self.env, self.settings_path)
        self.status.setText(message)
        return written


def write_claude_settings(env: dict[str, str], path: Path) -> tuple[bool, str]:
    """Merge ``env`` into Claude Code's settings file (other keys kept, the old file backed up).

    Returns whether it was written, and a line that says so (or why not) for the person.
    """
    try:
        written = write_settings(env, path)
    except (ClaudeSettingsError, OSError) as exc:
        return False, f"Not written: {exc}"
    backup = f" The previous file is kept as {written.backup.name}." if written.backup else ""
    original = f" {original_note(written.original, name_only=True)}" if written.original else ""
    return True, f"Written to {written.path}.{backup}{original} New Claude Code sessions use GateDeck."
