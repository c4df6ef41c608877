"""The real Claude Code CLI (npm ``@anthropic-ai/claude-code``, installed by
``scripts/setup_clients``) through ``gatedeck serve`` to the fake Ollama, offline, as a user would
run it: ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_AUTH_TOKEN``, no login.

The fake model asks for a shell command (Claude Code's ``Bash`` tool); Claude Code runs it, sends
the output back, and the model answers in text. ``scripts/record_requests.py`` between Claude
Code and GateDeck notes which path answered each model request: every one must come from
GateDeck's fast path. The same ``gatedeck serve`` and recording proxy as the Codex CLI's test.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from tests.core.gateway_support import REPO
from tests.core.test_codex_cli import fake, recorded, serve  # noqa: F401 (fixtures)
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
CLAUDE = REPO / "tests" / "clients" / "node_modules" / ".bin" / "claude"
QWEN = "qwen2.5-coder:7b"
MARKER = "gatedeck-claude-e2e"


def test_claude_code_runs_a_bash_command_through_gatedecks_fast_path(
    fake: FakeOllama,  # noqa: F811
    recorded: tuple[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    if not CLAUDE.exists():
        pytest.fail(f"Claude Code is not installed at {CLAUDE}: run scripts/setup_clients")
    fake.set_reply(
        QWEN,
        "The command printed the marker.",
        tool_calls=[
            {
                "function": {
                    "name": "Bash",
                    "arguments": {"command": f"echo {MARKER}", "description": "Print it"},
                }
            }
        ],
        round_trip=True,
    )
    proxy, out = recorded
    key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY)
    assert key, "gatedeck serve made a gateway key"
    workdir = tmp_path / "project"
    workdir.mkdir()
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": proxy,
        "ANTHROPIC_AUTH_TOKEN": key,
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    done = subprocess.run(
        [str(CLAUDE), "-p", f"Run the shell command `echo {MARKER}`.", "--allowedTools", "Bash"],
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
    model_requests = [r for r in seen if r["method"] == "POST" and r["path"].startswith("/v1/messages")]
    assert len(model_requests) >= 2, seen  # the call, then the answer after its output
    assert [(r["status"], r["answered_by"]) for r in model_requests] == [(200, "direct")] * len(
        model_requests
    )
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    assert len(chats) == len(model_requests)
    results = [m for m in chats[-1]["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"]  # the command really ran, its output went back


def test_with_ollama_down_claude_code_shows_gatedecks_message_within_seconds(
    fake: FakeOllama,  # noqa: F811
    serve: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    if not CLAUDE.exists():
        pytest.fail(f"Claude Code is not installed at {CLAUDE}: run scripts/setup_clients")
    key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY)
    assert key
    fake.stop()  # Ollama is not running
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": serve,
        "ANTHROPIC_AUTH_TOKEN": key,
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    began = time.monotonic()
    done = subprocess.run(
        [str(CLAUDE), "-p", "Say hello."],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    elapsed = time.monotonic() - began
    print(f"Claude Code showed the error {elapsed:.2f} s after it started")
    assert done.returncode != 0
    assert "Ollama is not answering" in done.stdout + done.stderr
    assert "ollama serve" in done.stdout + done.stderr
    # without x-should-retry: false Claude Code retried for minutes (184 s measured)
    assert elapsed < 3.0, done.stdout + done.stderr
