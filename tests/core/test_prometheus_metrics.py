"""``GET /metrics`` on the gateway's port, scraped the way Prometheus would, after a mix of
requests through the real gateway and the fake Ollama: some answered by the fast path, some
with the fast path switched off (through LiteLLM), some failing. What the scrape says must add
up to what the clients sent and got back."""

from __future__ import annotations

import json
import re

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.config.schema import Mapping
from core.gateway.service import Gateway
from core.metrics.prometheus import PrometheusMetrics, is_refused_overflow
from core.metrics.recorder import MetricsRecorder, RequestRecord
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama, metrics_recorder
from tests.core.gateway_support import (
    KEY,
    PARIS_CALL,
    REPO,
    WEATHER_TOOL_OPENAI,
)
from tests.core.metrics_support import Collector
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import nomic_embed_text

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
METRICS_TOKEN = "gd-metrics-read-only-token-for-tests"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


fake = fake_ollama(nomic_embed_text())
recorder = metrics_recorder()
gateway = embedded_gateway(
    Mapping(name="gone", model=QWEN, backends=["down"]),
    Mapping(name="flaky", model=QWEN, backends=["down"], fallbacks=["gpt-4o"]),
    down=True,
    metrics=True,
    metrics_key=METRICS_TOKEN,
)


def set_direct(gateway: Gateway, on: bool) -> None:
    config = gateway.config
    gateway.apply_blocking(
        config.model_copy(update={"gateway": config.gateway.model_copy(update={"direct_path": on})})
    )


def scrape(gateway: Gateway) -> Samples:
    reply = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return parsed(reply.text)


