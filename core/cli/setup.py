"""``gatedeck setup``: from nothing to Claude Code on a local model that fits and calls tools.

The steps, each said as it happens: Ollama (running? start it if installed), this machine, the
recommendations, the pull, the mappings, the tool-call probe through a gateway started here,
and Claude Code's settings. ``--yes`` answers every question with its default (the first
recommendation; on a bad probe verdict, the next one). It exits with 2 when the model it set up
failed the tool-call probe.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from core.cli.codex_config import write_and_report
from core.cli.config import report_load_problems
from core.cli.format import describe_hardware, human_bytes, parse_size, table
from core.cli.models import pull_with_bar
from core.clients.backups import original_note
from core.clients.claude_code import claude_code_env, write_settings
from core.clients.probe_verdicts import keep_verdict
from core.clients.tool_probe import ProbeResult, probe_tool_calls
from core.config.first_run import Installation, open_installation
from core.config.schema import Config
from core.errors import GateDeckError
from core.hardware.facts import assumed, probe_hardware
from core.ollama.client import OllamaClient
from core.ollama.models import ModelDetails
from core.ollama.pull import Pull, PullPhase
from core.ollama.server import OllamaServer
from core.ollama.storage import is_local_url, ollama_models_dir
from core.setup.apply import map_claude_tiers, probe_target, tiers_like
from core.setup.ollama_check import OllamaFound, check_ollama
from core.setup.recommend import Recommendation, k_tokens, rate, recommend, recommendation_for

#: Recommendations tried with ``--yes`` when the probe's verdict is bad.
MAX_TRIES = 2

Ask = Callable[[str], str]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    setup = subparsers.add_parser(
        "setup", help="pick a model that fits this machine, pull it, check its tool calls, set up Claude Code"
    )
    # SUPPRESS keeps a `gatedeck --ollama-url URL setup` given before the command.
    setup.add_argument("--ollama-url", metavar="URL", default=argparse.SUPPRESS, help="Ollama's address")
    setup.add_argument(
        "--yes", "-y", action="store_true", help="take every default (the first recommendation)"
    )
    setup.add_argument("--model", metavar="NAME", help="use this model (from the table, or installed)")
    setup.add_argument(
        "--no-claude-settings",
        action="store_true",
        help="leave ~/.claude/settings.json alone (start Claude Code with `gatedeck claude` instead)",
    )
    setup.add_argument(
        "--codex",
        action="store_true",
        help="also write GateDeck's provider into the Codex CLI's config.toml (merged, backed up)",
    )
    setup.add_argument("--skip-probe", action="store_true", help="do not run the tool-call probe")
    setup.add_argument(
        "--probe-runs", type=int, default=3, metavar="N", help="tool-call probe runs (default 3)"
    )
    setup.add_argument(
        "--vram",
        type=parse_size,
        metavar="SIZE",
        help="plan for this much free VRAM (e.g. 8GiB) instead of this GPU's",
    )
    setup.add_argument(
        "--ram",
        type=parse_size,
        metavar="SIZE",
        help="plan for this much available RAM instead of this machine's",
    )
    setup.set_defaults(func=cmd_setup)


def _ask_terminal(question: str) -> str:
    return input(question)


def cmd_setup(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_setup(args, _ask_terminal, sys.stdout))
    except GateDeckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nSetup stopped. Run `gatedeck setup` again to go on (a pull resumes).", file=sys.stderr)
        return 130


class _Answers:
    """Questions in the terminal; with ``--yes`` each takes its default without asking."""

    def __init__(self, ask: Ask, assume_yes: bool) -> None:
        self._ask, self._yes = ask, assume_yes

    def text(self, question: str, default: str) -> str:
        if self._yes:
            return default
        try:
            answer = self._ask(f"{question} [{default}] ").strip()
        except EOFError:
            raise GateDeckError(
                "setup needs answers, but its input is closed: run it with --yes or --model NAME"
            ) from None
        return answer or default

    def confirm(self, question: str, default: bool = True) -> bool:
        answer = self.text(question, "Y/n" if default else "y/N")
        return default if answer in ("Y/n", "y/N") else answer.lower().startswith("y")


async def _setup(args: argparse.Namespace, ask: Ask, out: TextIO) -> int:
    answers = _Answers(ask, args.yes)
    install = open_installation(ollama_url=args.ollama_url)
    report_load_problems(install)
    config = install.config
    url = (args.ollama_url or config.backends[0].url).rstrip("/")
    if url != config.backends[0].url:
        backends = [config.backends[0].model_copy(update={"url": url}), *config.backends[1:]]
        config = config.model_copy(update={"backends": backends})

    out.write("Ollama\n")
    started = await _ensure_ollama(url, config, answers, out)
    if started is None:
        return 1
    if started:  # the user let GateDeck run it: the window keeps doing so
        server = config.ollama_server.model_copy(update={"managed": True})
        config = config.model_copy(update={"ollama_server": server})

    hardware = assumed(await probe_hardware(), args.vram, args.ram)
    out.write("\nThis machine\n")
    for line in describe_hardware(hardware):
        out.write(f"  {line}\n")

    async with OllamaClient(url) as client:
        installed = await _installed(client)
    if args.model:
        queue = [recommendation_for(args.model, hardware, config.ollama_server, installed)]
        out.write(f"\nUsing {queue[0].model}: {queue[0].reason}\n")
    else:
        found = recommend(hardware, config.ollama_server, installed)
        if not found:
            out.write(_NOTHING_FITS)
            return 1
        _print_recommendations(found, out)
        pick = _pick(found, answers)
        queue = [found[pick], *found[pick + 1 :]]

    tried, passed = 0, True
    while queue:
        rec = queue.pop(0)
        tried += 1
        config = await _use(rec, config, install, url, out)
        if args.skip_probe:
            out.write("\nTool-call probe skipped (--skip-probe).\n")
            break
        result = await _probe(config, install, args.probe_runs, out)
        passed = result.passed
        if passed:
            break
        following = queue[0] if queue else None
        if following is None or (args.yes and tried >= MAX_TRIES):
            out.write(_STRUGGLES)
            break
        if args.yes:
            out.write(f"\nTrying the next recommendation: {following.model}\n")
        elif not answers.confirm(f"Try the next recommendation, {following.model}?", default=False):
            out.write(_STRUGGLES)
            break

    await _point_clients(config, install, args, out)
    return 0 if passed else 2


_NOTHING_FITS = (
    "\nNo model in GateDeck's table fits this machine at the 32k context Claude Code needs.\n"
    "Free some memory (close programs, or unload models: `gatedeck models ps`), or set the KV cache "
    "to q8_0 (ollama_server.kv_cache_type in the config), then run `gatedeck setup` again.\n"
)
_STRUGGLES = (
    "\nClaude Code will struggle with this model: it works only through real tool calls. "
    "Run `gatedeck setup` again to choose another.\n"
)


# ---------------------------------------------------------------------- Ollama
async def _ensure_ollama(url: str, config: Config, answers: _Answers, out: TextIO) -> bool | None:
    """Ollama answers at ``url`` now: False (it already did), True (started here), or None (not)."""
    found = await check_ollama(url)
    if found.found is OllamaFound.RUNNING:
        out.write(f"  Ollama {found.version} is running at {url}.\n")
        return False
    if found.found is OllamaFound.UNREACHABLE:
        out.write(
            f"  Nothing answers at {url}. Start Ollama on that machine, or give another address "
            "with --ollama-url.\n"
        )
        return None
    if found.found is OllamaFound.MISSING:
        out.write(f"  Ollama is not installed here (no `ollama` program found).\n  {found.install_hint}\n")
        return None
    out.write(f"  Ollama is installed ({found.binary}) but not running at {url}.\n")
    if not answers.confirm("  Start it now? GateDeck runs `ollama serve`, which keeps running after setup"):
        out.write("  Start Ollama (`ollama serve`, or its app), then run `gatedeck setup` again.\n")
        return None
    server = OllamaServer(config.ollama_server, url=url, executable=found.binary)
    await server.start()
    out.write(f"  Ollama started (pid {server.pid}; its log: {server.log_path}).\n")
    return True


async def _installed(client: OllamaClient) -> list[tuple[str, ModelDetails, int]]:
    """Each installed model with its details (a model whose details cannot be read is left out)."""
    found = []
    for model in await client.list_models():
        try:
            found.append((model.name, await client.show(model.name), model.size))
        except GateDeckError:
            continue
    return found


# ---------------------------------------------------------------------- choosing
def _print_recommendations(recs: Sequence[Recommendation], out: TextIO) -> None:
    """The table's models best first, then (numbered on) the installed ones outside the table."""
    numbered = list(enumerate(recs, 1))
    tested = [(number, rec) for number, rec in numbered if not rec.untested]
    untested = [(number, rec) for number, rec in numbered if rec.untested]
    if tested:
        out.write("\nModels that fit here at Claude Code's context (best first)\n")
        _recommendation_rows(tested, out)
    if untested:
        out.write(
            "\nAlso installed here (not in GateDeck's table: whether they call tools is untested, "
            "the probe checks it)\n"
        )
        _recommendation_rows(untested, out)


