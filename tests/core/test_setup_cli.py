"""``gatedeck setup`` end to end against the fake Ollama: a machine with no models gets a model
that fits, pulled, mapped for Claude Code with one set of load options, probed through a real
gateway started by the command, and Claude Code's settings merged with a backup."""

from __future__ import annotations

import json
import os
import re
import signal
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli.main import main
from core.clients.probe_verdicts import load_verdicts
from core.clients.tool_probe import Outcome
from core.config.schema import Mapping
from core.config.store import ConfigStore
from core.ollama.load_options import reload_groups, runner_options
from core.paths import AppPaths
from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_ollama_exe import FakeOllamaExe
from tests.fakes.ollama_catalog import llama32_3b, nomic_embed_text, qwen25_coder_7b, tiny_model

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]
QWEN = "qwen2.5-coder:7b"
NEXT = "qwen3-coder:30b"  # on an 8 GiB GPU the next recommendation (split between GPU and CPU)
EIGHT_GB_GPU = ["--vram", "8GiB", "--ram", "32GiB"]


@pytest.fixture
def empty_ollama() -> Iterator[FakeOllama]:
    """An Ollama with nothing installed but an embedding model; the coding models can be pulled."""
    with FakeOllama(models=[nomic_embed_text()], library=[qwen25_coder_7b(), tiny_model(NEXT)]) as fake:
        fake.set_pull_plan(QWEN, [3_000_000, 1_000, 500], steps_per_layer=3)
        fake.set_pull_plan(NEXT, [2_000_000, 700], steps_per_layer=2)
        yield fake


def claude_settings() -> Path:
    path = Path.home() / ".claude" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def saved_claude_mappings() -> list[Mapping]:
    config = ConfigStore.from_env().load().config
    return [m for m in config.mappings if m.is_claude]


