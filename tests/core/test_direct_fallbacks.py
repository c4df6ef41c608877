"""A mapping's fallbacks on the fast path, tried through the real gateway with the official SDKs.

When a mapping's Ollama model fails before its answer begins, the fallback answers: an Ollama
mapping straight from Ollama (``x-gatedeck-path: direct``), a cloud model through LiteLLM (a
stand-in OpenAI-compatible server here). The request log names the mapping that failed and the
fallback that answered. A failure after the answer began is the client's error, not a second
answer from elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from core.config.schema import Mapping
from core.gateway.service import Gateway
from core.metrics.recorder import MetricsRecorder
from tests.core.gateway_fixtures import (
    CLOUD_MODEL,
    SDK_WARNINGS,
    embedded_gateway,
    fake_cloud,
    fake_ollama,
    metrics_recorder,
)
from tests.core.gateway_support import KEY
from tests.core.metrics_support import Collector
from tests.fakes.fake_cloud import FakeCloud
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
LLAMA = "llama3.2:3b"


fake = fake_ollama()
cloud = fake_cloud()
recorder = metrics_recorder(request_log=True)
gateway = embedded_gateway(
    # its model is not installed: Ollama answers 404
    Mapping(name="coder-next", model="qwen3-coder:30b", fallbacks=["coder-small"]),
    Mapping(name="coder-small", model=QWEN),
    # its Ollama is not running
    Mapping(name="away", model=QWEN, backends=["down"], fallbacks=["cloud-mini"]),
    # its model answers, and may break half-way
    Mapping(name="steady", model=QWEN, fallbacks=["llama-small"]),
    Mapping(name="llama-small", model=LLAMA),
    down=True,
    cloud=True,
    metrics=True,
)


@pytest.fixture
def seen(recorder: MetricsRecorder, fake: FakeOllama, cloud: FakeCloud) -> Iterator[Collector]:
    fake.clear_faults()
    fake.clear_requests()
    cloud.bodies.clear()
    collector = Collector(recorder)
    yield collector
    collector.remove()
    fake.clear_faults()
    fake.set_reply(QWEN, f"Hello from {QWEN}.")


def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def anthropic_client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)


def test_a_model_that_is_not_installed_falls_back_to_another_ollama_mapping_on_the_fast_path(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, "Paris.")
    raw = anthropic_client(gateway).messages.with_raw_response.create(
        model="coder-next", max_tokens=256, messages=[{"role": "user", "content": "Capital of France?"}]
    )
    reply = raw.parse()
    assert [b.text for b in reply.content if b.type == "text"] == ["Paris."]
    assert raw.headers.get("x-gatedeck-path") == "direct", "the fallback answered without LiteLLM"
    assert [body["model"] for body in fake.bodies("/api/chat")] == ["qwen3-coder:30b", QWEN]

    (record,) = seen.wait(1)
    assert (record.ok, record.mapping, record.fallback, record.model) == (
        True,
        "coder-next",
        "coder-small",
        QWEN,
    )
    assert record.served_by == "coder-small" and "fallback coder-small" in record.routing


def test_a_streamed_request_falls_back_the_same_way(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, "one two three", chunks=3)
    with openai_client(gateway).chat.completions.with_streaming_response.create(
        model="coder-next", messages=[{"role": "user", "content": "Count."}], stream=True
    ) as response:
        assert response.headers.get("x-gatedeck-path") == "direct"
        text = "".join(c.choices[0].delta.content or "" for c in response.parse() if c.choices)
    assert text == "one two three"
    (record,) = seen.wait(1)
    assert record.ok and record.stream and (record.mapping, record.fallback) == ("coder-next", "coder-small")


def test_ollama_errors_fall_back_but_a_bad_request_does_not(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(LLAMA, "From llama.")
    fake.fail("/api/chat", status=500, error="llama runner process has terminated", times=1)
    reply = openai_client(gateway).chat.completions.create(
        model="steady", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "From llama."
    assert [body["model"] for body in fake.bodies("/api/chat")] == [QWEN, LLAMA]
    (record,) = seen.wait(1)
    assert (record.mapping, record.fallback, record.model) == ("steady", "llama-small", LLAMA)

    # A stop word as a string reaches Ollama as an array; a wrong option type is Ollama's 400
    # for any model, so the fallback is not asked.
    seen.clear()
    fake.clear_requests()
    fake.fail("/api/chat", status=400, error="option num_ctx must be of type integer", times=1)
    with pytest.raises(openai.BadRequestError):
        openai_client(gateway).chat.completions.create(
            model="steady", messages=[{"role": "user", "content": "hi"}]
        )
    assert [body["model"] for body in fake.bodies("/api/chat")] == [QWEN]
    (record,) = seen.wait(1)
    assert not record.ok and record.status == 400 and record.fallback == ""


def test_an_ollama_that_is_not_running_falls_back_to_a_cloud_model_through_litellm(
    gateway: Gateway, cloud: FakeCloud, seen: Collector
) -> None:
    raw = openai_client(gateway).chat.completions.with_raw_response.create(
        model="away", messages=[{"role": "user", "content": "hi"}]
    )
    reply = raw.parse()
    assert reply.choices[0].message.content == "Hello from the cloud."
    assert raw.headers.get("x-gatedeck-path") is None, "LiteLLM answered for the cloud model"
    assert [body["model"] for body in cloud.bodies] == [CLOUD_MODEL]

    records = seen.wait(1)
    assert len(records) == 1, "the failed attempt and the fallback are one request"
    (record,) = records
    assert record.ok and (record.requested, record.mapping, record.fallback) == ("away", "away", "cloud-mini")
    assert record.served_by == "cloud-mini"


def test_an_anthropic_client_gets_its_cloud_fallback_too(
    gateway: Gateway, cloud: FakeCloud, seen: Collector
) -> None:
    reply = anthropic_client(gateway).messages.create(
        model="away", max_tokens=256, messages=[{"role": "user", "content": "hi"}]
    )
    assert [b.text for b in reply.content if b.type == "text"] == ["Hello from the cloud."]
    assert [body["model"] for body in cloud.bodies] == [CLOUD_MODEL]
    (record,) = seen.wait(1)
    assert (
        record.ok
        and record.dialect == "anthropic"
        and (record.mapping, record.fallback) == ("away", "cloud-mini")
    )


def test_a_failure_after_the_answer_began_is_not_answered_again_elsewhere(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, "alpha beta gamma delta", chunks=4)
    fake.drop_after("/api/chat", chunks=2)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in openai_client(gateway).chat.completions.create(
            model="steady", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            received.extend(c.delta.content or "" for c in chunk.choices)
    text = "".join(received)
    assert text.startswith("alpha") and text != "alpha beta gamma delta", "what came before the break"
    assert [body["model"] for body in fake.bodies("/api/chat")] == [QWEN], "the fallback was not asked"
    (record,) = seen.wait(1)
    assert not record.ok and record.fallback == "" and record.mapping == "steady"


def test_a_responses_request_from_codex_falls_back_too(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, "Done.")
    raw = openai_client(gateway).responses.with_raw_response.create(
        model="coder-next", instructions="You are a coding agent.", input="List the files."
    )
    assert raw.parse().output_text == "Done."
    assert raw.headers.get("x-gatedeck-path") == "direct"
    assert [body["model"] for body in fake.bodies("/api/chat")] == ["qwen3-coder:30b", QWEN]
    (record,) = seen.wait(1)
    assert record.dialect == "responses" and (record.mapping, record.fallback) == (
        "coder-next",
        "coder-small",
    )
