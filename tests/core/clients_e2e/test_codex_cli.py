"""The real Codex CLI (npm ``@openai/codex``, installed by ``scripts/setup_clients``) through
``gatedeck serve`` to the fake Ollama, offline, as a user would set it up.

Codex is pointed at GateDeck with a model provider in its own ``config.toml`` (a fresh
``CODEX_HOME``): GateDeck's ``/v1`` as the base URL, the gateway key from an environment
variable, ``wire_api = "responses"``. The fake model asks for a shell command (Codex's
``exec_command`` tool); Codex runs it, sends the output back, and the model answers in text.
``scripts/record_requests.py`` between Codex and GateDeck notes which path answered each model
request: every one must come from GateDeck's fast path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.clients.codex import codex_model
from core.clients.codex_config_file import write_codex_config
from core.config.store import ConfigStore
from core.metrics.request_log import read_log
from core.paths import AppPaths
from tests.core.clients_e2e.support import CODEX, QWEN, gateway_key, model_requests, require, run_codex_exec
from tests.core.gateway_support import REPO, wait_until
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
MARKER = "gatedeck-codex-e2e"


def codex_home(folder: Path, base_url: str, model: str | None = "gatedeck-coder") -> Path:
    """A fresh ``CODEX_HOME`` whose config sends Codex to GateDeck (``model``: the model it asks
    for; ``None``, Codex's own default)."""
    folder.mkdir()
    chosen = f'model = "{model}"\n' if model else ""
    (folder / "config.toml").write_text(
        f'{chosen}model_provider = "gatedeck"\n'
        "\n"
        "[model_providers.gatedeck]\n"
        'name = "GateDeck"\n'
        f'base_url = "{base_url}/v1"\n'
        'env_key = "GATEDECK_API_KEY"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
    return folder


def test_codex_runs_a_shell_command_through_gatedecks_fast_path(
    fake: FakeOllama, recorded: tuple[str, Path], tmp_path: Path
) -> None:
    require(CODEX)
    fake.set_reply(
        QWEN,
        "The command printed the marker.",
        tool_calls=[{"function": {"name": "exec_command", "arguments": {"cmd": f"echo {MARKER}"}}}],
        round_trip=True,
    )
    proxy, out = recorded
    workdir = tmp_path / "project"
    workdir.mkdir()
    env = {
        **os.environ,
        "CODEX_HOME": str(codex_home(tmp_path / "codex-home", proxy)),
        "GATEDECK_API_KEY": gateway_key(),
    }
    done = run_codex_exec(workdir, env, f"Run `echo {MARKER}` and tell me what it printed.")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    asked = model_requests(out, "/v1/responses")
    assert len(asked) >= 2, asked  # the call, then the answer after its output
    assert [(r["status"], r["answered_by"]) for r in asked] == [(200, "direct")] * len(asked)
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    assert len(chats) == len(asked)
    results = [m for m in chats[-1]["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"]  # the command really ran, its output went back
    assert results[-1]["tool_name"] == "exec_command"


def test_codex_works_with_the_config_toml_gatedeck_wrote(
    fake: FakeOllama, recorded: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``config.toml`` that ``gatedeck setup --codex`` writes, merged into one a user already
    had, is all Codex needs: no ``-c`` options, the key only in ``GATEDECK_API_KEY``."""
    require(CODEX)
    fake.set_reply(
        QWEN,
        "The command printed the marker.",
        tool_calls=[{"function": {"name": "exec_command", "arguments": {"cmd": f"echo {MARKER}"}}}],
        round_trip=True,
    )
    proxy, out = recorded
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text('# mine\nmodel_provider = "openai"\n\n[profiles.work]\nmodel = "o3"\n')
    monkeypatch.setenv("CODEX_HOME", str(home))
    model = codex_model(ConfigStore.from_env().load().config)
    assert model == QWEN, "the catch-all's model, by Ollama's own name"
    written = write_codex_config(proxy, model=model)
    assert written.path == home / "config.toml" and written.backup == home / "config.toml.bak"
    assert gateway_key() not in written.path.read_text()
    workdir = tmp_path / "project"
    workdir.mkdir()
    done = run_codex_exec(
        workdir,
        {**os.environ, "GATEDECK_API_KEY": gateway_key()},
        f"Run `echo {MARKER}` and tell me what it printed.",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    asked = model_requests(out, "/v1/responses")
    assert len(asked) >= 2 and all(r["answered_by"] == "direct" for r in asked), asked
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    assert MARKER in [m for m in chats[-1]["messages"] if m["role"] == "tool"][-1]["content"]


def test_codex_with_only_a_config_file_and_no_model_is_answered_by_the_fast_path(
    fake: FakeOllama, recorded: tuple[str, Path], tmp_path: Path
) -> None:
    """A user who points Codex at GateDeck by its ``config.toml`` alone, naming no model: Codex
    asks for its own default model with its "lite" requests (its tools in an ``additional_tools``
    input item, code mode's ``exec`` running JavaScript). GateDeck's catch-all serves that name
    on the fast path, and the command the model writes really runs."""
    require(CODEX)
    source = f'const r = await tools.exec_command({{cmd: "echo {MARKER}"}}); text(r);'
    fake.set_reply(
        QWEN,
        "The command printed the marker.",
        tool_calls=[{"function": {"name": "exec", "arguments": {"input": source}}}],
        round_trip=True,
    )
    proxy, out = recorded
    home = codex_home(tmp_path / "codex-home", proxy, model=None)
    assert "model =" not in (home / "config.toml").read_text()
    workdir = tmp_path / "project"
    workdir.mkdir()
    started = time.time()
    done = run_codex_exec(
        workdir,
        {**os.environ, "CODEX_HOME": str(home), "GATEDECK_API_KEY": gateway_key()},
        f"Run `echo {MARKER}` and tell me what it printed.",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    asked = model_requests(out, "/v1/responses")
    assert len(asked) >= 2, asked  # the exec call, then the answer after its output
    assert all(r["headers"].get("x-openai-internal-codex-responses-lite") == "true" for r in asked)
    assert all("tools" not in r["body"] for r in asked)
    assert [(r["status"], r["answered_by"]) for r in asked] == [(200, "direct")] * len(asked)
    default_model = asked[0]["body"]["model"]
    assert default_model not in ("", QWEN)  # Codex's own name, served by the catch-all
    folder = AppPaths.from_env().log_dir
    wait_until(lambda: len(list(read_log(folder, since=started))) >= len(asked), 30, "the request log")
    logged = list(read_log(folder, since=started))
    assert [(r["route"], r["dialect"], r["requested"], r["model"]) for r in logged] == [
        ("fastpath", "responses", default_model, QWEN)
    ] * len(asked)
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    assert "exec" in [t["function"]["name"] for t in chats[0]["tools"]]
    result = [m for m in chats[-1]["messages"] if m["role"] == "tool"][-1]
    assert result["tool_name"] == "exec" and MARKER in result["content"]  # the command really ran


def test_gatedeck_codex_starts_codex_on_the_running_gateway(
    fake: FakeOllama, serve: str, tmp_path: Path
) -> None:
    """``gatedeck codex exec …``, tried as a user would after ``gatedeck serve``: no config file
    written, the gateway found on its port, Codex's own settings folder left as it was, and no
    ``--model`` needed (GateDeck names one it serves: for its own default model Codex would offer
    the model no tools)."""
    require(CODEX)
    fake.set_reply(
        QWEN,
        "Done: the marker was printed.",
        tool_calls=[{"function": {"name": "exec_command", "arguments": {"cmd": f"echo {MARKER}"}}}],
        round_trip=True,
    )
    home = tmp_path / "codex-home"
    home.mkdir()
    workdir = tmp_path / "project"
    workdir.mkdir()
    env = {**os.environ, "CODEX_HOME": str(home), "PATH": f"{CODEX.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GATEDECK_API_KEY", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.cli.main",
            "codex",
            "exec",
            "--skip-git-repo-check",
            "--sandbox",
            "danger-full-access",
            f"Run `echo {MARKER}`.",
        ],
        cwd=workdir,
        env={**env, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Done: the marker was printed." in done.stdout
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    assert (
        len(chats) >= 2 and MARKER in [m for m in chats[-1]["messages"] if m["role"] == "tool"][-1]["content"]
    )
    assert not (home / "config.toml").exists(), "nothing written into Codex's own settings"
