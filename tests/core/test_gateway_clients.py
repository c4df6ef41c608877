"""The official OpenAI and Anthropic SDKs through the real embedded gateway to the fake Ollama.

One gateway serves the whole module. Which mapping served a request is read from the body the
fake Ollama recorded (its model and ``options``), so each test proves what reached Ollama.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from core.config.schema import Mapping
from core.gateway.health import check_health, models_that_cannot_think
from core.gateway.service import Gateway, GatewayState
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama
from tests.core.gateway_support import (
    KEY,
    PARIS_CALL,
    WEATHER_TOOL_ANTHROPIC,
    WEATHER_TOOL_OPENAI,
    auth,
    chat,
    wait_until,
)
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]


fake = fake_ollama()
gateway = embedded_gateway(
    Mapping(name="flaky", model="qwen2.5-coder:7b", backends=["down"], fallbacks=["gpt-4o"]),
    Mapping(name="not-pulled", model="mistral:7b", fallbacks=["claude-*haiku*"]),
    Mapping(name="nowhere", model="qwen2.5-coder:7b", backends=["down"]),
    Mapping(name="pair", model="qwen2.5-coder:7b", backends=["down", "local"]),
    Mapping(name="never-pulled", model="phi3:mini"),
    down=True,
)


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> Iterator[None]:
    fake.clear_requests()
    fake.clear_faults()
    yield
    fake.set_reply("qwen2.5-coder:7b", "Hello from qwen2.5-coder:7b.")
    fake.set_reply("llama3.2:3b", "Hello from llama3.2:3b.")


def last_chat(fake: FakeOllama) -> dict[str, Any]:
    bodies = fake.bodies("/api/chat")
    assert bodies, "no request reached the fake Ollama"
    body: dict[str, Any] = bodies[-1]
    return body


def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


# ---------------------------------------------------------------------- OpenAI SDK
def test_openai_sdk_tool_call_round_trip(gateway: Gateway, fake: FakeOllama) -> None:
    client = openai_client(gateway)
    fake.set_reply("qwen2.5-coder:7b", tool_calls=PARIS_CALL)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL_OPENAI])

    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    body = last_chat(fake)
    assert body["model"] == "qwen2.5-coder:7b"
    assert body["options"]["num_ctx"] == 16384
    assert body["options"]["num_thread"] == 3
    assert body["options"]["num_batch"] == 256
    assert body["keep_alive"] == "7m"  # top-level, where Ollama reads it
    assert "num_ctx" not in body  # not flat in the body, where Ollama would ignore it
    assert body["tools"][0]["function"]["name"] == "get_weather"

    fake.set_reply("qwen2.5-coder:7b", "Sunny, 24 °C in Paris.")
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "sunny", "celsius": 24}'},
    ]
    second = client.chat.completions.create(model="gpt-4o", messages=messages, tools=[WEATHER_TOOL_OPENAI])

    assert second.choices[0].message.content == "Sunny, 24 °C in Paris."
    sent = last_chat(fake)["messages"]
    assert sent[1]["role"] == "assistant"
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2]["role"] == "tool" and "sunny" in sent[2]["content"]


def test_openai_sdk_streams_text_and_tool_calls(gateway: Gateway, fake: FakeOllama) -> None:
    client = openai_client(gateway)
    fake.set_reply("qwen2.5-coder:7b", "one two three four", chunks=4)
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "count"}], stream=True
        )
        if chunk.choices
    ]
    assert "".join(pieces) == "one two three four"
    assert len([p for p in pieces if p]) >= 4  # streamed as it came, not one buffered piece
    assert last_chat(fake)["stream"] is True

    fake.set_reply("qwen2.5-coder:7b", tool_calls=PARIS_CALL)
    names, arguments = [], ""
    for chunk in client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL_OPENAI],
        stream=True,
    ):
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if delta.function and delta.function.name:
                names.append(delta.function.name)
            if delta.function and delta.function.arguments:
                arguments += delta.function.arguments
    assert names == ["get_weather"]
    assert json.loads(arguments) == {"city": "Paris"}


# ---------------------------------------------------------------------- Anthropic SDK (Claude Code)
def test_anthropic_sdk_tool_round_trip_with_cached_system_blocks(gateway: Gateway, fake: FakeOllama) -> None:
    # Claude Code authenticates with ANTHROPIC_AUTH_TOKEN, i.e. Authorization: Bearer.
    client = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
    system: Any = [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Project rules: be brief.", "cache_control": {"type": "ephemeral"}},
    ]
    fake.set_reply("qwen2.5-coder:7b", tool_calls=PARIS_CALL)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(
        model="claude-sonnet-4-5-20250929",
        max_tokens=32000,
        system=system,
        tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
        messages=messages,
    )

    tool_use = next(block for block in first.content if block.type == "tool_use")
    assert tool_use.name == "get_weather" and tool_use.input == {"city": "Paris"}
    assert first.stop_reason == "tool_use"
    body = last_chat(fake)
    assert body["model"] == "qwen2.5-coder:7b"
    assert body["options"]["num_ctx"] == 32768  # the sonnet tier's options
    assert body["options"]["num_gpu"] == 99
    assert body["options"]["main_gpu"] == 0
    assert body["options"]["num_predict"] == 32000  # Anthropic max_tokens
    assert body["keep_alive"] == "30m"
    system_text = " ".join(str(m["content"]) for m in body["messages"] if m["role"] == "system")
    assert "You are Claude Code." in system_text and "Project rules" in system_text

    fake.set_reply("qwen2.5-coder:7b", "It is sunny in Paris.")
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny, 24 C"}],
        },
    ]
    second = client.messages.create(
        model="claude-sonnet-4-5-20250929",
        max_tokens=1024,
        system=system,
        tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
        messages=messages,
    )
    assert second.content[0].type == "text" and second.content[0].text == "It is sunny in Paris."
    sent = last_chat(fake)["messages"]
    assert any(m["role"] == "tool" and "sunny, 24 C" in str(m["content"]) for m in sent)


def test_anthropic_sdk_streaming_beta_route_with_x_api_key(gateway: Gateway, fake: FakeOllama) -> None:
    # api_key= sends x-api-key; client.beta adds ?beta=true and the anthropic-beta header, as
    # Claude Code does.
    client = anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0, timeout=60)
    fake.set_reply("llama3.2:3b", "short and quick", chunks=3)
    seen: list[str] = []
    with client.beta.messages.stream(
        model="claude-3-5-haiku-latest",
        max_tokens=512,
        betas=["interleaved-thinking-2025-05-14", "fine-grained-tool-streaming-2025-05-14"],
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        for event in stream:
            seen.append(event.type)
        final = stream.get_final_message()

    assert "".join(b.text for b in final.content if b.type == "text") == "short and quick"
    assert seen[0] == "message_start" and "content_block_delta" in seen and seen[-1] == "message_stop"
    body = last_chat(fake)
    assert body["model"] == "llama3.2:3b"  # the haiku tier
    assert body["options"]["num_batch"] == 128


def test_count_tokens_plain_and_beta(gateway: Gateway) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
    messages: Any = [{"role": "user", "content": "How many tokens is this sentence, roughly?"}]
    plain = client.messages.count_tokens(model="claude-sonnet-4-5-20250929", messages=messages)
    beta = client.beta.messages.count_tokens(
        model="claude-sonnet-4-5-20250929",
        messages=messages,
        tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
        betas=["token-counting-2024-11-01"],
    )
    assert plain.input_tokens > 5
    assert beta.input_tokens > plain.input_tokens  # the tool definition counts too


@pytest.mark.parametrize(
    ("requested", "model", "num_ctx"),
    [
        ("claude-sonnet-4-5-20250929", "qwen2.5-coder:7b", 32768),
        ("claude-sonnet-4-5", "qwen2.5-coder:7b", 32768),
        ("claude-3-7-sonnet-latest", "qwen2.5-coder:7b", 32768),
        ("claude-opus-4-1-20250805", "qwen2.5-coder:7b", 65536),
        ("claude-3-5-haiku-latest", "llama3.2:3b", 32768),
        ("claude-haiku-4-5-20251001", "llama3.2:3b", 32768),
        ("some-name-nobody-mapped", "llama3.2:3b", 4096),  # the catch-all
        ("qwen2.5-coder:7b", "qwen2.5-coder:7b", None),  # installed, under its own name
        ("ollama/llama3.2:3b", "llama3.2:3b", None),
    ],
)
def test_requested_names_land_on_the_right_mapping(
    gateway: Gateway, fake: FakeOllama, requested: str, model: str, num_ctx: int | None
) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": requested, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        headers=auth(),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["model"] == requested  # the client sees the name it asked for
    body = last_chat(fake)
    assert body["model"] == model
    assert (body.get("options") or {}).get("num_ctx") == num_ctx


# ---------------------------------------------------------------------- keys
OPENAI_ROUTE = ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
ANTHROPIC_ROUTE = (
    "/v1/messages?beta=true",
    {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
)
BAD_HEADERS = {
    "missing": {},
    "empty bearer": {"Authorization": "Bearer"},
    "empty x-api-key": {"x-api-key": ""},
    "wrong": {"Authorization": "Bearer sk-wrong"},
    "one char short": {"Authorization": f"Bearer {KEY[:-1]}"},
    "one char more": {"Authorization": f"Bearer {KEY}x"},
    "other case": {"Authorization": f"Bearer {KEY.upper()}"},
    "basic scheme": {"Authorization": f"Basic {KEY}"},
    "key without scheme": {"Authorization": KEY},
    "wrong x-api-key": {"x-api-key": "sk-ant-wrong"},
    "almost-right x-api-key": {"x-api-key": KEY[:-1] + ("0" if KEY[-1] != "0" else "1")},
}


@pytest.mark.parametrize("route", [OPENAI_ROUTE, ANTHROPIC_ROUTE], ids=["openai", "anthropic"])
@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_bad_keys_get_401_in_the_clients_dialect(
    gateway: Gateway, fake: FakeOllama, route: tuple[str, dict[str, Any]], case: str
) -> None:
    path, payload = route
    response = httpx.post(f"{gateway.url}{path}", json=payload, headers=BAD_HEADERS[case], timeout=30)
    assert response.status_code == 401, response.text
    body = response.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error"
    else:
        assert body["error"]["code"] == "invalid_api_key"
        assert body["error"]["type"] == "invalid_request_error"
    assert fake.bodies("/api/chat") == []  # nothing was served


def test_sdks_raise_their_own_authentication_error(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-nope", max_retries=0).models.list()
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=gateway.url, api_key="sk-nope", max_retries=0).messages.create(
            model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )


def test_right_key_in_x_api_key_wins_over_a_stale_authorization(gateway: Gateway) -> None:
    path, payload = ANTHROPIC_ROUTE
    response = httpx.post(
        f"{gateway.url}{path}",
        json=payload,
        headers={"Authorization": "Bearer sk-old", "x-api-key": KEY},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_the_embedded_proxy_leaves_the_environment_alone(gateway: Gateway) -> None:
    # programs GateDeck starts (ollama serve, a stock litellm) must not inherit its proxy's setup
    assert not {"CONFIG_FILE_PATH", "WORKER_CONFIG", "LITELLM_MASTER_KEY"} & set(os.environ)


def test_liveliness_answers_without_a_key_but_models_do_not(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/health/liveliness", timeout=10).status_code == 200
    assert httpx.get(f"{gateway.url}/v1/models", timeout=10).status_code == 401
    listed = httpx.get(f"{gateway.url}/v1/models", headers=auth(), timeout=10).json()
    names = {m["id"] for m in listed["data"]}
    assert {"gpt-4o", "qwen2.5-coder:7b", "llama3.2:3b"} <= names  # mappings and installed models


# ---------------------------------------------------------------------- fallbacks and health
@pytest.mark.parametrize(
    ("requested", "fallback_model"),
    [("flaky", "qwen2.5-coder:7b"), ("not-pulled", "llama3.2:3b")],
    ids=["backend down", "model not pulled"],
)
def test_fallback_answers_normally_and_is_reported(
    gateway: Gateway, fake: FakeOllama, requested: str, fallback_model: str
) -> None:
    before = len(gateway.metrics.records())
    response = openai_client(gateway).chat.completions.create(
        model=requested, messages=[{"role": "user", "content": "hi"}]
    )
    assert response.choices[0].message.content == f"Hello from {fallback_model}."
    assert last_chat(fake)["model"] == fallback_model
    wait_until(lambda: len(gateway.metrics.records()) > before, 10, "the request's record")
    record = gateway.metrics.records()[-1]
    assert (record.mapping, record.ok) == (requested, True)
    assert record.fallback and record.fallback != requested, "the Monitor shows the hop"


def test_a_stopped_backend_is_skipped_while_another_serves_the_mapping(
    gateway: Gateway, fake: FakeOllama
) -> None:
    # LiteLLM alone retries at random and never cools a deployment down for a refused
    # connection, so about a third of these failed before GateDeck's breaker.
    codes = [chat(gateway.url, "pair").status_code for _ in range(20)]
    assert codes == [200] * 20
    assert len(fake.bodies("/api/chat")) == 20


def test_ollama_failures_without_fallback_are_explained_to_openai_clients(gateway: Gateway) -> None:
    client = openai_client(gateway)
    with pytest.raises(openai.APIStatusError) as down:
        client.chat.completions.create(model="nowhere", messages=[{"role": "user", "content": "hi"}])
    assert down.value.status_code == 503
    assert "Ollama is not answering at http://127.0.0.1:" in down.value.message
    assert "ollama serve" in down.value.message and "'nowhere'" in down.value.message

    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="never-pulled", messages=[{"role": "user", "content": "hi"}])
    assert "Model 'phi3:mini' is not installed" in missing.value.message
    assert "gatedeck models pull phi3:mini" in missing.value.message


async def test_health_sees_the_gateway_the_backends_and_missing_models(gateway: Gateway) -> None:
    health = await gateway.health()
    assert gateway.state is GatewayState.RUNNING
    assert health.live is True
    by_name = {b.name: b for b in health.backends}
    assert by_name["local"].reachable and "qwen2.5-coder:7b" in by_name["local"].installed
    assert not by_name["down"].reachable and "Ollama is not answering" in by_name["down"].error
    assert [(m.mapping, m.model) for m in health.missing] == [
        ("not-pulled", "mistral:7b"),
        ("never-pulled", "phi3:mini"),
    ]
    assert not health.ok

    stopped = await check_health(gateway.config, None)
    assert stopped.live is None


async def test_each_installed_mapped_model_is_asked_once_whether_it_can_think(
    gateway: Gateway, fake: FakeOllama
) -> None:
    installed = {"local": ["qwen2.5-coder:7b", "llama3.2:3b"]}  # "down" does not answer
    found = await models_that_cannot_think(gateway.config, installed)
    assert {name: sorted(models) for name, models in found.items()} == {
        "local": ["llama3.2:3b", "qwen2.5-coder:7b"]
    }
    # once each, though several mappings use them; mistral and phi3 are not installed
    assert sorted(body["model"] for body in fake.bodies("/api/show")) == ["llama3.2:3b", "qwen2.5-coder:7b"]
