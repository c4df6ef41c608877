"""What a client API the fast path speaks must provide: one typed :class:`Dialect`.

A dialect translates one client API (OpenAI chat completions, Anthropic messages, ...) to
Ollama's ``/api/chat`` and back. A module can be a dialect (:mod:`core.fastpath.openai`,
:mod:`core.fastpath.anthropic`: module-level ``DIALECT``, ``ollama_request``, ``reply`` and
``stream_reply``), and so can an object (one per request, when answers depend on earlier
ones). :mod:`core.fastpath.route` only ever sees a :class:`Dialect`; mypy checks each one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from core.fastpath.plan import Target


class StreamReply(Protocol):
    """One streamed answer, translated chunk by chunk (each call returns the bytes to send)."""

    def start(self) -> bytes:
        """What goes out before Ollama's first chunk (may be empty)."""
        ...

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """One chunk of Ollama's NDJSON answer, translated (may be empty)."""
        ...

    def error(self, message: str) -> bytes:
        """The closing error event when Ollama fails half-way."""
        ...


class Dialect(Protocol):
    """A client API, translated to Ollama's ``/api/chat`` and back.

    Attributes:
        DIALECT: the API's name in records and error shapes (``"openai"``, ``"anthropic"``).
    """

    @property
    def DIALECT(self) -> str: ...  # named as the dialect modules name their constant

    def ollama_request(self, body: Mapping[str, Any], target: Target, requested: str) -> dict[str, Any]:
        """Ollama's ``/api/chat`` body for the client's ``body``, sent to ``target``; raises
        :class:`core.fastpath.wire.Unsupported` for what LiteLLM should answer instead."""
        ...

    def reply(self, answer: Mapping[str, Any], requested: str) -> dict[str, Any]:
        """The client's whole (non-streamed) answer from Ollama's ``answer``."""
        ...

    def stream_reply(self, requested: str, request: Mapping[str, Any], prompt_tokens: int) -> StreamReply:
        """A translator for one streamed answer to ``request``; ``prompt_tokens``: the
        gateway's estimate of its prompt (Ollama counts it only at the end)."""
        ...
