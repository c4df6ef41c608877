"""Metrics capture inside the real embedded gateway, driven by the official SDKs.

One gateway serves the module, recording the way the gateway does (``Engine.record_to`` once
the engine loads). The fake Ollama's chunk delays and
token counts give each test timings and numbers it can check against the record.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from core.config.schema import Mapping, ModelOptions
from core.gateway import engine as gateway_engine
from core.gateway.service import Gateway
from core.metrics.alerts import AlertPolicy
from core.metrics.recorder import MetricsRecorder, RequestRecord
from core.metrics.request_log import LOG_FILE, RequestLog, read_log
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama
from tests.core.gateway_support import KEY
from tests.core.metrics_support import Collector
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"


fake = fake_ollama()


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("request-log")


@pytest.fixture(scope="module")
def recorder(log_dir: Path) -> Iterator[MetricsRecorder]:
    recorder = MetricsRecorder(RequestLog(log_dir))
    yield recorder
    recorder.close()


gateway = embedded_gateway(
    Mapping(name="flaky", model=QWEN, backends=["down"], fallbacks=["gpt-4o"]),
    Mapping(name="gone", model=QWEN, backends=["down"], options=ModelOptions(num_ctx=8192)),
    down=True,
    metrics=True,
)


@pytest.fixture
def seen(recorder: MetricsRecorder, fake: FakeOllama) -> Iterator[Collector]:
    fake.clear_faults()
    fake.set_chunk_delay(0.0)
    collector = Collector(recorder)
    yield collector
    collector.remove()
    fake.set_chunk_delay(0.0)
    fake.set_reply(QWEN, f"Hello from {QWEN}.")


def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def anthropic_client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0, timeout=60)


def stream_openai(gateway: Gateway, model: str) -> str:
    chunks = openai_client(gateway).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_streamed_openai_request_is_recorded_with_its_routing_timings_and_tokens(
    gateway: Gateway, fake: FakeOllama, seen: Collector, recorder: MetricsRecorder, log_dir: Path
) -> None:
    fake.set_reply(QWEN, "alpha beta gamma delta epsilon", prompt_eval_count=321, eval_count=5)
    fake.set_chunk_delay(0.1)  # 5 chunks, each after 0.1 s
    assert stream_openai(gateway, "gpt-4o") == "alpha beta gamma delta epsilon"

    (record,) = seen.wait(1)
    assert (record.dialect, record.requested, record.mapping, record.model) == (
        "openai",
        "gpt-4o",
        "gpt-4o",
        QWEN,
    )
    assert record.backend == "local"
    assert record.stream and record.ok and record.status == 200 and not record.error
    assert (record.prompt_tokens, record.completion_tokens) == (321, 5)
    assert record.num_ctx == 16384 and not record.likely_truncated and not record.fallback
    assert record.ttft_s is not None
    assert 0.1 <= record.ttft_s < record.latency_s, "the first chunk waits 0.1 s, the rest come after it"
    assert record.latency_s >= 0.5
    assert record.tokens_per_s is not None and 0 < record.tokens_per_s <= 12, (
        "4 tokens after the first, 0.1 s apart"
    )
    assert recorder.records()[-1] == record

    logged = list(read_log(log_dir))
    assert (log_dir / LOG_FILE).exists()
    assert RequestRecord.from_json(logged[-1]) == RequestRecord.from_json(record.to_json())
    assert "alpha" not in (log_dir / LOG_FILE).read_text(), "the log never holds prompts or replies"


def test_ttft_follows_the_backends_first_chunk_delay(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, "one two three")
    fake.set_chunk_delay(0.02)
    stream_openai(gateway, "gpt-4o")
    fake.set_chunk_delay(0.4)
    stream_openai(gateway, "gpt-4o")
    quick, slow = seen.wait(2)
    assert quick.ttft_s is not None and slow.ttft_s is not None
    assert slow.ttft_s >= 0.4
    assert slow.ttft_s > quick.ttft_s
    assert slow.latency_s >= 3 * 0.4


def test_an_anthropic_request_records_the_dated_name_and_the_pattern_it_landed_on(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, "Sure.", prompt_eval_count=40, eval_count=2)
    reply = anthropic_client(gateway).messages.create(
        model="claude-sonnet-4-5-20250929", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.content
    (record,) = seen.wait(1)
    assert record.dialect == "anthropic"
    assert (record.requested, record.mapping, record.model) == (
        "claude-sonnet-4-5-20250929",
        "claude-*sonnet*",
        QWEN,
    )
    assert record.routing == f"claude-sonnet-4-5-20250929 → claude-*sonnet* → {QWEN}"
    assert record.num_ctx == 32768
    assert (record.prompt_tokens, record.completion_tokens) == (40, 2)
    assert not record.stream and record.ttft_s == record.latency_s


def test_a_fallback_is_recorded_once_with_the_mapping_that_answered(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    reply = openai_client(gateway).chat.completions.create(
        model="flaky", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content
    records = seen.wait(1)
    assert len(records) == 1, "the failed attempt and the fallback are one request"
    (record,) = records
    assert (
        record.ok
        and record.mapping == "flaky"
        and record.fallback == "gpt-4o"
        and record.served_by == "gpt-4o"
    )
    assert "fallback gpt-4o" in record.routing


def test_errors_are_recorded_with_their_status_and_a_down_backend_raises_an_alert(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.fail("/api/chat", status=500, error="the model crashed", times=1)
    with pytest.raises(openai.InternalServerError):
        openai_client(gateway).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(openai.APIError):
        openai_client(gateway).chat.completions.create(
            model="gone", messages=[{"role": "user", "content": "hi"}]
        )
    crashed, gone = seen.wait(2)
    assert not crashed.ok and crashed.status == 500 and "the model crashed" in crashed.error
    assert crashed.mapping == "gpt-4o" and crashed.model == QWEN and crashed.backend == "local"
    assert not gone.ok and gone.backend == "down" and gone.num_ctx == 8192

    policy = AlertPolicy()
    assert policy.check(crashed) == [], "a backend that answers with an error is not down"
    (alert,) = policy.check(gone)
    assert alert.kind == "backend_down" and alert.key == "down" and alert.critical


def test_a_client_that_gives_up_is_recorded_as_such(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    fake.set_reply(QWEN, " ".join(f"w{i}" for i in range(500)), chunks=500)
    fake.set_chunk_delay(0.02)  # 10 s for the whole answer
    with pytest.raises(openai.APITimeoutError):
        openai_client(gateway).with_options(timeout=1.0).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    (record,) = seen.wait(1)
    assert not record.ok and record.status == 499 and record.error == "the client closed the connection"
    assert record.mapping == "gpt-4o" and record.model == QWEN and not record.stream
    assert record.latency_s < 10, "recorded when the client left, not when Ollama would have finished"


def test_context_guard_flags_a_prompt_at_90_percent_of_num_ctx_and_not_below(
    gateway: Gateway, fake: FakeOllama, seen: Collector
) -> None:
    at_threshold = math.ceil(0.9 * 16384)  # gpt-4o is served with num_ctx 16384
    client = openai_client(gateway)
    for prompt_tokens in (at_threshold - 1, at_threshold, 16384):
        fake.set_reply(QWEN, "ok", prompt_eval_count=prompt_tokens)
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    below, at, full = seen.wait(3)
    assert [r.prompt_tokens for r in (below, at, full)] == [at_threshold - 1, at_threshold, 16384]
    assert (below.likely_truncated, at.likely_truncated, full.likely_truncated) == (False, True, True)

    policy = AlertPolicy()
    assert policy.check(below) == []
    (alert,) = policy.check(at)
    assert alert.kind == "context" and alert.key == "gpt-4o" and alert.action == "raise_context"
    assert str(at_threshold) in alert.message and "16384" in alert.message
    assert policy.check(full) == [], "one notification per mapping"


def test_recording_elsewhere_replaces_the_recorder_and_stopping_stops_recording(
    gateway: Gateway, seen: Collector, recorder: MetricsRecorder, log_dir: Path
) -> None:
    import litellm

    # what LiteLLM serves is recorded through its callback: send these through it
    direct_on = gateway.config
    gateway.apply_blocking(
        direct_on.model_copy(update={"gateway": direct_on.gateway.model_copy(update={"direct_path": False})})
    )
    engine = gateway_engine.load()
    other = MetricsRecorder()
    other_seen = Collector(other)
    stop = engine.record_to(other)
    try:
        ours = [cb for cb in litellm.callbacks if getattr(cb, "gatedeck", False)]
        assert len(ours) == 1, "one GateDeck callback: metrics and routing in one, in order"
        stream_openai(gateway, "claude-3-5-haiku-latest")
        (record,) = other_seen.wait(1)
        assert (record.requested, record.mapping) == ("claude-3-5-haiku-latest", "claude-*haiku*")
        assert seen.items == [], "the replaced recorder hears nothing"
    finally:
        stop()
    lines = len(list(read_log(log_dir)))
    stream_openai(gateway, "gpt-4o")
    engine.record_to(recorder)  # back as the module set it up, for the tests after this one
    stream_openai(gateway, "gpt-4o")
    seen.wait(1)
    gateway.apply_blocking(direct_on)
    assert len(other.records()) == 1, "nothing recorded once stopped"
    assert len(list(read_log(log_dir))) == lines + 1
