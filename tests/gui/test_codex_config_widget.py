"""Writing Codex's config.toml from the window, as a user would: the button, then what it says."""

from __future__ import annotations

import tomllib
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from gui.widgets.codex_config import CodexConfigWidget

URL = "http://127.0.0.1:4000"


def codex_home_file(text: str) -> Path:
    path = Path.home() / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(text)
    return path


def test_the_button_merges_into_codex_config_and_says_where_and_the_backup(qtbot: QtBot) -> None:
    theirs = '# mine\nmodel_provider = "openai"\n\n[profiles.work]\nmodel = "o3"\n'
    path = codex_home_file(theirs)
    box = CodexConfigWidget(URL, "qwen2.5-coder:7b")
    qtbot.addWidget(box)
    assert box.write_button.text() == "Write to ~/.codex/config.toml", "where Codex looks"
    assert 'model = "qwen2.5-coder:7b"' in box.text.toPlainText()

    qtbot.mouseClick(box.write_button, Qt.MouseButton.LeftButton)

    settings = tomllib.loads(path.read_text())
    assert settings["model_provider"] == "gatedeck" and settings["model"] == "qwen2.5-coder:7b"
    assert settings["model_providers"]["gatedeck"]["base_url"] == f"{URL}/v1"
    assert settings["profiles"] == {"work": {"model": "o3"}}
    assert path.with_name("config.toml.bak").read_text() == theirs
    status = box.status.text()
    assert f"Written to {path}." in status and "config.toml.bak" in status and "GATEDECK_API_KEY" in status
    assert "Your file from before GateDeck is kept as config.toml.before-gatedeck." in status
    assert path.with_name("config.toml.before-gatedeck").read_text() == theirs

    qtbot.mouseClick(box.write_button, Qt.MouseButton.LeftButton)
    assert "already uses GateDeck" in box.status.text()


def test_a_file_that_is_not_toml_is_left_alone_and_the_reason_shown(qtbot: QtBot) -> None:
    path = codex_home_file('model = "unfinished\n')
    box = CodexConfigWidget(URL, None)
    qtbot.addWidget(box)

    qtbot.mouseClick(box.write_button, Qt.MouseButton.LeftButton)

    assert box.status.text().startswith(f"Not written: {path} is not valid TOML")
    assert path.read_text() == 'model = "unfinished\n' and not path.with_name("config.toml.bak").exists()


def test_copy_puts_the_lines_on_the_clipboard(qtbot: QtBot, tmp_path: Path) -> None:
    box = CodexConfigWidget(URL, None, tmp_path / "config.toml")
    qtbot.addWidget(box)
    assert box.write_button.text() == f"Write to {tmp_path / 'config.toml'}"
    box.findChild(type(box.write_button), "copyCodexConfig").click()
    assert QGuiApplication.clipboard().text().startswith('model_provider = "gatedeck"')
    assert not (tmp_path / "config.toml").exists(), "copying writes nothing"
