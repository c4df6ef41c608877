"""How much the embedded gateway adds on top of Ollama: direct vs through the gateway, side by side.

Runs the fake Ollama and ``gatedeck serve`` as separate processes (so this process, the load
generator, does not share a GIL with either) and measures, against each:

- non-streaming latency, p50 / p95, one request at a time;
- throughput with 8 requests in flight;
- streamed first-chunk delay (time to the first content of a streamed answer), p50 / p95;
- gateway CPU per streamed chunk (the gateway process's CPU time over whole 200-chunk streams ÷
  the content chunks they carried), and per request (over 3-chunk streams);
- restart in-process (``Gateway.restart_blocking`` in a process of its own, median of 5).

Each gateway figure is taken once per mode, one gateway at a time: by default the stock
embedded LiteLLM (``GATEDECK_GATEWAY_SPEEDUPS=0``: no fast path, uvicorn's own server, loop and
HTTP parser, LiteLLM's per-request work as shipped) and GateDeck's (every speed-up on), then
printed beside direct Ollama as issue 9's table, with the UI
rows from ``bench.monitor_stall`` (per gateway; longest main-thread stall while 8 streams pass
the gateway, beside a bare Qt process's over the same seconds) and ``bench.startup`` (launch →
window painted), run as processes (``bench/ui_figures.py``; ``--skip-ui`` leaves them out).

Direct means Ollama's own ``/api/chat``; the gateway is measured on ``/v1/chat/completions``
(OpenAI) and ``/v1/messages`` (Anthropic, what Claude Code uses), and on a Codex-shaped
``/v1/responses`` request (:mod:`bench.codex_shaped`) beside the body it becomes sent to Ollama
directly, and on Claude-Code-shaped ``/v1/messages`` requests (:mod:`bench.claude_shaped`: the
recorded first turn, an 80 KB one with 24 tools, a 1 MB conversation), each taken in turns
with the body it becomes sent to Ollama directly (so both see the same load on a shared
machine): added latency (non-streamed, and to the first streamed chunk) and the gateway's CPU
per request; and a RAG tool's 16-input ``/v1/embeddings`` request beside the same inputs sent
to Ollama's ``/api/embed`` (:func:`measure_embeddings`); and one mapping on two Ollama hosts,
each answering two requests at once (:mod:`bench.hosts`): its throughput at ``--concurrency``
in flight beside the same mapping on one host (issue 16's goal: ≥ 1.8×). Prints figures;
asserts nothing. Usage: ``python -m bench.gateway [--requests 200]
[--concurrency 8] [--only gatedeck] [--skip-ui] [--claude-requests 40] [--claude-only]
[--hosts-only]`` (``--claude-only``: the Claude-Code-shaped rows alone, quick; ``--hosts-only``:
the two-host row alone).

``--each`` measures every speed-up on its own instead (:data:`EACH`; the UI rows left out):
the fast path alone ("fast path only"), each server speed-up alone, and each LiteLLM change
alone with the fast path off (LiteLLM then serves the Ollama mappings, as it serves cloud
models, fallbacks and everything when the fast path is switched off), beside the stock proxy
and all of them together, printed as one table (:func:`_print_each_table`).
``--modes "NAME=SWITCH;..."`` measures modes of one's own (``SWITCH`` as
``GATEDECK_GATEWAY_SPEEDUPS`` takes it: ``0``, ``1``, ``fastpath,uvloop``, ``-fastpath``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import claude_shaped, codex_shaped, hosts, ui_figures
from bench.processes import free_port, gatedeck_env, wait_http

REPO = Path(__file__).resolve().parents[1]
MODEL = "qwen2.5-coder:7b"
#: Answers LONG_WORDS words, one chunk each, like a real reply: CPU per chunk is measured on
#: these (a 3-chunk reply measures the per-request cost instead; both are printed).
LONG_MODEL = "llama3.2:3b"
LONG_WORDS = 200
PROMPT = [{"role": "user", "content": "Say hello."}]


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    body: dict[str, object]
    stream_body: dict[str, object]
    headers: dict[str, str]
    first_content: Callable[[str], bool]  # is this streamed line the first with content?
    long_body: dict[str, object] | None = None  # a streamed request for LONG_MODEL


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p95_ms: float
    rps: float
    first_p50_ms: float
    first_p95_ms: float
    cpu_ms_per_chunk: float | None = None  # over long replies
    cpu_ms_per_request: float | None = None  # over 3-chunk replies


def _cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


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


async def measure(target: Target, requests: int, concurrency: int, server_pid: int | None = None) -> Figures:
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

        async def cpu_of_streams(body: dict[str, object], count: int) -> tuple[float, int]:
            """Server CPU (ms) over ``count`` whole streams, and the content chunks they carried."""
            chunks = 0

            async def whole_stream() -> None:
                nonlocal chunks
                async with client.stream("POST", target.url, json=body) as response:
                    response.raise_for_status()
                    async for line in response.aiter_lines():
                        chunks += target.first_content(line)

            cpu_before = _cpu_s(server_pid)
            await _timed(whole_stream, count)
            return (_cpu_s(server_pid) - cpu_before) * 1000, chunks

        streams = max(20, requests // 2)
        short_ms, _ = await cpu_of_streams(target.stream_body, streams)
        long_ms, long_chunks = (
            await cpu_of_streams(target.long_body, max(10, streams // 4)) if target.long_body else (0.0, 0)
        )
    return Figures(
        p50_ms=statistics.median(latencies),
        p95_ms=_percentile(latencies, 0.95),
        rps=rps,
        first_p50_ms=statistics.median(firsts),
        first_p95_ms=_percentile(firsts, 0.95),
        cpu_ms_per_chunk=long_ms / long_chunks if server_pid is not None and long_chunks else None,
        cpu_ms_per_request=short_ms / streams if server_pid is not None else None,
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


CODEX = "Codex-shaped /v1/responses"
CODEX_DIRECT = "Codex-shaped, direct Ollama /api/chat"


def _codex_targets(gateway: str, ollama: str, key: str) -> tuple[Target, Target]:
    """A Codex-shaped Responses request (:mod:`bench.codex_shaped`, ~41 KB, 13 tools) through
    the gateway, and the ``/api/chat`` body it becomes sent to Ollama directly (the anchor)."""
    name = "gpt-5.1-codex"  # lands on the catch-all mapping, MODEL
    return (
        Target(
            CODEX_DIRECT,
            f"{ollama}/api/chat",
            codex_shaped.ollama_request(MODEL, ollama, stream=False),
            codex_shaped.ollama_request(MODEL, ollama, stream=True),
            {},
            _ollama_has_content,
        ),
        Target(
            CODEX,
            f"{gateway}/v1/responses",
            codex_shaped.request(name, stream=False),
            codex_shaped.request(name, stream=True),
            {"Authorization": f"Bearer {key}"},
            codex_shaped.has_content,
        ),
    )


def _codex_rows(runs: dict[str, tuple[dict[str, Figures], float | None]]) -> list[tuple[str, str, list[str]]]:
    """What the gateway adds to a Codex-shaped request, beside the same body sent to Ollama."""
    added = [(f.get(CODEX), f[CODEX_DIRECT]) for f, _ in runs.values()]
    return [
        (
            "latency added p50, non-streaming " + CODEX,
            "",
            [f"{g.p50_ms - d.p50_ms:.1f} ms" if g else "-" for g, d in added],
        ),
        (
            "first streamed chunk delay added " + CODEX,
            "",
            [f"{g.first_p50_ms - d.first_p50_ms:.1f} ms" if g else "-" for g, d in added],
        ),
    ]


EMBED_MODEL = "nomic-embed-text:latest"
EMBED = "16-input /v1/embeddings"
EMBED_DIRECT = "16-input direct Ollama /api/embed"
#: A RAG tool's batch: 16 passages of a few hundred characters each.
EMBED_INPUTS = [
    f"Passage {i}: " + "GateDeck answers embeddings from Ollama's /api/embed. " * 6 for i in range(16)
]


async def measure_embeddings(
    gateway: str, ollama: str, key: str, count: int, server_pid: int
) -> dict[str, Figures]:
    """A 16-input embedding request through the gateway beside the same inputs sent to Ollama's
    ``/api/embed``, one of each in turn; the gateway's CPU per request. Only ``p50_ms`` /
    ``p95_ms`` and CPU are measured (nothing streams)."""
    times: dict[str, list[float]] = {EMBED_DIRECT: [], EMBED: []}
    sides = {
        EMBED_DIRECT: (f"{ollama}/api/embed", {"model": EMBED_MODEL, "input": EMBED_INPUTS}, {}),
        EMBED: (
            f"{gateway}/v1/embeddings",
            {"model": EMBED_MODEL, "input": EMBED_INPUTS, "encoding_format": "base64"},
            {"Authorization": f"Bearer {key}"},
        ),
    }
    cpu_ms = 0.0
    async with httpx.AsyncClient(timeout=120) as client:

        async def one(name: str) -> float:
            url, body, headers = sides[name]
            began = time.perf_counter()
            response = await client.post(url, json=body, headers=headers)
            response.raise_for_status()
            return (time.perf_counter() - began) * 1000

        for _ in range(5):  # warm-up: connections, the model "loaded"
            await one(EMBED_DIRECT)
            await one(EMBED)
        for number in range(count):
            for name in (EMBED_DIRECT, EMBED) if number % 2 else (EMBED, EMBED_DIRECT):
                before = _cpu_s(server_pid) if name == EMBED else 0.0
                times[name].append(await one(name))
                if name == EMBED:
                    cpu_ms += (_cpu_s(server_pid) - before) * 1000

    def figures(name: str, cpu: float | None) -> Figures:
        found = times[name]
        p50, p95 = statistics.median(found), _percentile(found, 0.95)
        return Figures(p50, p95, 0.0, 0.0, 0.0, cpu_ms_per_request=cpu)

    return {EMBED_DIRECT: figures(EMBED_DIRECT, None), EMBED: figures(EMBED, cpu_ms / count)}


def _embed_rows(runs: dict[str, tuple[dict[str, Figures], float | None]]) -> list[tuple[str, str, list[str]]]:
    """What the gateway adds to a 16-input embedding request, beside Ollama's /api/embed."""
    pairs = [(f.get(EMBED), f.get(EMBED_DIRECT)) for f, _ in runs.values()]
    return [
        (
            "latency added p50, " + EMBED,
            "",
            [f"{g.p50_ms - d.p50_ms:.1f} ms" if g and d else "-" for g, d in pairs],
        ),
        (
            "gateway CPU per request, " + EMBED,
            "",
            [
                f"{g.cpu_ms_per_request:.1f} ms" if g and g.cpu_ms_per_request is not None else "-"
                for g, _ in pairs
            ],
        ),
    ]


