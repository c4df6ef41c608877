"""A prompt too long for a mapping's context is the API's own error, not a silent cut; token
counts and model reloads, tried through the real gateway with the official SDKs.

Ollama cuts a prompt longer than ``num_ctx`` without a word (the fake does as Ollama does: its
``prompt_eval_count`` tops out at the context). For the Claude tiers GateDeck refuses such a
prompt the way the real APIs do — Anthropic's 400 "prompt is too long: N tokens > M maximum",
which Claude Code answers by compacting; OpenAI's 400 ``context_length_exceeded`` for Chat
Completions and the Responses API — and says a retry cannot help. A mapping set to
``on_overflow: truncate`` (the default outside the Claude tiers) lets Ollama cut it.
``count_tokens`` answers with the same estimate. The request log records Ollama's
``load_duration``, which shows when switching mappings made Ollama load the model again.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import anthropic
import ollama
import openai
import pytest

from core.config.schema import Mapping, ModelOptions
from core.gateway.service import Gateway
from core.metrics.recorder import MetricsRecorder
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama, metrics_recorder
from tests.core.gateway_support import KEY
from tests.core.metrics_support import Collector
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
LLAMA = "llama3.2:3b"
SMALL = ModelOptions(num_ctx=4096)
#: ~10k tokens of prose: more than a 4096-token context holds
LONG = "The quick brown fox jumps over the lazy dog. " * 900
TOO_LONG = re.compile(r"^prompt is too long: (\d+) tokens > (\d+) maximum$")


fake = fake_ollama()
recorder = metrics_recorder()
gateway = embedded_gateway(
    Mapping(name="claude-small", model=LLAMA, options=SMALL),
    Mapping(name="claude-cut", model=LLAMA, options=SMALL, on_overflow="truncate"),
    Mapping(name="small-coder", model=LLAMA, options=SMALL),
    Mapping(name="strict-coder", model=LLAMA, options=SMALL, on_overflow="refuse"),
    metrics=True,
)


@pytest.fixture
def seen(recorder: MetricsRecorder, fake: FakeOllama) -> Iterator[Collector]:
    fake.clear_requests()
    collector = Collector(recorder)
    yield collector
    collector.remove()


def anthropic_client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)


def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_prompt_too_long_for_a_claude_tier_is_anthropics_prompt_too_long_error(
    gateway: Gateway, fake: FakeOllama, seen: Collector, stream: bool
) -> None:
    client = anthropic_client(gateway)
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model="claude-small", max_tokens=1000, messages=[{"role": "user", "content": LONG}], stream=stream
        )
    error = raised.value
    assert error.status_code == 400
    assert error.response.headers["x-should-retry"] == "false", "Claude Code must not retry it"
    assert error.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    found = TOO_LONG.match(error.body["error"]["message"])  # type: ignore[index]
    assert found, error.body
    tokens, limit = int(found.group(1)), int(found.group(2))
    assert limit == 4096 - 1000, "the prompt's room is the context less the output asked for"
    assert tokens > 4096
    assert fake.bodies("/api/chat") == [], "Ollama was not asked to cut it"
    (record,) = seen.wait(1)
    assert (record.ok, record.status, record.mapping, record.num_ctx) == (False, 400, "claude-small", 4096)
    assert "prompt is too long" in record.error


def test_the_same_conversation_compacted_goes_through(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    reply = anthropic_client(gateway).messages.create(
        model="claude-small", max_tokens=1000, messages=[{"role": "user", "content": LONG[:8000]}]
    )
    assert reply.stop_reason == "end_turn"
    assert len(fake.bodies("/api/chat")) == 1


def test_a_huge_max_tokens_keeps_only_a_quarter_of_the_window_for_the_answer(
    gateway: Gateway, seen: Collector
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        anthropic_client(gateway).messages.create(
            model="claude-small", max_tokens=32000, messages=[{"role": "user", "content": LONG}]
        )
    found = TOO_LONG.match(raised.value.body["error"]["message"])  # type: ignore[index]
    assert found and int(found.group(2)) == 4096 - 1024


def test_openai_chat_gets_context_length_exceeded(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client(gateway).chat.completions.create(
            model="strict-coder", max_tokens=500, messages=[{"role": "user", "content": LONG}]
        )
    error = raised.value
    assert (error.status_code, error.code, error.param) == (400, "context_length_exceeded", "messages")
    assert error.response.headers["x-should-retry"] == "false"
    assert "maximum context length is 4096 tokens" in error.message
    assert fake.bodies("/api/chat") == []


def test_the_responses_api_gets_context_length_exceeded(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        openai_client(gateway).responses.create(model="strict-coder", input=LONG, stream=True)
    assert (raised.value.status_code, raised.value.code, raised.value.param) == (
        400,
        "context_length_exceeded",
        "input",
    )
    assert fake.bodies("/api/chat") == []


@pytest.mark.parametrize("model", ["claude-cut", "small-coder"])
def test_a_mapping_that_lets_ollama_truncate_sends_the_prompt_and_the_log_says_it_was_cut(
    gateway: Gateway, fake: FakeOllama, seen: Collector, model: str
) -> None:
    reply = anthropic_client(gateway).messages.create(
        model=model, max_tokens=1000, messages=[{"role": "user", "content": LONG}]
    )
    assert reply.usage.input_tokens == 4096, "Ollama read no more than its context"
    (record,) = seen.wait(1)
    assert record.ok and record.likely_truncated and record.prompt_tokens == 4096


def test_count_tokens_answers_with_the_estimate_the_overflow_check_uses(
    gateway: Gateway, seen: Collector
) -> None:
    client = anthropic_client(gateway)
    raw = client.messages.with_raw_response.count_tokens(
        model="claude-small", messages=[{"role": "user", "content": LONG}]
    )
    counted = raw.parse().input_tokens
    assert raw.headers["x-gatedeck-path"] == "direct"
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model="claude-small", max_tokens=1000, messages=[{"role": "user", "content": LONG}]
        )
    found = TOO_LONG.match(raised.value.body["error"]["message"])  # type: ignore[index]
    assert found and abs(int(found.group(1)) - counted) <= 10, (counted, found.group(1))
    short = client.messages.count_tokens(model="claude-small", messages=[{"role": "user", "content": "Hi"}])
    assert 0 < short.input_tokens < 100


def test_switching_between_mappings_with_different_load_options_is_logged_as_a_reload(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    # the sonnet and opus tiers share qwen2.5-coder with different contexts: Ollama reloads
    client = anthropic_client(gateway)
    for model in ("claude-sonnet-4-5", "claude-sonnet-4-5", "claude-opus-4-1", "claude-sonnet-4-5"):
        client.messages.create(model=model, max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
    records = seen.wait(4)
    loads = [record.load_s for record in records]
    assert all(value is not None for value in loads)
    slow = [value is not None and value > 1.0 for value in loads]
    assert slow[1:] == [False, True, True], loads  # the first depends on what ran before


def test_the_fake_ollama_cuts_a_long_prompt_to_its_context_and_reloads_for_other_runner_options(
    fake: FakeOllama,
) -> None:
    client = ollama.Client(host=fake.url)
    long = client.chat(model=QWEN, messages=[{"role": "user", "content": LONG}], options={"num_ctx": 2048})
    assert long.prompt_eval_count == 2048
    same = client.chat(model=QWEN, messages=[{"role": "user", "content": "Hi"}], options={"num_ctx": 2048})
    other = client.chat(model=QWEN, messages=[{"role": "user", "content": "Hi"}], options={"num_batch": 64})
    assert same.load_duration is not None and same.load_duration < 100_000_000
    assert other.load_duration is not None and other.load_duration > 1_000_000_000
    temperature = client.chat(
        model=QWEN, messages=[{"role": "user", "content": "Hi"}], options={"temperature": 0.1}
    )
    assert temperature.load_duration is not None and temperature.load_duration < 100_000_000, (
        "not a runner option"
    )


def test_an_image_counts_as_the_tokens_a_model_reads_it_as_not_its_base64_size(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    photo = base64.b64encode(bytes(range(256)) * 1200).decode()  # 300 kB, far more than 4096 tokens as text
    content = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": photo}},
        {"type": "text", "text": "What is in this picture?"},
    ]
    client = anthropic_client(gateway)
    counted = client.messages.count_tokens(
        model="claude-small", messages=[{"role": "user", "content": content}]
    )
    assert 1600 <= counted.input_tokens < 2000
    reply = client.messages.create(
        model="claude-small", max_tokens=500, messages=[{"role": "user", "content": content}]
    )
    assert reply.stop_reason == "end_turn"
    assert fake.bodies("/api/chat")[0]["messages"][0]["images"] == [photo]