def _recommendation_rows(recs: Sequence[tuple[int, Recommendation]], out: TextIO) -> None:
    rows = [("#", "MODEL", "FIT", "DOWNLOAD", "CONTEXT", "TOOLS")]
    for number, rec in recs:
        download = "installed" if rec.installed else human_bytes(rec.download_bytes)
        tools = rec.tools.value if rec.tools else "untested"
        rows.append((str(number), rec.model, rate(rec.fit).label, download, k_tokens(rec.num_ctx), tools))
    table(rows, out)
    for number, rec in recs:
        out.write(f"  {number}. {rec.reason}\n")


def _pick(recs: Sequence[Recommendation], answers: _Answers) -> int:
    while True:
        answer = answers.text(f"Which model (1-{len(recs)})?", "1")
        if answer.isdigit() and 1 <= int(answer) <= len(recs):
            return int(answer) - 1
        named = [i for i, rec in enumerate(recs) if rec.model == answer]
        if named:
            return named[0]
        print(f"  Answer with a number from 1 to {len(recs)}.", file=sys.stderr)


# ---------------------------------------------------------------------- pull, map, probe
async def _use(rec: Recommendation, config: Config, install: Installation, url: str, out: TextIO) -> Config:
    """Pull ``rec`` when needed and point Claude's mappings at it (saved)."""
    if not rec.installed:
        out.write(
            f"\nPulling {rec.model} ({human_bytes(rec.download_bytes)}); Ctrl-C stops, running setup again resumes\n"
        )
        models_dir = ollama_models_dir(config.ollama_server) if is_local_url(url) else None
        async with OllamaClient(url) as client:
            final = await pull_with_bar(Pull(client, rec.model, models_dir=models_dir), out)
        if final.phase is not PullPhase.DONE:
            raise GateDeckError(f"the pull of {rec.model} did not finish ({final.phase.value})")
    config = map_claude_tiers(config, rec.model, rec.num_ctx)
    install.store.save(config)
    tiers = [m.name for m in config.mappings if m.is_claude]
    out.write(
        f"\nMapped {', '.join(tiers)} to {rec.model} at num_ctx {rec.num_ctx:,} "
        f"(one set of load options, so switching tiers never reloads it); saved to {install.store.path}.\n"
        f"  {rec.fit.summary()}\n"
    )
    return config


