"""What the metrics callback adds to each request through the gateway. Prints figures, asserts nothing.

Two measurements:

1. **In the callback**: the work the gateway's loop does per request on GateDeck's behalf
   (pre-call hook, success event → record, ring buffer, one JSON line written, one delivery to
   a listener on another loop), timed over many calls with a request's real LiteLLM kwargs.
2. **End to end**: the same requests through the real embedded gateway to the fake Ollama,
   rounds with and without the callback installed, interleaved so machine noise hits both alike:
   latency p50 and process CPU per request.

    .venv/bin/python -m bench.metrics_cost [--calls 20000] [--requests 150] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")


def callback_cost(calls: int, sample: dict[str, Any]) -> list[str]:
    from core.metrics.litellm_hook import RecordBuilder
    from core.metrics.recorder import MetricsRecorder
    from core.metrics.request_log import RequestLog

    folder = Path(tempfile.mkdtemp(prefix="gatedeck-metrics-bench-"))
    recorder = MetricsRecorder(RequestLog(folder))
    other = asyncio.new_event_loop()  # a listener on another loop, as the window's is
    heard = 0

    def listen(_record: object) -> None:
        nonlocal heard
        heard += 1

    recorder.add_listener(listen, other)
    builder = RecordBuilder(recorder)
    kwargs = sample["kwargs"]
    began = time.perf_counter()
    cpu = time.process_time()
    for i in range(calls):
        call_id = f"call-{i}"
        builder.started(call_id, "claude-sonnet-4-5-20250929", "anthropic_messages")
        builder.succeeded({**kwargs, "litellm_call_id": call_id}, sample["start"], sample["end"])
    wall = (time.perf_counter() - began) / calls
    cpu_each = (time.process_time() - cpu) / calls
    other.call_soon(other.stop)
    other.run_forever()  # deliver what was queued, so the count below is honest
    other.close()
    recorder.close()
    size = (folder / "requests.jsonl").stat().st_size
    return [
        f"callback work per request      {wall * 1e6:7.1f} µs wall   {cpu_each * 1e6:7.1f} µs CPU   "
        f"({calls} calls, {heard} delivered, {size / calls:.0f} bytes of log each)"
    ]


def capture_sample(url: str, key: str) -> dict[str, Any]:
    """A real success event's arguments, taken from one request through the gateway."""
    import httpx
    import litellm
    from litellm.integrations.custom_logger import CustomLogger

    got: dict[str, Any] = {}
    done = threading.Event()

    class Capture(CustomLogger):  # type: ignore[misc]
        async def async_log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            keep = ("standard_logging_object", "litellm_params", "model", "stream", "call_type", "num_ctx")
            got.update(kwargs={k: kwargs.get(k) for k in keep}, start=start_time, end=end_time)
            done.set()

    capture = Capture()
    litellm.callbacks.append(capture)
    try:
        httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        done.wait(30)
    finally:
        for name in ("callbacks", "success_callback", "_async_success_callback", "failure_callback",
                     "_async_failure_callback", "input_callback"):  # fmt: skip
            entries = getattr(litellm, name)
            while capture in entries:
                entries.remove(capture)
    return got


def end_to_end(url: str, key: str, requests: int, rounds: int, recorder: Any) -> list[str]:
    import httpx

    from core.gateway import engine as gateway_engine

    client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    results: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}

    def one_round(label: str) -> None:
        for _ in range(10):  # warm the connection and the router's caches
            client.post(f"{url}/v1/chat/completions", json=body)
        cpu = time.process_time()
        latencies = []
        for _ in range(requests):
            began = time.perf_counter()
            client.post(f"{url}/v1/chat/completions", json=body).raise_for_status()
            latencies.append(time.perf_counter() - began)
        cpu_each = (time.process_time() - cpu) / requests
        results[label].append((statistics.median(latencies), cpu_each))

    engine = gateway_engine.load()
    engine.record_to(recorder)()  # "without": nothing recorded until "with" starts recording
    uninstall = None
    for _ in range(rounds):
        for label in ("without", "with"):
            if label == "with":
                uninstall = engine.record_to(recorder)
            one_round(label)
            if uninstall is not None:
                uninstall()
                uninstall = None
    lines = []
    for label, values in results.items():
        p50s = [v[0] for v in values]
        cpus = [v[1] for v in values]
        lines.append(
            f"end to end, {label:7s} callback   latency p50 {statistics.median(p50s) * 1000:6.2f} ms   "
            f"CPU/request {statistics.median(cpus) * 1000:6.2f} ms   "
            f"(medians of {rounds} rounds × {requests}; rounds' p50 {min(p50s) * 1000:.2f}–{max(p50s) * 1000:.2f} ms)"
        )
    base, with_cb = (statistics.median(v[0] for v in results[k]) for k in ("without", "with"))
    cpu_base, cpu_with = (statistics.median(v[1] for v in results[k]) for k in ("without", "with"))
    lines.append(
        f"difference                     latency {(with_cb - base) * 1000:+6.2f} ms   "
        f"CPU {(cpu_with - cpu_base) * 1000:+6.2f} ms per request (noise on a busy 2-core box is ±1 ms)"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    os.environ["GATEDECK_CONFIG_DIR"] = tempfile.mkdtemp(prefix="gatedeck-bench-")

    from core.gateway import engine as gateway_engine
    from core.gateway.service import Gateway
    from core.metrics.recorder import MetricsRecorder
    from core.metrics.request_log import RequestLog
    from tests.core.gateway_support import KEY, free_port, running, tier_config
    from tests.fakes.fake_ollama import FakeOllama
    from tests.fakes.ollama_catalog import default_models

    gateway_engine.load()
    recorder = MetricsRecorder(RequestLog(Path(tempfile.mkdtemp(prefix="gatedeck-bench-log-"))))
    with (
        FakeOllama(models=default_models()) as fake,
        running(Gateway(tier_config(fake.url, free_port()), master_key=KEY)) as gateway,
    ):
        sample = capture_sample(gateway.url, KEY)
        lines = callback_cost(args.calls, sample)
        lines += end_to_end(gateway.url, KEY, args.requests, args.rounds, recorder)
    recorder.close()
    print("Metrics callback cost (in-process gateway + fake Ollama, non-streamed /v1/chat/completions)")
    for line in lines:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
