"""Tool calls a model writes as text become real calls, tried through the real gateway with the
official SDKs.

The fake Ollama writes its call as text in each shape local models use (``<tool_call>`` tags,
``<function=…>`` XML, bare JSON, a fenced JSON block), as Ollama passes such answers on. The
client still gets a real ``tool_use`` / ``tool_calls`` / ``function_call``, streamed or not;
the request log says the call was repaired. Text that is not a call of an offered tool stays
text, and a mapping with the repair switched off passes the text on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from core.config.schema import Mapping, ModelOptions
from core.gateway.service import Gateway
from core.metrics.recorder import MetricsRecorder
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama, metrics_recorder
from tests.core.gateway_support import (
    KEY,
    PARIS_CALL,
    WEATHER_TOOL_ANTHROPIC,
    WEATHER_TOOL_OPENAI,
)
from tests.core.metrics_support import Collector
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_records import WRITTEN_SHAPES, written_calls

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
WEATHER_TOOL_RESPONSES = {"type": "function", **WEATHER_TOOL_OPENAI["function"]}  # type: ignore[dict-item]
ASK = [{"role": "user", "content": "Weather in Paris?"}]


fake = fake_ollama()
recorder = metrics_recorder()
gateway = embedded_gateway(
    Mapping(name="plain-coder", model=QWEN, options=ModelOptions(num_ctx=32768), repair_tool_calls=False),
    metrics=True,
)


@pytest.fixture
def seen(recorder: MetricsRecorder, fake: FakeOllama) -> Iterator[Collector]:
    fake.clear_requests()
    collector = Collector(recorder)
    yield collector
    collector.remove()
    fake.set_reply(QWEN, f"Hello from {QWEN}.")


def anthropic_client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)


def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def writes_call(fake: FakeOllama, shape: str, *, chunks: int | None = None) -> None:
    """The model answers with the Paris call written as text in ``shape``, in small pieces."""
    fake.set_reply(QWEN, "It is sunny.", tool_calls=PARIS_CALL, written=shape, chunks=chunks)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("shape", WRITTEN_SHAPES)
def test_claude_code_gets_a_real_tool_use_for_a_call_written_as_text(
    gateway: Gateway, fake: FakeOllama, seen: Collector, shape: str, stream: bool
) -> None:
    writes_call(fake, shape, chunks=7)
    client = anthropic_client(gateway)
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "messages": ASK,
        "tools": [WEATHER_TOOL_ANTHROPIC],
    }
    if stream:
        with client.messages.stream(**request) as events:  # type: ignore[arg-type]
            kinds = [event.type for event in events]
            message = events.get_final_message()
        assert "text" not in kinds, "the written call was held back, not streamed as text"
    else:
        message = client.messages.create(**request)  # type: ignore[arg-type]
    (call,) = [block for block in message.content if block.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert [b for b in message.content if b.type == "text" and b.text] == []
    assert message.stop_reason == "tool_use"
    (record,) = seen.wait(1)
    assert record.repaired == shape


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("shape", WRITTEN_SHAPES)
def test_openai_clients_get_real_tool_calls_for_a_call_written_as_text(
    gateway: Gateway, fake: FakeOllama, seen: Collector, shape: str, stream: bool
) -> None:
    writes_call(fake, shape, chunks=5)
    client = openai_client(gateway)
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o", messages=ASK, tools=[WEATHER_TOOL_OPENAI], stream=True
            )  # type: ignore[list-item]
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        arguments = [(call.function.name, call.function.arguments) for call in calls if call.function]
    else:
        reply = client.chat.completions.create(model="gpt-4o", messages=ASK, tools=[WEATHER_TOOL_OPENAI])  # type: ignore[list-item]
        choice = reply.choices[0]
        text = choice.message.content or ""
        finish = [choice.finish_reason]
        arguments = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls or ()]  # type: ignore[union-attr]
    assert text == ""
    assert [(name, json.loads(args or "{}")) for name, args in arguments] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert finish == ["tool_calls"]
    (record,) = seen.wait(1)
    assert record.repaired == shape


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("shape", WRITTEN_SHAPES)
def test_codex_gets_a_real_function_call_for_a_call_written_as_text(
    gateway: Gateway, fake: FakeOllama, seen: Collector, shape: str, stream: bool
) -> None:
    writes_call(fake, shape, chunks=3)
    client = openai_client(gateway)
    request = {"model": "gpt-4o", "input": "Weather in Paris?", "tools": [WEATHER_TOOL_RESPONSES]}
    if stream:
        with client.responses.stream(**request) as events:  # type: ignore[arg-type]
            deltas = [e for e in events if e.type == "response.output_text.delta"]
            response = events.get_final_response()
        assert deltas == []
    else:
        response = client.responses.create(**request)  # type: ignore[arg-type]
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert [item for item in response.output if item.type == "message"] == []
    (record,) = seen.wait(1)
    assert record.repaired == shape


def test_prose_before_a_written_call_stays_text_beside_the_call(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    text = "Let me look that up.\n" + written_calls("tool_call_tag", PARIS_CALL)
    fake.set_reply(QWEN, text)
    message = anthropic_client(gateway).messages.create(
        model="claude-sonnet-4-5", max_tokens=512, messages=ASK, tools=[WEATHER_TOOL_ANTHROPIC]
    )  # type: ignore[arg-type]
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Let me look that up."  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_call_of_a_tool_the_request_did_not_offer_stays_text(
    gateway: Gateway, fake: FakeOllama, seen: Collector, stream: bool
) -> None:
    written = written_calls("json", [{"function": {"name": "delete_files", "arguments": {"path": "/"}}}])
    fake.set_reply(QWEN, written, chunks=4)
    client = anthropic_client(gateway)
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "messages": ASK,
        "tools": [WEATHER_TOOL_ANTHROPIC],
    }
    if stream:
        with client.messages.stream(**request) as events:  # type: ignore[arg-type]
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)  # type: ignore[arg-type]
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", written)]
    assert message.stop_reason == "end_turn"
    (record,) = seen.wait(1)
    assert record.repaired == ""


def test_arguments_that_do_not_fit_the_tool_schema_stay_text(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    written = written_calls(
        "tool_call_tag", [{"function": {"name": "get_weather", "arguments": {"town": "Paris"}}}]
    )
    fake.set_reply(QWEN, written)
    reply = openai_client(gateway).chat.completions.create(
        model="gpt-4o", messages=ASK, tools=[WEATHER_TOOL_OPENAI]
    )  # type: ignore[list-item]
    assert (reply.choices[0].message.content, reply.choices[0].message.tool_calls) == (written, None)
    assert reply.choices[0].finish_reason == "stop"


def test_plain_text_streams_at_once_and_is_left_alone(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, "Paris is sunny today, no tool needed.", chunks=6)
    chunks = list(
        openai_client(gateway).chat.completions.create(
            model="gpt-4o", messages=ASK, tools=[WEATHER_TOOL_OPENAI], stream=True
        )  # type: ignore[list-item]
    )
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) == 6, "text that cannot be a call is not held back"
    assert "".join(texts) == "Paris is sunny today, no tool needed."
    (record,) = seen.wait(1)
    assert record.repaired == ""


def test_a_mapping_with_the_repair_switched_off_passes_the_written_call_on_as_text(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    writes_call(fake, "tool_call_tag")
    message = anthropic_client(gateway).messages.create(
        model="plain-coder", max_tokens=512, messages=ASK, tools=[WEATHER_TOOL_ANTHROPIC]
    )  # type: ignore[arg-type]
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == written_calls("tool_call_tag", PARIS_CALL)  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
