"""``gatedeck stats``: p50/p95 TTFT, latency and tokens/s per mapping, what running locally
saved (today, this week, per mapping: the cloud price of the requested models) and why the fast
path passed requests for a mapping on to LiteLLM (a line per mapping), from the request log;
the same figures per Ollama host when several answered (``--hosts``: those alone), and the
embeddings requests per mapping (texts, tokens, latency) when there were any (``--embeddings``:
those alone).

Reads ``<data dir>/logs/requests.jsonl`` (and its rotated files), which the window's gateway and
``gatedeck serve`` both write, so it works whichever of them served the requests.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from typing import Any, TextIO

from core.cli.format import table
from core.metrics.recorder import RequestRecord
from core.metrics.request_log import LOG_FILE, read_log
from core.metrics.savings import dollars, summarize_savings, week_start
from core.metrics.stats import (
    EmbeddingStats,
    HostStats,
    MappingStats,
    summarize,
    summarize_embeddings,
    summarize_hosts,
)
from core.paths import AppPaths

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``1h``, ``7d`` → seconds (``argparse`` type)."""
    match = _DURATION.match(text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration such as 30m, 1h or 7d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    stats = subparsers.add_parser(
        "stats",
        help="p50/p95 time to first token, latency and tokens/s per mapping, and what was saved (request log)",
    )
    stats.add_argument("--since", type=parse_duration, metavar="DURATION", help="only the last 30m, 1h, 7d…")
    stats.add_argument("--mapping", metavar="NAME", help="only this mapping")
    stats.add_argument("--hosts", action="store_true", help="per Ollama host instead of per mapping")
    stats.add_argument(
        "--embeddings", action="store_true", help="only the embeddings requests (texts, tokens, latency)"
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(func=cmd_stats)


def cmd_stats(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    folder = AppPaths.from_env().log_dir
    now = time.time()
    since = now - args.since if args.since else None
    this_week = week_start(now)
    read = (_record(item) for item in read_log(folder, since=min(since or this_week, this_week)))
    mine = [r for r in read if r is not None and (not args.mapping or r.mapping == args.mapping)]
    window = mine if since is None else [r for r in mine if r.at >= since]
    records = [r for r in window if not r.probe]
    probes = len(window) - len(records)
    stats = summarize(records)
    hosts = summarize_hosts(records)
    embeddings = summarize_embeddings(records)
    savings = summarize_savings((r for r in mine if r.at >= this_week), now)
    if args.json:
        chosen = hosts if args.hosts else embeddings if args.embeddings else stats
        json.dump([asdict(s) for s in chosen], out, indent=2)
        out.write("\n")
        return 0
    where = folder / LOG_FILE
    if not stats:
        scope = " matching those filters" if (args.since or args.mapping) else ""
        out.write(
            f"No requests{scope} in {where}.\nRequests through the gateway (GateDeck's window or "
            "`gatedeck serve`) are logged there.\n"
        )
        if probes:
            out.write(f"{probes} probe requests left out (GateDeck's tool-call test, not your usage)\n")
        return 0
    out.write(f"{len(records)} requests from {where}\n")
    if probes:
        out.write(f"{probes} probe requests left out (GateDeck's tool-call test, not your usage)\n")
    out.write(
        f"Saved by answering locally (cloud prices of the requested models): {dollars(savings.today)} "
        f"today, {dollars(savings.week)} this week\n\n"
    )
    if args.embeddings:
        print_embeddings_table(embeddings, out)
        return 0
    if not args.hosts:
        print_table(stats, out)
        print_declined(stats, out)
    if args.hosts or len(hosts) > 1:
        out.write("\nPer Ollama host:\n" if not args.hosts else "")
        print_host_table(hosts, out)
    if embeddings and not args.hosts:
        out.write("\nEmbeddings:\n")
        print_embeddings_table(embeddings, out)
    return 0


def print_declined(stats: list[MappingStats], out: TextIO) -> None:
    """A line per mapping whose requests the fast path passed on to LiteLLM, with its top reasons."""
    for s in stats:
        if s.declined:
            reasons = ", ".join(f"{reason} ({count})" for reason, count in s.declined_reasons)
            plural = "request" if s.declined == 1 else "requests"
            out.write(
                f"{s.mapping}: {s.declined} {plural} passed to LiteLLM by the fast path; top reasons: {reasons}\n"
            )


def print_embeddings_table(stats: list[EmbeddingStats], out: TextIO) -> None:
    if not stats:
        out.write("No embeddings requests.\n")
        return
    rows = [["MAPPING", "REQUESTS", "ERRORS", "INPUTS", "TOKENS", "LATENCY p50", "LATENCY p95"]]
    for s in stats:
        rows.append(
            [
                s.mapping,
                str(s.requests),
                str(s.errors),
                str(s.inputs),
                str(s.tokens),
                seconds(s.latency_s.p50),
                seconds(s.latency_s.p95),
            ]
        )
    table(rows, out)


def print_host_table(hosts: list[HostStats], out: TextIO) -> None:
    rows = [["HOST", "REQUESTS", "ERRORS", "TTFT p50", "LATENCY p50", "LATENCY p95", "TOK/S p50", "MAPPINGS"]]
    for h in hosts:
        rows.append(
            [
                h.host,
                str(h.requests),
                str(h.errors),
                seconds(h.ttft_s.p50),
                seconds(h.latency_s.p50),
                seconds(h.latency_s.p95),
                speed(h.tokens_per_s.p50),
                ", ".join(h.mappings),
            ]
        )
    table(rows, out)


def print_table(stats: list[MappingStats], out: TextIO) -> None:
    rows = [
        [
            "MAPPING",
            "REQUESTS",
            "ERRORS",
            "FALLBACKS",
            "TRUNCATED",
            "TTFT p50",
            "TTFT p95",
            "LATENCY p50",
            "LATENCY p95",
            "TOK/S p50",
            "TOK/S p95",
            "SAVED",
        ]
    ]
    for s in stats:
        rows.append(
            [
                s.mapping,
                str(s.requests),
                str(s.errors),
                str(s.fallbacks),
                str(s.truncated),
                seconds(s.ttft_s.p50),
                seconds(s.ttft_s.p95),
                seconds(s.latency_s.p50),
                seconds(s.latency_s.p95),
                speed(s.tokens_per_s.p50),
                speed(s.tokens_per_s.p95),
                dollars(s.saved) if s.saved else "-",
            ]
        )
    table(rows, out)


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def speed(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _record(item: dict[str, Any]) -> RequestRecord | None:
    try:
        return RequestRecord.from_json(item)
    except (TypeError, ValueError):
        return None
