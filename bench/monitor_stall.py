"""How smooth the window stays while 8 streams pass the gateway with the monitor open.

Runs the real app controller offscreen (gateway thread, monitor panel in front, a history of
several thousand requests already in the graphs) against the in-process fake Ollama, and drives
8 concurrent streaming clients from a separate process (as Claude Code would be). A 5 ms
heartbeat timer on the UI thread measures the longest main-thread stall (the idea of
``bench/ui_stall.py``). Phases: idle, 8 streams with the monitor in front, 8 streams with
another panel in front (the monitor's own share). Garbage collections that held the GIL for
more than 50 ms are listed too: with LiteLLM loaded (~900k objects) a full collection takes
0.6–1 s, and ``--gc-freeze`` shows the effect of ``gc.freeze()`` once the engine has loaded.
The fake Ollama runs as its own process by default, as a real Ollama does (a Go server that
shares no GIL with GateDeck); ``--ollama thread`` runs it inside the app's process instead, where
its request threads take the GIL too and the stalls grow. Prints figures, asserts nothing.

    .venv/bin/python -m bench.monitor_stall [--seconds 15] [--streams 8] [--history 5000]
        [--gc-freeze] [--ollama process|thread]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

REPO = Path(__file__).resolve().parents[1]
LOAD = r"""
import asyncio, json, sys, time
import httpx
url, key, streams, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
body = {"model": "claude-sonnet-4-5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
done = errors = 0
async def worker(client):
    global done, errors
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            async with client.stream("POST", url + "/v1/chat/completions", json=body) as reply:
                reply.raise_for_status()
                async for _ in reply.aiter_lines():
                    pass
            done += 1
        except httpx.HTTPError:
            errors += 1
async def main():
    limits = httpx.Limits(max_connections=streams)
    async with httpx.AsyncClient(headers={"Authorization": "Bearer " + key}, timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(streams)))
asyncio.run(main())
print(json.dumps({"done": done, "errors": errors}))
"""
#: The anchor: a bare Qt process with the same 5 ms heartbeat, beside the app for the same
#: seconds. It shares no GIL with anything, so its longest gap is this machine's own scheduling
#: noise under the load; what the app's heartbeat sees beyond it is the app's.
BARE = r"""
import json, sys, time
from PySide6.QtCore import QCoreApplication, QTimer
app = QCoreApplication([])
gaps, last = [], [time.perf_counter()]
def tick():
    now = time.perf_counter(); gaps.append(now - last[0]); last[0] = now
timer = QTimer(); timer.setInterval(5); timer.timeout.connect(tick); timer.start()
QTimer.singleShot(int(float(sys.argv[1]) * 1000), app.quit)
app.exec()
print(json.dumps(sorted(gaps)[1:]))
"""


async def load(url: str, key: str, streams: int, seconds: float) -> dict[str, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOAD, url, key, str(streams), str(seconds),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(err.decode()[-2000:])
    result: dict[str, int] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def bare_heartbeat(seconds: float) -> list[float]:
    """Gaps of a bare Qt process's 5 ms heartbeat over ``seconds`` (see BARE)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BARE, str(seconds),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(err.decode()[-2000:])
    gaps: list[float] = json.loads(out.decode().strip().splitlines()[-1])
    return gaps


