"""Pull against the fake server over real HTTP: progress, resume, watchdog, cancel, disk guard."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from core.errors import (
    InsufficientDisk,
    ModelNotInLibrary,
    OllamaProtocolError,
    OllamaServerError,
    OllamaUnreachable,
    PullInterrupted,
    PullStalled,
)
from core.ollama.client import OllamaClient
from core.ollama.pull import Pull, PullPhase, PullProgress, SpeedMeter
from tests.fakes.fake_ollama import FakeOllama

pytestmark = pytest.mark.timeout(30)
MODEL = "tinyllama:1.1b"


@pytest.fixture
async def client(fake_ollama: FakeOllama) -> OllamaClient:
    async with OllamaClient(fake_ollama.url) as ollama_client:
        yield ollama_client  # type: ignore[misc]


def quick_pull(client: OllamaClient, tmp_path: Path, **kwargs: object) -> Pull:
    options: dict[str, object] = {"stall_timeout": 5.0, "resume_delay": 0.0, "models_dir": tmp_path}
    options.update(kwargs)
    return Pull(client, MODEL, **options)  # type: ignore[arg-type]


async def collect(pull: Pull) -> list[PullProgress]:
    return [progress async for progress in pull]


def assert_monotonic(records: list[PullProgress]) -> None:
    done = [r.done for r in records]
    assert done == sorted(done), f"bytes done went backwards: {done}"


async def test_multi_layer_pull_is_monotonic_with_correct_totals(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    layers = [3_000_000, 1_429, 7_711, 96]
    fake_ollama.set_pull_plan(MODEL, layers, steps_per_layer=5)
    records = await collect(quick_pull(client, tmp_path))
    assert_monotonic(records)
    phases = [r.phase for r in records]
    assert phases[0] is PullPhase.STARTING
    assert phases[-1] is PullPhase.DONE
    assert phases.index(PullPhase.MANIFEST) < phases.index(PullPhase.DOWNLOADING)
    assert phases.index(PullPhase.VERIFYING) < phases.index(PullPhase.WRITING) < phases.index(PullPhase.DONE)
    final = records[-1]
    assert (final.done, final.total, final.fraction, final.eta, final.resumes) == (
        sum(layers),
        sum(layers),
        1.0,
        0,
        0,
    )
    # the total grows as layers are announced and is never less than what is done
    assert all(r.done <= r.total for r in records)
    assert sorted({r.total for r in records if r.total}) == [
        sum(layers[:i]) for i in range(1, len(layers) + 1)
    ]
    assert MODEL in fake_ollama.installed()
    assert [s.outcome for s in fake_ollama.wait_for_pull_sessions(MODEL, 1)] == ["success"]


async def test_stalled_stream_is_resumed_by_the_watchdog(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [1000, 200], steps_per_layer=10)
    fake_ollama.stall_pull(MODEL, after_bytes=600)  # once: the fake holds the stream open, silent
    records = await collect(quick_pull(client, tmp_path, stall_timeout=0.4))
    assert_monotonic(records)
    assert records[-1].phase is PullPhase.DONE and records[-1].done == 1200
    resuming = [r for r in records if r.phase is PullPhase.RESUMING]
    assert len(resuming) == 1 and resuming[0].done == 600
    sessions = {s.outcome: s for s in fake_ollama.wait_for_pull_sessions(MODEL, 2)}
    assert sessions["client-gone"].ended_at == 600  # the watchdog hung up
    assert sessions["success"].started_at == 600  # and the new pull resumed


async def test_silent_verification_is_not_a_stall(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [1000], steps_per_layer=2)
    fake_ollama.stall_pull(MODEL, after_bytes=1000)  # silent after "verifying sha256 digest"
    pull = quick_pull(client, tmp_path, stall_timeout=0.1, finish_timeout=30)
    task = asyncio.create_task(pull.run())
    assert await asyncio.to_thread(fake_ollama.wait_until, lambda: fake_ollama.held == 1)
    # several stall timeouts pass in silence: the watchdog must not hang up on a verifying Ollama
    done, _ = await asyncio.wait([task], timeout=0.5)
    assert not done and pull.last is not None and pull.last.phase is PullPhase.VERIFYING
    assert fake_ollama.held == 1 and len(fake_ollama.bodies("/api/pull")) == 1
    fake_ollama.release()
    final = await task
    assert (final.phase, final.resumes) == (PullPhase.DONE, 0)


async def test_stall_that_never_clears_gives_a_clear_error(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [1000], steps_per_layer=4)
    fake_ollama.stall_pull(MODEL, after_bytes=500, times=None)
    seen: list[PullProgress] = []
    with pytest.raises(PullStalled) as info:
        async for progress in quick_pull(client, tmp_path, stall_timeout=0.2, max_resumes=2):
            seen.append(progress)
    assert "made no progress for 0.2 s" in str(info.value) and "pull again" in str(info.value)
    assert [r.resumes for r in seen if r.phase is PullPhase.RESUMING] == [1, 2]
    # three attempts, each hung up by the watchdog (the fake notices within a few ms)
    assert {s.outcome for s in fake_ollama.wait_for_pull_sessions(MODEL, 3)} == {"client-gone"}
    assert fake_ollama.wait_until(lambda: fake_ollama.in_flight == 0)


async def test_dropped_connection_resumes(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [800, 80], steps_per_layer=8)
    fake_ollama.drop_after("/api/pull", chunks=6, times=2)
    records = await collect(quick_pull(client, tmp_path))
    assert_monotonic(records)
    assert records[-1].phase is PullPhase.DONE and records[-1].done == 880
    sessions = fake_ollama.wait_for_pull_sessions(MODEL, 3)
    assert [s.outcome for s in sessions] == ["dropped", "dropped", "success"]
    assert sessions[1].started_at == sessions[0].ended_at > 0
    assert sessions[2].started_at == sessions[1].ended_at > sessions[0].ended_at


async def test_connection_that_keeps_dropping_gives_a_clear_error(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [800], steps_per_layer=8)
    fake_ollama.drop_after("/api/pull", chunks=1, times=None)  # dropped before any byte, every time
    with pytest.raises(PullInterrupted, match="dropped 3 time"):
        await quick_pull(client, tmp_path, max_resumes=2).run()


async def test_cancel_stops_reading_and_leaves_nothing_running(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [1000], steps_per_layer=10)
    fake_ollama.stall_pull(MODEL, after_bytes=300)
    pull = quick_pull(client, tmp_path, stall_timeout=30)
    records: list[PullProgress] = []
    async for progress in pull:
        records.append(progress)
        if progress.done >= 300:
            assert fake_ollama.wait_until(lambda: fake_ollama.held == 1)
            pull.cancel()
    assert records[-1].phase is PullPhase.CANCELLED and records[-1].done == 300
    assert fake_ollama.wait_until(lambda: fake_ollama.in_flight == 0)
    assert [s.outcome for s in fake_ollama.wait_for_pull_sessions(MODEL, 1)] == ["client-gone"]
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # Ollama kept the bytes: the next pull resumes from them
    resumed = await quick_pull(client, tmp_path).run()
    assert resumed.phase is PullPhase.DONE
    assert fake_ollama.wait_for_pull_sessions(MODEL, 2)[-1].started_at == 300


async def test_cancelling_the_task_closes_the_stream(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [1000], steps_per_layer=10)
    fake_ollama.stall_pull(MODEL, after_bytes=200)
    task = asyncio.create_task(quick_pull(client, tmp_path, stall_timeout=30).run())
    await asyncio.to_thread(fake_ollama.wait_until, lambda: fake_ollama.held == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(fake_ollama.wait_until, lambda: fake_ollama.in_flight == 0)
    sessions = await asyncio.to_thread(fake_ollama.wait_for_pull_sessions, MODEL, 1)
    assert sessions[0].outcome == "client-gone"
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_insufficient_disk_before_any_request(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    with pytest.raises(InsufficientDisk) as info:
        await quick_pull(client, tmp_path / "models", disk_margin=2**62).run()
    assert "Free some space" in str(info.value) and str(tmp_path / "models") in str(info.value)
    assert fake_ollama.bodies("/api/pull") == []


async def test_insufficient_disk_stops_before_bytes_flow(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [2**60, 100], steps_per_layer=4)  # an exabyte: no disk holds it
    fake_ollama.set_chunk_delay(2.0, "/api/pull")  # bytes would only flow two seconds after the announcement
    with pytest.raises(InsufficientDisk) as info:
        await quick_pull(client, tmp_path).run()
    assert info.value.needed > 2**60 and info.value.free < 2**60
    (session,) = fake_ollama.wait_for_pull_sessions(MODEL, 1)
    assert (session.outcome, session.ended_at) == ("client-gone", 0)


async def test_disk_check_applies_to_later_layers_too(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [100, 2**60], steps_per_layer=2)
    seen: list[PullProgress] = []
    with pytest.raises(InsufficientDisk):
        async for progress in quick_pull(client, tmp_path):
            seen.append(progress)
    assert max(r.done for r in seen) == 100  # the first layer came; the second was refused on sight


async def test_no_disk_check_for_a_remote_server(client: OllamaClient) -> None:
    remote = OllamaClient("http://gpu-box.example:11434")
    assert Pull(remote, MODEL).models_dir is None
    assert Pull(client, MODEL).models_dir is not None  # the fake is on this machine
    await remote.aclose()


async def test_unknown_model_says_so_in_plain_words(client: OllamaClient, tmp_path: Path) -> None:
    with pytest.raises(ModelNotInLibrary) as info:
        await Pull(client, "no-such-model:13b", models_dir=tmp_path, resume_delay=0).run()
    message = str(info.value)
    assert "no model called 'no-such-model:13b'" in message and "ollama.com/library" in message


async def test_http_error_and_malformed_stream_map_to_our_errors(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.fail("/api/pull", 500, "registry exploded", times=1)
    with pytest.raises(OllamaServerError, match="registry exploded"):
        await quick_pull(client, tmp_path).run()
    fake_ollama.malformed("/api/pull", times=1)
    with pytest.raises(OllamaProtocolError):
        await quick_pull(client, tmp_path).run()


async def test_refused_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with OllamaClient(f"http://127.0.0.1:{port}") as nobody:
        with pytest.raises(OllamaUnreachable):
            await Pull(nobody, MODEL, models_dir=tmp_path).run()


async def test_speed_and_eta_come_from_real_time(
    fake_ollama: FakeOllama, client: OllamaClient, tmp_path: Path
) -> None:
    fake_ollama.set_pull_plan(MODEL, [10_000], steps_per_layer=10)
    fake_ollama.set_chunk_delay(0.05, "/api/pull")
    # short windows, so a half-second pull gets measured
    records = await collect(quick_pull(client, tmp_path, speed_meter=SpeedMeter(window=0.1)))
    measured = [r for r in records if r.speed > 0 and r.phase is PullPhase.DOWNLOADING and r.done < r.total]
    assert measured, "no speed was measured"
    # 1000 bytes every ~0.05 s: about 20 kB/s, well under 200 kB/s even allowing for bursts
    assert all(1_000 < r.speed < 200_000 for r in measured)
    for r in measured:
        assert r.eta is not None and r.eta == pytest.approx((r.total - r.done) / r.speed)


def test_speed_meter_smooths_with_a_time_constant() -> None:
    meter = SpeedMeter(window=1.0, tau=2.0)
    meter.reset(0.0)
    assert meter.add(500, 0.5) == 0.0  # window not full yet
    assert meter.add(500, 1.0) == pytest.approx(1000.0)  # first window: taken as is
    # next window at 3000 B/s moves the average by 1 - e^(-1/2) ≈ 0.3935 of the way
    assert meter.add(3000, 2.0) == pytest.approx(1000 + (1 - 0.6065306597) * 2000)
    meter.reset(10.0)  # after a reconnect the gap is not counted
    assert meter.add(0, 10.5) == pytest.approx(1000 + (1 - 0.6065306597) * 2000)
