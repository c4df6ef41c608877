"""The fast path answers as the Anthropic and OpenAI APIs promise, tried with the official SDKs.

Through the real gateway in front of the fake Ollama: requests the APIs refuse get their 400 in
each API's error shape; ``tool_choice`` and ``stop`` reach Ollama in a form it honours; a model
that can think does not when the request did not ask; and errors a retry cannot fix (a bad key,
a model that is not installed, Ollama not running, a request the API refuses) say
``x-should-retry: false`` so that the SDKs — Claude Code's included — show them at once.
Ollama's own "too busy" stays retryable and is Anthropic's 529 ``overloaded_error``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.gateway.service import Gateway
from tests.core.gateway_fixtures import embedded_gateway, fake_ollama
from tests.core.gateway_support import (
    KEY,
    WEATHER_TOOL_ANTHROPIC,
    WEATHER_TOOL_OPENAI,
    auth,
    free_port,
    wait_until,
)
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen3_8b

pytestmark = [pytest.mark.timeout(180)]
QWEN = "qwen2.5-coder:7b"
TIME_TOOL_ANTHROPIC = {
    "name": "get_time",
    "description": "Time in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
HI = [{"role": "user", "content": "hi"}]


fake = fake_ollama(qwen3_8b())


def conformance_config(ollama_url: str, port: int) -> Config:
    """A thinking model, one not installed, one whose Ollama is not running, and a catch-all."""
    return Config(
        gateway=GatewaySettings(port=port),
        backends=[
            OllamaBackend(name="local", url=ollama_url),
            OllamaBackend(name="away", url=f"http://127.0.0.1:{free_port()}"),  # nothing listens
        ],
        mappings=[
            Mapping(name="claude-*haiku*", model="qwen3:8b", options=ModelOptions(num_ctx=8192)),
            Mapping(name="not-pulled", model="mistral:7b"),
            Mapping(name="ollama-down", model=QWEN, backends=["away"]),
            Mapping(name="*", model=QWEN, options=ModelOptions(num_ctx=8192)),
        ],
    )


gateway = embedded_gateway(base=conformance_config)


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> Iterator[None]:
    fake.clear_requests()
    fake.clear_faults()
    yield
    fake.set_reply(QWEN, f"Hello from {QWEN}.")


def claude(gateway: Gateway, key: str = KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, auth_token=key, max_retries=0, timeout=30)


def gpt(gateway: Gateway, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=30)


def raw(gateway: Gateway, path: str, body: dict[str, Any], key: str = KEY) -> httpx.Response:
    return httpx.post(f"{gateway.url}{path}", json=body, headers=auth(key), timeout=30)


# ---------------------------------------------------------------------- requests the APIs refuse
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "claude-haiku-4-5", "messages": HI}, "max_tokens"),
        ({"max_tokens": 64, "messages": HI}, "model"),
        ({"model": "claude-haiku-4-5", "max_tokens": 64, "messages": []}, "messages"),
    ],
    ids=["no max_tokens", "no model", "no messages"],
)
def test_an_anthropic_request_the_api_refuses_is_a_400_said_at_once(
    gateway: Gateway, fake: FakeOllama, body: dict[str, Any], field: str
) -> None:
    response = raw(gateway, "/v1/messages", body)
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert field in response.json()["error"]["message"]
    assert response.headers["x-should-retry"] == "false"
    assert fake.bodies("/api/chat") == []
    with pytest.raises(anthropic.BadRequestError):  # what the SDK makes of it
        claude(gateway).post("/v1/messages", body=body, cast_to=object)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": HI}, "model"),
        ({"model": "gpt-4o", "messages": []}, "messages"),
        ({"model": "gpt-4o", "messages": HI, "n": 2}, "n"),
    ],
    ids=["no model", "no messages", "n=2"],
)
def test_an_openai_request_the_api_refuses_is_a_400_in_openais_shape(
    gateway: Gateway, fake: FakeOllama, body: dict[str, Any], field: str
) -> None:
    response = raw(gateway, "/v1/chat/completions", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == field
    assert response.headers["x-should-retry"] == "false"
    assert fake.bodies("/api/chat") == []
    with pytest.raises(openai.BadRequestError):
        gpt(gateway).post("/chat/completions", body=body, cast_to=object)


# ---------------------------------------------------------------------- what reaches Ollama
def test_openai_stop_as_a_string_reaches_ollama_as_a_list(gateway: Gateway, fake: FakeOllama) -> None:
    reply = gpt(gateway).chat.completions.create(model="gpt-4o", messages=HI, stop="END")  # type: ignore[arg-type]
    assert reply.choices[0].message.content == f"Hello from {QWEN}."
    assert fake.bodies("/api/chat")[0]["options"]["stop"] == ["END"]


def test_anthropic_tool_choice_none_offers_ollama_no_tools(gateway: Gateway, fake: FakeOllama) -> None:
    reply = claude(gateway).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=HI,
        tools=[WEATHER_TOOL_ANTHROPIC, TIME_TOOL_ANTHROPIC],  # type: ignore[list-item]
        tool_choice={"type": "none"},
    )
    assert reply.content[0].type == "text"
    assert "tools" not in fake.bodies("/api/chat")[0]


def test_anthropic_tool_choice_naming_a_tool_offers_only_that_tool(
    gateway: Gateway, fake: FakeOllama
) -> None:
    claude(gateway).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=HI,
        tools=[WEATHER_TOOL_ANTHROPIC, TIME_TOOL_ANTHROPIC],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "get_time"},
    )
    offered = [t["function"]["name"] for t in fake.bodies("/api/chat")[0]["tools"]]
    assert offered == ["get_time"]


def test_a_required_tool_call_ollama_cannot_enforce_is_said_in_the_monitor(gateway: Gateway) -> None:
    before = len(gateway.metrics.records())
    claude(gateway).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=64,
        messages=HI,
        tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
        tool_choice={"type": "any"},
    )
    gpt(gateway).chat.completions.create(
        model="gpt-4o",
        messages=HI,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
        tool_choice="required",
    )
    gpt(gateway).chat.completions.create(model="gpt-4o", messages=HI)  # type: ignore[arg-type]
    wait_until(lambda: len(gateway.metrics.records()) >= before + 3, 10, "the three records")
    said = [r.unenforced for r in gateway.metrics.records()[before:]]
    assert [bool(note) for note in said] == [True, True, False]
    assert "Ollama cannot force" in said[0]


def test_openai_tool_choice_none_offers_ollama_no_tools(gateway: Gateway, fake: FakeOllama) -> None:
    gpt(gateway).chat.completions.create(
        model="gpt-4o",
        messages=HI,  # type: ignore[arg-type]
        tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
        tool_choice="none",
    )
    body = fake.bodies("/api/chat")[0]
    assert "tools" not in body, "Ollama would still call the tool"


def test_a_model_that_can_think_does_not_unless_asked(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_reply("qwen3:8b", "Paris.", thinking="Let me think.")
    plain = claude(gateway).messages.create(model="claude-haiku-4-5", max_tokens=64, messages=HI)
    assert [b.type for b in plain.content] == ["text"]
    asked = claude(gateway).messages.create(
        model="claude-haiku-4-5",
        max_tokens=2048,
        messages=HI,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert [b.type for b in asked.content] == ["thinking", "text"]
    sent = fake.bodies("/api/chat")
    assert sent[0]["think"] is False and sent[1]["think"] is True

    reply = gpt(gateway).chat.completions.create(model="claude-haiku-4-5", messages=HI)  # type: ignore[arg-type]
    assert (reply.choices[0].message.model_extra or {}).get("reasoning_content") is None
    assert fake.bodies("/api/chat")[2]["think"] is False


def test_a_streamed_anthropic_answer_announces_its_prompt_tokens(gateway: Gateway) -> None:
    with claude(gateway).messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=HI) as stream:
        start = next(iter(stream))
        stream.until_done()
    assert start.type == "message_start" and start.message.usage.input_tokens > 0


# ---------------------------------------------------------------------- errors said at once
def test_a_wrong_key_is_final(gateway: Gateway) -> None:
    response = raw(gateway, "/v1/messages", {"model": "x", "max_tokens": 5, "messages": HI}, key="sk-wrong")
    assert response.status_code == 401 and response.headers["x-should-retry"] == "false"
    with pytest.raises(anthropic.AuthenticationError):
        claude(gateway, key="sk-wrong").messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=HI)


def test_a_model_that_is_not_installed_is_final_with_gatedecks_words(gateway: Gateway) -> None:
    body = {"model": "not-pulled", "max_tokens": 64, "messages": HI}
    response = raw(gateway, "/v1/messages", body)
    assert response.status_code == 404 and response.headers["x-should-retry"] == "false"
    assert response.headers["x-gatedeck-path"] == "direct"
    assert response.json()["error"]["type"] == "not_found_error"
    assert "gatedeck models pull mistral:7b" in response.json()["error"]["message"]


def test_ollama_not_running_is_final_with_gatedecks_words(gateway: Gateway) -> None:
    for path, body in (
        ("/v1/messages", {"model": "ollama-down", "max_tokens": 64, "messages": HI}),
        ("/v1/chat/completions", {"model": "ollama-down", "messages": HI}),
    ):
        response = raw(gateway, path, body)
        assert response.status_code == 503, path
        assert response.headers["x-should-retry"] == "false"
        text = response.text
        assert "ollama serve" in text and "Traceback" not in text


def test_ollama_too_busy_is_anthropics_retryable_overloaded_error(gateway: Gateway, fake: FakeOllama) -> None:
    busy = "server busy, please try again.  maximum pending requests exceeded"
    fake.fail("/api/chat", status=503, error=busy, times=1)
    response = raw(gateway, "/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": HI})
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"
    assert "x-should-retry" not in response.headers  # a retry can help here
    assert busy in response.json()["error"]["message"]


# ---------------------------------------------------------------------- /v1/models
def test_the_model_list_holds_the_mappings_and_the_installed_models(gateway: Gateway) -> None:
    expected = ["claude-*haiku*", "ollama-down", "not-pulled", "llama3.2:3b", QWEN, "qwen3:8b"]
    listed = [m.id for m in gpt(gateway).models.list()]
    assert sorted(listed) == sorted(expected)
    assert listed[0] == "claude-*haiku*"  # the mappings first, in config order
    # Claude Code's model discovery: Anthropic's shape, told apart by its anthropic-version
    assert sorted(m.id for m in claude(gateway).models.list()) == sorted(expected)
    response = httpx.get(f"{gateway.url}/v1/models", headers={**auth(), "anthropic-version": "2023-06-01"})
    assert response.json()["data"][0]["type"] == "model" and response.json()["has_more"] is False


def test_through_litellm_too_ollama_down_and_a_missing_model_are_final(gateway: Gateway) -> None:
    config = gateway.config
    gateway.apply_blocking(
        config.model_copy(update={"gateway": config.gateway.model_copy(update={"direct_path": False})})
    )
    try:
        for model, status, words in (
            ("ollama-down", 503, "ollama serve"),
            ("not-pulled", 404, "models pull"),
        ):
            response = raw(gateway, "/v1/chat/completions", {"model": model, "messages": HI})
            assert response.headers.get("x-gatedeck-path", "litellm") == "litellm"
            assert response.status_code == status and words in response.text, response.text
            assert response.headers["x-should-retry"] == "false"
    finally:
        gateway.apply_blocking(config)
