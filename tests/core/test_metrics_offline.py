"""The request log, percentiles, ``gatedeck stats`` and alerts, without a gateway."""

from __future__ import annotations

import asyncio
import io
import json
import math
from pathlib import Path

import pytest

from core.cli import main as cli
from core.cli import stats as cli_stats
from core.metrics.alerts import AlertPolicy, ContextGuard, load_thresholds, save_thresholds, unreachable
from core.metrics.recorder import MetricsRecorder, RequestRecord, likely_truncated
from core.metrics.request_log import LOG_FILE, RequestLog, log_files, read_log
from core.metrics.stats import percentile, summarize
from core.paths import AppPaths


def rec(mapping: str = "gpt-4o", **changes: object) -> RequestRecord:
    values: dict[str, object] = {
        "at": 1_700_000_000.0,
        "dialect": "openai",
        "requested": mapping,
        "mapping": mapping,
        "model": "qwen2.5-coder:7b",
        "backend": "local",
        "ttft_s": 0.1,
        "latency_s": 1.0,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "tokens_per_s": 40.0,
    }
    values.update(changes)
    return RequestRecord(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- recorder
def test_the_ring_buffer_keeps_the_newest_records_and_numbers_them() -> None:
    recorder = MetricsRecorder(capacity=3)
    for i in range(5):
        recorder.record(rec(requested=f"r{i}"))
    kept = recorder.records()
    assert [r.requested for r in kept] == ["r2", "r3", "r4"]
    assert [r.seq for r in kept] == [3, 4, 5]
    assert [r.requested for r in recorder.records(since_seq=4)] == ["r4"]


async def test_listeners_with_a_loop_hear_records_on_that_loop() -> None:
    recorder = MetricsRecorder()
    loop = asyncio.get_running_loop()
    heard: asyncio.Queue[RequestRecord] = asyncio.Queue()
    remove = recorder.add_listener(heard.put_nowait, loop)
    await asyncio.to_thread(recorder.record, rec())  # from another thread, as the gateway does
    got = await asyncio.wait_for(heard.get(), 10)
    assert got.seq == 1
    remove()
    recorder.record(rec())
    await asyncio.sleep(0)  # let a wrongly delivered call run (there must be none)
    assert heard.empty()


def test_a_broken_listener_does_not_stop_the_others() -> None:
    recorder = MetricsRecorder()
    heard: list[RequestRecord] = []
    recorder.add_listener(lambda r: 1 / 0)  # type: ignore[func-returns-value]
    recorder.add_listener(heard.append)
    recorder.record(rec())
    assert len(heard) == 1


def test_likely_truncated_starts_at_90_percent() -> None:
    threshold = math.ceil(0.9 * 4096)
    assert not likely_truncated(threshold - 1, 4096)
    assert likely_truncated(threshold, 4096)
    assert not likely_truncated(5000, None), "no num_ctx known: no guess"


# ---------------------------------------------------------------------- request log
def test_the_request_log_rotates_by_size_and_reads_back_oldest_first(tmp_path: Path) -> None:
    log = RequestLog(tmp_path, max_bytes=1000, backups=2)
    for i in range(20):
        log.append(rec(requested=f"r{i}").to_json())
    log.close()
    files = log_files(tmp_path)
    assert [p.name for p in files] == [f"{LOG_FILE}.2", f"{LOG_FILE}.1", LOG_FILE]
    assert all(p.stat().st_size <= 1000 for p in files)
    names = [item["requested"] for item in read_log(tmp_path)]
    assert names == sorted(names, key=lambda n: int(n[1:])), "oldest first across rotated files"
    assert names[-1] == "r19" and "r0" not in names, "the oldest fall off after two backups"


def test_reading_skips_a_torn_last_line_and_filters_by_time(tmp_path: Path) -> None:
    log = RequestLog(tmp_path)
    log.append(rec(at=100.0).to_json())
    log.append(rec(at=200.0).to_json())
    log.close()
    with open(tmp_path / LOG_FILE, "a") as handle:
        handle.write('{"at": 300.0, "dialect": "op')  # a crash mid-write
    assert [i["at"] for i in read_log(tmp_path)] == [100.0, 200.0]
    assert [i["at"] for i in read_log(tmp_path, since=150.0)] == [200.0]


def test_a_log_that_cannot_be_written_is_disabled_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    log = RequestLog(blocker / "logs")
    log.append(rec().to_json())  # must not raise
    assert not (blocker / "logs").exists()


def test_from_json_refuses_a_line_without_numbers() -> None:
    with pytest.raises(ValueError):
        RequestRecord.from_json({**rec().to_json(), "latency_s": "slow"})
    assert RequestRecord.from_json({**rec().to_json(), "added_later": 1}) == rec()


# ---------------------------------------------------------------------- stats
def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)


def test_summarize_groups_by_mapping_and_times_only_successes() -> None:
    records = [rec(latency_s=float(i), ttft_s=i / 10) for i in range(1, 11)]
    records += [
        rec(ok=False, status=500, latency_s=99.0, ttft_s=None),
        rec(fallback="gpt-4o", mapping="flaky"),
    ]
    records += [rec(mapping="claude-*sonnet*", likely_truncated=True)]
    stats = {s.mapping: s for s in summarize(records)}
    gpt = stats["gpt-4o"]
    assert (gpt.requests, gpt.errors, gpt.fallbacks) == (11, 1, 0)
    assert gpt.latency_s.p50 == pytest.approx(5.5) and gpt.latency_s.p95 == pytest.approx(9.55)
    assert gpt.ttft_s.p50 == pytest.approx(0.55)
    assert stats["flaky"].fallbacks == 1 and stats["claude-*sonnet*"].truncated == 1
    assert [s.mapping for s in summarize(records)][0] == "gpt-4o", "busiest first"


