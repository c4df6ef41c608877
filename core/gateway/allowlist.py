"""Only GateDeck's routes exist: an ASGI layer in front of the key check and LiteLLM.

LiteLLM's proxy app registers hundreds of routes (its admin UI, ``/debug/*``, ``/settings``,
``/model/info``, ``/guardrails/*``, ``/upload/logo``, ``/mcp``…); the gateway key opens all of
them, and some write into the installed package or hold connections open. GateDeck serves the
model APIs its README documents and the health probe it uses itself; every other method and
path is answered 404 here, in the shape of the API the client speaks, key or no key, before
anything behind it sees the request.
"""

from __future__ import annotations

from core.gateway.auth import ASGIApp, Receive, Scope, Send, api_error, is_anthropic_request, send_json

#: POST routes: the model APIs (with and without the ``/v1`` prefix where clients use both).
POST_PATHS = frozenset(
    {
        "/v1/chat/completions",
        "/chat/completions",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
        "/responses",
        "/v1/embeddings",
        "/embeddings",
    }
)
#: GET (and HEAD) routes: the model list, the health probes and the Prometheus metrics.
GET_PATHS = frozenset(
    {"/v1/models", "/models", "/health/liveliness", "/health/liveness", "/health/readiness", "/metrics"}
)
#: Probed with HEAD by clients at start, answered 200 here, empty: ``HEAD /``, and Claude Code's
#: ``HEAD /api/hello`` (it opens the connection early with it; 2.1.332 sends it on every run).
HEAD_PROBES = frozenset({"/", "/api/hello"})


def allowed(method: str, path: str) -> bool:
    """Whether GateDeck serves ``method path``."""
    if method == "POST":
        return path in POST_PATHS
    if method in ("GET", "HEAD"):
        return path in GET_PATHS
    return False


class RouteAllowlist:
    """ASGI middleware: requests for routes GateDeck does not serve never reach ``app``.

    Args:
        app: the key check (and LiteLLM behind it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.refused = 0  # requests answered 404 here

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        if kind != "http":  # websockets: GateDeck serves none
            self.refused += 1
            await send({"type": "websocket.close", "code": 1008, "reason": "not a GateDeck route"})
            return
        method, path = str(scope.get("method", "")), str(scope.get("path", ""))
        if allowed(method, path):
            await self.app(scope, receive, send)
            return
        if method == "HEAD" and path in HEAD_PROBES:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        self.refused += 1
        anthropic = is_anthropic_request(path, list(scope.get("headers", [])))
        message = f"GateDeck does not serve {method} {path[:200]}"
        await send_json(send, 404, api_error(anthropic, 404, message, code="not_found"))
