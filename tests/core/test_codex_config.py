"""What GateDeck tells Codex, and what the README tells a person to write."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import pytest

from core.cli.main import main
from core.clients.codex import codex_config, codex_model, codex_overrides
from core.clients.codex_config_file import CodexConfigWritten, write_codex_config
from core.config.defaults import CLAUDE_TIERS
from core.config.schema import Config, Mapping
from core.errors import CodexConfigError
from tests.core.gateway_support import REPO


def test_the_readme_shows_the_config_gatedeck_would_write() -> None:
    assert codex_config("http://127.0.0.1:4000") in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_overrides_are_valid_toml_naming_the_gateway_and_no_key() -> None:
    options = codex_overrides("http://127.0.0.1:4100/")
    assert options[0::2] == ["-c", "-c"]
    parsed = tomllib.loads("\n".join(options[1::2]))
    provider = parsed["model_providers"]["gatedeck"]
    assert parsed["model_provider"] == "gatedeck"
    assert provider["base_url"] == "http://127.0.0.1:4100/v1" and provider["wire_api"] == "responses"
    assert provider["env_key"] == "GATEDECK_API_KEY" and "sk-" not in " ".join(options)
    with_model = codex_overrides("http://127.0.0.1:4100", "qwen2.5-coder:7b")
    assert with_model[:4] == options and tomllib.loads(with_model[5]) == {"model": "qwen2.5-coder:7b"}


# ---------------------------------------------------------------------- writing config.toml
URL = "http://127.0.0.1:4100"
OURS = {
    "name": "GateDeck",
    "base_url": "http://127.0.0.1:4100/v1",
    "env_key": "GATEDECK_API_KEY",
    "wire_api": "responses",
}
#: A config.toml as a Codex user might have it: comments, a multi-line string and an array
#: that look like tables and keys inside, a profile, another provider, Windows line endings.
THEIRS = (
    "# my Codex settings\r\n"
    'model = "gpt-5-codex"   # the usual one\r\n'
    'approval_policy = "on-request"\r\n'
    'instructions = """\r\n'
    "[model_providers.gatedeck]\r\n"
    'model_provider = "not this one"\r\n'
    '"""\r\n'
    "trusted = [\r\n"
    '  ["a", "b"],\r\n'
    '  "c", # why\r\n'
    "]\r\n"
    "\r\n"
    "# a fast profile\r\n"
    "[profiles.fast]\r\n"
    'model = "o4-mini" # quick\r\n'
    'model_provider = "openai"\r\n'
    "\r\n"
    "[model_providers.azure]\r\n"
    'name = "Azure"\r\n'
    'base_url = "https://example.openai.azure.com/openai"\r\n'
    'env_key = "AZURE_OPENAI_API_KEY"'
)


def codex_file(text: str | None = None) -> Path:
    path = Path.home() / ".codex" / "config.toml"
    if text is not None:
        path.parent.mkdir()
        path.write_bytes(text.encode())
    return path


def test_into_an_empty_home_the_file_is_exactly_what_gatedeck_shows() -> None:
    written = write_codex_config(URL)

    path = Path.home() / ".codex" / "config.toml"
    assert written == CodexConfigWritten(path=path, backup=None, changed=True)
    assert path.read_text() == codex_config(URL)
    assert tomllib.loads(path.read_text())["model_providers"]["gatedeck"] == OURS
    assert "sk-" not in path.read_text() and not path.with_name("config.toml.bak").exists()


def test_codex_home_is_where_codex_looks_when_it_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "elsewhere"))
    assert write_codex_config(URL).path == tmp_path / "elsewhere" / "config.toml"
    assert not (Path.home() / ".codex").exists()
    monkeypatch.setenv("CODEX_HOME", "")  # empty counts as unset, as in Codex
    assert write_codex_config(URL).path == Path.home() / ".codex" / "config.toml"


def test_everything_else_in_the_file_is_kept_byte_for_byte_and_backed_up() -> None:
    path = codex_file(THEIRS)

    written = write_codex_config(URL, model="gatedeck-coder")

    assert written.changed and written.backup == path.with_name("config.toml.bak")
    assert written.backup.read_bytes() == THEIRS.encode(), "the backup is the old file as it was"
    text = path.read_bytes().decode()
    # The old top-level model line became GateDeck's, the provider line went in after the last
    # top-level key, the table at the end; every other line is the same bytes, in order.
    assert text == (
        THEIRS.replace('model = "gpt-5-codex"   # the usual one', 'model = "gatedeck-coder"').replace(
            "]\r\n\r\n# a fast profile", ']\r\nmodel_provider = "gatedeck"\r\n\r\n# a fast profile'
        )
        + "\r\n\r\n"
        + codex_config(URL).split("\n\n", 1)[1].replace("\n", "\r\n")
    )
    settings = tomllib.loads(text)
    assert settings["model_provider"] == "gatedeck" and settings["model"] == "gatedeck-coder"
    assert settings["model_providers"]["gatedeck"] == OURS
    assert settings["profiles"]["fast"] == {"model": "o4-mini", "model_provider": "openai"}
    assert settings["instructions"].startswith("[model_providers.gatedeck]"), "a string is not a table"


def test_an_old_gatedeck_table_is_replaced_where_it_stands() -> None:
    old = (
        'model_provider = "gatedeck"\n\n'
        "[model_providers.gatedeck]\n"
        'name = "GateDeck"\n'
        'base_url = "http://127.0.0.1:4000/v1"\n'
        "# the old wire\n"
        'wire_api = "chat"\n'
        "\n# kept: it belongs to the next table\n"
        "[tui]\n"
        "notifications = true\n"
    )
    path = codex_file(old)

    write_codex_config(URL)

    text = path.read_text()
    assert text == (
        'model_provider = "gatedeck"\n\n'
        + codex_config(URL).split("\n\n", 1)[1]
        + "\n# kept: it belongs to the next table\n[tui]\nnotifications = true\n"
    )
    assert write_codex_config(URL) == CodexConfigWritten(path=path, backup=None, changed=False)
    assert path.with_name("config.toml.bak").read_text() == old


