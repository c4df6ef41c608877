"""Pytest fixtures around the fakes (registered from tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_ollama_exe import FakeOllamaExe, install_fake_ollama_exe
from tests.fakes.ollama_catalog import default_models


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """A fake Ollama server on a free 127.0.0.1 port with ``qwen2.5-coder:7b`` and ``llama3.2:3b``
    installed (``tinyllama:1.1b`` can be pulled); stopped after the test."""
    with FakeOllama(models=default_models()) as fake:
        yield fake


@pytest.fixture
def fake_ollama_exe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeOllamaExe:
    """A fake ``ollama`` program first on PATH (see :mod:`tests.fakes.fake_ollama_exe`)."""
    exe = install_fake_ollama_exe(tmp_path / "fake-bin")
    monkeypatch.setenv("PATH", f"{exe.path.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return exe
