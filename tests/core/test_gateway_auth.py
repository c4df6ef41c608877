"""The key check in front of LiteLLM, as an ASGI app on its own (the real-gateway sweep is in
test_gateway_clients.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.gateway.auth import KeyCheck, Message, Scope

KEY = "sk-auth-test-0123456789"


class Downstream:
    """Stands in for the LiteLLM app: records what reached it and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


async def call(app: KeyCheck, path: str, headers: dict[str, str], kind: str = "http") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": kind,
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    return sent


def status_and_body(sent: list[Message]) -> tuple[int, Any]:
    return sent[0]["status"], json.loads(sent[1]["body"]) if len(sent) > 1 and sent[1][
        "body"
    ] != b"ok" else None


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY}"},
        {"authorization": f"bearer {KEY}"},
        {"x-api-key": KEY},
        {"Authorization": "Bearer stale", "x-api-key": KEY},
    ],
)
async def test_the_right_key_passes_and_reaches_litellm_as_bearer(headers: dict[str, str]) -> None:
    downstream = Downstream()
    sent = await call(KeyCheck(downstream, KEY), "/v1/chat/completions", headers)
    assert sent[0]["status"] == 200
    forwarded = dict(downstream.scopes[0]["headers"])
    assert forwarded[b"authorization"] == f"Bearer {KEY}".encode()  # the one LiteLLM reads
    assert b"x-api-key" not in forwarded


@pytest.mark.parametrize(
    ("headers", "missing"),
    [
        ({}, True),
        ({"Authorization": "Bearer "}, True),
        ({"Authorization": "Bearer wrong"}, False),
        ({"Authorization": KEY}, False),  # no scheme
        ({"Authorization": f"Token {KEY}"}, False),
        ({"x-api-key": KEY + " extra"}, False),
    ],
)
async def test_openai_routes_answer_401_in_openai_shape(headers: dict[str, str], missing: bool) -> None:
    downstream = Downstream()
    app = KeyCheck(downstream, KEY)
    status, body = status_and_body(await call(app, "/v1/chat/completions", headers))
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert body["error"]["message"].startswith("No API key" if missing else "Incorrect API key")
    assert downstream.scopes == [] and app.rejected == 1


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens", "/anthropic/v1/messages"])
async def test_anthropic_routes_answer_401_in_anthropic_shape(path: str) -> None:
    status, body = status_and_body(await call(KeyCheck(Downstream(), KEY), path, {"x-api-key": "nope"}))
    assert status == 401
    assert body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": body["error"]["message"]},
    }
    assert "gateway key" in body["error"]["message"]


async def test_anthropic_version_header_selects_the_anthropic_shape() -> None:
    status, body = status_and_body(
        await call(KeyCheck(Downstream(), KEY), "/v1/models", {"anthropic-version": "2023-06-01"})
    )
    assert status == 401 and body["type"] == "error"


async def test_liveliness_and_lifespan_pass_without_a_key() -> None:
    downstream = Downstream()
    app = KeyCheck(downstream, KEY)
    assert (await call(app, "/health/liveliness", {}))[0]["status"] == 200
    await app({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert [s["type"] for s in downstream.scopes] == ["http", "lifespan"]
    assert (await call(app, "/health/readiness", {}))[0]["status"] == 401  # it says too much


async def test_websocket_without_the_key_is_closed() -> None:
    downstream = Downstream()
    sent = await call(KeyCheck(downstream, KEY), "/v1/realtime", {}, kind="websocket")
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "invalid API key"}]
    assert downstream.scopes == []


def test_an_empty_key_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        KeyCheck(Downstream(), "  ")