CLAUDE_DIRECT = ", direct Ollama /api/chat"  # suffix of the anchor beside each Claude-shaped row
#: The goal for the latency each Claude-shaped request gains through the gateway (issue 13).
CLAUDE_GOALS = {claude_shaped.SHAPES[1][0]: "≤ 2 ms", claude_shaped.SHAPES[2][0]: "≤ 5 ms"}


async def measure_pair(
    direct: Target, gateway: Target, count: int, server_pid: int | None
) -> tuple[Figures, Figures]:
    """Non-streamed latency and first streamed chunk of ``direct`` and ``gateway``, one request
    of each in turn (a shared machine's load falls on both alike); the gateway's CPU per
    non-streamed request. Throughput is not measured (``rps`` 0)."""
    async with (
        httpx.AsyncClient(headers=direct.headers, timeout=120) as to_direct,
        httpx.AsyncClient(headers=gateway.headers, timeout=120) as to_gateway,
    ):

        async def whole(client: httpx.AsyncClient, target: Target) -> float:
            began = time.perf_counter()
            response = await client.post(target.url, json=target.body)
            response.raise_for_status()
            return (time.perf_counter() - began) * 1000

        async def first(client: httpx.AsyncClient, target: Target) -> float:
            began = time.perf_counter()
            async with client.stream("POST", target.url, json=target.stream_body) as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if target.first_content(line):
                        return (time.perf_counter() - began) * 1000
            raise RuntimeError(f"{target.name}: no content in the stream")

        for _ in range(5):  # warm-up: connections, first-use caches, the prompt-size estimate
            await whole(to_direct, direct)
            await whole(to_gateway, gateway)
        times: dict[str, list[float]] = {"direct": [], "gateway": [], "direct first": [], "gateway first": []}
        cpu_ms = 0.0
        # in turns, each going first every other time: Ollama may still be busy with the
        # request before (a big one's body), and that must not fall on one side only
        for number in range(count):
            for side in ("direct", "gateway") if number % 2 else ("gateway", "direct"):
                if side == "direct":
                    times["direct"].append(await whole(to_direct, direct))
                else:
                    cpu_before = _cpu_s(server_pid)
                    times["gateway"].append(await whole(to_gateway, gateway))
                    cpu_ms += (_cpu_s(server_pid) - cpu_before) * 1000
        for number in range(count):
            pairs = ((to_direct, direct, "direct first"), (to_gateway, gateway, "gateway first"))
            for client, target, name in pairs if number % 2 else pairs[::-1]:
                times[name].append(await first(client, target))

    def figures(name: str, cpu: float | None) -> Figures:
        whole_ms, first_ms = times[name], times[f"{name} first"]
        return Figures(
            p50_ms=statistics.median(whole_ms),
            p95_ms=_percentile(whole_ms, 0.95),
            rps=0.0,
            first_p50_ms=statistics.median(first_ms),
            first_p95_ms=_percentile(first_ms, 0.95),
            cpu_ms_per_request=cpu,
        )

    return figures("direct", None), figures("gateway", cpu_ms / count if server_pid is not None else None)