# ---------------------------------------------------------------------- gatedeck stats
def write_log(records: list[RequestRecord]) -> Path:
    folder = AppPaths.from_env().log_dir
    log = RequestLog(folder)
    for record in records:
        log.append(record.to_json())
    log.close()
    return folder


def test_gatedeck_stats_prints_p50_p95_per_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    import time

    now = time.time()
    write_log(
        [rec(at=now, latency_s=0.2 * i, ttft_s=0.05 * i, tokens_per_s=10.0 * i) for i in range(1, 21)]
        + [rec("claude-*sonnet*", at=now, ok=False, status=500, latency_s=0.1, ttft_s=None)]
        + [rec("old", at=now - 7200)]
    )
    assert cli.main(["stats"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("MAPPING"))
    assert "TTFT p50" in header and "LATENCY p95" in header and "TOK/S p95" in header
    gpt = next(line for line in lines if line.startswith("gpt-4o")).split()
    # 20 requests, 0 errors, 0 fallbacks, 0 truncated, TTFT p50 525 ms, p95 953 ms, latency 2.10 s / 3.81 s
    assert gpt[1:5] == ["20", "0", "0", "0"]
    assert gpt[5:9] == ["525", "ms", "953", "ms"]
    assert gpt[9:13] == ["2.10", "s", "3.81", "s"]
    assert gpt[13:] == ["105.0", "190.5", "-"]
    sonnet = next(line for line in lines if line.startswith("claude-*sonnet*")).split()
    assert sonnet[1:3] == ["1", "1"] and sonnet[-2:] == ["-", "-"]

    assert cli.main(["stats", "--since", "1h", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["mapping"] for d in data} == {"gpt-4o", "claude-*sonnet*"}, "--since leaves the old one out"


def test_gatedeck_stats_without_a_log_says_where_it_looks() -> None:
    out = io.StringIO()
    args = cli.build_parser().parse_args(["stats", "--mapping", "gpt-4o"])
    assert cli_stats.cmd_stats(args, out) == 0
    assert "No requests matching those filters" in out.getvalue()
    assert str(AppPaths.from_env().log_dir / LOG_FILE) in out.getvalue()


def test_stats_durations_parse_and_bad_ones_are_refused() -> None:
    assert cli_stats.parse_duration("90s") == 90 and cli_stats.parse_duration("1.5h") == 5400
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["stats", "--since", "yesterday"])


# ---------------------------------------------------------------------- alerts
def test_context_guard_warns_once_per_mapping_and_again_after_a_context_change() -> None:
    guard = ContextGuard()
    assert guard.check(rec(prompt_tokens=3686, num_ctx=4096, likely_truncated=False)) is None
    first = guard.check(rec(prompt_tokens=3687, num_ctx=4096, likely_truncated=True))
    assert first is not None and first.key == "gpt-4o" and first.action == "raise_context"
    assert guard.check(rec(prompt_tokens=4096, num_ctx=4096, likely_truncated=True)) is None
    assert guard.check(rec("other", prompt_tokens=4096, num_ctx=4096, likely_truncated=True)) is not None
    assert guard.check(rec(prompt_tokens=8000, num_ctx=8192, likely_truncated=True)) is not None, (
        "raised, re-armed"
    )


def test_latency_alerts_follow_the_threshold_and_are_rate_limited() -> None:
    now = [1000.0]
    policy = AlertPolicy({"gpt-4o": 2.0}, min_interval_s=60, clock=lambda: now[0])
    assert policy.check(rec(latency_s=1.9)) == []
    (slow,) = policy.check(rec(latency_s=2.5))
    assert slow.kind == "latency" and "2.5 s" in slow.message
    assert policy.check(rec(latency_s=9.0)) == [], "rate-limited"
    now[0] += 61
    assert [a.kind for a in policy.check(rec(latency_s=9.0))] == ["latency"]
    assert policy.check(rec("no-threshold", latency_s=99.0)) == []
    policy.set_threshold("gpt-4o", None)
    now[0] += 61
    assert policy.check(rec(latency_s=9.0)) == []


def test_backend_down_alerts_are_rate_limited_per_backend() -> None:
    now = [0.0]
    policy = AlertPolicy(min_interval_s=300, clock=lambda: now[0])
    error = "litellm.APIConnectionError: Ollama_chatException - Cannot connect to host 127.0.0.1:1"
    assert unreachable(error) and not unreachable('{"error": "model crashed"}')
    down = rec(ok=False, status=500, error=error, backend="gpu-box")
    assert [a.kind for a in policy.check(down)] == ["backend_down"]
    assert policy.check(down) == []
    assert [a.key for a in policy.check(rec(ok=False, error=error, backend="laptop"))] == ["laptop"]


def test_thresholds_are_saved_and_loaded(tmp_path: Path) -> None:
    assert load_thresholds(tmp_path) == {}
    save_thresholds(tmp_path, {"gpt-4o": 2.5, "claude-*sonnet*": 30})
    assert load_thresholds(tmp_path) == {"gpt-4o": 2.5, "claude-*sonnet*": 30.0}
    (tmp_path / "alert_thresholds.json").write_text("{not json")
    assert load_thresholds(tmp_path) == {}
