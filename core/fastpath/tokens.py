"""Prompt tokens estimated before Ollama counts them, learned per model from Ollama's own count.

An Anthropic stream announces ``usage.input_tokens`` in its first event, before Ollama has
read the prompt; clients show it (Claude Code's context meter) and the API promises a number,
not 0. The estimate is the request's size over a bytes-per-token ratio, calibrated on each
model's ``prompt_eval_count`` as answers come back (the final usage stays Ollama's exact count).
The direct path (:class:`core.fastpath.route.DirectRoute`) holds one :class:`PromptSize`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Bytes of request JSON per prompt token before a model has answered once (prose and JSON
#: schemas run 3-4.5 with the common tokenizers).
DEFAULT_BYTES_PER_TOKEN = 4.0
#: Ratios outside this band are not learned: a prompt Ollama cut at ``num_ctx``, or one mostly
#: read from its cache, says nothing about the tokenizer.
_PLAUSIBLE = (1.0, 8.0)
_MODELS = 256  # models remembered (oldest forgotten first)


class PromptSize:
    """Bytes per prompt token, per model."""

    def __init__(self) -> None:
        self._ratio: dict[str, float] = {}

    def estimate(self, model: str, size: int) -> int:
        """Prompt tokens for a request of ``size`` bytes to ``model`` (at least 1)."""
        return max(1, round(size / self._ratio.get(model, DEFAULT_BYTES_PER_TOKEN)))

    def learn(self, model: str, size: int, tokens: int) -> None:
        """Ollama read a request of ``size`` bytes as ``tokens`` prompt tokens."""
        if size <= 0 or tokens <= 0:
            return
        ratio = size / tokens
        if not _PLAUSIBLE[0] <= ratio <= _PLAUSIBLE[1]:
            return
        old = self._ratio.pop(model, None)
        self._ratio[model] = ratio if old is None else 0.7 * old + 0.3 * ratio
        if len(self._ratio) > _MODELS:
            del self._ratio[next(iter(self._ratio))]


#: The output a request keeps room for: what it asks for, up to this share of the window (a
#: client asking for more than the window holds would otherwise have every prompt refused).
OUTPUT_SHARE = 0.25


def prompt_limit(num_ctx: int, max_output: int | None) -> int:
    """The most prompt tokens a request may hold in ``num_ctx`` with room for its output."""
    reserve = min(max(max_output or 0, 0), int(num_ctx * OUTPUT_SHARE))
    return num_ctx - reserve


#: Prompt tokens an image costs a vision model, about (its base64 size says nothing of that:
#: a 1 MB photo is read as one to two thousand tokens, not 250 000).
IMAGE_TOKENS = 1600


def images_in(ollama_body: Mapping[str, Any]) -> tuple[int, int]:
    """The images an ``/api/chat`` body carries: how many, and their base64 bytes."""
    count = size = 0
    for message in ollama_body.get("messages") or ():
        for image in message.get("images") or () if isinstance(message, dict) else ():
            count += 1
            size += len(image) if isinstance(image, str | bytes) else 0
    return count, size
