"""Small pieces both direct-path dialects share: JSON, server-sent events, Ollama ``options``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from core.fastpath.plan import Target

try:  # orjson comes with LiteLLM's proxy; several times faster on every chunk
    import orjson

    dumps: Callable[[Any], bytes] = orjson.dumps
    loads: Callable[[bytes | str], Any] = orjson.loads
except ImportError:  # pragma: no cover - the plain library answers the same

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    loads = json.loads


class Unsupported(Exception):
    """The request uses something the direct path does not translate; LiteLLM answers it."""


class RequestError(Exception):
    """The request cannot be answered as it stands (the client must change it): a 400 in the
    API's error shape, from the direct path itself.

    Attributes:
        message: what is wrong, for the client.
        param: the request field at fault (``None``: the request as a whole).
        code: the API's machine-readable code (``previous_response_not_found``…).
    """

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def ollama_options(target: Target, sampling: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping's options with the request's sampling on top (the client's value wins,
    as it does through LiteLLM's router)."""
    options = dict(target.options)
    options.update(sampling)
    return options


def sse_data(value: Any) -> bytes:
    """One ``data:`` event (OpenAI streams)."""
    return b"data: " + dumps(value) + b"\n\n"


def sse_event(name: bytes, value: Any) -> bytes:
    """One named event (Anthropic streams)."""
    return b"event: " + name + b"\ndata: " + dumps(value) + b"\n\n"


def requires_a_tool_call(request: Mapping[str, Any]) -> bool:
    """Whether the request's ``tool_choice`` demands a call — something Ollama cannot be made to
    do (it can only be offered fewer tools), so the Monitor says so instead.

    Anthropic: ``{"type": "any"}`` or ``{"type": "tool", …}``; OpenAI Chat and Responses:
    ``"required"`` or a named function.
    """
    choice = request.get("tool_choice")
    if isinstance(choice, str):
        return choice == "required"
    return (
        isinstance(choice, Mapping)
        and choice.get("type") in ("any", "tool", "function", "allowed_tools")
        and (choice.get("type") != "allowed_tools" or choice.get("mode") == "required")
    )
