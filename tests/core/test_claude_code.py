"""Claude Code's environment and settings file."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from core.cli.main import main
from core.clients.claude_code import (
    claude_code_env,
    claude_context,
    follow_gateway,
    render_env,
    unserved_tiers,
    write_settings,
)
from core.config.defaults import default_config
from core.config.schema import Config, Mapping, ModelOptions, OllamaServerSettings
from core.errors import ClaudeSettingsError

URL = "http://127.0.0.1:4000"
TRICKY = 'sk-it\'s a "key" with $HOME and `ticks` \\ end'


def test_pattern_tiers_leave_the_tier_variables_to_claude_codes_own_names() -> None:
    env = claude_code_env(default_config(), URL, "sk-k")
    assert not any(name.startswith("ANTHROPIC_DEFAULT_") for name in env)
    assert env["ANTHROPIC_BASE_URL"] == URL and env["ANTHROPIC_AUTH_TOKEN"] == "sk-k"
    assert unserved_tiers(default_config()) == []


def compaction_point(env: dict[str, str]) -> int:
    """Where Claude Code (2.1.197, 2.1.332) compacts, by its own arithmetic on the variables it reads."""
    window = max(int(env["CLAUDE_CODE_AUTO_COMPACT_WINDOW"]), 100_000)
    usable = window - min(int(env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"]), 20_000)
    return min(int(usable * float(env["CLAUDE_AUTOCOMPACT_PCT_OVERRIDE"]) / 100), usable - 13_000)


def test_claude_code_is_told_the_real_window_of_a_32k_context() -> None:
    env = claude_code_env(default_config(), URL, "sk-k")  # every tier at num_ctx 32768
    output = int(env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"])
    assert output == 8192  # not Claude Code's 32,000, which alone would fill the context
    compact = compaction_point(env)
    assert 0.8 * (32768 - output) <= compact <= 32768 - output
    assert int(env["CLAUDE_CODE_BLOCKING_LIMIT_OVERRIDE"]) == 32768 - output
    assert env["CLAUDE_CODE_ATTRIBUTION_HEADER"] == "0"


def test_the_smallest_context_among_the_tiers_decides() -> None:
    config = Config(
        mappings=[
            Mapping(name="claude-*sonnet*", model="qwen3-coder:30b", options=ModelOptions(num_ctx=131072)),
            Mapping(name="claude-*haiku*", model="qwen3-coder:30b", options=ModelOptions(num_ctx=65536)),
            Mapping(name="gpt-4o", model="llama3.2:3b", options=ModelOptions(num_ctx=2048)),  # not Claude's
        ]
    )
    context = claude_context(config)
    assert context is not None and context.num_ctx == 65536 and context.mapping == "claude-*haiku*"
    env = context.env()
    assert 0 <= context.compact_at - compaction_point(env) <= 10  # the percentage keeps 2 decimals
    assert context.compact_at < 65536 - context.max_output
    assert "65,536" in context.explain()


def test_a_tier_without_num_ctx_counts_as_ollamas_default() -> None:
    config = Config(mappings=[Mapping(name="*", model="llama3.2:3b")])
    assert claude_context(config).num_ctx == 4096  # type: ignore[union-attr]
    server = Config(
        mappings=[Mapping(name="*", model="llama3.2:3b")],
        ollama_server=OllamaServerSettings(context_length=16384),
    )
    assert claude_context(server).num_ctx == 16384  # type: ignore[union-attr]
    assert claude_context(Config(mappings=[Mapping(name="gpt-4o", model="x")])) is None


def test_exact_tier_mappings_are_named_in_the_environment() -> None:
    config = Config(
        mappings=[
            Mapping(name="claude-sonnet-local", model="qwen2.5-coder:7b"),
            Mapping(name="claude-haiku-local", model="llama3.2:3b"),
        ]
    )
    env = claude_code_env(config, URL, "sk-k")
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "claude-sonnet-local"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-haiku-local"
    assert env["CLAUDE_CODE_SUBAGENT_MODEL"] == "claude-sonnet-local"
    assert "ANTHROPIC_DEFAULT_OPUS_MODEL" not in env
    assert unserved_tiers(config) == ["opus"]


def test_bash_output_survives_eval_with_a_tricky_value() -> None:
    env = {"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": TRICKY}
    script = render_env(env, "bash") + '\nprintf "%s" "$ANTHROPIC_AUTH_TOKEN"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == TRICKY


def test_fish_powershell_and_json_forms() -> None:
    env = {"ANTHROPIC_AUTH_TOKEN": "sk-a'b"}
    assert render_env(env, "fish") == "set -gx ANTHROPIC_AUTH_TOKEN 'sk-a\\'b'"
    assert render_env(env, "powershell") == "$env:ANTHROPIC_AUTH_TOKEN = 'sk-a''b'"
    assert json.loads(render_env(env, "json")) == env


def test_settings_merge_keeps_every_other_key_and_backs_up(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir()
    original = {
        "model": "opus",
        "permissions": {"allow": ["Bash(ls:*)"]},
        "env": {"DISABLE_TELEMETRY": "1", "ANTHROPIC_BASE_URL": "https://old.example"},
    }
    path.write_text(json.dumps(original))

    written = write_settings({"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "sk-k"}, path)

    data = json.loads(path.read_text())
    assert data["model"] == "opus" and data["permissions"] == original["permissions"]
    assert data["env"] == {
        "DISABLE_TELEMETRY": "1",
        "ANTHROPIC_BASE_URL": URL,
        "ANTHROPIC_AUTH_TOKEN": "sk-k",
    }
    assert written.backup is not None and json.loads(written.backup.read_text()) == original
    assert set(written.changed) == {"ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the gateway key

    again = write_settings({"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "sk-k"}, path)
    assert again.changed == ()


def test_settings_created_when_absent_in_the_home_folder() -> None:
    written = write_settings({"ANTHROPIC_BASE_URL": URL})
    assert written.path == Path.home() / ".claude" / "settings.json"  # HOME is a temp dir in tests
    assert written.backup is None
    assert json.loads(written.path.read_text()) == {"env": {"ANTHROPIC_BASE_URL": URL}}


@pytest.mark.parametrize("text", ['{"env": ', "[1, 2]", '{"env": "not an object"}'])
def test_unreadable_settings_are_left_untouched(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(ClaudeSettingsError, match="left"):
        write_settings({"ANTHROPIC_BASE_URL": URL}, path)
    assert path.read_text() == text


def test_a_regenerated_key_replaces_the_old_one_in_claude_codes_settings(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    write_settings({"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "sk-gd-old"}, path)
    before = json.loads(path.read_text())

    written = follow_gateway(
        {"ANTHROPIC_AUTH_TOKEN": "sk-gd-old"}, {"ANTHROPIC_AUTH_TOKEN": "sk-gd-new"}, path
    )

    assert written is not None and written.changed == ("ANTHROPIC_AUTH_TOKEN",)
    assert json.loads(path.read_text())["env"] == {
        "ANTHROPIC_BASE_URL": URL,
        "ANTHROPIC_AUTH_TOKEN": "sk-gd-new",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert written.backup is not None and json.loads(written.backup.read_text()) == before


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(
            {"env": {"ANTHROPIC_BASE_URL": "https://other.example", "ANTHROPIC_AUTH_TOKEN": "sk-theirs"}}
        ),
        json.dumps({"theme": "dark"}),
        '{"env": ',
    ],
)
def test_settings_without_the_old_key_are_left_as_they_are(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    assert (
        follow_gateway({"ANTHROPIC_AUTH_TOKEN": "sk-gd-old"}, {"ANTHROPIC_AUTH_TOKEN": "sk-gd-new"}, path)
        is None
    )
    assert path.read_text() == text
    assert not path.with_name("settings.json.bak").exists()


def test_no_settings_file_is_not_created_for_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    assert (
        follow_gateway({"ANTHROPIC_AUTH_TOKEN": "sk-gd-old"}, {"ANTHROPIC_AUTH_TOKEN": "sk-gd-new"}, path)
        is None
    )
    assert not path.parent.exists()


def test_a_new_address_reaches_settings_that_point_at_this_gateway_only(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    write_settings({"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "sk-gd-key"}, path)
    moved = "http://127.0.0.1:4100"
    here = {"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "sk-gd-key"}

    assert (
        follow_gateway({**here, "ANTHROPIC_AUTH_TOKEN": "sk-gd-other"}, {"ANTHROPIC_BASE_URL": moved}, path)
        is None
    )
    assert follow_gateway({**here, "ANTHROPIC_BASE_URL": moved}, {"ANTHROPIC_BASE_URL": moved}, path) is None
    assert follow_gateway(here, {"ANTHROPIC_BASE_URL": moved}, path) is not None
    assert json.loads(path.read_text())["env"] == {
        "ANTHROPIC_BASE_URL": moved,
        "ANTHROPIC_AUTH_TOKEN": "sk-gd-key",
    }


# ---------------------------------------------------------------------- the user's original file
#: A settings file as its owner wrote it: their own spacing, key order and no final newline.
MINE = b'{ "theme": "dark",\n  "env": {"ANTHROPIC_BASE_URL": "https://proxy.example", "FOO": "1"} }'


def users_settings(mode: int = 0o644) -> Path:
    path = Path.home() / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_bytes(MINE)
    path.chmod(mode)
    return path


def test_setups_run_again_and_a_new_key_never_lose_the_users_own_file() -> None:
    path = users_settings()
    first = write_settings({"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "sk-gd-old"})
    after_first = path.read_bytes()
    second = follow_gateway({"ANTHROPIC_AUTH_TOKEN": "sk-gd-old"}, {"ANTHROPIC_AUTH_TOKEN": "sk-gd-new"})
    write_settings({"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": "sk-gd-new"})  # nothing changes

    original = path.with_name("settings.json.before-gatedeck")
    assert first.original == original and second is not None and second.original == original
    assert original.read_bytes() == MINE, "the file from before GateDeck, byte for byte"
    assert stat.S_IMODE(original.stat().st_mode) == 0o644
    assert second.backup == path.with_name("settings.json.bak")
    assert second.backup.read_bytes() == after_first, "the .bak is the version before the last write"
    assert json.loads(path.read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == "sk-gd-new"


def test_restoring_puts_the_users_file_back_and_keeps_gatedecks_as_the_bak(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = users_settings()
    assert main(["claude-env", "--write-settings"]) == 0
    out = capsys.readouterr().out
    assert f"Your file from before GateDeck is kept as {path}.before-gatedeck." in out
    ours = path.read_bytes()

    assert main(["claude-env", "--restore-settings"]) == 0

    assert path.read_bytes() == MINE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.with_name("settings.json.bak").read_bytes() == ours
    out = capsys.readouterr().out
    assert f"Put back {path} as it was before GateDeck first wrote it." in out
    assert f"GateDeck's version is at {path}.bak." in out
    # Writing again afterwards still keeps the same original.
    write_settings({"ANTHROPIC_BASE_URL": URL})
    assert path.with_name("settings.json.before-gatedeck").read_bytes() == MINE


def test_a_settings_file_gatedeck_made_has_no_original_to_restore(capsys: pytest.CaptureFixture[str]) -> None:
    first = write_settings({"ANTHROPIC_BASE_URL": URL})
    second = write_settings({"ANTHROPIC_BASE_URL": "http://127.0.0.1:4100"})
    path = first.path

    assert first.original is None and second.original is None
    assert not path.with_name("settings.json.before-gatedeck").exists()
    made = path.read_bytes()
    assert main(["claude-env", "--restore-settings"]) == 1
    err = capsys.readouterr().err
    assert "nothing to restore: there was no settings.json before GateDeck made" in err
    assert "Delete that file" in err
    assert path.read_bytes() == made


def test_a_file_gatedeck_wrote_before_it_kept_originals_gets_none(capsys: pytest.CaptureFixture[str]) -> None:
    path = users_settings()
    path.with_name("settings.json.bak").write_bytes(b'{"theme": "light"}')  # an older GateDeck's copy

    assert write_settings({"ANTHROPIC_BASE_URL": URL}).original is None
    assert not path.with_name("settings.json.before-gatedeck").exists()
    assert main(["claude-env", "--restore-settings"]) == 1
    assert "before it kept originals" in capsys.readouterr().err