def test_setup_yes_pulls_maps_probes_and_merges_claude_settings(
    empty_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_ollama.set_replier(QWEN, probe_model("calls"))
    settings = claude_settings()
    settings.write_text(json.dumps({"theme": "dark", "env": {"FOO": "bar"}}))

    code = main(["--ollama-url", empty_ollama.url, "setup", "--yes", "--probe-runs", "1", *EIGHT_GB_GPU])
    out = capsys.readouterr().out

    assert code == 0, out
    assert "\x1b[" not in out and "Proxy initialized" not in out, "no LiteLLM banner in setup's output"
    assert "Ollama 0." in out and "is running at" in out
    assert re.search(r"^1\s+qwen2\.5-coder:7b\s+✓ GPU @ 32k\s+4\.7 GB\s+32k\s+mostly", out, re.M), out
    assert empty_ollama.installed() == sorted(["nomic-embed-text:latest", QWEN])
    assert [s.outcome for s in empty_ollama.pull_sessions(QWEN)] == ["success"]

    mappings = saved_claude_mappings()
    assert {m.name for m in mappings} == {"claude-*opus*", "claude-*sonnet*", "claude-*haiku*", "*"}
    assert {m.model for m in mappings} == {QWEN}
    assert {tuple(sorted(runner_options(m.options).items())) for m in mappings} == {(("num_ctx", 32768),)}
    assert reload_groups(mappings) == [], "one set of load options: switching tiers never reloads"

    assert "request to 'claude-sonnet-4-5'" in out and "PASS: Tool calls work" in out, out
    chats = empty_ollama.bodies("/api/chat")
    assert chats and all(body["model"] == QWEN and body["options"]["num_ctx"] == 32768 for body in chats)
    assert len(chats[0]["tools"]) == 24, "the probe sent a Claude-Code-sized request through the gateway"
    verdicts = load_verdicts(AppPaths.from_env().data_dir)
    assert set(verdicts) == {m.name for m in mappings}, "the Mappings panel shows the verdict on every tier"
    assert {(v.outcome, v.model, v.num_ctx) for v in verdicts.values()} == {(Outcome.WORKS, QWEN, 32768)}

    data = json.loads(settings.read_text())
    assert data["theme"] == "dark" and data["env"]["FOO"] == "bar", "the user's settings are kept"
    assert data["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4000"
    assert data["env"]["ANTHROPIC_AUTH_TOKEN"]
    backup = settings.with_name("settings.json.bak")
    assert json.loads(backup.read_text()) == {"theme": "dark", "env": {"FOO": "bar"}}


def test_a_bad_verdict_with_yes_moves_on_to_the_next_recommendation(
    empty_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_ollama.set_replier(QWEN, probe_model("prose"))  # answers in words, never calls a tool
    empty_ollama.set_replier(NEXT, probe_model("calls"))

    code = main(
        [
            "--ollama-url", empty_ollama.url, "setup", "--yes", "--probe-runs", "1",
            "--no-claude-settings", *EIGHT_GB_GPU,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out

    assert code == 0, out
    assert "FAIL:" in out and f"Trying the next recommendation: {NEXT}" in out and "PASS:" in out, out
    assert {m.model for m in saved_claude_mappings()} == {NEXT}
    assert QWEN in empty_ollama.installed() and NEXT in empty_ollama.installed()
    assert "gatedeck claude" in out
    assert not (Path.home() / ".claude" / "settings.json").exists(), "--no-claude-settings writes nothing"


def test_a_model_setup_does_not_know_is_a_clear_error_and_changes_nothing(
    empty_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--ollama-url", empty_ollama.url, "setup", "--model", "no-such-model:1b", *EIGHT_GB_GPU])
    captured = capsys.readouterr()

    assert code == 1
    assert "'no-such-model:1b' is not installed and not in GateDeck's table" in captured.err
    assert "qwen3-coder:30b" in captured.err, "the error names models that can be chosen"
    assert empty_ollama.pull_sessions() == []
    assert {m.model for m in saved_claude_mappings()} == {QWEN}, "the first-run mappings are untouched"


def test_a_model_too_big_for_the_machine_is_refused_with_the_estimate(
    empty_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--ollama-url",
            empty_ollama.url,
            "setup",
            "--model",
            "qwen2.5-coder:32b",
            "--vram",
            "0",
            "--ram",
            "8GiB",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "'qwen2.5-coder:32b' does not fit on this machine" in err and "does NOT fit" in err, err
    assert empty_ollama.pull_sessions() == []


def test_without_ollama_setup_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with FakeOllama(models=[]) as stopped:
        url = stopped.url  # a local address where nothing answers once the server is gone
    code = main(["--ollama-url", url, "setup", "--yes"])
    out = capsys.readouterr().out
    assert code == 1
    assert "Ollama is not installed here" in out and "https://ollama.com/download" in out, out


def test_answers_come_from_the_terminal_without_yes(
    empty_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []
    answers = iter(["7", "2"])  # a number out of range is asked again

    def answer(question: str) -> str:
        asked.append(question)
        return next(answers)

    monkeypatch.setattr("builtins.input", answer)
    empty_ollama.set_replier(NEXT, probe_model("calls"))
    code = main(
        [
            "--ollama-url", empty_ollama.url, "setup", "--probe-runs", "1", "--no-claude-settings",
            *EIGHT_GB_GPU,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert asked == ["Which model (1-3)? [1] "] * 2
    assert {m.model for m in saved_claude_mappings()} == {NEXT}
    assert os.path.exists(ConfigStore.from_env().path)


def test_an_installed_model_outside_the_table_is_listed_apart_after_the_table_models(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """llama3.2:3b sits all on an 8 GiB GPU, but its tool calling is untested: the table's models
    come first (the split 30B ones too), and it is listed under its own heading, numbered on."""
    with FakeOllama(models=[llama32_3b()], library=[qwen25_coder_7b()]) as fake:
        fake.set_pull_plan(QWEN, [3_000_000, 1_000, 500], steps_per_layer=3)
        code = main(
            [
                "--ollama-url", fake.url, "setup", "--yes", "--skip-probe", "--no-claude-settings",
                *EIGHT_GB_GPU,
            ]
        )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    table_part, _, tail = out.partition("Also installed here")
    assert re.search(r"^1\s+qwen2\.5-coder:7b\s", table_part, re.M) and "llama3.2" not in table_part, out
    assert re.search(r"^3\s+\S+\s+◐", table_part, re.M), "a split table model still ranks above it"
    assert re.search(r"^4\s+llama3\.2:3b\s+✓ GPU @ \d+k\s+installed\s+\d+k\s+untested", tail, re.M), out
    assert {m.model for m in saved_claude_mappings()} == {QWEN}, "--yes takes the table's first"


def test_setup_starts_an_installed_ollama_that_is_not_running(
    fake_ollama_exe: FakeOllamaExe, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOllama(models=[]) as gone:
        url = gone.url  # a free local port: nothing answers there now
    try:
        code = main(
            [
                "--ollama-url", url, "setup", "--yes", "--model", QWEN, "--skip-probe",
                "--no-claude-settings", *EIGHT_GB_GPU,
            ]
        )  # fmt: skip
        out = capsys.readouterr().out
    finally:
        for launch in fake_ollama_exe.launches():  # the `ollama serve` this test made setup start
            os.kill(launch["pid"], signal.SIGTERM)
    assert code == 0, out
    assert "is installed" in out and "but not running" in out and "Ollama started (pid" in out, out
    (launch,) = fake_ollama_exe.launches()
    assert launch["argv"] == ["serve"]
    config = ConfigStore.from_env().load().config
    assert config.ollama_server.managed, "GateDeck runs the Ollama it started from now on"
    assert {m.model for m in config.mappings if m.is_claude} == {QWEN}
    assert "already installed" in out and "Pulling" not in out, "the started Ollama's model is used as it is"


def test_hw_fit_estimates_a_table_model_before_it_is_pulled(
    empty_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["hw", "--fit", "qwen3-coder:30b", "--vram", "24GiB", "--ollama-url", empty_ollama.url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "For Claude Code: num_ctx 57,344" in out and "✓ GPU @ 56k" in out, out
    code = main(
        [
            "hw",
            "--fit",
            "qwen3-coder:30b",
            "--ctx",
            "131072",
            "--vram",
            "24GiB",
            "--ollama-url",
            empty_ollama.url,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "◐" in out and "layers GPU @ 128k" in out, "a larger context splits it"


def test_a_chosen_model_that_fails_the_probe_is_set_up_with_a_warning_and_exit_code_2(
    empty_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_ollama.set_replier(QWEN, probe_model("prose"))
    code = main(
        [
            "--ollama-url", empty_ollama.url, "setup", "--yes", "--model", QWEN, "--probe-runs", "1",
            "--no-claude-settings", *EIGHT_GB_GPU,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 2, out
    assert "FAIL:" in out and "Claude Code will struggle with this model" in out
    assert "Trying the next recommendation" not in out, "--model names the one model to set up"
    assert empty_ollama.installed() == sorted(["nomic-embed-text:latest", QWEN])


def test_setup_codex_writes_gatedecks_provider_into_codex_config_and_keeps_the_rest(
    empty_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Path.home() / ".codex" / "config.toml"
    config.parent.mkdir()
    mine = '# mine\nmodel_provider = "openai"\n\n[profiles.work]\nmodel = "o3"\n'
    config.write_text(mine)

    code = main(
        [
            "--ollama-url", empty_ollama.url, "setup", "--yes", "--skip-probe", "--no-claude-settings",
            "--codex", *EIGHT_GB_GPU,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out

    assert code == 0, out
    assert f"Wrote GateDeck's provider to {config} (the previous file is at {config}.bak)" in out, out
    assert "GATEDECK_API_KEY" in out and "gatedeck codex" in out
    written = config.read_text()
    assert written.startswith(
        f'# mine\nmodel_provider = "gatedeck"\nmodel = "{QWEN}"\n\n[profiles.work]\nmodel = "o3"\n'
    ), "Codex asks for the model the setup chose (for its own default it would offer no tools)"
    provider = tomllib.loads(written)["model_providers"]["gatedeck"]
    assert provider["base_url"] == "http://127.0.0.1:4000/v1" and provider["env_key"] == "GATEDECK_API_KEY"
    assert config.with_name("config.toml.bak").read_text() == mine
