"""Starting the servers a benchmark measures: a free loopback port, and waiting until one answers."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """Wait until ``url`` answers 200, failing at once if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def gatedeck_env() -> dict[str, str]:
    """The environment a benchmarked GateDeck runs in: a throwaway home, LiteLLM offline and quiet."""
    return {
        **os.environ,
        "GATEDECK_CONFIG_DIR": tempfile.mkdtemp(prefix="gatedeck-bench-"),
        "GATEDECK_SECRET_STORE": "file",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
