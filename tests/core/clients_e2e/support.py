"""What the end-to-end tests with the real client CLIs share besides their fixtures
(conftest.py): where the CLIs are, the gateway key, how Claude Code is started, what was
recorded."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from tests.core.gateway_support import REPO, wait_until
from tests.fakes.fake_ollama import FakeOllama

CLIENTS = REPO / "tests" / "clients" / "node_modules" / ".bin"
CLAUDE = CLIENTS / "claude"
CODEX = CLIENTS / "codex"
QWEN = "qwen2.5-coder:7b"


def require(cli: Path) -> None:
    """Fail (never skip) when a CLI the test drives is not installed."""
    if not cli.exists():
        pytest.fail(f"{cli.name} is not installed at {cli}: run scripts/setup_clients")


def gateway_key() -> str:
    key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY)
    assert key, "gatedeck serve made a gateway key"
    return key


@contextlib.contextmanager
def gatedeck_serve(port: int, log: Path) -> Iterator[str]:
    """``gatedeck serve`` (a real process) on the config in use, its console in ``log`` (a file,
    not a pipe nobody reads: a full pipe would stall it); yields its URL once it answers on
    ``port``, and stops it at the end."""
    with log.open("wb") as console:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli.main", "serve"],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=console,
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


def asks_for_bash(fake: FakeOllama, command: str, then: str) -> None:
    """The fake model asks Claude Code to run ``command`` with its ``Bash`` tool, then, once the
    command's output comes back, answers ``then``."""
    fake.set_reply(
        QWEN,
        then,
        tool_calls=[
            {"function": {"name": "Bash", "arguments": {"command": command, "description": "Run it"}}}
        ],
        round_trip=True,
    )


def run_cli(cli: Path, workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A client CLI run to its end in ``workdir`` with ``env``, no terminal, its output kept."""
    require(cli)
    return subprocess.run(
        [str(cli), *args],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )


def run_claude(base_url: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``claude`` with ``args``, pointed at ``base_url`` as a user would, offline."""
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": gateway_key(),
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    return run_cli(CLAUDE, workdir, env, *args)


def run_codex_exec(workdir: Path, env: dict[str, str], prompt: str) -> subprocess.CompletedProcess[str]:
    """The real ``codex exec`` on ``prompt`` in ``workdir`` with ``env``, offline, allowed to run
    the commands the (fake) model asks for."""
    return run_cli(
        CODEX, workdir, env, "exec", "--skip-git-repo-check", "--sandbox", "danger-full-access", prompt
    )


def model_requests(out: Path, path: str) -> list[dict[str, Any]]:
    """The recorded POSTs to ``path`` (a prefix), oldest first."""
    seen = [json.loads(file.read_text()) for file in sorted(out.glob("*.json"))]
    return [r for r in seen if r["method"] == "POST" and r["path"].startswith(path)]
