"""Where a local Ollama keeps models, and free space there."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.config.schema import OllamaServerSettings
from core.ollama.storage import free_bytes, is_local_url, ollama_models_dir


def test_models_dir_order(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "OLLAMA_MODELS": str(tmp_path / "env-models")}
    managed = OllamaServerSettings(managed=True, models_dir=str(tmp_path / "managed"))
    assert ollama_models_dir(managed, env) == tmp_path / "managed"
    # settings of a server GateDeck does not run say nothing about where models are
    unmanaged = OllamaServerSettings(managed=False, models_dir=str(tmp_path / "managed"))
    assert ollama_models_dir(unmanaged, env) == tmp_path / "env-models"
    assert (
        ollama_models_dir(None, {"HOME": str(tmp_path / "home")}) == tmp_path / "home" / ".ollama" / "models"
    )


def test_local_urls() -> None:
    for url in ("http://127.0.0.1:11434", "http://localhost:11434", "http://[::1]:11434", "0.0.0.0:11434"):
        assert is_local_url(url), url
    assert not is_local_url("http://gpu-box.example:11434")
    assert not is_local_url("https://10.1.2.3")


def test_free_bytes_walks_up_to_an_existing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "yet" / "there"
    # (a margin: other processes write to this disk meanwhile)
    assert abs(free_bytes(missing) - shutil.disk_usage(tmp_path).free) < 64 * 2**20