async def scenario(controller: object, beat: object, args: argparse.Namespace) -> list[str]:
    from bench.ui_stall import Heartbeat, describe
    from core.metrics.recorder import RequestRecord
    from gui.controller import AppController

    assert isinstance(controller, AppController) and isinstance(beat, Heartbeat)
    await controller.gateway.load_engine(autostart=False)
    warmup = controller.gateway.sdk_warmup
    if warmup is not None:  # measure the steady state, not the client SDKs importing at startup
        await asyncio.get_running_loop().run_in_executor(None, warmup.join)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()  # what is loaded by now lives as long as the app: stop scanning it
    if not await controller.gateway.start():
        raise RuntimeError(controller.gateway.reason)
    monitor = controller.observability.monitor
    recorder = controller.observability.recorder
    now = time.time()
    for i in range(args.history):  # an hour of earlier traffic, so the graphs hold thousands of points
        recorder.record(
            RequestRecord(
                at=now - 3600 + i * 3600 / args.history, dialect="anthropic", requested="claude-sonnet-4-5",
                mapping="claude-*sonnet*", model="qwen2.5-coder:7b", stream=True, ttft_s=0.05 + (i % 7) / 100,
                latency_s=1.0 + (i % 11) / 10, prompt_tokens=900, completion_tokens=40, tokens_per_s=45.0,
            )
        )  # fmt: skip
    controller.window.show_panel("monitor")
    monitor.window_choice.setCurrentText("1 h")
    await asyncio.sleep(1.0)  # let the history draw once

    pauses: list[float] = []
    started: list[float] = []

    def watch_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started and time.perf_counter() - started[0] > 0.05:
            pauses.append(time.perf_counter() - started[0])

    gc.callbacks.append(watch_gc)
    lines = []
    beat.take()
    await asyncio.sleep(3.0)
    lines.append(describe("idle, monitor in front", beat.take()))
    for panel in ("monitor", "gateway"):
        controller.window.show_panel(panel)
        before, redraws = recorder.records()[-1].seq, monitor.redraws
        beat.take()
        began = time.perf_counter()
        result, bare = await asyncio.gather(
            load(controller.gateway.url, controller.gateway.master_key, args.streams, args.seconds),
            bare_heartbeat(args.seconds),
        )
        gaps = beat.take()
        elapsed = time.perf_counter() - began
        recorded = recorder.records()[-1].seq - before
        lines.append(describe(f"{args.streams} streams, {panel} in front", gaps))
        lines.append(describe("  a bare Qt process beside it", bare))
        held = ", ".join(f"{p * 1000:.0f} ms" for p in pauses) or "none"
        lines.append(f"{'':34s} garbage collections over 50 ms: {held}")
        pauses.clear()
        lines.append(
            f"{'':34s} {result['done']} streams done ({result['errors']} errors) in {elapsed:.1f} s, "
            f"{recorded} recorded, {monitor.redraws - redraws} monitor redraws"
        )
    await controller.quit()
    return lines


@contextlib.contextmanager
def ollama(where: str) -> Iterator[str]:
    """A fake Ollama whose qwen2.5-coder:7b streams 40 words at 20 ms each (~0.8 s, a fast
    local model), in its own process or in this one; yields its URL."""
    from tests.core.gateway_support import free_port, start_fake_process
    from tests.fakes.fake_ollama import FakeOllama
    from tests.fakes.ollama_catalog import default_models

    if where == "process":
        port = free_port()
        proc = start_fake_process(port, "--reply", "qwen2.5-coder:7b=40", "--chunk-delay", "0.02")
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        return
    with FakeOllama(models=default_models()) as fake:
        fake.set_reply("qwen2.5-coder:7b", " ".join(f"word{i}" for i in range(40)), prompt_eval_count=900)
        fake.set_chunk_delay(0.02)
        yield fake.url


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--history", type=int, default=5000)
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the engine loads")
    parser.add_argument(
        "--ollama",
        choices=("process", "thread"),
        default="process",
        help="run the fake Ollama as its own process (like a real one; default) or in this one",
    )
    args = parser.parse_args()
    os.environ["GATEDECK_CONFIG_DIR"] = tempfile.mkdtemp(prefix="gatedeck-bench-")
    os.environ["GATEDECK_SECRET_STORE"] = "file"
    import qasync
    from PySide6.QtWidgets import QApplication

    from bench.ui_stall import Heartbeat
    from core.config.first_run import open_installation
    from core.config.schema import GatewaySettings, OllamaBackend
    from gui.controller import AppController
    from tests.core.gateway_support import free_port

    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with ollama(args.ollama) as ollama_url:
        install = open_installation()
        install.loaded.config = install.config.model_copy(
            update={
                "backends": [OllamaBackend(name="local", url=ollama_url)],
                "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
            }
        )
        controller = AppController(install, use_tray=False)
        controller.window.resize(1180, 760)
        controller.start()
        beat = Heartbeat()
        with loop:
            lines = loop.run_until_complete(scenario(controller, beat, args))
    print(
        "UI main-thread stalls with the monitor open (5 ms heartbeat; lower is smoother; "
        f"Ollama in its own {args.ollama})"
    )
    for line in lines:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
