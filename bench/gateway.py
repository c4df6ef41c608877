"""How much the embedded gateway adds on top of Ollama: direct vs through the gateway, side by side.

Runs the fake Ollama and ``gatedeck serve`` as separate processes (so this process, the load
generator, does not share a GIL with either) and measures, against each:

- non-streaming latency, p50 / p95, one request at a time;
- throughput with 8 requests in flight;
- streamed first-chunk delay (time to the first content of a streamed answer), p50 / p95.

Direct means Ollama's own ``/api/chat``; the gateway is measured on ``/v1/chat/completions``
(OpenAI) and ``/v1/messages`` (Anthropic, what Claude Code uses). Prints figures; asserts
nothing. Usage: ``python -m bench.gateway [--requests 200] [--concurrency 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
MODEL = "qwen2.5-coder:7b"
PROMPT = [{"role": "user", "content": "Say hello."}]
# The fake writes headers and body separately; with Nagle on, a reused connection then waits
# ~40 ms for the client's delayed ACK on every answer, which would swamp what is measured here.
FAKE_WITHOUT_NAGLE = (
    "import sys; from tests.fakes import ollama_http, fake_ollama; "
    "ollama_http.Handler.disable_nagle_algorithm = True; "
    "sys.exit(fake_ollama.main(['--port', sys.argv[1]]))"
)


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    body: dict[str, object]
    stream_body: dict[str, object]
    headers: dict[str, str]
    first_content: Callable[[str], bool]  # is this streamed line the first with content?


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p95_ms: float
    rps: float
    first_p50_ms: float
    first_p95_ms: float


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _timed(call: Callable[[], Awaitable[None]], count: int) -> list[float]:
    times = []
    for _ in range(count):
        began = time.perf_counter()
        await call()
        times.append((time.perf_counter() - began) * 1000)
    return times


async def measure(target: Target, requests: int, concurrency: int) -> Figures:
    async with httpx.AsyncClient(headers=target.headers, timeout=60) as client:

        async def one() -> None:
            response = await client.post(target.url, json=target.body)
            response.raise_for_status()

        async def first_chunk() -> None:
            async with client.stream("POST", target.url, json=target.stream_body) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if target.first_content(line):
                        return
            raise RuntimeError(f"{target.name}: no content in the stream")

        await _timed(one, 20)  # warm-up: connections, lazy imports, first-use caches
        latencies = await _timed(one, requests)

        async def worker(share: int) -> None:
            for _ in range(share):
                await one()

        began = time.perf_counter()
        total = requests * 2
        await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
        rps = (total // concurrency * concurrency) / (time.perf_counter() - began)

        await _timed(first_chunk, 5)
        firsts = await _timed(first_chunk, max(20, requests // 2))
    return Figures(
        p50_ms=statistics.median(latencies),
        p95_ms=_percentile(latencies, 0.95),
        rps=rps,
        first_p50_ms=statistics.median(firsts),
        first_p95_ms=_percentile(firsts, 0.95),
    )


def _ollama_has_content(line: str) -> bool:
    return bool(line.strip()) and bool(json.loads(line).get("message", {}).get("content"))


def _openai_has_content(line: str) -> bool:
    if not line.startswith("data: ") or line == "data: [DONE]":
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def _anthropic_has_content(line: str) -> bool:
    return line.startswith("data: ") and '"text_delta"' in line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per target")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)

    home = tempfile.mkdtemp(prefix="gatedeck-bench-")
    env = {
        **os.environ,
        "GATEDECK_CONFIG_DIR": home,
        "GATEDECK_SECRET_STORE": "file",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    ollama_port, gateway_port = _free_port(), _free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        fake = subprocess.Popen(
            [sys.executable, "-c", FAKE_WITHOUT_NAGLE, str(ollama_port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(fake)
        ollama = f"http://127.0.0.1:{ollama_port}"
        _wait_http(f"{ollama}/api/version", fake)
        print("starting `gatedeck serve` (loads LiteLLM, ~15 s)...", file=sys.stderr, flush=True)
        gateway_proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--ollama-url", ollama, "serve", "--port", str(gateway_port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(gateway_proc)
        gateway = f"http://127.0.0.1:{gateway_port}"
        _wait_http(f"{gateway}/health/liveliness", gateway_proc)
        from core.paths import AppPaths
        from core.secrets import MASTER_KEY, open_secret_store

        paths = AppPaths.from_env({"GATEDECK_CONFIG_DIR": home})
        key = open_secret_store(paths, {"GATEDECK_SECRET_STORE": "file"}).get(MASTER_KEY) or ""

        targets = [
            Target(
                "direct Ollama /api/chat",
                f"{ollama}/api/chat",
                {"model": MODEL, "messages": PROMPT, "stream": False},
                {"model": MODEL, "messages": PROMPT, "stream": True},
                {},
                _ollama_has_content,
            ),
            Target(
                "gateway /v1/chat/completions",
                f"{gateway}/v1/chat/completions",
                {"model": "claude-sonnet-4-5", "messages": PROMPT},
                {"model": "claude-sonnet-4-5", "messages": PROMPT, "stream": True},
                {"Authorization": f"Bearer {key}"},
                _openai_has_content,
            ),
            Target(
                "gateway /v1/messages",
                f"{gateway}/v1/messages",
                {"model": "claude-sonnet-4-5-20250929", "max_tokens": 256, "messages": PROMPT},
                {
                    "model": "claude-sonnet-4-5-20250929",
                    "max_tokens": 256,
                    "messages": PROMPT,
                    "stream": True,
                },
                {"x-api-key": key},
                _anthropic_has_content,
            ),
        ]
        results = [(t.name, asyncio.run(measure(t, args.requests, args.concurrency))) for t in targets]
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(
        f"\nGateDeck gateway overhead ({args.requests} sequential requests, concurrency {args.concurrency})"
    )
    header = f"{'':32}{'p50 ms':>9}{'p95 ms':>9}{'req/s @' + str(args.concurrency):>11}"
    print(header + f"{'1st chunk p50':>15}{'p95':>8}")
    for name, f in results:
        print(
            f"{name:32}{f.p50_ms:9.1f}{f.p95_ms:9.1f}{f.rps:11.1f}{f.first_p50_ms:15.1f}{f.first_p95_ms:8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
