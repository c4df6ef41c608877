"""Fixtures of the end-to-end tests with the real client CLIs: the fake Ollama, a real
``gatedeck serve`` process in front of it, and the recording proxy (``scripts/record_requests.py``)
that notes which path answered each request."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.config.store import ConfigStore
from tests.core.clients_e2e.support import QWEN, gatedeck_serve
from tests.core.gateway_support import REPO, free_port, wait_until
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models


@pytest.fixture
def num_ctx() -> int:
    """The context of the one mapping ``serve`` has (a test may parametrize it)."""
    return 32768


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=default_models()) as server:
        yield server


@pytest.fixture
def serve(fake: FakeOllama, tmp_path: Path, num_ctx: int) -> Iterator[str]:
    """``gatedeck serve`` (a real process): every name goes to qwen2.5-coder with ``num_ctx``."""
    port = free_port()
    ConfigStore.from_env().save(
        Config(
            gateway=GatewaySettings(port=port),
            backends=[OllamaBackend(name="local", url=fake.url)],
            mappings=[Mapping(name="*", model=QWEN, options=ModelOptions(num_ctx=num_ctx))],
        )
    )
    with gatedeck_serve(port, tmp_path / "serve.log") as url:
        yield url


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
