"""The gateway's key check, in front of the LiteLLM app.

LiteLLM 1.106.2 without a database answers a wrong key with 400 ``No connected db`` and a
missing key with 500 (``import prisma`` fails) — see DESIGN.md. Clients (Claude Code, the SDKs)
treat those as server trouble, not as "fix your key". This ASGI middleware answers every
request without the right key itself, with 401 in the shape the client speaks: OpenAI's
``{"error": {...}}`` on OpenAI routes, Anthropic's ``{"type": "error", ...}`` on
``/v1/messages``. A request with the right key goes on to LiteLLM, which accepts the same
master key.

A second, read-only token (the install's metrics token, for a Prometheus server) opens
``GET /metrics`` and nothing else: with it every other route answers 403.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths answered without a key: a liveness probe says nothing about the models.
OPEN_PATHS = frozenset({"/health/liveliness", "/health/liveness"})
NOT_BEARER = "\x00not-bearer:"
_ANTHROPIC_PREFIXES = ("/v1/messages", "/messages", "/anthropic/", "/v1/complete")


def presented_keys(headers: list[tuple[bytes, bytes]]) -> list[str]:
    """Every key the request carries: ``Authorization: Bearer K`` and ``x-api-key: K``."""
    keys: list[str] = []
    for raw_name, raw_value in headers:
        name = raw_name.lower()
        if name == b"authorization":
            value = raw_value.decode("latin-1").strip()
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer":
                keys.append(token.strip())
            elif value:
                # Another scheme, or a bare key: presented, but never accepted (the OpenAI and
                # Anthropic APIs only know Bearer), so it is marked to never match.
                keys.append(NOT_BEARER + value)
        elif name == b"x-api-key":
            keys.append(raw_value.decode("latin-1").strip())
    return keys


def key_matches(expected: str, keys: list[str]) -> bool:
    """True when one of ``keys`` is ``expected``; constant time for each comparison."""
    want = expected.encode()
    ok = False
    for key in keys:
        # compare every key (no early exit) so timing does not tell which header was tried
        ok |= bool(key) and hmac.compare_digest(key.encode(), want)
    return ok


def is_anthropic_request(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
    if path.startswith(_ANTHROPIC_PREFIXES):
        return True
    return any(name.lower() == b"anthropic-version" for name, _ in headers)


def error_body(anthropic: bool, missing: bool) -> dict[str, Any]:
    """The 401 body a client of that API expects."""
    if anthropic:
        message = (
            "No API key: send the GateDeck gateway key as x-api-key or Authorization: Bearer "
            "(ANTHROPIC_AUTH_TOKEN for Claude Code; `gatedeck claude-env` prints it)."
            if missing
            else "Invalid API key: this is not the GateDeck gateway key "
            "(`gatedeck claude-env` prints the right one)."
        )
        return {"type": "error", "error": {"type": "authentication_error", "message": message}}
    message = (
        "No API key: send the GateDeck gateway key as Authorization: Bearer <key>."
        if missing
        else "Incorrect API key: this is not the GateDeck gateway key (GateDeck shows it on the "
        "Gateway panel; `gatedeck claude-env` prints it)."
    )
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
}


def api_error(
    anthropic: bool, status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An error body in the shape the client's API uses (Anthropic's or OpenAI's)."""
    if anthropic:
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


async def send_json(send: Send, status: int, body: dict[str, Any], *, close: bool = False) -> None:
    """Answer a request the client should not repeat as it is with ``body`` as JSON
    (``close``: end the connection after it)."""
    data = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"x-should-retry", b"false"),  # the official SDKs then show the error at once
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class KeyCheck:
    """ASGI middleware: only requests with the gateway key reach ``app`` (and, with the
    metrics token, ``GET``/``HEAD`` of ``metrics_path``).

    Args:
        app: the LiteLLM proxy app.
        master_key: the key clients must present.
        metrics_key: the read-only metrics token (``None``: none; only the gateway key opens
            ``metrics_path``).
        metrics_path: the one route the metrics token opens.
    """

    def __init__(
        self, app: ASGIApp, master_key: str, metrics_key: str | None = None, metrics_path: str = "/metrics"
    ) -> None:
        if not master_key.strip():
            raise ValueError("the gateway key must not be empty")
        self.app = app
        self._key = master_key
        self._metrics_key = metrics_key if metrics_key and metrics_key.strip() else None
        self._metrics_path = metrics_path
        self.rejected = 0  # requests answered 401 or 403 (read by the monitor)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or scope.get("path", "") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        keys = presented_keys(headers)
        if key_matches(self._key, keys):
            # LiteLLM reads one header; hand it the key that matched, so a stale second header
            # (say, an old Authorization next to the right x-api-key) cannot make it refuse.
            scope = dict(scope)
            scope["headers"] = [
                (name, value)
                for name, value in headers
                if name.lower() not in (b"authorization", b"x-api-key")
            ] + [(b"authorization", b"Bearer " + self._key.encode())]
            await self.app(scope, receive, send)
            return
        metrics_token = self._metrics_key is not None and key_matches(self._metrics_key, keys)
        if metrics_token and self._opens_metrics(scope):
            scope = dict(scope)
            scope["headers"] = [
                (n, v) for n, v in headers if n.lower() not in (b"authorization", b"x-api-key")
            ]
            await self.app(scope, receive, send)
            return
        self.rejected += 1
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid API key"})
            return
        anthropic = is_anthropic_request(scope.get("path", ""), headers)
        if metrics_token:
            message = (
                f"This is GateDeck's read-only metrics token: it opens only GET {self._metrics_path}. "
                "Send the gateway key for everything else."
            )
            await send_json(send, 403, api_error(anthropic, 403, message, code="permission_denied"))
            return
        body = json.dumps(error_body(anthropic, missing=not any(keys))).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            # a wrong key stays wrong: the official SDKs (Claude Code's too) show it at once
            (b"x-should-retry", b"false"),
        ]
        if not anthropic:
            response_headers.append((b"www-authenticate", b'Bearer realm="GateDeck"'))
        await send({"type": "http.response.start", "status": 401, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    def _opens_metrics(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope.get("path") == self._metrics_path
            and scope.get("method") in ("GET", "HEAD")
        )
