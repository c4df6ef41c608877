"""GateDeck's own tool-call probe is not the person's usage: run through the real gateway on the
fake Ollama, its requests are logged and marked, and savings, ``gatedeck stats``, alerts and
``/metrics`` leave them out, while an ordinary request sent alongside is counted as before."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.cli import main as cli
from core.cli import stats as cli_stats
from core.clients.tool_probe import probe_tool_calls
from core.gateway.service import Gateway
from core.metrics.alerts import AlertPolicy
from core.metrics.recorder import PROBE_HEADER, MetricsRecorder, RequestRecord
from core.metrics.request_log import RequestLog, read_log
from core.metrics.savings import dollars, saved, summarize_savings
from core.metrics.stats import summarize
from tests.core.gateway_fixtures import CLOUD_NAME, SDK_WARNINGS, embedded_gateway, fake_cloud, fake_ollama
from tests.core.gateway_support import KEY
from tests.core.metrics_support import Collector
from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(300), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
SONNET = "claude-sonnet-4-5-20250929"  # priced in the cloud: a request for it saves something

fake = fake_ollama()
cloud = fake_cloud()
gateway = embedded_gateway(metrics=True, cloud=True)


@pytest.fixture(scope="module", name="recorder")
def recorder_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricsRecorder]:
    """The gateway's recorder, writing the request log `gatedeck stats` reads (data/logs)."""
    data = tmp_path_factory.mktemp("data")
    recorder = MetricsRecorder(RequestLog(data / "logs"))
    yield recorder
    recorder.close()


def scrape(gateway: Gateway) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    reply = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> float:
    return sum(value for (sample, _), value in samples.items() if sample == name)


async def test_the_probe_is_logged_and_marked_but_left_out_of_what_the_person_used(
    gateway: Gateway,
    fake: FakeOllama,
    recorder: MetricsRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = Collector(recorder)
    before = scrape(gateway)
    fake.set_replier(QWEN, probe_model("calls"))
    try:
        result = await probe_tool_calls(gateway.url, KEY, SONNET, runs=1, records=recorder)
        assert result.passed, result.verdict
        probed = seen.wait(3)
        # the probe's header also marks what LiteLLM answers (a cloud model here)
        marked = openai.OpenAI(
            base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, default_headers={PROBE_HEADER: "1"}
        )
        marked.chat.completions.create(model=CLOUD_NAME, messages=[{"role": "user", "content": "hi"}])
        seen.wait(4)
        fake.set_reply(QWEN, "Hello from the person's own request.")
        mine = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
        mine.messages.create(model=SONNET, max_tokens=64, messages=[{"role": "user", "content": "hello"}])
        records = seen.wait(5)
    finally:
        seen.remove()
        fake.set_reply(QWEN, f"Hello from {QWEN}.")

    probe, person = records[:4], records[4]
    assert [r.probe for r in records] == [True, True, True, True, False]
    assert [r.route for r in probe] == ["fastpath"] * 3 + ["litellm"]
    assert all(r.requested == SONNET and r.ok for r in probed)
    assert all(r.cloud_cost for r in probed) and person.cloud_cost, "every local one priced"

    # savings: only the person's request
    assert saved(records) == pytest.approx(person.cloud_cost)
    week = summarize_savings(records, person.at)
    assert week.today == pytest.approx(person.cloud_cost) and week.week == pytest.approx(person.cloud_cost)
    stats = {s.mapping: s for s in summarize(records)}
    assert stats["claude-*sonnet*"].requests == 1 and CLOUD_NAME not in stats

    # the request log keeps every request, marked, and old lines without the mark still read
    log = recorder.request_log
    assert log is not None
    lines = list(read_log(log.folder))
    assert [line["probe"] for line in lines] == [True, True, True, True, False]
    old = {k: v for k, v in lines[0].items() if k != "probe"}
    assert RequestRecord.from_json(old).probe is False

    # gatedeck stats reads that log: one request, the probe's left out and said so
    monkeypatch.setenv("GATEDECK_DATA_DIR", str(log.folder.parent))
    out = io.StringIO()
    assert cli_stats.cmd_stats(cli.build_parser().parse_args(["stats"]), out) == 0
    text = out.getvalue()
    assert text.startswith("1 requests from "), text
    assert "4 probe requests left out" in text
    assert f"{dollars(person.cloud_cost)} today" in text
    row = next(line for line in text.splitlines() if line.startswith("claude-*sonnet*")).split()
    assert row[1] == "1", text
    out = io.StringIO()
    assert cli_stats.cmd_stats(cli.build_parser().parse_args(["stats", "--json"]), out) == 0
    assert [(s["mapping"], s["requests"]) for s in json.loads(out.getvalue())] == [("claude-*sonnet*", 1)]

    # /metrics: the person's request in every series, the probe's only in its own counter
    after = scrape(gateway)
    assert total(after, "gatedeck_requests_total") - total(before, "gatedeck_requests_total") == 1
    assert total(after, "gatedeck_probe_requests_total") - total(before, "gatedeck_probe_requests_total") == 4
    saved_now = total(after, "gatedeck_cloud_cost_saved_usd_total") - total(
        before, "gatedeck_cloud_cost_saved_usd_total"
    )
    assert saved_now == pytest.approx(person.cloud_cost)


def test_a_slow_or_overflowing_probe_raises_no_alert() -> None:
    policy = AlertPolicy({"claude-*sonnet*": 1.0})
    slow = RequestRecord(
        at=0.0,
        dialect="anthropic",
        requested=SONNET,
        mapping="claude-*sonnet*",
        model=QWEN,
        latency_s=30.0,
        prompt_tokens=8000,
        num_ctx=8192,
        likely_truncated=True,
    )
    assert {a.kind for a in policy.check(slow)} >= {"latency"}, "the person's slow request alerts"
    probe = RequestRecord(**{**slow.to_json(), "probe": True})
    assert AlertPolicy({"claude-*sonnet*": 1.0}).check(probe) == []


def test_a_log_line_with_a_mark_that_is_not_true_or_false_is_refused() -> None:
    line = RequestRecord(at=1.0, dialect="openai", requested="m", mapping="m", model="x").to_json()
    with pytest.raises(ValueError, match="probe"):
        RequestRecord.from_json({**line, "probe": "yes"})
