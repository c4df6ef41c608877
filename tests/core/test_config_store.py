"""Saving and loading config.yaml as a user would meet it: first run, hand edits, broken files."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config.defaults import default_config, ollama_url_from_env
from core.config.first_run import open_installation
from core.config.schema import CLAUDE_MIN_CTX, Mapping, ModelOptions
from core.config.store import ConfigStore
from core.paths import AppPaths


@pytest.fixture
def store() -> ConfigStore:
    return ConfigStore(AppPaths.from_env())


def test_first_run_writes_a_config_that_serves_every_claude_tier(store: ConfigStore) -> None:
    install = open_installation(default_model="llama3.2:3b", ollama_url="http://gpu-box:11434")
    assert install.loaded.source == "new"
    assert store.path.exists()
    config = store.load().config
    for requested in (
        "claude-opus-4-1",
        "claude-sonnet-4-5-20250929",
        "claude-3-5-haiku-latest",
        "claude-haiku-4-5",
        "gpt-4o",
    ):
        mapping = config.mapping_for(requested)
        assert mapping is not None, requested
        assert mapping.model == "llama3.2:3b"
        assert mapping.options.num_ctx is not None and mapping.options.num_ctx >= CLAUDE_MIN_CTX
    assert config.mapping_for("claude-3-5-haiku-latest").name == "claude-*haiku*"  # type: ignore[union-attr]
    assert config.backends[0].url == "http://gpu-box:11434"
    assert config.gateway.host == "127.0.0.1"


def test_first_run_options_do_not_change_an_existing_config(store: ConfigStore) -> None:
    open_installation(default_model="first:1b")
    install = open_installation(default_model="second:1b", ollama_url="http://elsewhere:1")
    assert install.loaded.source == "file"
    assert {m.model for m in install.config.mappings} == {"first:1b"}


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("gpu-box:1234", "http://gpu-box:1234"),
        ("https://ollama.example.org", "https://ollama.example.org:11434"),
        ("[::1]:9999", "http://[::1]:9999"),
    ],
)
def test_ollama_host_is_read_as_the_ollama_cli_reads_it(value: str, url: str) -> None:
    assert ollama_url_from_env({"OLLAMA_HOST": value}) == url


def test_bak_is_always_the_last_config_that_loaded_and_validated(store: ConfigStore) -> None:
    first = default_config()
    store.save(first)
    second = first.model_copy(deep=True)
    second.gateway.port = 4321
    second.mappings.append(Mapping(name="gpt-4o", model="llama3.2:3b", options=ModelOptions(num_ctx=8192)))
    store.save(second)
    assert store.load().config == second
    assert store.read(store.backup_path) == second, "the last save, not the one before it"
    assert store.path.stat().st_mode & 0o077 == 0, "config readable by other users"

    # A hand edit that validates becomes the last good config when it loads...
    store.path.write_text(store.path.read_text().replace("port: 4321", "port: 4400"))
    assert store.load().config.gateway.port == 4400
    assert store.read(store.backup_path).gateway.port == 4400
    # ...and one that breaks the file falls back to exactly that, not to an older save.
    store.path.write_text(store.path.read_text().replace("port: 4400", "port: [4400"))
    result = store.load()
    assert result.source == "backup" and result.config.gateway.port == 4400
    assert len(result.config.mappings) == len(second.mappings)


@pytest.mark.parametrize("text", ["", "\n\n", "# all comments\n# and nothing else\n", "{}\n", "---\n"])
def test_an_emptied_file_is_broken_and_the_good_config_is_kept(store: ConfigStore, text: str) -> None:
    good = default_config()
    store.save(good)
    good_bytes = store.backup_path.read_bytes()
    store.path.write_text(text)

    result = store.load()

    assert result.source == "backup" and result.config == good
    assert "holds no settings" in result.problems[0].message
    moved = store.save(result.config)  # the next save keeps the emptied file aside...
    assert moved is not None and moved.read_text() == text
    assert store.backup_path.read_bytes() == good_bytes, "...and never copies it over the good .bak"
    assert store.load().config == good


def test_a_broken_file_is_reported_left_alone_and_the_backup_used(store: ConfigStore) -> None:
    good = default_config(default_model="good:1b")
    store.save(good)  # config.yaml.bak holds it too
    broken = store.path.read_text().replace("port: 4000", "port: four thousand")
    store.path.write_text(broken)

    result = store.load()

    assert result.source == "backup"
    assert result.config == good
    line = broken.splitlines().index("  port: four thousand") + 1
    assert [(p.path, p.line) for p in result.problems] == [("gateway.port", line)]
    assert store.path.read_text() == broken, "the user's broken file must not be touched by loading"


def test_saving_over_a_broken_file_moves_it_aside_first(store: ConfigStore) -> None:
    store.save(default_config())
    store.path.write_text("gateway: [oops\n")
    store.backup_path.unlink()  # an install from before backups were kept
    result = store.load()
    assert result.source == "defaults"

    moved = store.save(result.config)

    assert moved is not None and moved.read_text() == "gateway: [oops\n"
    assert store.load().source == "file"


def test_no_usable_file_nor_backup_falls_back_to_defaults(store: ConfigStore) -> None:
    store.paths.ensure()
    store.path.write_text("mappings: 7\n")
    result = store.load(default=lambda: default_config(default_model="fallback:1b"))
    assert result.source == "defaults"
    assert result.config.mappings[0].model == "fallback:1b"
    assert result.problems[0].path == "mappings"


def test_stale_temp_files_from_a_killed_save_are_cleaned(store: ConfigStore) -> None:
    store.save(default_config())
    stale = store.path.with_name(f".{store.path.name}.tmp-999999")
    stale.write_text("half a fi")
    store.save(default_config())
    assert not stale.exists()
    assert sorted(p.name for p in store.path.parent.iterdir() if p.is_file()) == [
        "config.yaml",
        "config.yaml.bak",
    ]


def test_unreadable_bytes_are_a_config_error(store: ConfigStore, tmp_path: Path) -> None:
    store.paths.ensure()
    store.path.write_bytes(b"gateway:\n  host: \xff\xfe\n")
    result = store.load()
    assert result.source == "defaults"
    assert "UTF-8" in result.problems[0].message
