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

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.config.store import ConfigStore
from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from tests.core.gateway_support import REPO, free_port, wait_until
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
CODEX = REPO / "tests" / "clients" / "node_modules" / ".bin" / "codex"
QWEN = "qwen2.5-coder:7b"
MARKER = "gatedeck-codex-e2e"


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=default_models()) as server:
        yield server


@pytest.fixture
def serve(fake: FakeOllama, tmp_path: Path) -> Iterator[str]:
    """``gatedeck serve`` (a real process) for a config whose every name goes to Ollama."""
    port = free_port()
    ConfigStore.from_env().save(
        Config(
            gateway=GatewaySettings(port=port),
            backends=[OllamaBackend(name="local", url=fake.url)],
            mappings=[Mapping(name="*", model=QWEN, options=ModelOptions(num_ctx=32768))],
        )
    )
    log = tmp_path / "serve.log"  # a file, not a pipe nobody reads (a full pipe would stall it)
    console = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "serve"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=console
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"gatedeck serve exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 120, "gatedeck serve")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        console.close()


@pytest.fixture
def recorded(serve: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``scripts/record_requests.py`` in front of the gateway: its URL, and where each request
    it passed on is written (with ``answered_by``, the answer's ``x-gatedeck-path``)."""
    port, out = free_port(), tmp_path / "recorded"
    proc = subprocess.Popen(
        [
            sys.executable,
            "scripts/record_requests.py",
            "--listen",
            str(port),
            "--to",
            serve,
            "--out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("the recording proxy exited")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, 30, "the recording proxy")
        yield f"http://127.0.0.1:{port}", out
    finally:
        proc.terminate()
        proc.wait(30)


def codex_home(folder: Path, base_url: str) -> Path:
    """A fresh ``CODEX_HOME`` whose config sends Codex to GateDeck."""
    folder.mkdir()
    (folder / "config.toml").write_text(
        'model = "gatedeck-coder"\n'
        'model_provider = "gatedeck"\n'
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
    if not CODEX.exists():
        pytest.fail(f"the Codex CLI is not installed at {CODEX}: run scripts/setup_clients")
    fake.set_reply(
        QWEN,
        "The command printed the marker.",
        tool_calls=[{"function": {"name": "exec_command", "arguments": {"cmd": f"echo {MARKER}"}}}],
        round_trip=True,
    )
    proxy, out = recorded
    key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY)
    assert key, "gatedeck serve made a gateway key"
    workdir = tmp_path / "project"
    workdir.mkdir()
    env = {
        **os.environ,
        "CODEX_HOME": str(codex_home(tmp_path / "codex-home", proxy)),
        "GATEDECK_API_KEY": key,
    }
    done = subprocess.run(
        [
            str(CODEX),
            "exec",
            "--skip-git-repo-check",
            "--sandbox",
            "danger-full-access",
            f"Run `echo {MARKER}` and tell me what it printed.",
        ],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    seen = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    model_requests = [r for r in seen if (r["method"], r["path"]) == ("POST", "/v1/responses")]
    assert len(model_requests) >= 2, seen  # the call, then the answer after its output
    assert [(r["status"], r["answered_by"]) for r in model_requests] == [(200, "direct")] * len(
        model_requests
    )
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    assert len(chats) == len(model_requests)
    results = [m for m in chats[-1]["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"]  # the command really ran, its output went back
    assert results[-1]["tool_name"] == "exec_command"


def test_gatedeck_codex_starts_codex_on_the_running_gateway(
    fake: FakeOllama, serve: str, tmp_path: Path
) -> None:
    """``gatedeck codex exec …``, tried as a user would after ``gatedeck serve``: no config file
    written, the gateway found on its port, Codex's own settings folder left as it was."""
    if not CODEX.exists():
        pytest.fail(f"the Codex CLI is not installed at {CODEX}: run scripts/setup_clients")
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
            "--model",
            "gatedeck-coder",
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
