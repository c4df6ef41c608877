"""From nothing to Claude Code on a local model, as a user does it: ``gatedeck setup --yes``, then
``gatedeck serve``, then plain ``claude -p`` with nothing of GateDeck's in its environment — the
address, the key and the context limits all come from the ``~/.claude/settings.json`` the setup
wrote.

Ollama (the fake) has no coding model at first: the setup pulls the one it recommends for an
8 GiB GPU, maps Claude Code's tiers to it and checks its tool calls through a gateway of its
own. While the setup runs, another program holds the gateway's port (the probe's gateway takes
the next free one), so settings naming the probe's gateway instead of the configured one would
point Claude Code at nothing. Claude Code then runs a ``Bash`` command the model asks for and
prints the model's answer; GateDeck's request log shows every request answered by the fast
path, on the model the setup chose, at the context it chose.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config.defaults import default_config
from core.config.schema import GatewaySettings
from core.config.store import ConfigStore
from core.paths import AppPaths
from tests.core.clients_e2e.support import CLAUDE, QWEN, asks_for_bash, gatedeck_serve, gateway_key, run_cli
from tests.core.gateway_support import REPO, free_port
from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import nomic_embed_text, qwen25_coder_7b

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
MARKER = "gatedeck-setup-e2e"
#: The context the setup gives qwen2.5-coder:7b on an 8 GiB GPU (Claude Code's 32k).
SETUP_NUM_CTX = 32768


@pytest.fixture
def empty_ollama() -> Iterator[FakeOllama]:
    """An Ollama with no coding model installed; qwen2.5-coder:7b can be pulled."""
    with FakeOllama(models=[nomic_embed_text()], library=[qwen25_coder_7b()]) as fake:
        fake.set_pull_plan(QWEN, [3_000_000, 1_000], steps_per_layer=2)
        yield fake


def gatedeck_setup(ollama_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "core.cli.main", "--ollama-url", ollama_url,
            "setup", "--yes", "--vram", "8GiB", "--ram", "32GiB",
        ],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )  # fmt: skip


def plain_claude(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``claude`` with only its home, PATH and its own offline switches: no ANTHROPIC_* variables."""
    env = {
        "HOME": os.environ["HOME"],
        "PATH": os.environ["PATH"],
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    return run_cli(CLAUDE, workdir, env, *args)


def logged_requests() -> list[dict[str, object]]:
    path = AppPaths.from_env().log_dir / "requests.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_setup_yes_then_plain_claude_runs_a_bash_command_on_the_model_setup_chose(
    empty_ollama: FakeOllama, tmp_path: Path
) -> None:
    port = free_port()  # the user's gateway port (the default, 4000, may be in use on this machine)
    ConfigStore.from_env().save(default_config().model_copy(update={"gateway": GatewaySettings(port=port)}))
    empty_ollama.set_replier(QWEN, probe_model("calls"))

    with socket.create_server(("127.0.0.1", port)):  # something else holds the port during the setup
        setup = gatedeck_setup(empty_ollama.url)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "PASS: Tool calls work" in setup.stdout, setup.stdout
    assert f"Warning: Gateway port {port}: in use by" in setup.stdout, (
        "the setup says serve cannot listen yet"
    )
    assert empty_ollama.installed() == sorted(["nomic-embed-text:latest", QWEN])

    settings_path = Path.home() / ".claude" / "settings.json"
    written = json.loads(settings_path.read_text())["env"]
    assert written["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}", written
    assert written["ANTHROPIC_AUTH_TOKEN"] == gateway_key()
    assert stat.S_IMODE(settings_path.stat().st_mode) == 0o600, "the file holds the gateway key"

    probed = len(logged_requests())  # the probe's requests, through the setup's own gateway
    assert probed > 0
    empty_ollama.clear_requests()
    asks_for_bash(empty_ollama, f"echo {MARKER}", then="The command printed the marker.")
    workdir = tmp_path / "project"
    workdir.mkdir()
    with gatedeck_serve(port, tmp_path / "serve.log"):
        done = plain_claude(
            workdir, "-p", f"Run the shell command `echo {MARKER}`.", "--allowedTools", "Bash"
        )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    chats = [body for body in empty_ollama.bodies("/api/chat") if isinstance(body, dict)]
    assert len(chats) >= 2, "the call, then the answer after the command's output"
    assert {(body["model"], body["options"]["num_ctx"]) for body in chats} == {(QWEN, SETUP_NUM_CTX)}
    results = [m for m in chats[-1]["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"], "the command really ran, its output went back"
    served = logged_requests()[probed:]
    assert [(r["route"], r["model"], r["num_ctx"], r["status"]) for r in served] == [
        ("fastpath", QWEN, SETUP_NUM_CTX, 200)
    ] * len(chats), served
