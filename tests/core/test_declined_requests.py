"""Requests for Ollama mappings that the fast path does not translate: LiteLLM answers them, and
the request log, ``gatedeck stats`` and ``/metrics`` say why the fast path passed them on.

Sent with the official ``openai`` SDK through the real gateway to the fake Ollama; a request the
fast path answers itself carries no such reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from core.cli.main import main
from core.fastpath.route import declined_reason
from core.fastpath.wire import Unsupported
from core.gateway.service import Gateway
from core.metrics.recorder import DECLINED_MAX, MetricsRecorder, RequestRecord, decline_kind
from core.metrics.request_log import RequestLog
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_cloud, fake_ollama
from tests.core.gateway_support import KEY
from tests.core.metrics_support import Collector
from tests.core.test_prometheus_metrics import Samples, parsed, total
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
DECLINED = "gatedeck_fastpath_declined_total"


fake = fake_ollama()
cloud = fake_cloud()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gatedeck-data")


@pytest.fixture(scope="module")
def recorder(data_dir: Path) -> Iterator[MetricsRecorder]:
    recorder = MetricsRecorder(RequestLog(data_dir / "logs"))  # the gateway's request log
    yield recorder
    recorder.close()


gateway = embedded_gateway(cloud=True, metrics=True)


def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def scrape(gateway: Gateway) -> Samples:
    reply = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    return parsed(reply.text)


def test_requests_the_fast_path_passes_on_say_why_in_the_log_stats_and_metrics(
    gateway: Gateway,
    recorder: MetricsRecorder,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="core.fastpath.route")
    seen = Collector(recorder)
    before = scrape(gateway)
    oa = client(gateway)
    hi = [{"role": "user", "content": "hi"}]
    # log probabilities: Ollama's chat does not give them the way the API asks
    with_logprobs = oa.chat.completions.with_raw_response.create(model="gpt-4o", messages=hi, logprobs=True)  # type: ignore[arg-type]
    assert with_logprobs.headers.get("x-gatedeck-path") is None, "LiteLLM answered"
    assert with_logprobs.parse().choices[0].message.content
    # answered by the fast path
    plain = oa.chat.completions.with_raw_response.create(model="gpt-4o", messages=hi)  # type: ignore[arg-type]
    assert plain.headers.get("x-gatedeck-path") == "direct"
    # a Responses input item the fast path does not know
    reference = oa.responses.with_raw_response.create(
        model="claude-haiku-4-5",
        input=[
            {"role": "user", "content": "hi"},
            {"type": "item_reference", "id": "msg_earlier"},
        ],
    )
    assert reference.headers.get("x-gatedeck-path") is None, "LiteLLM answered"
    assert reference.parse().output_text
    records = seen.wait(3)
    seen.remove()
    by_requested = {(r.requested, r.route): r for r in records}
    assert len(by_requested) == 3, records
    declined = by_requested[("gpt-4o", "litellm")]
    assert declined.ok and declined.declined == "fields ['logprobs']"
    assert by_requested[("gpt-4o", "fastpath")].declined == ""
    item = by_requested[("claude-haiku-4-5", "litellm")]
    assert item.declined == "input item 'item_reference'" and item.mapping == "claude-*haiku*"

    (logged,) = [
        r for r in caplog.records if r.name == "core.fastpath.route" and "logprobs" in r.getMessage()
    ]
    assert logged.levelno == logging.DEBUG and logged.exc_info is not None, "with the traceback"

    after = scrape(gateway)

    def grew(**labels: str) -> float:
        return total(after, DECLINED, **labels) - total(before, DECLINED, **labels)

    assert grew() == 2
    assert grew(mapping="gpt-4o", reason="fields", route="litellm") == 1
    assert grew(mapping="claude-*haiku*", reason="input item", route="litellm") == 1

    monkeypatch.setenv("GATEDECK_DATA_DIR", str(data_dir))  # `gatedeck stats` reads the gateway's log
    assert main(["stats"]) == 0
    printed = capsys.readouterr().out
    assert (
        "gpt-4o: 1 request passed to LiteLLM by the fast path; top reasons: fields ['logprobs'] (1)"
        in printed
    )
    assert (
        "claude-*haiku*: 1 request passed to LiteLLM by the fast path; top reasons: input item 'item_reference' (1)"
        in printed
    )
    assert main(["stats", "--json"]) == 0
    rows = {row["mapping"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["gpt-4o"]["declined"] == 1 and rows["gpt-4o"]["requests"] == 2


def test_a_cloud_models_request_has_no_reason_to_give(gateway: Gateway, recorder: MetricsRecorder) -> None:
    """Not an Ollama mapping's request: LiteLLM's own to answer, whatever it asks."""
    seen = Collector(recorder)
    before = total(scrape(gateway), DECLINED)
    reply = client(gateway).chat.completions.create(
        model="cloud-mini",
        messages=[{"role": "user", "content": "hi"}],
        logprobs=True,  # what the fast path would not translate for an Ollama mapping
    )
    assert reply.choices[0].message.content == "Hello from the cloud."
    (record,) = seen.wait(1)
    seen.remove()
    assert (record.route, record.mapping, record.declined) == ("litellm", "cloud-mini", "")
    assert total(scrape(gateway), DECLINED) == before


def test_the_reason_is_one_short_line_and_its_kind_is_one_of_a_few() -> None:
    assert declined_reason(Unsupported("input item 'additional_tools'")) == "input item 'additional_tools'"
    assert declined_reason(KeyError("content")) == "error: KeyError: 'content'"
    reason = declined_reason(ValueError("not a number:\n  " + "x" * 500))
    assert reason.startswith("error: ValueError: not a number: xxx") and len(reason) == DECLINED_MAX
    kinds = {
        decline_kind(declined_reason(problem))
        for problem in (
            Unsupported("input item 'additional_tools'"),
            Unsupported("input item 'whatever a client sends'"),
            Unsupported('input item "it\'s quoted"'),
            Unsupported("fields ['logprobs', 'n']"),
            Unsupported("image URL to fetch"),
            Unsupported("tool None"),
            Unsupported("tool 5"),
            Unsupported("tool {'a': 1}"),
            TypeError("unhashable type: 'dict'"),
            AttributeError("'str' object has no attribute 'get'"),
        )
    }
    assert kinds == {"input item", "fields", "image URL to fetch", "tool", "error"}
    assert decline_kind("") == ""


def test_a_declined_request_read_back_from_the_log_keeps_its_reason() -> None:
    record = RequestRecord(
        at=1.0, dialect="responses", requested="m", mapping="m", model="x", declined="tool 'web'"
    )
    assert RequestRecord.from_json(record.to_json()).declined == "tool 'web'"
    older = {k: v for k, v in record.to_json().items() if k != "declined"}  # logged before GateDeck said
    assert RequestRecord.from_json(older).declined == ""


def test_a_passed_on_request_that_fails_in_litellm_too_still_says_why(
    gateway: Gateway, recorder: MetricsRecorder, fake: FakeOllama
) -> None:
    seen = Collector(recorder)
    fake.fail("/api/chat", status=400, error="option num_ctx must be of type integer")
    try:
        with pytest.raises(openai.BadRequestError):
            client(gateway).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], logprobs=True
            )
    finally:
        fake.clear_faults()
    (record,) = seen.wait(1)
    seen.remove()
    assert (record.ok, record.status, record.route) == (False, 400, "litellm")
    assert record.declined == "fields ['logprobs']" and "num_ctx" in record.error
