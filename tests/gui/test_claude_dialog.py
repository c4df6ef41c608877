"""Setting up Claude Code from the window, as a user would."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from gui.dialogs.claude import ClaudeCodeDialog

URL = "http://127.0.0.1:4000"


def test_every_shell_gets_the_gateway_address_and_key(qtbot: QtBot, install: Installation) -> None:
    dialog = ClaudeCodeDialog(install.config, URL, install.master_key, settings_path=Path("/unused"))
    qtbot.addWidget(dialog)
    assert f"export ANTHROPIC_BASE_URL='{URL}'" in dialog.texts["bash"].toPlainText()
    assert "set -gx ANTHROPIC_AUTH_TOKEN" in dialog.texts["fish"].toPlainText()
    assert "$env:ANTHROPIC_BASE_URL" in dialog.texts["powershell"].toPlainText()
    env = json.loads(dialog.texts["json"].toPlainText())
    assert env["ANTHROPIC_AUTH_TOKEN"] == install.master_key
    assert dialog.status.text() == "", "the default mappings serve every Claude tier"

    dialog.copy("powershell")
    assert QGuiApplication.clipboard().text().startswith("$env:ANTHROPIC_BASE_URL")


def test_write_merges_into_settings_and_keeps_other_keys(
    qtbot: QtBot, install: Installation, tmp_path: Path
) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"theme": "dark", "env": {"EDITOR": "vim"}}))
    dialog = ClaudeCodeDialog(install.config, URL, install.master_key, settings_path=settings)
    qtbot.addWidget(dialog)
    assert dialog.write()
    data = json.loads(settings.read_text())
    assert data["theme"] == "dark"
    assert data["env"]["EDITOR"] == "vim"
    assert data["env"]["ANTHROPIC_BASE_URL"] == URL
    assert (settings.parent / "settings.json.bak").exists()
    assert "settings.json.bak" in dialog.status.text()
    assert "Your file from before GateDeck is kept as settings.json.before-gatedeck." in dialog.status.text()


def test_a_broken_settings_file_is_left_alone_and_explained(
    qtbot: QtBot, install: Installation, tmp_path: Path
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text("{ not json")
    dialog = ClaudeCodeDialog(install.config, URL, install.master_key, settings_path=settings)
    qtbot.addWidget(dialog)
    assert dialog.write() is False
    assert "not valid JSON" in dialog.status.text()
    assert settings.read_text() == "{ not json"


def test_missing_tiers_are_pointed_out(qtbot: QtBot, install: Installation) -> None:
    only_sonnet = install.config.model_copy(update={"mappings": install.config.mappings[1:2]})
    dialog = ClaudeCodeDialog(only_sonnet, URL, "sk-x", settings_path=Path("/unused"))
    qtbot.addWidget(dialog)
    assert "opus" in dialog.status.text() and "haiku" in dialog.status.text()


def test_the_dialog_says_which_window_claude_code_gets_and_why(qtbot: QtBot, install: Installation) -> None:
    dialog = ClaudeCodeDialog(install.config, URL, install.master_key, settings_path=Path("/unused"))
    qtbot.addWidget(dialog)
    note = dialog.context_note.text()
    assert "32,768 tokens" in note and "8,192" in note and "compact" in note
    assert "export CLAUDE_CODE_MAX_OUTPUT_TOKENS='8192'" in dialog.texts["bash"].toPlainText()

    cloud_only = install.config.model_copy(update={"mappings": []})
    bare = ClaudeCodeDialog(cloud_only, URL, "sk-x", settings_path=Path("/unused"))
    qtbot.addWidget(bare)
    assert bare.context_note.isHidden() and "CLAUDE_CODE_MAX_OUTPUT_TOKENS" not in bare.env


def test_the_codex_tab_writes_codex_config_toml_with_a_model_gatedeck_serves(
    qtbot: QtBot, install: Installation, tmp_path: Path
) -> None:
    codex = tmp_path / "codex-home" / "config.toml"
    dialog = ClaudeCodeDialog(
        install.config, URL, install.master_key, settings_path=Path("/unused"), codex_path=codex
    )
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentWidget(dialog.codex)

    qtbot.mouseClick(dialog.codex.write_button, Qt.MouseButton.LeftButton)

    settings = tomllib.loads(codex.read_text())
    assert settings["model_provider"] == "gatedeck"
    assert settings["model"] == install.config.mappings[-1].model, "the catch-all's model, by its own name"
    assert settings["model_providers"]["gatedeck"]["base_url"] == f"{URL}/v1"
    assert install.master_key not in codex.read_text()
    assert f"Written to {codex}." in dialog.codex.status.text()
    assert not Path("/unused").exists(), "Claude Code's settings are not touched"
