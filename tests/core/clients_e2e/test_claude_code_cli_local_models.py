"""The real Claude Code CLI on local models that misbehave, through ``gatedeck serve`` to the fake
Ollama, offline (as test_claude_code_cli.py runs it).

- A model that writes its ``Bash`` call as ``<tool_call>`` text instead of a tool call: the
  command still runs, because GateDeck turns the text into a real ``tool_use``.
- A conversation that outgrows the mapping's context: GateDeck answers Anthropic's
  "prompt is too long" 400 instead of letting Ollama cut the prompt silently; Claude Code
  compacts (its next request, smaller, asks for a summary) and goes on from the summary.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.core.clients_e2e.support import QWEN, model_requests, run_claude
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
MARKER = "gatedeck-written-call-e2e"


def claude_bash(base_url: str, workdir: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    return run_claude(base_url, workdir, "-p", prompt, "--allowedTools", "Bash")


def test_a_model_that_writes_its_bash_call_as_text_still_runs_the_command(
    fake: FakeOllama,
    recorded: tuple[str, Path],
    tmp_path: Path,
) -> None:
    fake.set_reply(
        QWEN,
        "The command printed the marker.",
        tool_calls=[{"function": {"name": "Bash", "arguments": {"command": f"echo {MARKER}"}}}],
        round_trip=True,
        written="tool_call_tag",
    )
    proxy, out = recorded
    workdir = tmp_path / "project"
    workdir.mkdir()
    done = claude_bash(proxy, workdir, f"Run the shell command `echo {MARKER}`.")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    assert "<tool_call>" not in done.stdout
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    results = [m for m in chats[-1]["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"], "the command really ran, its output went back"
    assert [(r["status"], r["answered_by"]) for r in model_requests(out, "/v1/messages")][:2] == [
        (200, "direct")
    ] * 2


#: Claude Code's first request (its system prompt and tools, ~51 kB, ~13k tokens) fits this
#: context, with the quarter GateDeck keeps for the answer; after the 29 kB file comes back it
#: does not, and Claude Code's compaction request (earlier conversation dropped) fits again.
OVERFLOW_CTX = 26000
CONTINUED = "This session is being continued from a previous conversation that ran out of context"


@pytest.mark.parametrize("num_ctx", [OVERFLOW_CTX])
def test_an_overflowing_conversation_gets_the_400_and_claude_code_compacts_and_goes_on(
    fake: FakeOllama,
    recorded: tuple[str, Path],
    tmp_path: Path,
    num_ctx: int,
) -> None:
    fake.set_reply(
        QWEN,
        "I read the file.",
        tool_calls=[{"function": {"name": "Bash", "arguments": {"command": "cat big.txt"}}}],
        round_trip=True,
    )
    proxy, out = recorded
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / "big.txt").write_text("All work and no play makes a dull model.\n" * 700)
    began = time.monotonic()
    done = claude_bash(proxy, workdir, "Show me big.txt.")
    elapsed = time.monotonic() - began
    requests = model_requests(out, "/v1/messages?")
    sizes = [(r["status"], len(json.dumps(r["body"]))) for r in requests]
    print(f"Claude Code ended ({done.returncode}) after {elapsed:.1f} s: {done.stdout.strip()[-200:]!r}")
    print(f"its requests (status, bytes): {sizes}")
    refused = next(i for i, r in enumerate(requests) if r["status"] == 400)
    assert refused > 0, "the first request fit"
    after = requests[refused + 1]
    assert after["status"] == 200 and len(json.dumps(after["body"])) < len(
        json.dumps(requests[refused]["body"])
    )
    assert "truncated for compaction" in json.dumps(after["body"]["messages"][0]), "a compaction request"
    assert any(CONTINUED in json.dumps(r["body"]["messages"][0]) for r in requests[refused + 1 :]), (
        "Claude Code went on from its summary"
    )
    # the fake model reads the file again after each summary, so Claude Code stops at last and
    # says why (a real model goes on from the summary)
    assert "context window" in done.stdout + done.stderr
    answered = [r for r in requests if r["status"] == 200]
    assert len([b for b in fake.bodies("/api/chat") if isinstance(b, dict)]) == len(answered), (
        "no refused prompt reached Ollama"
    )
