"""Helpers for tests that run the real embedded gateway against the fake Ollama."""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.gateway.service import Gateway

KEY = "sk-gatedeck-test-0123456789abcdef"
#: One tool in each dialect, and the call a model makes of it (as Ollama returns it).
WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PARIS_CALL = [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tier_config(ollama_url: str, port: int, *, sonnet_ctx: int = 32768) -> Config:
    """Claude tiers on two different models with different options, so a test can tell which
    mapping served a request from the body the fake recorded."""
    return Config(
        gateway=GatewaySettings(port=port),
        backends=[OllamaBackend(name="local", url=ollama_url)],
        mappings=[
            Mapping(
                name="gpt-4o",
                model="qwen2.5-coder:7b",
                options=ModelOptions(num_ctx=16384, num_thread=3, num_batch=256, keep_alive="7m"),
            ),
            Mapping(name="claude-*opus*", model="qwen2.5-coder:7b", options=ModelOptions(num_ctx=65536)),
            Mapping(
                name="claude-*sonnet*",
                model="qwen2.5-coder:7b",
                options=ModelOptions(num_ctx=sonnet_ctx, num_gpu=99, main_gpu=0, keep_alive="30m"),
            ),
            Mapping(
                name="claude-*haiku*", model="llama3.2:3b", options=ModelOptions(num_ctx=32768, num_batch=128)
            ),
            Mapping(name="*", model="llama3.2:3b", options=ModelOptions(num_ctx=4096)),
        ],
    )


@contextlib.contextmanager
def running(gateway: Gateway) -> Iterator[Gateway]:
    gateway.start_blocking()
    try:
        yield gateway
    finally:
        gateway.stop_blocking()


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``predicate`` (for conditions no server can signal, e.g. a process's sockets)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Lines:
    """A process's output lines, read on a thread so the test waits for one with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                seen = "".join(self.seen)[-4000:]
                raise AssertionError(f"no line starting {prefix!r}; the output so far:\n{seen}") from None
            self.seen.append(line)
            if line.startswith(prefix):
                return line


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def tcp_sockets() -> int:
    """TCP sockets this process holds (listening, connected or closing)."""
    try:
        import psutil

        return len(psutil.Process().net_connections(kind="tcp"))
    except Exception:
        return -1


def auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat(url: str, model: str, key: str = KEY, timeout: float = 30.0) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers=auth(key),
        timeout=timeout,
    )


def start_fake_process(port: int, *options: str) -> subprocess.Popen[bytes]:
    """The fake Ollama as a separate process (so a test can kill it, or so it shares no GIL
    with GateDeck, like a real Ollama), serving on ``port``; ``options`` go to its command line."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.fake_ollama",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *options,
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("the fake Ollama process exited")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/version", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30, "the fake Ollama process")
    return proc