def _claude_figures(gateway: str, ollama: str, key: str, count: int, server_pid: int) -> dict[str, Figures]:
    """Each Claude-Code-shaped request through the gateway (:mod:`bench.claude_shaped`), asked
    for an installed model by its own name, beside its Ollama body sent directly."""
    found: dict[str, Figures] = {}
    for label, build in claude_shaped.SHAPES:
        print(f"  {label}...", file=sys.stderr, flush=True)
        direct = Target(
            label + CLAUDE_DIRECT,
            f"{ollama}/api/chat",
            claude_shaped.ollama_request(build(MODEL, stream=False), MODEL, ollama),
            claude_shaped.ollama_request(build(MODEL, stream=True), MODEL, ollama),
            {},
            _ollama_has_content,
        )
        through = Target(
            label,
            f"{gateway}/v1/messages",
            build(MODEL, stream=False),
            build(MODEL, stream=True),
            {"x-api-key": key, "anthropic-version": "2023-06-01"},
            claude_shaped.has_content,
        )
        try:
            found[direct.name], found[label] = asyncio.run(measure_pair(direct, through, count, server_pid))
        except httpx.HTTPStatusError as exc:  # the stock proxy may refuse it: a "-" row
            print(f"  {label}: {exc.response.status_code} {exc.response.text[:300]}", file=sys.stderr)
    return found


def _claude_rows(
    runs: dict[str, tuple[dict[str, Figures], float | None]],
) -> list[tuple[str, str, list[str]]]:
    """What the gateway adds to each Claude-Code-shaped request, beside its body sent to Ollama."""
    rows: list[tuple[str, str, list[str]]] = []
    for label, _ in claude_shaped.SHAPES:
        pairs = [(f.get(label), f.get(label + CLAUDE_DIRECT)) for f, _ in runs.values()]

        def added(first: bool, pairs: list[tuple[Figures | None, Figures | None]] = pairs) -> list[str]:
            return [
                f"{(g.first_p50_ms - d.first_p50_ms) if first else (g.p50_ms - d.p50_ms):.1f} ms"
                if g and d
                else "-"
                for g, d in pairs
            ]

        rows.append((f"latency added p50, non-streaming {label}", CLAUDE_GOALS.get(label, ""), added(False)))
        rows.append((f"first streamed chunk delay added {label}", "", added(True)))
        rows.append(
            (
                f"  (gateway CPU per request) {label}",
                "",
                [
                    f"{g.cpu_ms_per_request:.2f} ms" if g and g.cpu_ms_per_request is not None else "-"
                    for g, _ in pairs
                ],
            )
        )
    return rows


RESTART_PROBE = (
    "import json, os, statistics, sys, time; "
    "from core.cli.gateway import cloud_key_lookup; from core.gateway.service import Gateway; "
    "from core.config.first_run import open_installation; "
    "install = open_installation(ollama_url=sys.argv[1], default_model=None); "
    "config = install.config.model_copy(deep=True); config.gateway.port = int(sys.argv[2]); "
    "gw = Gateway(config, master_key=install.master_key, cloud_key=cloud_key_lookup(install.secrets)); "
    "gw.start_blocking(); times = []\n"
    "for _ in range(6):\n"
    "    began = time.perf_counter(); gw.restart_blocking(); times.append(time.perf_counter() - began)\n"
    "print(json.dumps(statistics.median(times[1:]))); sys.stdout.flush(); "
    "gw.stop_blocking(); os._exit(0)"
)

DIRECT = "direct Ollama /api/chat"
MODES = {"stock": "0", "gatedeck": "1"}  # GATEDECK_GATEWAY_SPEEDUPS for each gateway run
#: Each speed-up on its own (``--each``), with GATEDECK_GATEWAY_SPEEDUPS for each run.
EACH = {
    "stock": "0",
    "fast path only": "fastpath",
    "uvloop only": "uvloop",
    "httptools only": "httptools",
    "quickstop only": "quickstop",
    "LiteLLM: no-otel-import only": "no-otel-import",
    "LiteLLM: inline-executor only": "inline-executor",
    "LiteLLM: free-local-cost only": "free-local-cost",
    "LiteLLM: ollama-lookup-cache only": "ollama-lookup-cache",
    "all but the fast path": "-fastpath",
    "gatedeck (all)": "1",
}
#: Modes whose restart time is measured (the others change nothing a restart does).
RESTARTS = {"0", "1", "quickstop", "-fastpath"}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _gateway_targets(gateway: str, key: str) -> list[Target]:
    return [
        Target(
            "/v1/chat/completions",
            f"{gateway}/v1/chat/completions",
            {"model": "claude-sonnet-4-5", "messages": PROMPT},
            {"model": "claude-sonnet-4-5", "messages": PROMPT, "stream": True},
            {"Authorization": f"Bearer {key}"},
            _openai_has_content,
            {"model": LONG_MODEL, "messages": PROMPT, "stream": True},
        ),
        Target(
            "/v1/messages",
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
            {"model": LONG_MODEL, "max_tokens": 256, "messages": PROMPT, "stream": True},
        ),
    ]


def _run_gateway(
    mode: str,
    switch: str,
    ollama: str,
    direct_target: Target,
    env: dict[str, str],
    key_of: Callable[[], str],
    args: argparse.Namespace,
) -> tuple[dict[str, Figures], float | None]:
    """Figures of one gateway (``mode``: GATEDECK_GATEWAY_SPEEDUPS=``switch``) with direct
    Ollama's measured just before them (the anchor, taken under the same conditions), then its
    in-process restart time (s; ``None`` where not measured)."""
    env = {**env, "GATEDECK_GATEWAY_SPEEDUPS": switch}
    port = free_port()
    print(f"[{mode}] starting `gatedeck serve` (loads LiteLLM, ~15 s)...", file=sys.stderr, flush=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "--ollama-url", ollama, "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        gateway = f"http://127.0.0.1:{port}"
        wait_http(f"{gateway}/health/liveliness", proc)
        if args.claude_only:
            return _claude_figures(gateway, ollama, key_of(), args.claude_requests, proc.pid), None
        codex_direct, codex = _codex_targets(gateway, ollama, key_of())
        figures = {
            DIRECT: asyncio.run(measure(direct_target, args.requests, args.concurrency)),
            CODEX_DIRECT: asyncio.run(measure(codex_direct, args.requests, args.concurrency)),
        }
        figures.update(
            (t.name, asyncio.run(measure(t, args.requests, args.concurrency, proc.pid)))
            for t in _gateway_targets(gateway, key_of())
        )
        try:
            figures[codex.name] = asyncio.run(measure(codex, args.requests, args.concurrency, proc.pid))
        except httpx.HTTPStatusError as exc:  # the stock proxy may not answer it: a "-" row
            print(f"[{mode}] {codex.name}: {exc}", file=sys.stderr, flush=True)
        figures.update(asyncio.run(measure_embeddings(gateway, ollama, key_of(), args.requests, proc.pid)))
        if args.claude_requests:
            figures.update(_claude_figures(gateway, ollama, key_of(), args.claude_requests, proc.pid))
    finally:
        _stop(proc)
    if args.each and switch not in RESTARTS:
        return figures, None
    print(f"[{mode}] timing restarts in-process...", file=sys.stderr, flush=True)
    probe = subprocess.run(
        [sys.executable, "-c", RESTART_PROBE, ollama, str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    lines = probe.stdout.decode().strip().splitlines()
    restart_s = float(json.loads(lines[-1])) if probe.returncode == 0 and lines else None
    if restart_s is None:
        print(f"[{mode}] restart probe failed: {probe.stderr.decode()[-500:]}", file=sys.stderr)
    return figures, restart_s


def _print_raw(runs: dict[str, tuple[dict[str, Figures], float | None]], args: argparse.Namespace) -> None:
    print(
        f"\nGateDeck gateway overhead ({args.requests} sequential requests, concurrency {args.concurrency})"
    )
    header = f"{'':36}{'p50 ms':>9}{'p95 ms':>9}{'req/s @' + str(args.concurrency):>11}"
    print(header + f"{'1st chunk p50':>15}{'p95':>8}{'CPU ms/chunk':>14}{'CPU ms/req':>12}")
    rows = []
    for mode, (figures, _) in runs.items():
        rows += [(f"{mode} {name}", f) for name, f in figures.items()]
    for name, f in rows:
        cpu = f"{f.cpu_ms_per_chunk:14.3f}" if f.cpu_ms_per_chunk is not None else f"{'-':>14}"
        cpu += f"{f.cpu_ms_per_request:12.2f}" if f.cpu_ms_per_request is not None else f"{'-':>12}"
        print(
            f"{name:36}{f.p50_ms:9.1f}{f.p95_ms:9.1f}{f.rps:11.1f}{f.first_p50_ms:15.1f}{f.first_p95_ms:8.1f}{cpu}"
        )


def _print_issue_table(
    runs: dict[str, tuple[dict[str, Figures], float | None]],
    stalls: dict[str, ui_figures.Stalls | None],
    paint: tuple[float, float] | None,
) -> None:
    """Issue 9's figures, one column per gateway, target beside them."""
    modes = list(runs)
    rows: list[tuple[str, str, list[str]]] = []
    for path in ("/v1/chat/completions", "/v1/messages"):
        rows.append(
            (
                f"latency added p50, non-streaming {path}",
                "≤ 3 ms",
                [f"{runs[m][0][path].p50_ms - runs[m][0][DIRECT].p50_ms:.1f} ms" for m in modes],
            )
        )
        rows.append(
            (
                f"throughput @8, gateway ÷ direct {path}",
                "≥ 0.5",
                [f"{runs[m][0][path].rps / runs[m][0][DIRECT].rps:.2f}" for m in modes],
            )
        )
        rows.append(
            (
                f"first streamed chunk delay added {path}",
                "≤ 5 ms",
                [f"{runs[m][0][path].first_p50_ms - runs[m][0][DIRECT].first_p50_ms:.1f} ms" for m in modes],
            )
        )
        rows.append(
            (
                f"gateway CPU per streamed chunk {path}",
                "≤ 0.2 ms",
                [
                    f"{c:.3f} ms" if (c := runs[m][0][path].cpu_ms_per_chunk) is not None else "-"
                    for m in modes
                ],
            )
        )
        rows.append(
            (
                f"  (gateway CPU per request, 3-chunk reply) {path}",
                "",
                [
                    f"{c:.2f} ms" if (c := runs[m][0][path].cpu_ms_per_request) is not None else "-"
                    for m in modes
                ],
            )
        )
    rows += _codex_rows(runs)
    rows += _embed_rows(runs)
    rows += _claude_rows(runs)
    rows.append(
        (
            "restart in-process",
            "≤ 0.2 s",
            [f"{r:.3f} s" if (r := runs[m][1]) is not None else "failed" for m in modes],
        )
    )

    def stall(mode: str, front: str) -> str:
        found = stalls.get(mode)
        if found is None:
            return "-"
        ms, bare = getattr(found, f"{front}_front"), getattr(found, f"{front}_front_bare")
        return f"{ms:.1f} ms (bare {bare:.1f})"

    rows.append(
        (
            "longest UI stall, 8 streams, gateway panel in front",
            "≤ 16 ms",
            [stall(m, "gateway") for m in modes],
        )
    )
    rows.append(
        ("longest UI stall, 8 streams, monitor in front", "≤ 16 ms", [stall(m, "monitor") for m in modes])
    )
    ratio = f"{paint[0] / paint[1]:.2f} ({paint[0]:.0f}/{paint[1]:.0f} ms)" if paint else "-"
    rows.append(
        ("launch → window painted ÷ bare PySide6", "≤ 2.5", ["(same app)"] * (len(modes) - 1) + [ratio])
    )
    anchors = "; ".join(
        f"{m}: p50 {d.p50_ms:.1f} ms, {d.rps:.0f} req/s, 1st chunk {d.first_p50_ms:.1f} ms"
        for m in modes
        if (d := runs[m][0][DIRECT])
    )
    print(f"\nIssue 9 figures (direct Ollama measured just before each gateway, {anchors})")
    width = 56
    print(f"{'figure':{width}}{'target':>10}" + "".join(f"{m:>26}" for m in modes))
    for name, target, values in rows:
        print(f"{name:{width}}{target:>10}" + "".join(f"{v:>26}" for v in values))


def _print_rows(
    title: str,
    runs: dict[str, tuple[dict[str, Figures], float | None]],
    rows: list[tuple[str, str, list[str]]],
) -> None:
    print(f"\n{title}")
    width = 64
    print(f"{'figure':{width}}{'target':>10}" + "".join(f"{m:>14}" for m in runs))
    for name, target, values in rows:
        print(f"{name:{width}}{target:>10}" + "".join(f"{v:>14}" for v in values))


def _pair(chat: float | None, messages: float | None, spec: str) -> str:
    return " / ".join("-" if v is None else format(v, spec) for v in (chat, messages))


def _print_each_table(
    runs: dict[str, tuple[dict[str, Figures], float | None]], chosen: dict[str, str]
) -> None:
    """One row per mode: what the gateway adds over direct Ollama, OpenAI chat / Anthropic
    messages side by side (direct measured just before each mode)."""
    paths = ("/v1/chat/completions", "/v1/messages")
    print("\nEach speed-up on its own (chat / messages; added = gateway - direct Ollama)")
    columns = (
        "switch",
        "added p50 ms",
        "req/s ÷ direct",
        "1st chunk +ms",
        "CPU ms/req",
        "CPU ms/chunk",
        "restart s",
    )
    print(f"{'mode':36}" + "".join(f"{c:>18}" for c in columns))
    for mode, (figures, restart) in runs.items():
        direct = figures[DIRECT]
        chat, messages = figures[paths[0]], figures[paths[1]]
        cells = (
            chosen[mode],
            _pair(chat.p50_ms - direct.p50_ms, messages.p50_ms - direct.p50_ms, ".1f"),
            _pair(chat.rps / direct.rps, messages.rps / direct.rps, ".2f"),
            _pair(
                chat.first_p50_ms - direct.first_p50_ms, messages.first_p50_ms - direct.first_p50_ms, ".1f"
            ),
            _pair(chat.cpu_ms_per_request, messages.cpu_ms_per_request, ".2f"),
            _pair(chat.cpu_ms_per_chunk, messages.cpu_ms_per_chunk, ".3f"),
            "-" if restart is None else f"{restart:.3f}",
        )
        print(f"{mode:36}" + "".join(f"{c:>18}" for c in cells))
    print(
        "direct Ollama per mode: "
        + "; ".join(
            f"{m} p50 {f[DIRECT].p50_ms:.1f} ms, {f[DIRECT].rps:.0f} req/s" for m, (f, _) in runs.items()
        )
    )


def _measure_hosts(args: argparse.Namespace) -> hosts.HostFigures:
    """The two-host row, with a gateway of its own (every speed-up on: the fast path chooses)."""
    import tempfile

    print("[hosts] two fake Ollama hosts and a gateway on both...", file=sys.stderr, flush=True)
    env = {**gatedeck_env(), "GATEDECK_GATEWAY_SPEEDUPS": "1"}

    def its_key() -> str:
        from core.paths import AppPaths
        from core.secrets import MASTER_KEY, open_secret_store

        paths = AppPaths.from_env({"GATEDECK_CONFIG_DIR": env["GATEDECK_CONFIG_DIR"]})
        return open_secret_store(paths, {"GATEDECK_SECRET_STORE": "file"}).get(MASTER_KEY) or ""

    return hosts.measure(env, its_key, concurrency=args.concurrency, logs=Path(tempfile.mkdtemp()))


def _print_hosts(figures: hosts.HostFigures) -> None:
    print(
        f"\nOne mapping on two Ollama hosts (each answers {figures.parallel} at once), "
        f"{figures.concurrency} conversations in flight"
    )
    print(f"{'':36}{'req/s':>9}")
    print(f"{'one host':36}{figures.one_host_rps:>9.1f}")
    split = f"  (answered {figures.split[0]} / {figures.split[1]})"
    print(f"{'two hosts':36}{figures.two_hosts_rps:>9.1f}{split}")
    print(f"{'two hosts ÷ one (goal ≥ 1.8)':36}{figures.ratio:>9.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per target")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", choices=sorted(MODES), help="measure one gateway only")
    parser.add_argument("--skip-ui", action="store_true", help="leave out the UI stall and startup figures")
    parser.add_argument("--each", action="store_true", help="each speed-up on its own (no UI rows)")
    parser.add_argument("--modes", help="NAME=SWITCH;... (GATEDECK_GATEWAY_SPEEDUPS per mode)")
    parser.add_argument(
        "--claude-requests", type=int, default=40, help="requests per Claude-Code-shaped row (0: none)"
    )
    parser.add_argument("--claude-only", action="store_true", help="the Claude-Code-shaped rows alone")
    parser.add_argument("--hosts-only", action="store_true", help="the two-Ollama-hosts row alone")
    args = parser.parse_args(argv)
    if args.modes:
        chosen = dict(item.split("=", 1) for item in args.modes.split(";"))
    elif args.each:
        chosen = dict(EACH)
    else:
        chosen = {args.only: MODES[args.only]} if args.only else dict(MODES)

    env = gatedeck_env()

    def key_of() -> str:
        from core.paths import AppPaths
        from core.secrets import MASTER_KEY, open_secret_store

        paths = AppPaths.from_env({"GATEDECK_CONFIG_DIR": env["GATEDECK_CONFIG_DIR"]})
        return open_secret_store(paths, {"GATEDECK_SECRET_STORE": "file"}).get(MASTER_KEY) or ""

    if args.hosts_only:
        _print_hosts(_measure_hosts(args))
        return 0
    ollama_port = free_port()
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.fake_ollama",
            "--port",
            str(ollama_port),
            "--reply",
            f"{LONG_MODEL}={LONG_WORDS}",
            "--add-model",
            EMBED_MODEL,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ollama = f"http://127.0.0.1:{ollama_port}"
        wait_http(f"{ollama}/api/version", fake)
        direct_target = Target(
            DIRECT,
            f"{ollama}/api/chat",
            {"model": MODEL, "messages": PROMPT, "stream": False},
            {"model": MODEL, "messages": PROMPT, "stream": True},
            {},
            _ollama_has_content,
            {"model": LONG_MODEL, "messages": PROMPT, "stream": True},
        )
        runs = {
            mode: _run_gateway(mode, switch, ollama, direct_target, env, key_of, args)
            for mode, switch in chosen.items()
        }
    finally:
        _stop(fake)

    _print_raw(runs, args)
    if not (args.claude_only or args.each or args.modes):
        _print_hosts(_measure_hosts(args))
    if args.claude_only:
        _print_rows("Claude-Code-shaped requests", runs, _claude_rows(runs))
        return 0
    if args.each or args.modes:
        _print_each_table(runs, chosen)
        return 0
    stalls: dict[str, ui_figures.Stalls | None] = {}
    paint = None
    if not args.skip_ui:
        stalls = {
            mode: ui_figures.stalls({**env, "GATEDECK_GATEWAY_SPEEDUPS": switch}, mode)
            for mode, switch in chosen.items()
        }
        paint = ui_figures.startup(env)
    _print_issue_table(runs, stalls, paint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
