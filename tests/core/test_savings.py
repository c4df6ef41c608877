"""What running locally saved: each request priced at the cloud model the client asked for, by
LiteLLM's bundled price map, in the record, the request log and ``gatedeck stats``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.cli import main as cli
from core.gateway import litellm_seam
from core.metrics.recorder import MetricsRecorder, RequestRecord
from core.metrics.request_log import RequestLog, read_log
from core.metrics.savings import PriceBook, day_start, summarize_savings, week_start
from core.paths import AppPaths


@pytest.fixture(scope="module")
def price_map() -> dict[str, Any]:
    """LiteLLM's bundled (offline) price map, loaded as the gateway loads it."""
    litellm_seam.offline_environment()
    import litellm

    return dict(litellm.model_cost)


def rec(requested: str, model: str = "qwen2.5-coder:7b", **changes: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "at": time.time(),
        "dialect": "anthropic",
        "requested": requested,
        "mapping": requested,
        "model": model,
        "latency_s": 1.0,
        "prompt_tokens": 20_000,
        "completion_tokens": 1_500,
    }
    values.update(changes)
    return RequestRecord(**values)


@pytest.mark.parametrize("name", ["claude-sonnet-4-5", "gpt-4o"])
def test_a_local_answer_is_priced_at_the_requested_cloud_models_price(
    price_map: dict[str, Any], name: str
) -> None:
    entry = price_map[name]
    expected = 20_000 * entry["input_cost_per_token"] + 1_500 * entry["output_cost_per_token"]
    record = MetricsRecorder().record(rec(name))
    assert record.cloud_cost == pytest.approx(expected)
    assert expected > 0.01  # a Claude Code sized prompt is worth cents, not nothing


def test_the_figures_match_the_published_prices(price_map: dict[str, Any]) -> None:
    # litellm 1.106.2's map: Sonnet 4.5 $3 / $15 and GPT-4o $2.50 / $10 per million tokens
    sonnet = MetricsRecorder().record(rec("claude-sonnet-4-5", prompt_tokens=1_000_000, completion_tokens=0))
    gpt = MetricsRecorder().record(rec("gpt-4o", prompt_tokens=0, completion_tokens=1_000_000))
    assert sonnet.cloud_cost == pytest.approx(3.0) and gpt.cloud_cost == pytest.approx(10.0)


def test_dated_and_provider_prefixed_names_are_priced_too(price_map: dict[str, Any]) -> None:
    dated = MetricsRecorder().record(rec("claude-sonnet-4-5-20250929"))
    prefixed = MetricsRecorder().record(rec("anthropic/claude-sonnet-4-5"))
    plain = MetricsRecorder().record(rec("claude-sonnet-4-5"))
    assert dated.cloud_cost == prefixed.cloud_cost == plain.cloud_cost is not None


def test_local_names_and_cloud_answers_save_nothing(price_map: dict[str, Any]) -> None:
    recorder = MetricsRecorder()
    assert recorder.record(rec("qwen3:8b", model="qwen3:8b")).cloud_cost is None
    assert recorder.record(rec("my-coder")).cloud_cost is None
    # a mapping that sends the request on to the cloud model saved nothing
    assert recorder.record(rec("claude-sonnet-4-5", model="anthropic/claude-sonnet-4-5")).cloud_cost is None
    assert recorder.record(rec("gpt-4o", model="gpt-4o")).cloud_cost is None
    # a failed request reports no tokens, and costs nothing
    failed = rec("gpt-4o", ok=False, status=500, prompt_tokens=None, completion_tokens=None)
    assert recorder.record(failed).cloud_cost is None


def test_each_name_is_looked_up_once(price_map: dict[str, Any]) -> None:
    asked: list[str] = []

    def lookup(name: str) -> litellm_seam.TokenPrices | None:
        asked.append(name)
        return litellm_seam.prices(name)

    recorder = MetricsRecorder(prices=PriceBook(lookup))
    for _ in range(50):
        recorder.record(rec("gpt-4o"))
    assert sorted(asked) == ["gpt-4o", "qwen2.5-coder:7b"]


def test_the_cost_is_written_to_the_request_log_and_read_back(price_map: dict[str, Any]) -> None:
    folder = AppPaths.from_env().log_dir
    recorder = MetricsRecorder(RequestLog(folder))
    written = recorder.record(rec("claude-sonnet-4-5"))
    recorder.record(rec("qwen3:8b"))
    recorder.close()
    back = [RequestRecord.from_json(item) for item in read_log(folder)]
    assert [r.cloud_cost for r in back] == [written.cloud_cost, None]
    assert written.cloud_cost is not None
    with pytest.raises(ValueError, match="cloud_cost"):
        RequestRecord.from_json({**written.to_json(), "cloud_cost": "a lot"})


def test_today_this_week_and_per_mapping_add_up() -> None:
    now = time.time()
    today, monday = day_start(now), week_start(now)
    records = [
        rec("a", cloud_cost=1.0, at=now),
        rec("a", cloud_cost=2.0, at=today - 1, mapping="b"),  # earlier this week, or last week
        rec("a", cloud_cost=4.0, at=monday - 1),  # last week
        rec("a", cloud_cost=8.0, at=now, ok=False),  # not answered
    ]
    summary = summarize_savings(records, now)
    assert summary.today == 1.0
    assert summary.week == (3.0 if today > monday else 1.0)
    assert summary.by_mapping == {"a": 5.0, "b": 2.0}


def test_gatedeck_stats_prints_what_was_saved(capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    log = RequestLog(AppPaths.from_env().log_dir)
    for record in (
        rec("claude-sonnet-4-5", cloud_cost=0.25, at=now),
        rec("claude-sonnet-4-5", cloud_cost=0.5, at=now),
        rec("qwen3:8b", at=now),
        rec("claude-sonnet-4-5", cloud_cost=100.0, at=week_start(now) - 60),  # last week
    ):
        log.append(record.to_json())
    log.close()
    assert cli.main(["stats", "--since", "1h"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("$0.75 today, $0.75 this week" in line for line in lines), lines
    header = next(line for line in lines if line.startswith("MAPPING"))
    assert header.split()[-1] == "SAVED"
    assert next(line for line in lines if line.startswith("claude-sonnet-4-5")).split()[-1] == "$0.75"
    assert next(line for line in lines if line.startswith("qwen3:8b")).split()[-1] == "-"
