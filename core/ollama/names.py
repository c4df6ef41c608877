"""How Ollama names models: ``llama3`` and ``llama3:latest`` are one model.

The one place GateDeck applies that rule; every comparison of model names goes through
:func:`full_name`.
"""

from __future__ import annotations


def full_name(model: str) -> str:
    """``model`` with the ``:latest`` tag Ollama adds when none is given (``a/b`` too)."""
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


def same_model(a: str, b: str) -> bool:
    return full_name(a) == full_name(b)
