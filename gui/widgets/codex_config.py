"""Codex's ``config.toml`` lines for GateDeck, with *Write to ~/.codex/config.toml* and *Copy*;
what writing did (the file and its backup, or why not) is shown beneath them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from core.clients.backups import original_note
from core.clients.codex import KEY_VARIABLE, codex_config
from core.clients.codex_config_file import default_codex_config_path, write_codex_config
from core.errors import CodexConfigError
from core.paths import home_path
from gui.palette import Tone, tint


def write_codex(base_url: str, path: Path, model: str | None) -> tuple[bool, str]:
    """Merge GateDeck's provider into Codex's ``config.toml`` at ``path``.

    Returns whether the file now points Codex at GateDeck, and a line that says what happened
    (or why not) for the person.
    """
    try:
        written = write_codex_config(base_url, path, model)
    except (CodexConfigError, OSError) as exc:
        return False, f"Not written: {exc}"
    if written.changed:
        backup = f" The previous file is kept as {written.backup.name}." if written.backup else ""
        original = f" {original_note(written.original, name_only=True)}" if written.original else ""
        message = f"Written to {written.path}.{backup}{original}"
    else:
        message = f"{written.path} already uses GateDeck; nothing changed."
    key = f"Codex reads the gateway key from {KEY_VARIABLE}: export it where Codex runs."
    return True, " ".join(part for part in (message, written.note, key) if part)


class CodexConfigWidget(QWidget):
    """The lines that point Codex at the gateway at ``base_url``, and a button that merges them
    into Codex's ``config.toml`` (``path``; ``None``: where Codex looks, ``$CODEX_HOME``)."""

    def __init__(
        self, base_url: str, model: str | None, path: Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.path = path or default_codex_config_path()
        intro = QLabel(
            f"Codex uses GateDeck with these lines in its <code>config.toml</code> and the gateway key "
            f"in <code>{KEY_VARIABLE}</code>. Writing them keeps every other line of the file, and "
            "the old file as <code>config.toml.bak</code> (and your file from before GateDeck as "
            "<code>config.toml.before-gatedeck</code>; <code>gatedeck codex-config --restore</code> "
            "puts it back). Or run <code>gatedeck codex</code>, "
            "which needs neither."
        )
        intro.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setObjectName("codexConfigText")
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.write_button = QPushButton(f"Write to {home_path(self.path)}")
        self.write_button.setObjectName("writeCodexConfig")
        self.write_button.clicked.connect(self.write)
        copy = QPushButton("Copy")
        copy.setObjectName("copyCodexConfig")
        copy.clicked.connect(self.copy)
        self.status = QLabel()
        self.status.setObjectName("codexConfigStatus")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.write_button)
        buttons.addStretch(1)
        buttons.addWidget(copy)
        column = QVBoxLayout(self)
        column.addWidget(intro)
        column.addWidget(self.text, 1)
        column.addLayout(buttons)
        column.addWidget(self.status)
        self.point_at(base_url, model)

    def point_at(self, base_url: str, model: str | None) -> None:
        """Show (and write, from now on) the lines for the gateway at ``base_url`` and ``model``."""
        self.base_url, self.model = base_url, model
        self.text.setPlainText(codex_config(base_url, model))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())
        tint(self.status, None)
        self.status.setText("Copied to the clipboard.")

    def write(self) -> bool:
        """Merge the lines into Codex's config.toml; the result (or why not) goes in the status line."""
        written, message = write_codex(self.base_url, self.path, self.model)
        tint(self.status, Tone.GOOD if written else Tone.BAD)
        self.status.setText(message)
        return written