async def _probe(config: Config, install: Installation, runs: int, out: TextIO) -> ProbeResult:
    """Start a gateway here on a free port with ``config``, probe a Claude tier, stop it."""
    from core.gateway.net import free_port_near
    from core.gateway.service import Gateway

    settings = config.gateway
    port = free_port_near(settings.host, settings.port) or settings.port
    probe_config = config.model_copy(update={"gateway": settings.model_copy(update={"port": port})})
    name = probe_target(probe_config)
    mapping = probe_config.mapping_for(name)
    assert mapping is not None, "probe_target names a mapped model"
    num_ctx = mapping.options.num_ctx
    out.write(
        f"\nChecking tool calls: {runs} run(s) of a Claude-Code-sized request to '{name}' "
        "(starting a gateway first; on a CPU this takes minutes)\n"
    )
    gateway = Gateway(probe_config, master_key=install.master_key)
    await gateway.start()
    try:
        result = await probe_tool_calls(
            gateway.url, install.master_key, name, runs=runs, num_ctx=num_ctx, records=gateway.metrics
        )
    finally:
        await gateway.stop()
    # Kept for every tier on the model, as the Mappings panel shows it (they share its load options).
    keep_verdict(install.paths.data_dir, result, mapping.model, num_ctx, tiers_like(probe_config, mapping))
    mark = "PASS" if result.passed else "FAIL"
    out.write(f"  {mark}: {result.verdict}\n")
    return result


# ---------------------------------------------------------------------- clients
async def _point_clients(
    config: Config, install: Installation, args: argparse.Namespace, out: TextIO
) -> None:
    from core.cli.gateway import current_gateway_url
    from core.gateway.doctor import port_check

    url, running = current_gateway_url(install)
    if running:
        out.write(
            f"\nA GateDeck gateway is running at {url} with the mappings it had: restart it (Gateway "
            "panel, or stop and start `gatedeck serve`) to serve the new ones.\n"
        )
    else:  # the clients are pointed at the config's port: say now when serve cannot listen there
        port = await port_check(config, per_request_s=3.0)
        if port.status == "fail":
            out.write(
                f"\nWarning: {port.title}: {port.detail}. `gatedeck serve` cannot listen there until "
                f"that changes, and it is the address the clients are pointed at. To fix: {port.fix}.\n"
            )
    out.write("\nClaude Code\n")
    if args.no_claude_settings:
        out.write(
            "  Start it with `gatedeck claude` while the gateway runs (`gatedeck serve`, or the app).\n"
        )
    else:
        written = write_settings(claude_code_env(config, url, install.master_key))
        backup = f" (the previous file is at {written.backup})" if written.backup else ""
        original = f"  {original_note(written.original)}\n" if written.original else ""
        out.write(
            f"  Wrote {len(written.changed)} variable(s) to {written.path}{backup}.\n{original}"
            "  Run `claude` in a new terminal while the gateway runs (`gatedeck serve`, or the app).\n"
        )
    if args.codex:
        out.write("\nCodex\n")
        write_and_report(config, url, out)
