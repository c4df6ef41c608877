"""A request's body, received whole and checked once before the fast path and LiteLLM see it.

Behind the key check, :class:`RequestIntake` reads each POST body itself, up to the configured
limit (``gateway.max_body_mb``): a larger one is answered 413 once its ``Content-Length`` says
so or the chunks received pass the limit, and nothing more of it is kept (the rest is read and
dropped, so the client gets to read the answer; the receive deadline bounds that).
A body that fits is checked for the top-level shape the model APIs take (a JSON object, the
model a string, messages a list of objects…); a wrong one is answered 400 in the client's API
shape, where LiteLLM would answer 500 with a Python traceback. The body then goes on unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.fastpath.wire import loads
from core.gateway.auth import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    api_error,
    is_anthropic_request,
    send_json,
)

DEFAULT_MAX_BODY_MB = 32
#: a body over the limit is still read (and dropped) up to this size, or 8 times the limit
_DRAIN_AT_LEAST = 256 * 1024 * 1024

# field -> (accepted JSON types, what the client is told it must be); None: any JSON value
_STRING = ((str,), "a string")
_MESSAGES = ((list,), "a list of message objects")
_BOOL = ((bool,), "true or false")
_INT = ((int,), "an integer")
_NUMBER = ((int, float), "a number")
_LIST = ((list,), "a list")
_TEXT_OR_LIST = ((str, list), "a string or a list")
_OBJECT = ((dict,), "an object")

_COMMON: dict[str, tuple[tuple[type, ...], str]] = {
    "model": _STRING,
    "stream": _BOOL,
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "tools": _LIST,
    "metadata": _OBJECT,
}
#: per route: (required fields, typed fields)
_SHAPES: dict[str, tuple[tuple[str, ...], dict[str, tuple[tuple[type, ...], str]]]] = {
    "/v1/chat/completions": (("model", "messages"), {"messages": _MESSAGES, "max_tokens": _INT, "n": _INT}),
    "/v1/messages": (
        ("model", "max_tokens", "messages"),
        {"messages": _MESSAGES, "max_tokens": _INT, "system": _TEXT_OR_LIST, "stop_sequences": _LIST},
    ),
    "/v1/messages/count_tokens": (("model", "messages"), {"messages": _MESSAGES, "system": _TEXT_OR_LIST}),
    "/v1/responses": (
        ("model",),
        {"input": _TEXT_OR_LIST, "instructions": _STRING, "max_output_tokens": _INT},
    ),
}
_SHAPES["/chat/completions"] = _SHAPES["/v1/chat/completions"]
_SHAPES["/responses"] = _SHAPES["/v1/responses"]
_SHAPES["/v1/embeddings"] = (
    ("model", "input"),
    {"input": _TEXT_OR_LIST, "encoding_format": _STRING, "dimensions": _INT},
)
_SHAPES["/embeddings"] = _SHAPES["/v1/embeddings"]


class BadRequest(ValueError):
    """The body is not what the route takes; the message says what to fix.

    Attributes:
        param: the field at fault (OpenAI's error ``param``), if one is.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


#: The longest model name a request may ask for (a mapping's name is at most 200 characters).
MAX_MODEL_NAME = 256

#: Where the checked request (the parsed JSON object) is left for the fast path, which would
#: otherwise parse the same body again (about 1 ms for a 1 MB Claude Code conversation).
PARSED_BODY = "gatedeck.parsed_body"


def check_shape(path: str, body: bytes) -> dict[str, Any]:
    """The body as a JSON object; :class:`BadRequest` when it is not one of the route's shape."""
    try:
        data: Any = loads(body)
    except ValueError as exc:  # not JSON, or not UTF-8
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise BadRequest(f"the request body is not JSON in UTF-8 ({reason})") from None
    if not isinstance(data, dict):
        raise BadRequest(f"the request body must be a JSON object, not {_json_type(data)}")
    model = data.get("model")
    if isinstance(model, str) and len(model) > MAX_MODEL_NAME:  # it would be logged and recorded
        raise BadRequest(
            f"'model' is {len(model):,} characters long; names GateDeck serves are short", "model"
        )
    required, typed = _SHAPES.get(path, ((), {}))
    for name in required:
        if data.get(name) is None:
            raise BadRequest(f"'{name}' is required", name)
    for name, (types, what) in (_COMMON | typed).items():
        if name in data and data[name] is not None and not _is(data[name], types):
            raise BadRequest(f"'{name}' must be {what}, not {_json_type(data[name])}", name)
    messages = data.get("messages")
    if isinstance(messages, list):
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                raise BadRequest(
                    f"messages[{index}] must be an object, not {_json_type(message)}", "messages"
                )
    return data


def _is(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:  # JSON true is not a number
        return False
    return isinstance(value, types)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class RequestIntake:
    """ASGI middleware: POST bodies received whole (bounded) and shape-checked before ``app``.

    Args:
        app: the fast path (and LiteLLM behind it).
        max_body: returns the largest body accepted, in bytes (read per request, so a
            hot-applied config takes effect at once).
    """

    def __init__(
        self, app: ASGIApp, max_body: Callable[[], int] = lambda: DEFAULT_MAX_BODY_MB * 1024 * 1024
    ) -> None:
        self.app = app
        self._max_body = max_body
        self.too_large = 0  # requests answered 413
        self.malformed = 0  # requests answered 400

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        path = str(scope.get("path", ""))
        anthropic = is_anthropic_request(path, headers)
        limit = int(self._max_body())
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await self._too_large(
                send, receive if scope.get("method") == "POST" else None, anthropic, limit, declared
            )
            return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away (or was cut off)
                return
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size > limit:
                del chunks
                await self._too_large(send, receive if more else None, anthropic, limit, None)
                return
            chunks.append(chunk)
        body = b"".join(chunks)
        del chunks
        try:
            scope[PARSED_BODY] = check_shape(path, body)
        except BadRequest as exc:
            self.malformed += 1
            await send_json(
                send, 400, api_error(anthropic, 400, str(exc), code="invalid_request", param=exc.param)
            )
            return
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(
        self, send: Send, rest: Receive | None, anthropic: bool, limit: int, declared: int | None
    ) -> None:
        """Answer 413. The rest of the body is read and dropped first (most clients read no
        answer before their upload ends), unless it is far too large; the receive deadline
        bounds how long that may take, and the connection ends with the answer."""
        self.too_large += 1
        drain = max(8 * limit, _DRAIN_AT_LEAST)
        if rest is not None and (declared is None or declared <= drain):
            dropped = 0
            while dropped <= drain:
                message = await rest()
                if message["type"] != "http.request":
                    return  # the client went away, or the deadline closed the connection
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        text = (
            f"the request body is larger than the gateway accepts ({limit // (1024 * 1024)} MB; "
            "raise gateway.max_body_mb in GateDeck's config to accept more)"
        )
        await send_json(send, 413, api_error(anthropic, 413, text, code="request_too_large"), close=True)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP parser already refuses these
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` once, then what the connection says (disconnect)."""
    pending: list[bytes] = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay
