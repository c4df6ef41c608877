"""Throughput of one mapping on two Ollama hosts ÷ the same mapping on one, for ``bench.gateway``.

Two fake Ollama processes play two machines, each answering ``parallel`` requests at once and
queueing the rest (Ollama's ``OLLAMA_NUM_PARALLEL``), each answer taking ``chunks`` × ``delay_s``
seconds to generate. One ``gatedeck serve`` has two mappings on the same model: ``one-host`` on
the first machine only, ``two-hosts`` on both. ``concurrency`` clients (each its own
conversation: its own system prompt, its history growing turn by turn, as agents on a team
would) send non-streamed requests, first to ``one-host``, then to ``two-hosts``. The ratio of
the two throughputs says how much of the second machine GateDeck's host choice puts to use
(2.0: all of it). Prints nothing itself; :func:`measure` returns the figures.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.processes import free_port, wait_http

REPO = Path(__file__).resolve().parents[1]
MODEL = "qwen2.5-coder:7b"


@dataclass(frozen=True)
class HostFigures:
    one_host_rps: float
    two_hosts_rps: float
    parallel: int
    concurrency: int
    #: requests each host answered in the two-host run (from the fakes' logs, by host)
    split: tuple[int, int]

    @property
    def ratio(self) -> float:
        return self.two_hosts_rps / self.one_host_rps if self.one_host_rps else 0.0


def _write_config(env: dict[str, str], hosts: list[str], port: int) -> None:
    from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
    from core.config.store import ConfigStore
    from core.paths import AppPaths

    paths = AppPaths.from_env({"GATEDECK_CONFIG_DIR": env["GATEDECK_CONFIG_DIR"]})
    paths.ensure()
    options = ModelOptions(num_ctx=8192)
    ConfigStore(paths).save(
        Config(
            gateway=GatewaySettings(port=port),
            backends=[OllamaBackend(name=f"host{n}", url=url) for n, url in enumerate(hosts, 1)],
            mappings=[
                Mapping(name="one-host", model=MODEL, backends=["host1"], options=options),
                Mapping(name="two-hosts", model=MODEL, backends=["host1", "host2"], options=options),
            ],
        )
    )


async def _throughput(gateway: str, key: str, mapping: str, concurrency: int, turns: int) -> float:
    async with httpx.AsyncClient(headers={"x-api-key": key}, timeout=120) as client:

        async def agent(number: int, count: int) -> None:
            history: list[dict[str, str]] = [{"role": "user", "content": f"Task {number}: fix the tests."}]
            for _ in range(count):
                response = await client.post(
                    f"{gateway}/v1/messages",
                    json={
                        "model": mapping,
                        "max_tokens": 256,
                        "system": f"You are agent {number} of {mapping}.",
                        "messages": history,
                    },
                )
                response.raise_for_status()
                text = response.json()["content"][0]["text"]
                history += [{"role": "assistant", "content": text}, {"role": "user", "content": "Go on."}]

        await asyncio.gather(*(agent(n, 2) for n in range(concurrency)))  # warm-up
        began = time.perf_counter()
        await asyncio.gather(*(agent(100 + n, turns) for n in range(concurrency)))
        return concurrency * turns / (time.perf_counter() - began)


def _served(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "/api/chat" in line)


def measure(
    env: dict[str, str],
    key_of: Callable[[], str],
    *,
    concurrency: int = 8,
    parallel: int = 2,
    turns: int = 12,
    delay_s: float = 0.05,
    chunks: int = 4,
    logs: Path,
) -> HostFigures:
    """Start two fake hosts and a gateway, measure, stop them all (``key_of()``: the gateway key)."""
    ports = [free_port(), free_port()]
    fakes = []
    for number, port in enumerate(ports, 1):
        log = (logs / f"host{number}.log").open("w")
        fakes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.fakes.fake_ollama",
                    "--port",
                    str(port),
                    "--parallel",
                    str(parallel),
                    "--chunk-delay",
                    str(delay_s),
                    "--reply",
                    f"{MODEL}={chunks}",
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        )
    gateway_port = free_port()
    serve: subprocess.Popen[bytes] | None = None
    try:
        hosts = [f"http://127.0.0.1:{port}" for port in ports]
        for url, fake in zip(hosts, fakes, strict=True):
            wait_http(f"{url}/api/version", fake)
        _write_config(env, hosts, gateway_port)
        serve = subprocess.Popen(
            [sys.executable, "-m", "core.cli.main", "serve"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        gateway = f"http://127.0.0.1:{gateway_port}"
        wait_http(f"{gateway}/health/liveliness", serve)
        key = key_of()
        one = asyncio.run(_throughput(gateway, key, "one-host", concurrency, turns))
        before = [_served(logs / f"host{n}.log") for n in (1, 2)]
        two = asyncio.run(_throughput(gateway, key, "two-hosts", concurrency, turns))
        after = [_served(logs / f"host{n}.log") for n in (1, 2)]
    finally:
        for process in [*fakes, *([serve] if serve else [])]:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    split = (after[0] - before[0], after[1] - before[1])
    return HostFigures(one, two, parallel, concurrency, split)
