"""Shared test setup: every test runs as a brand-new user with its own config folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# LiteLLM must never reach the network at import (DESIGN.md); set before anything imports it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture(autouse=True)
def fresh_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep the developer's real settings, keyring and Ollama out of every test."""
    home = tmp_path / "gatedeck-home"
    monkeypatch.setenv("GATEDECK_CONFIG_DIR", str(home))
    monkeypatch.delenv("GATEDECK_DATA_DIR", raising=False)
    monkeypatch.setenv("GATEDECK_SECRET_STORE", "file")
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.delenv("CODEX_HOME", raising=False)  # Codex's settings folder: ~/.codex in that home
    (tmp_path / "user-home").mkdir()
    yield home