def test_another_top_level_provider_is_switched_to_gatedeck() -> None:
    path = codex_file('model_provider = "ollama" # local\n[tui]\nx = 1\n')
    write_codex_config(URL)
    assert path.read_text().startswith(
        'model_provider = "gatedeck"\n[tui]\nx = 1\n\n[model_providers.gatedeck]\n'
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('model = "unfinished\n', "is not valid TOML (Illegal character"),
        ("model_providers = 3\n", "could not merge its lines"),  # not a table to add to
        ('[model_providers]\ngatedeck = { name = "mine" }\n', "could not merge its lines"),
    ],
)
def test_a_file_gatedeck_cannot_merge_into_is_refused_and_left_untouched(text: str, says: str) -> None:
    path = codex_file(text)
    with pytest.raises(CodexConfigError, match=re.escape(says)) as refused:
        write_codex_config(URL)
    assert str(path) in str(refused.value)
    assert path.read_text() == text and not path.with_name("config.toml.bak").exists()


def test_an_active_profile_with_another_provider_is_pointed_out() -> None:
    codex_file('profile = "fast"\n[profiles.fast]\nmodel_provider = "openai"\n')
    assert '"fast" picks the provider "openai"' in write_codex_config(URL).note


def test_codex_is_given_a_model_name_gatedeck_serves() -> None:
    tiers = [Mapping(name=name, model="qwen3-coder:30b") for name, _ in CLAUDE_TIERS]
    catch_all = Mapping(name="*", model="qwen2.5-coder:7b")
    assert codex_model(Config(mappings=[*tiers, catch_all])) == "qwen2.5-coder:7b"
    assert codex_model(Config(mappings=[*tiers, Mapping(name="coder", model="x:1"), catch_all])) == "coder"
    assert codex_model(Config(mappings=tiers)) == "qwen3-coder:30b"


# ---------------------------------------------------------------------- gatedeck codex-config
def test_codex_config_prints_the_lines_and_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codex-config"]) == 0
    out = capsys.readouterr().out
    settings = tomllib.loads(out)
    assert settings["model_provider"] == "gatedeck" and settings["model"] == "qwen2.5-coder:7b"
    assert settings["model_providers"]["gatedeck"]["base_url"] == "http://127.0.0.1:4000/v1"
    assert f"# Add to {Path.home() / '.codex' / 'config.toml'}" in out
    assert not (Path.home() / ".codex").exists()


def test_codex_config_write_merges_or_says_why_not(capsys: pytest.CaptureFixture[str]) -> None:
    path = codex_file("# mine\n[tui]\nnotifications = true\n")
    assert main(["codex-config", "--write"]) == 0
    assert (
        f"Wrote GateDeck's provider to {path} (the previous file is at {path}.bak)" in capsys.readouterr().out
    )
    assert path.read_text().startswith('model_provider = "gatedeck"\nmodel = "qwen2.5-coder:7b"\n\n# mine\n')

    path.write_text("[tui\n")
    assert main(["codex-config", "--write"]) == 1
    out = capsys.readouterr().out
    assert f"Not written: {path} is not valid TOML" in out and '    model_provider = "gatedeck"' in out
    assert path.read_text() == "[tui\n"


# ---------------------------------------------------------------------- the user's original file
def test_two_writes_keep_the_users_own_file_and_the_bak_is_the_one_before() -> None:
    path = codex_file(THEIRS)
    path.chmod(0o640)
    first = write_codex_config(URL, model="gatedeck-coder")
    after_first = path.read_bytes()
    second = write_codex_config("http://127.0.0.1:4200", model="gatedeck-coder")

    original = path.with_name("config.toml.before-gatedeck")
    assert first.original == original and second.original == original
    assert original.read_bytes() == THEIRS.encode(), "the file from before GateDeck, byte for byte"
    assert second.backup is not None and second.backup.read_bytes() == after_first
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 == stat.S_IMODE(original.stat().st_mode)


def test_codex_config_restore_puts_the_users_file_back(capsys: pytest.CaptureFixture[str]) -> None:
    path = codex_file(THEIRS)
    path.chmod(0o640)
    assert main(["codex-config", "--write"]) == 0
    assert f"Your file from before GateDeck is kept as {path}.before-gatedeck." in capsys.readouterr().out
    ours = path.read_bytes()

    assert main(["codex-config", "--restore"]) == 0

    assert path.read_bytes() == THEIRS.encode() and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.with_name("config.toml.bak").read_bytes() == ours
    out = capsys.readouterr().out
    assert f"Put back {path} as it was before GateDeck first wrote it." in out
    assert f"GateDeck's version is at {path}.bak." in out


def test_a_config_gatedeck_made_has_no_original_to_restore(capsys: pytest.CaptureFixture[str]) -> None:
    path = codex_file()
    assert write_codex_config(URL).original is None
    assert write_codex_config("http://127.0.0.1:4200").original is None
    assert not path.with_name("config.toml.before-gatedeck").exists()
    made = path.read_bytes()

    assert main(["codex-config", "--restore"]) == 1
    assert "nothing to restore: there was no config.toml before GateDeck made" in capsys.readouterr().err
    assert path.read_bytes() == made


def test_restore_before_gatedeck_wrote_anything_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codex-config", "--restore"]) == 1
    assert "GateDeck has not written" in capsys.readouterr().err
    assert not (Path.home() / ".codex").exists()
