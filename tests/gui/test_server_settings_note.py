"""What the Hardware panel tells a person whose Ollama GateDeck does not start."""

from __future__ import annotations

from core.config.schema import OllamaServerSettings
from gui.widgets.server_settings import unmanaged_note


def test_the_note_names_the_tuning_variables_to_set_and_not_the_address() -> None:
    settings = OllamaServerSettings(
        flash_attention=True, context_length=8192, host="0.0.0.0:11500", models_dir="/srv/models"
    )
    note = unmanaged_note(settings)
    assert "OLLAMA_FLASH_ATTENTION=1" in note and "OLLAMA_CONTEXT_LENGTH=8192" in note
    assert "OLLAMA_HOST" not in note and "OLLAMA_MODELS" not in note


def test_with_nothing_set_it_suggests_the_usual_two() -> None:
    note = unmanaged_note(OllamaServerSettings())
    assert "OLLAMA_FLASH_ATTENTION=1" in note and "OLLAMA_KV_CACHE_TYPE=q8_0" in note
