"""The window's state file, as a user meets it: first start, a damaged file, an upgrade from a
GateDeck that kept the last panel in config.yaml."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from core.config.first_run import open_installation
from core.config.schema import SCHEMA_VERSION
from core.config.store import ConfigStore
from core.config.ui_state import UiState, UiStateFile, open_ui_state
from core.paths import AppPaths

GEOMETRY = "AdnQywADAAAAAAAAAAAAAAAAAAA="  # base64, as the window saves Qt's geometry


@pytest.fixture
def paths() -> AppPaths:
    return AppPaths.from_env()


def test_the_state_file_lives_in_the_data_folder_that_the_config_folder_moves(paths: AppPaths) -> None:
    assert paths.state_file.parent == paths.data_dir
    assert paths.state_file != paths.config_file
    moved = AppPaths.from_env({"GATEDECK_CONFIG_DIR": "/portable/gatedeck"})
    assert moved.state_file == Path("/portable/gatedeck/data/state.json")


def test_first_start_has_the_defaults_and_writes_them_once(paths: AppPaths) -> None:
    state = UiStateFile(paths.state_file)
    assert state.state == UiState() and state.state.last_panel == "gateway"
    assert state.unsaved
    assert state.save()
    assert json.loads(paths.state_file.read_text(encoding="utf-8"))["last_panel"] == "gateway"
    assert paths.state_file.stat().st_mode & 0o077 == 0, "state readable by other users"
    assert not state.save(), "nothing changed: nothing written"


def test_what_the_window_remembers_comes_back_on_the_next_start(paths: AppPaths) -> None:
    state = UiStateFile(paths.state_file)
    assert state.update(last_panel="monitor", window_geometry=GEOMETRY, splitters={"monitorSplitter": "AAAA"})
    assert not state.update(last_panel="monitor"), "the same value again is no change"
    assert state.save()
    written = paths.state_file.stat().st_mtime_ns

    again = UiStateFile(paths.state_file)
    assert again.state == UiState(
        last_panel="monitor", window_geometry=GEOMETRY, splitters={"monitorSplitter": "AAAA"}
    )
    assert not again.unsaved
    assert not again.save()
    assert paths.state_file.stat().st_mtime_ns == written


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b"null", b'"gateway"', b"\xff\xfe{}"])
def test_a_damaged_state_file_is_ignored_and_rewritten(paths: AppPaths, content: bytes) -> None:
    paths.data_dir.mkdir(parents=True)
    paths.state_file.write_bytes(content)
    state = UiStateFile(paths.state_file)
    assert state.state == UiState()
    assert state.unsaved, "the damaged file is rewritten at the next save"
    assert state.save()
    assert UiStateFile(paths.state_file).state == UiState()
    assert not UiStateFile(paths.state_file).unsaved


def test_one_bad_value_costs_only_itself(paths: AppPaths) -> None:
    paths.data_dir.mkdir(parents=True)
    paths.state_file.write_text(
        json.dumps(
            {
                "last_panel": "no-such-panel",
                "window_geometry": GEOMETRY,
                "splitters": {"monitorSplitter": "AAAA", "chatSplitter": "not base64!", "x": 3},
                "tray_hint_shown": "yes",
                "from_a_newer_gatedeck": 1,
            }
        ),
        encoding="utf-8",
    )
    state = UiStateFile(paths.state_file)
    assert state.state == UiState(window_geometry=GEOMETRY, splitters={"monitorSplitter": "AAAA"})
    assert state.unsaved


def test_a_state_file_that_cannot_be_written_never_stops_gatedeck(paths: AppPaths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.data_dir.write_text("a file where the data folder should be", encoding="utf-8")
    state = UiStateFile(paths.state_file)
    state.update(last_panel="chat")
    assert not state.save()
    assert state.unsaved, "tried again at the next save"
    assert paths.data_dir.read_text(encoding="utf-8") == "a file where the data folder should be"


SCHEMA_1 = textwrap.dedent(
    """\
    schema_version: 1
    gateway:
      port: 4123
    backends:
    - name: local
      url: http://127.0.0.1:11434
    mappings:
    - name: claude-*
      model: qwen2.5-coder:7b
    ui:
      theme: dark
      start_on_login: true
      last_panel: monitor
      hide_to_tray_hint_shown: true
    """
)


def test_a_config_from_before_the_state_file_loads_and_hands_its_window_state_over(paths: AppPaths) -> None:
    paths.ensure()
    paths.config_file.write_text(SCHEMA_1, encoding="utf-8")

    install = open_installation()

    assert install.loaded.source == "file" and install.loaded.ok
    config = install.config
    assert config.schema_version == SCHEMA_VERSION == 2
    assert config.ui.theme == "dark" and config.ui.start_on_login, "real preferences stay in the config"
    assert config.gateway.port == 4123
    assert "last_panel" not in config.ui.model_dump()
    assert paths.config_file.read_text(encoding="utf-8") == SCHEMA_1, "loading never rewrites the file"

    state = open_ui_state(paths.state_file, install.loaded.moved_out)
    assert state.state.last_panel == "monitor" and state.state.tray_hint_shown
    assert UiStateFile(paths.state_file).state == state.state, "written at once"

    # The next save writes the new schema; the old file, kept as .bak, still loads.
    store = ConfigStore(paths)
    store.save(config)
    saved = paths.config_file.read_text(encoding="utf-8")
    assert f"schema_version: {SCHEMA_VERSION}" in saved
    assert "last_panel" not in saved and "hide_to_tray_hint_shown" not in saved
    assert store.read(store.backup_path) == config


def test_an_existing_state_file_wins_over_what_an_old_config_carried(paths: AppPaths) -> None:
    paths.ensure()
    paths.config_file.write_text(SCHEMA_1, encoding="utf-8")
    mine = UiStateFile(paths.state_file)
    mine.update(last_panel="chat")
    mine.save()

    install = open_installation()
    state = open_ui_state(paths.state_file, install.loaded.moved_out)
    assert state.state.last_panel == "chat" and not state.state.tray_hint_shown


def test_a_schema_1_config_without_window_state_carries_nothing(paths: AppPaths) -> None:
    paths.ensure()
    paths.config_file.write_text("schema_version: 1\nui:\n  theme: light\n", encoding="utf-8")
    install = open_installation()
    assert install.loaded.moved_out == {}
    assert install.config.ui.theme == "light"
    state = open_ui_state(paths.state_file, install.loaded.moved_out)
    assert state.state == UiState() and not paths.state_file.exists()


def test_an_old_backup_hands_its_window_state_over_too(paths: AppPaths) -> None:
    paths.ensure()
    paths.config_file.write_text("schema_version: 1\ngateway: [broken\n", encoding="utf-8")
    store = ConfigStore(paths)
    store.backup_path.write_text(SCHEMA_1, encoding="utf-8")
    loaded = store.load()
    assert loaded.source == "backup"
    assert loaded.moved_out == {"last_panel": "monitor", "tray_hint_shown": True}