def parsed(text: str) -> Samples:
    """Every sample of a scrape, parsed by ``prometheus_client``'s own parser."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and want <= have)


def test_metrics_add_up_to_the_requests_sent_both_ways(
    gateway: Gateway, fake: FakeOllama, recorder: MetricsRecorder
) -> None:
    seen = Collector(recorder)
    before = scrape(gateway)
    oa = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)
    an = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
    sent: dict[str, int] = {"fastpath": 0, "litellm": 0}
    tokens = {"prompt": 0, "completion": 0}
    try:
        for route in ("fastpath", "litellm"):
            set_direct(gateway, route == "fastpath")
            for _ in range(2):
                reply = oa.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                )
                assert reply.usage is not None
                tokens["prompt"] += reply.usage.prompt_tokens
                tokens["completion"] += reply.usage.completion_tokens
            message = an.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=64,
                messages=[{"role": "user", "content": "hello there"}],
            )
            tokens["prompt"] += message.usage.input_tokens
            tokens["completion"] += message.usage.output_tokens
            with pytest.raises(openai.APIError):  # its only backend is down
                oa.chat.completions.create(model="gone", messages=[{"role": "user", "content": "hi"}])
            sent[route] += 4
    finally:
        set_direct(gateway, True)
    records = seen.wait(8)
    seen.remove()
    after = scrape(gateway)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    for route, count in sent.items():
        assert grew("gatedeck_requests_total", route=route) == count
        assert grew("gatedeck_requests_total", route=route, mapping="gpt-4o", status="200") == 2
        assert grew("gatedeck_requests_total", route=route, mapping="claude-*sonnet*", status="200") == 1
        failed = grew("gatedeck_requests_total", route=route, mapping="gone")
        assert failed == 1 and grew("gatedeck_requests_total", route=route, mapping="gone", status="200") == 0
        assert grew("gatedeck_request_seconds_count", route=route) == count
        assert grew("gatedeck_ttft_seconds_count", route=route) == 3  # the answered ones
    assert grew("gatedeck_requests_total", model=QWEN, backend="local") == 6
    assert grew("gatedeck_prompt_tokens_total") == tokens["prompt"] > 0
    assert grew("gatedeck_completion_tokens_total") == tokens["completion"] > 0
    latency = sum(r.latency_s for r in records)
    assert grew("gatedeck_request_seconds_sum") == pytest.approx(latency, rel=1e-6, abs=1e-9)
    ttft = sum(r.ttft_s or 0.0 for r in records if r.ok)
    assert grew("gatedeck_ttft_seconds_sum") == pytest.approx(ttft, rel=1e-6, abs=1e-9)
    speeds = [r.tokens_per_s for r in records if r.tokens_per_s is not None]
    assert grew("gatedeck_tokens_per_second_count") == len(speeds) > 0
    assert grew("gatedeck_tokens_per_second_sum") == pytest.approx(sum(speeds), rel=1e-6)
    saved = sum(r.cloud_cost or 0.0 for r in records)
    assert grew("gatedeck_cloud_cost_saved_usd_total") == pytest.approx(saved, rel=1e-6, abs=1e-12)


def test_fallbacks_refused_overflows_and_reloads_are_counted_as_they_happen(
    gateway: Gateway, recorder: MetricsRecorder
) -> None:
    seen = Collector(recorder)
    before = scrape(gateway)
    oa = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)
    an = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
    oa.chat.completions.create(model="flaky", messages=[{"role": "user", "content": "hi"}])
    assert len(oa.embeddings.create(model="nomic-embed-text:latest", input=["a", "b"]).data) == 2
    oa.chat.completions.create(  # logprobs: the fast path passes it on to LiteLLM, and says why
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], logprobs=True
    )
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):  # 32k context
        an.messages.create(
            model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "word " * 40_000}]
        )
    records = seen.wait(2)
    seen.remove()
    after = scrape(gateway)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("gatedeck_fallbacks_total", mapping="flaky", fallback="gpt-4o") == 1
    assert grew("gatedeck_refused_overflows_total", mapping="claude-*sonnet*", route="fastpath") == 1
    assert grew("gatedeck_requests_total", mapping="claude-*sonnet*", status="400") == 1
    reloads = sum(1 for r in records if r.load_s is not None and r.load_s >= 0.5)
    assert grew("gatedeck_model_reloads_total") == reloads
    loading = sum(r.load_s or 0.0 for r in records)
    assert grew("gatedeck_model_load_seconds_total") == pytest.approx(loading, rel=1e-6, abs=1e-9)


def test_metrics_need_the_gateway_key(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    assert httpx.post(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 404


def test_the_read_only_metrics_token_opens_metrics_and_nothing_else(
    gateway: Gateway, fake: FakeOllama
) -> None:
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    scraped = httpx.get(f"{gateway.url}/metrics", headers=bearer, timeout=10)
    assert scraped.status_code == 200
    assert "gatedeck_requests_total" in {
        f.name + "_total" for f in text_string_to_metric_families(scraped.text)
    }
    assert httpx.head(f"{gateway.url}/metrics", headers=bearer, timeout=10).status_code == 200
    fake.clear_requests()
    oa = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=METRICS_TOKEN, max_retries=0, timeout=30)
    with pytest.raises(openai.PermissionDeniedError, match="read-only metrics token"):
        oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.PermissionDeniedError):
        oa.models.list()
    with pytest.raises(openai.PermissionDeniedError):
        oa.embeddings.create(model="gpt-4o", input="hi")
    an = anthropic.Anthropic(base_url=gateway.url, api_key=METRICS_TOKEN, max_retries=0, timeout=30)
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        an.messages.create(
            model="claude-sonnet-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.body == {
        "type": "error",
        "error": {"type": "permission_error", "message": refused.value.body["error"]["message"]},  # type: ignore[index]
    }
    served = [("GET", "/models"), ("GET", "/health/readiness"), ("POST", "/v1/responses")]
    served += [("POST", "/v1/messages/count_tokens"), ("POST", "/chat/completions")]
    for method, path in served:
        answer = httpx.request(method, f"{gateway.url}{path}", headers=bearer, json={}, timeout=10)
        assert answer.status_code == 403, (method, path, answer.status_code)
    assert fake.bodies("/api/chat") == [] and fake.bodies("/api/embed") == []
    # the gateway key still scrapes; a wrong token is still a 401
    assert scrape(gateway)
    wrong = httpx.get(
        f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"}, timeout=10
    )
    assert wrong.status_code == 401


def record(**fields: object) -> RequestRecord:
    values: dict[str, object] = {
        "at": 0.0,
        "dialect": "openai",
        "requested": "gpt-4o",
        "mapping": "gpt-4o",
        "model": "",
    }
    values.update(fields)
    return RequestRecord(**values)  # type: ignore[arg-type]


def counted(metrics: PrometheusMetrics) -> Samples:
    return parsed(metrics.render().decode())


def test_gatedecks_own_events_are_counted() -> None:
    metrics = PrometheusMetrics()
    metrics.observe(record(model=QWEN, route="fastpath", fallback="claude-*haiku*"))
    metrics.observe(record(model=QWEN, route="fastpath", repaired="tool_call_tag", load_s=3.0))
    metrics.observe(record(model=QWEN, route="fastpath", load_s=0.1, unenforced="a tool call was required"))
    metrics.observe(record(model=QWEN, route="fastpath", cloud_cost=0.5))
    metrics.observe(record(model="claude-sonnet-4-5", route="litellm", cloud_cost=None))
    metrics.observe(record(dialect="embeddings", model="nomic-embed-text", route="fastpath", inputs=16))
    metrics.observe(record(dialect="embeddings", route="fastpath", inputs=4, ok=False, status=502))
    overflow = record(ok=False, status=400, error="prompt is too long: 9000 tokens > 8000 maximum")
    assert is_refused_overflow(overflow)
    metrics.observe(overflow)
    metrics.observe(record(ok=False, status=400, error="This model's maximum context length is 4096 tokens"))
    metrics.observe(record(ok=False, status=400, error="messages: field required"))
    samples = counted(metrics)
    assert total(samples, "gatedeck_fallbacks_total", fallback="claude-*haiku*", mapping="gpt-4o") == 1
    assert total(samples, "gatedeck_repaired_tool_calls_total", shape="tool_call_tag") == 1
    assert total(samples, "gatedeck_model_reloads_total") == 1  # 3 s counts, 0.1 s does not
    assert total(samples, "gatedeck_model_load_seconds_total") == pytest.approx(3.1)
    assert total(samples, "gatedeck_unenforced_tool_choice_total") == 1
    assert total(samples, "gatedeck_cloud_cost_saved_usd_total") == 0.5
    assert total(samples, "gatedeck_refused_overflows_total") == 2
    assert total(samples, "gatedeck_requests_total", status="400") == 3
    assert total(samples, "gatedeck_embedded_inputs_total") == 16  # texts of answered requests
    assert total(samples, "gatedeck_embedded_inputs_total", model="nomic-embed-text") == 16


def test_label_values_stay_few_whatever_clients_ask_for() -> None:
    known = {"gpt-4o"}
    metrics = PrometheusMetrics(group_of=lambda name: name if name in known else None, max_values=3)
    for i in range(50):
        metrics.observe(record(requested=f"made-up-{i}", mapping=f"made-up-{i}", model=f"m{i}", backend="b"))
    metrics.observe(record(model="m0"))
    samples = counted(metrics)
    mappings = {dict(labels)["mapping"] for name, labels in samples if name == "gatedeck_requests_total"}
    models = {dict(labels)["model"] for name, labels in samples if name == "gatedeck_requests_total"}
    assert mappings == {"unmapped", "gpt-4o"}
    assert models == {"m0", "m1", "m2", "other"}
    assert total(samples, "gatedeck_requests_total") == 51


def test_every_series_the_grafana_dashboard_asks_for_is_one_a_real_scrape_has(
    gateway: Gateway, fake: FakeOllama
) -> None:
    dashboard = json.loads((REPO / "packaging" / "grafana" / "gatedeck-dashboard.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    asked = {name for query in queries for name in re.findall(r"gatedeck_\w+", query)}
    oa = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)
    an = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
    # a mix that makes every one of GateDeck's events happen once: the model loaded afresh, a
    # required tool call it writes as text, a streamed answer, a fallback, a refused overflow
    httpx.post(f"{fake.url}/api/generate", json={"model": QWEN, "keep_alive": 0}, timeout=10)
    fake.set_reply(QWEN, "It is sunny.", tool_calls=PARIS_CALL, written="tool_call_tag")
    try:
        called = oa.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
            tool_choice="required",
        )
    finally:
        fake.set_reply(QWEN, f"Hello from {QWEN}.")  # what it answers by default
    assert called.choices[0].message.tool_calls
    streamed = oa.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "a few words"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    oa.chat.completions.create(model="flaky", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        an.messages.create(
            model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "word " * 40_000}]
        )
    exported = {name for name, _ in scrape(gateway)}
    assert asked and asked <= exported, asked - exported
    labels = {label for query in queries for label in re.findall(r"by \(([^)]*)\)", query)}
    assert {"mapping", "route", "status", "model", "backend", "le"} >= {
        x.strip() for group in labels for x in group.split(",")
    }
