"""``gatedeck models list|show|ps|pull|rm|load|unload`` and ``gatedeck hw``.

The Ollama address is ``--ollama-url`` when given, else the config's first backend (a brand-new
install: ``$OLLAMA_HOST`` or http://127.0.0.1:11434).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from core.cli.format import ago, describe_hardware, human_bytes, parse_size, render_progress, table, until
from core.config.schema import Config, OllamaServerSettings
from core.errors import GateDeckError, ModelNotFound, OllamaUnreachable
from core.hardware.facts import assumed, probe_hardware
from core.hardware.fit import FitEstimate, ModelGeometry, estimate_on
from core.ollama.client import OllamaClient
from core.ollama.names import full_name
from core.ollama.pull import Pull, PullPhase, PullProgress
from core.ollama.storage import is_local_url, ollama_models_dir
from core.setup.catalog import find
from core.setup.recommend import CLAUDE_CODE_MIN_CONTEXT, choose_context, rate

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    url = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a `gatedeck --ollama-url URL models …` given before the command.
    url.add_argument("--ollama-url", metavar="URL", default=argparse.SUPPRESS, help="Ollama's address")

    models = subparsers.add_parser(
        "models", help="list, inspect, pull, delete, load and unload Ollama models"
    )
    actions = models.add_subparsers(dest="models_action", metavar="ACTION")

    listing = actions.add_parser("list", parents=[url], help="installed models")
    listing.set_defaults(func=_sync(cmd_list))

    show = actions.add_parser("show", parents=[url], help="a model's details (context, layers, capabilities)")
    show.add_argument("model")
    show.set_defaults(func=_sync(cmd_show))

    ps = actions.add_parser("ps", parents=[url], help="models loaded in memory, and their GPU/CPU split")
    ps.set_defaults(func=_sync(cmd_ps))

    pull = actions.add_parser(
        "pull", parents=[url], help="download a model (Ctrl-C stops; pulling again resumes)"
    )
    pull.add_argument("model")
    pull.add_argument(
        "--stall-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="reconnect after S seconds without progress",
    )
    pull.add_argument(
        "--retries", type=int, default=3, metavar="N", help="reconnects without progress before giving up"
    )
    pull.set_defaults(func=cmd_pull)

    rm = actions.add_parser("rm", parents=[url], help="delete models")
    rm.add_argument("model", nargs="+")
    rm.set_defaults(func=_sync(cmd_rm))

    load = actions.add_parser("load", parents=[url], help="load a model into memory now")
    load.add_argument("model")
    load.add_argument(
        "--keep-alive", default="5m", help="how long to keep it loaded (5m, 1h, -1 = until unloaded)"
    )
    load.add_argument("--num-ctx", type=int, metavar="N", help="context length to load it with")
    load.set_defaults(func=_sync(cmd_load))

    unload = actions.add_parser("unload", parents=[url], help="free the memory a model holds")
    unload.add_argument("model")
    unload.set_defaults(func=_sync(cmd_unload))

    hw = subparsers.add_parser("hw", parents=[url], help="hardware summary, and whether a model fits (--fit)")
    hw.add_argument(
        "--fit", metavar="MODEL", help="estimate memory for this model (installed, or in GateDeck's table)"
    )
    hw.add_argument(
        "--ctx",
        type=int,
        metavar="N",
        help="num_ctx for --fit (default: the largest from 32k up that keeps the model where it sits)",
    )
    hw.add_argument("--num-gpu", type=int, metavar="N", help="GPU layers for --fit (default: as many as fit)")
    hw.add_argument(
        "--kv-cache-type", choices=["f16", "q8_0", "q4_0"], help="KV cache type (default: config, f16)"
    )
    hw.add_argument("--parallel", type=int, help="parallel requests (default: config, 1)")
    hw.add_argument("--vram", type=parse_size, metavar="SIZE", help="assume this much free VRAM, e.g. 24GiB")
    hw.set_defaults(func=_sync(cmd_hw))


# ---------------------------------------------------------------------- plumbing
def _sync(command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]]) -> Handler:
    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(command(args))
        except GateDeckError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


def _config() -> Config:
    from core.config.defaults import default_config
    from core.config.store import ConfigStore

    return ConfigStore.from_env().load(default=default_config).config


def backend_url(args: argparse.Namespace) -> str:
    url = getattr(args, "ollama_url", None)
    return str(url).rstrip("/") if url else _config().backends[0].url


# ---------------------------------------------------------------------- commands
async def cmd_list(args: argparse.Namespace) -> int:
    out = sys.stdout
    async with OllamaClient(backend_url(args)) as client:
        models = await client.list_models()
    if not models:
        out.write("No models installed. Pull one: gatedeck models pull llama3.2:3b\n")
        return 0
    rows = [("NAME", "SIZE", "FAMILY", "PARAMS", "QUANT", "MODIFIED")]
    rows += [
        (m.name, human_bytes(m.size), m.family, m.parameter_size, m.quantization, ago(m.modified_at))
        for m in models
    ]
    table(rows, out)
    return 0


async def cmd_show(args: argparse.Namespace) -> int:
    out = sys.stdout
    async with OllamaClient(backend_url(args)) as client:
        d = await client.show(args.model)
    kv = f"{d.head_count_kv} KV heads" if d.head_count_kv else "?"
    lines = [
        ("model", d.name),
        ("architecture", d.architecture),
        ("parameters", d.parameter_size),
        ("quantization", d.quantization),
        ("context length", str(d.context_length or "?")),
        ("layers", str(d.block_count or "?")),
        ("embedding length", str(d.embedding_length or "?")),
        ("attention heads", f"{d.head_count or '?'} ({kv})"),
        ("capabilities", ", ".join(d.capabilities) or "-"),
    ]
    lines += [(f"default {name}", value) for name, value in d.parameters]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        out.write(f"{key.ljust(width)}  {value}\n")
    return 0


async def cmd_ps(args: argparse.Namespace) -> int:
    out = sys.stdout
    async with OllamaClient(backend_url(args)) as client:
        loaded = await client.ps()
    if not loaded:
        out.write("No models loaded.\n")
        return 0
    rows = [("NAME", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL")]
    rows += [
        (
            m.name,
            human_bytes(m.size),
            m.processor,
            str(m.context_length or "-"),
            until(m.expires_at, m.kept_forever),
        )
        for m in loaded
    ]
    table(rows, out)
    return 0


async def cmd_rm(args: argparse.Namespace) -> int:
    out = sys.stdout
    async with OllamaClient(backend_url(args)) as client:
        for model in args.model:
            await client.delete(model)
            out.write(f"deleted '{model}'\n")
    return 0


async def cmd_load(args: argparse.Namespace) -> int:
    out = sys.stdout
    options = {"num_ctx": args.num_ctx} if args.num_ctx else None
    async with OllamaClient(backend_url(args)) as client:
        await client.load(args.model, keep_alive=args.keep_alive, options=options)
    out.write(f"loaded '{args.model}' (keep-alive {args.keep_alive})\n")
    return 0


async def cmd_unload(args: argparse.Namespace) -> int:
    out = sys.stdout
    async with OllamaClient(backend_url(args)) as client:
        await client.unload(args.model)
    out.write(f"unloaded '{args.model}'\n")
    return 0


# ---------------------------------------------------------------------- pull
async def pull_with_bar(pull: Pull, out: TextIO) -> PullProgress:
    """Run ``pull``, drawing a bar on ``out`` (redrawn in place on a terminal)."""
    tty = out.isatty()
    last_line = ""
    last_phase: PullPhase | None = None
    last_tenth = -1
    async for progress in pull:
        line = render_progress(progress)
        tenth = int((progress.fraction or 0) * 10)
        if tty:
            out.write("\r" + line.ljust(len(last_line)))
        elif progress.phase is not last_phase or tenth > last_tenth:
            out.write(line + "\n")
        out.flush()
        if progress.phase is not last_phase:
            last_tenth = -1
        last_line, last_phase, last_tenth = line, progress.phase, max(tenth, last_tenth)
    if tty:
        out.write("\n")
    assert pull.last is not None
    return pull.last


async def _pull(args: argparse.Namespace, out: TextIO) -> int:
    url = backend_url(args)
    settings = _config().ollama_server if not getattr(args, "ollama_url", None) else OllamaServerSettings()
    models_dir = ollama_models_dir(settings) if is_local_url(url) else None
    async with OllamaClient(url) as client:
        pull = Pull(
            client,
            args.model,
            stall_timeout=args.stall_timeout,
            max_resumes=args.retries,
            models_dir=models_dir,
        )
        final = await pull_with_bar(pull, out)
    return 0 if final.phase is PullPhase.DONE else 1


def cmd_pull(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_pull(args, sys.stderr))
    except GateDeckError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # asyncio.run cancelled the pull, which closed the stream: Ollama stops and keeps the
        # layers it has, so the same command resumes.
        print(
            f"\nPull of '{args.model}' cancelled. Run the same command to resume where it stopped.",
            file=sys.stderr,
        )
        return 130


# ---------------------------------------------------------------------- hardware
async def cmd_hw(args: argparse.Namespace) -> int:
    out = sys.stdout
    hw = assumed(await probe_hardware(), args.vram)
    for line in describe_hardware(hw):
        out.write(line + "\n")
    if not args.fit:
        return 0
    settings = _config().ollama_server
    server = settings.model_copy(
        update={
            "kv_cache_type": args.kv_cache_type or settings.kv_cache_type,
            "num_parallel": args.parallel or settings.num_parallel,
        }
    )
    try:
        geometry, max_context = await _geometry(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    fit: FitEstimate | None = None
    if args.ctx is None and args.num_gpu is None:
        fit = choose_context(geometry, hw, server, ceiling=max_context)
        if fit is not None:
            out.write(f"\nFor Claude Code: num_ctx {fit.num_ctx:,} (the most that keeps it where it sits)")
    if fit is None:
        ctx = args.ctx or CLAUDE_CODE_MIN_CONTEXT
        fit = estimate_on(geometry, hw, server, num_ctx=ctx, num_gpu=args.num_gpu)
    out.write(f"\n{rate(fit).label}  {fit.summary()}\n")
    out.write(
        f"  weights {human_bytes(fit.weights)} + KV cache {human_bytes(fit.kv_cache)}"
        f" + GPU overhead {human_bytes(fit.overhead)} = {human_bytes(fit.total)}\n"
    )
    return 0 if fit.fits else 2


async def _geometry(args: argparse.Namespace) -> tuple[ModelGeometry, int | None]:
    """The model's geometry and trained context: from Ollama when installed, else from GateDeck's
    table (also when Ollama is not running)."""
    try:
        async with OllamaClient(backend_url(args)) as client:
            details = await client.show(args.fit)
            sizes = {m.name: m.size for m in await client.list_models()}
    except (ModelNotFound, OllamaUnreachable):
        entry = find(args.fit)
        if entry is None:
            raise
        return entry.geometry, entry.max_context
    geometry = ModelGeometry.from_details(details, sizes.get(full_name(args.fit), 0))
    return geometry, details.context_length
