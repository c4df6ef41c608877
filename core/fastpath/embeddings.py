"""OpenAI's embeddings API on the fast path: ``POST /v1/embeddings`` from Ollama's ``/api/embed``.

RAG tools and editors (Continue, Open WebUI, LlamaIndex, LangChain) ask the same endpoint for
embeddings as for chat. A request for an Ollama mapping or installed model goes straight to
``/api/embed`` (the mapping's ``options`` and ``keep_alive`` with it, as for chat) and the answer
comes back in OpenAI's shape: one ``embedding`` per input, as floats or, with
``encoding_format: "base64"``, as the little-endian float32 bytes OpenAI sends. ``dimensions``
is Ollama's own (it cuts the vector and normalises it again).

An exchange is one object per request (:class:`EmbeddingsExchange`): the answer's encoding is
the request's. Which kind of model a request may use is :func:`wrong_kind`'s to say, from the
capabilities Ollama listed for it at start.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from core.fastpath.dialect import StreamReply
from core.fastpath.plan import Target
from core.fastpath.wire import RequestError, ollama_options

DIALECT = "embeddings"
PATHS = frozenset({"/v1/embeddings", "/embeddings"})
#: Ollama's route for it
ENDPOINT = "/api/embed"
_ENCODINGS = ("float", "base64")


def texts(request: Mapping[str, Any]) -> list[str]:
    """The request's inputs as a list of strings; a RequestError for anything else (token
    arrays: Ollama embeds text only)."""
    value = request.get("input")
    if isinstance(value, str):
        found = [value]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        found = list(value)
    elif isinstance(value, list):
        raise RequestError(
            "'input' must be a string or a list of strings: Ollama embeds text, not token arrays",
            param="input",
        )
    else:
        raise RequestError("'input' is required: a string or a list of strings", param="input")
    if not found or any(not text for text in found):
        raise RequestError("'input' must not be empty, nor any of its strings", param="input")
    return found


def input_count(ollama_body: Mapping[str, Any]) -> int:
    """How many texts an ``/api/embed`` body asks to embed (for the request's record)."""
    value = ollama_body.get("input")
    return len(value) if isinstance(value, list) else 1


def wrong_kind(dialect: str, target: Target) -> str | None:
    """Why ``target``'s model cannot answer a request of ``dialect``, from the capabilities
    Ollama listed for it (``None``: it can, or nothing is known of it)."""
    capabilities = target.capabilities
    if capabilities is None:
        return None
    if dialect == DIALECT and "embedding" not in capabilities:
        return (
            f"'{target.model}' does not make embeddings (Ollama lists: {', '.join(capabilities) or 'none'})"
        )
    if dialect != DIALECT and "embedding" in capabilities and "completion" not in capabilities:
        return f"'{target.model}' only makes embeddings: ask /v1/embeddings, not a chat API"
    return None


class EmbeddingsExchange:
    """One embeddings request and its answer (the request's ``encoding_format`` decides the
    answer's)."""

    DIALECT = DIALECT

    def __init__(self) -> None:
        self.encoding = "float"

    def ollama_request(self, body: Mapping[str, Any], target: Target, requested: str) -> dict[str, Any]:
        """Ollama's ``/api/embed`` body for OpenAI's ``body``."""
        inputs = texts(body)
        encoding = body.get("encoding_format") or "float"
        if encoding not in _ENCODINGS:
            raise RequestError("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        self.encoding = str(encoding)
        ollama: dict[str, Any] = {
            "model": target.model_for(requested),
            "input": inputs[0] if isinstance(body.get("input"), str) else inputs,
            "options": ollama_options(target, {}),
        }
        dimensions = body.get("dimensions")
        if dimensions is not None:
            if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
                raise RequestError("'dimensions' must be a positive integer", param="dimensions")
            ollama["dimensions"] = dimensions
        if target.keep_alive is not None:
            ollama["keep_alive"] = target.keep_alive
        return ollama

    def reply(self, answer: Mapping[str, Any], requested: str) -> dict[str, Any]:
        """OpenAI's list of embeddings from Ollama's ``answer``."""
        vectors = answer.get("embeddings") or []
        prompt = answer.get("prompt_eval_count")
        tokens = prompt if isinstance(prompt, int) and not isinstance(prompt, bool) else 0
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": index, "embedding": self._encoded(vector)}
                for index, vector in enumerate(vectors)
            ],
            "model": requested,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def stream_reply(self, requested: str, request: Mapping[str, Any], prompt_tokens: int) -> StreamReply:
        """Embeddings are never streamed (their Ollama body asks for no stream)."""
        raise RequestError("embeddings are not streamed", param="stream")

    def _encoded(self, vector: list[float]) -> list[float] | str:
        if self.encoding == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        return vector
