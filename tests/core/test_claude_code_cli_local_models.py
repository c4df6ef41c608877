"""The real Claude Code CLI on local models that misbehave, through ``gatedeck serve`` to the fake
Ollama, offline (as tests/core/test_claude_code_cli.py runs it).

- A model that writes its ``Bash`` call as ``<tool_call>`` text instead of a tool call: the
  command still runs, because GateDeck turns the text into a real ``tool_use``.
- A conversation that outgrows the mapping's context: GateDeck answers Anthropic's
  "prompt is too long" 400 instead of letting Ollama cut the prompt silently; Claude Code
  compacts (its next request, smaller, asks for a summary) and goes on from the summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.config.store import ConfigStore
from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from tests.core.gateway_support import REPO, free_port, wait_until
from tests.core.test_codex_cli import fake, recorded  # noqa: F401 (fixtures)
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
CLAUDE = REPO / "tests" / "clients" / "node_modules" / ".bin" / "claude"
QWEN = "qwen2.5-coder:7b"
MARKER = "gatedeck-written-call-e2e"


@pytest.fixture
def num_ctx() -> int:
    return 32768


@pytest.fixture
def serve(fake: FakeOllama, tmp_path: Path, num_ctx: int) -> Iterator[str]:  # noqa: F811
    """``gatedeck serve`` (a real process): every name goes to qwen2.5-coder with ``num_ctx``."""
    port = free_port()
    mapping = Mapping(name="*", model=QWEN, options=ModelOptions(num_ctx=num_ctx))
    ConfigStore.from_env().save(
        Config(
            gateway=GatewaySettings(port=port),
            backends=[OllamaBackend(name="local", url=fake.url)],
            mappings=[mapping],
        )
    )
    log = tmp_path / "serve.log"
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


def run_claude(base_url: str, workdir: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    if not CLAUDE.exists():
        pytest.fail(f"Claude Code is not installed at {CLAUDE}: run scripts/setup_clients")
    key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY)
    assert key, "gatedeck serve made a gateway key"
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": key,
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    return subprocess.run(
        [str(CLAUDE), "-p", prompt, "--allowedTools", "Bash"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )


def model_requests(out: Path) -> list[dict[str, Any]]:
    seen = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    return [r for r in seen if r["method"] == "POST" and r["path"].startswith("/v1/messages")]


def test_a_model_that_writes_its_bash_call_as_text_still_runs_the_command(
    fake: FakeOllama,  # noqa: F811
    recorded: tuple[str, Path],  # noqa: F811
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
    done = run_claude(proxy, workdir, f"Run the shell command `echo {MARKER}`.")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The command printed the marker." in done.stdout
    assert "<tool_call>" not in done.stdout
    chats = [body for body in fake.bodies("/api/chat") if isinstance(body, dict)]
    results = [m for m in chats[-1]["messages"] if m["role"] == "tool"]
    assert results and MARKER in results[-1]["content"], "the command really ran, its output went back"
    assert [(r["status"], r["answered_by"]) for r in model_requests(out)][:2] == [(200, "direct")] * 2


#: Claude Code's first request (its system prompt and tools, ~51 kB, ~13k tokens) fits this
#: context, with the quarter GateDeck keeps for the answer; after the 29 kB file comes back it
#: does not, and Claude Code's compaction request (earlier conversation dropped) fits again.
OVERFLOW_CTX = 26000
CONTINUED = "This session is being continued from a previous conversation that ran out of context"


@pytest.mark.parametrize("num_ctx", [OVERFLOW_CTX])
def test_an_overflowing_conversation_gets_the_400_and_claude_code_compacts_and_goes_on(
    fake: FakeOllama,  # noqa: F811
    recorded: tuple[str, Path],  # noqa: F811
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
    done = run_claude(proxy, workdir, "Show me big.txt.")
    elapsed = time.monotonic() - began
    requests = [r for r in model_requests(out) if r["path"].startswith("/v1/messages?")]
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
