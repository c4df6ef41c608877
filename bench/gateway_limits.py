"""What a hostile local program can do to ``gatedeck serve``, measured (loopback only).

Runs the fake Ollama and ``gatedeck serve`` as processes of their own and, against the gateway:

- holds 1,100 connections that send nothing, then 1,100 that send half a request line, each
  re-opened as soon as the gateway closes it, for ``--hold`` seconds, while one valid request
  at a time is sent: how many were answered, how many failed, and how long they took;
- sends a 100 MB body (with ``Content-Length``, then chunked, then four at once) and reads the
  gateway process's memory (RSS) before, at its highest while the bodies arrive, and after;
- sends every route LiteLLM's proxy registers, with the key, and counts those that answer
  anything but 404.

Every address is 127.0.0.1; every loop is bounded. Prints figures; asserts nothing.
Usage: ``python -m bench.gateway_limits [--hold 15] [--connections 1100] [--file-limit 1024]``
(``--file-limit``: the gateway starts under that open-file limit, as on a system whose hard
limit is 1,024).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

from bench.processes import free_port, gatedeck_env, wait_http

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # never any other address
MESSAGE = {"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
HALF_SENT = b"POST /v1/messages HTTP/1.1\r\nHost: 127"


async def _holder(port: int, first: bytes, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """One held connection: opened, sent ``first``, re-opened whenever the gateway closes it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            counts["refused"] += 1
            await asyncio.sleep(0.05)
            continue
        counts["opened"] += 1
        try:
            if first:
                writer.write(first)
                await writer.drain()
            read = asyncio.ensure_future(reader.read(1))
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({read, halt}, return_when=asyncio.FIRST_COMPLETED)
            if read.done():
                counts["closed by gateway"] += 1
            read.cancel()
            halt.cancel()
        except OSError:
            counts["closed by gateway"] += 1
        finally:
            writer.close()


async def _hold_and_ask(
    port: int, key: str, first: bytes, connections: int, hold_s: float
) -> dict[str, object]:
    stop = asyncio.Event()
    counts = {"opened": 0, "refused": 0, "closed by gateway": 0}
    holders = [asyncio.create_task(_holder(port, first, stop, counts)) for _ in range(connections)]
    while counts["opened"] < connections:  # noqa: ASYNC110 (all held before the first valid request)
        await asyncio.sleep(0.05)
    times: list[float] = []
    failures: list[str] = []
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=30) as client:
        end = time.monotonic() + hold_s
        while time.monotonic() < end:
            began = time.monotonic()
            try:
                response = await client.post("/v1/messages", json=MESSAGE, headers=headers)
                if response.status_code == 200:
                    times.append(time.monotonic() - began)
                else:
                    failures.append(f"{response.status_code} {response.text[:120]}")
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
    stop.set()
    await asyncio.gather(*holders, return_exceptions=True)
    return {
        "answered": len(times),
        "failed": len(failures),
        "first failures": failures[:3],
        "p50 ms": round(1000 * statistics.median(times), 1) if times else None,
        "max ms": round(1000 * max(times), 1) if times else None,
        **counts,
    }


def _rss_mb(proc: psutil.Process) -> float:
    return round(proc.memory_info().rss / 2**20, 1)


def _bodies(port: int, key: str, gateway: psutil.Process) -> dict[str, object]:
    big = b'{"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "'
    big += b"a" * (100 * 2**20) + b'"}]}'
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    url = f"http://{HOST}:{port}/v1/messages"
    peak = [0.0]
    watching = threading.Event()

    def watch() -> None:
        while not watching.is_set():
            peak[0] = max(peak[0], _rss_mb(gateway))
            time.sleep(0.01)

    def chunks() -> object:
        view = memoryview(big)
        for start in range(0, len(big), 2**20):
            yield bytes(view[start : start + 2**20])

    def send(chunked: bool) -> int:
        content = chunks() if chunked else big
        return httpx.post(url, content=content, headers=headers, timeout=120).status_code  # type: ignore[arg-type]

    figures: dict[str, object] = {"before MB": _rss_mb(gateway)}
    watcher = threading.Thread(target=watch)
    watcher.start()
    figures["Content-Length 100 MB"] = send(False)
    figures["chunked 100 MB"] = send(True)
    results: list[int] = []
    four = [threading.Thread(target=lambda: results.append(send(False))) for _ in range(4)]
    for thread in four:
        thread.start()
    for thread in four:
        thread.join()
    figures["four at once"] = results
    watching.set()
    watcher.join()
    figures["peak MB"] = peak[0]
    time.sleep(1)
    figures["after MB"] = _rss_mb(gateway)
    return figures


def _routes(port: int, key: str) -> dict[str, object]:
    from core.gateway import litellm_seam

    registered = litellm_seam.load().routes()
    reachable = []
    with httpx.Client(
        base_url=f"http://{HOST}:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as c:
        for method, path in registered:
            url = re.sub(r"\{[^}]+\}", "x", path)
            body = None if method in ("GET", "HEAD", "OPTIONS", "DELETE") else b'{"model": "x"}'
            if c.request(method, url, content=body).status_code != 404:
                reachable.append(f"{method} {url}")
    return {
        "registered by LiteLLM": len(registered),
        "answered with the key": len(reachable),
        "which": reachable,
    }


def _limit_files(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=15.0, help="seconds each kind of connection is held")
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument(
        "--file-limit",
        type=int,
        default=0,
        help="start the gateway under this open-file limit (soft and hard)",
    )
    args = parser.parse_args(argv)
    env = gatedeck_env()
    ollama_port, port = free_port(), free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_ollama", "--host", HOST, "--port", str(ollama_port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    serve = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "--ollama-url", f"http://{HOST}:{ollama_port}", "serve"]
        + ["--host", HOST, "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: _limit_files(args.file_limit)) if args.file_limit else None,
    )
    try:
        wait_http(f"http://{HOST}:{ollama_port}/api/version", fake)
        wait_http(f"http://{HOST}:{port}/health/liveliness", serve)
        from core.paths import AppPaths
        from core.secrets import MASTER_KEY, open_secret_store

        paths = AppPaths.from_env({"GATEDECK_CONFIG_DIR": env["GATEDECK_CONFIG_DIR"]})
        key = open_secret_store(paths, {"GATEDECK_SECRET_STORE": "file"}).get(MASTER_KEY) or ""
        gateway = psutil.Process(serve.pid)
        print("open-file limit of the gateway:", gateway.rlimit(psutil.RLIMIT_NOFILE))
        for name, first in (("idle", b""), ("half-sent", HALF_SENT)):
            figures = asyncio.run(_hold_and_ask(port, key, first, args.connections, args.hold))
            print(f"{args.connections} {name} connections held {args.hold:.0f} s:", figures, flush=True)
        print("100 MB bodies:", _bodies(port, key, gateway), flush=True)
        print("routes:", _routes(port, key), flush=True)
    finally:
        for proc in (serve, fake):
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
