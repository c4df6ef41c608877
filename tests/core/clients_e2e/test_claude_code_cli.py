"""The real Claude Code CLI (npm ``@anthropic-ai/claude-code``, installed by
``scripts/setup_clients``) through ``gatedeck serve`` to the fake Ollama, offline, as a user would
run it: ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_AUTH_TOKEN``, no login.

The fake model asks for a shell command (Claude Code's ``Bash`` tool); Claude Code runs it, sends
the output back, and the model answers in text. ``scripts/record_requests.py`` between Claude
Code and GateDeck notes which path answered each model request: every one must come from
GateDeck's fast path. The same ``gatedeck serve`` and recording proxy as the Codex CLI's test.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.core.clients_e2e.support import QWEN, asks_for_bash, model_requests, run_claude
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
MARKER = "gatedeck-claude-e2e"


def test_claude_code_runs_a_bash_command_through_gatedecks_fast_path(
    fake: FakeOllama,
    recorded: tuple[str, Path],
    tmp_path: Path,
) -> None:
    asks_for_bash(fake, f"echo {MARKER}", then="The command printed the marker.")
    proxy, out = recorded
    workdir = tmp_path / "project"
    workdir.mkdir()
    done = run_claude(
        proxy, workdir, "-p", f"Run the shell command `echo {MARKER}`.", "--allowedTools", "Bash"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    asked = model_requests(out, "/v1/messages")
    assert len(asked) >= 2, asked  # the call, then the answer after its output
    assert [(r["status"], r["answered_by"]) for r in asked] == [(200, "direct")] * len(asked)
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    assert len(chats) == len(asked)
    results = [m for m in chats[-1]["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"]  # the command really ran, its output went back


def test_with_ollama_down_claude_code_shows_gatedecks_message_within_seconds(
    fake: FakeOllama,
    serve: str,
    tmp_path: Path,
) -> None:
    fake.stop()  # Ollama is not running
    began = time.monotonic()
    done = run_claude(serve, tmp_path, "-p", "Say hello.")
    elapsed = time.monotonic() - began
    print(f"Claude Code showed the error {elapsed:.2f} s after it started")
    assert done.returncode != 0
    assert "Ollama is not answering" in done.stdout + done.stderr
    assert "ollama serve" in done.stdout + done.stderr
    # without x-should-retry: false Claude Code retried for minutes (184 s measured)
    assert elapsed < 3.0, done.stdout + done.stderr


def test_claude_code_compacting_a_conversation_is_answered_by_the_fast_path(
    fake: FakeOllama,
    recorded: tuple[str, Path],
    tmp_path: Path,
) -> None:
    """``claude -p`` with no ``--model`` (its own default model), then ``/compact`` on that
    conversation: the summary Claude Code asks for goes to Ollama straight, like every turn."""
    fake.set_reply(QWEN, "<summary>The user said hello.</summary>")
    proxy, out = recorded
    workdir = tmp_path / "project"
    workdir.mkdir()
    first = run_claude(proxy, workdir, "-p", "Say hello.")
    assert first.returncode == 0, first.stdout + first.stderr
    before = len(model_requests(out, "/v1/messages"))
    compacted = run_claude(proxy, workdir, "-p", "--continue", "/compact")
    assert compacted.returncode == 0, compacted.stdout + compacted.stderr
    asked = model_requests(out, "/v1/messages")
    assert before >= 1 and len(asked) > before, "the compaction asked the model for a summary"
    assert [(r["status"], r["answered_by"]) for r in asked] == [(200, "direct")] * len(asked)
    summary = asked[-1]["body"]
    assert summary["messages"][0] == asked[0]["body"]["messages"][0]  # the conversation it summed up
    assert len([body for body in fake.bodies("/api/chat") if isinstance(body, dict)]) == len(asked)
