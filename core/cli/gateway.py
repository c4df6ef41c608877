"""``gatedeck serve | claude | codex | claude-env | doctor | export-litellm-config``: the gateway without a window.

Nothing here imports Qt; ``serve`` runs the same embedded gateway as the desktop app.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from core.cli.config import report_load_problems
from core.cli.restore import restore_and_report
from core.clients.backups import original_note
from core.clients.claude_code import SHELLS, claude_code_env, render_env, restore_settings, write_settings
from core.clients.codex import KEY_VARIABLE, codex_model, codex_overrides
from core.config.first_run import Installation, open_installation
from core.config.schema import CLAUDE_MIN_CTX, CloudModel, Config, Mapping, ModelOptions
from core.errors import GateDeckError
from core.gateway.render import EXPORT_MASTER_KEY_ENV, cloud_key_env, render
from core.gateway.running import RunningRecord, find_running
from core.gateway.scale_out import (
    GatewayHost,
    check_gateways,
    embedding_mappings,
    gateways_beside_backends,
    parse_gateway,
    render_scale_out,
    scale_out_litellm_config,
)
from core.secrets import SecretStore, cloud_key_name

#: Seconds in-flight requests get to finish when ``serve`` is stopped (Ctrl-C / SIGTERM).
STOP_GRACE_S = 1.0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    serve = subparsers.add_parser("serve", help="run the gateway without the window (Ctrl-C stops it)")
    serve.add_argument("--port", type=int, help="port to listen on (default: from the config, 4000)")
    serve.add_argument("--host", help="address to listen on (default: from the config, 127.0.0.1)")
    serve.add_argument(
        "--ollama-url", dest="serve_ollama_url", metavar="URL", help="Ollama's address for this run"
    )
    serve.add_argument(
        "--backend",
        dest="serve_backend",
        metavar="NAME",
        help="serve every mapping from this one Ollama host of the config (the gateway beside that "
        "host, behind the stock LiteLLM proxy: see export-litellm-config); --ollama-url then sets its address",
    )
    serve.add_argument(
        "--default-model",
        dest="serve_default_model",
        metavar="NAME",
        help="Ollama model for names no mapping catches (a brand-new config uses it for every mapping)",
    )
    serve.set_defaults(func=cmd_serve)

    env = subparsers.add_parser("claude-env", help="print the environment that points Claude Code here")
    env.add_argument("--shell", choices=SHELLS, default=_default_shell(), help="output format")
    action = env.add_mutually_exclusive_group()
    action.add_argument(
        "--write-settings",
        action="store_true",
        help="merge it into ~/.claude/settings.json instead (other settings kept, old file backed up)",
    )
    action.add_argument(
        "--restore-settings",
        action="store_true",
        help="put back ~/.claude/settings.json as it was before GateDeck first wrote it",
    )
    env.set_defaults(func=cmd_claude_env)

    claude = subparsers.add_parser(
        "claude",
        help="start Claude Code on the running gateway (arguments after `claude` go to Claude Code)",
        add_help=False,
    )
    claude.set_defaults(func=cmd_claude, passthrough=[])

    codex = subparsers.add_parser(
        "codex",
        help="start the Codex CLI on the running gateway (arguments after `codex` go to Codex)",
        add_help=False,
    )
    codex.set_defaults(func=cmd_codex, passthrough=[])

    doctor = subparsers.add_parser("doctor", help="check Ollama, models, port and Claude Code settings")
    doctor.set_defaults(func=cmd_doctor)

    export = subparsers.add_parser(
        "export-litellm-config",
        help="write a config the stock `litellm --config` proxy serves, in front of GateDeck gateways",
        description=(
            "The stock LiteLLM proxy in front of GateDeck gateways (`gatedeck serve` beside each "
            "Ollama host): LiteLLM balances each mapping over the gateways and forwards every "
            "request untranslated, so the answers are GateDeck's. By default there is one gateway "
            "beside each Ollama host of the config, at that host's address on --gateway-port."
        ),
    )
    export.add_argument("out", type=Path, help="file to write ('-' for standard output)")
    export.add_argument("--force", action="store_true", help="overwrite an existing file")
    where = export.add_mutually_exclusive_group()
    where.add_argument(
        "--gateway",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a gateway that serves every mapping (repeat for each; replaces the one-per-host default)",
    )
    where.add_argument(
        "--gateway-port",
        type=int,
        metavar="PORT",
        help="the port of the gateway beside each Ollama host (default: this config's gateway port)",
    )
    where.add_argument(
        "--direct-ollama",
        action="store_true",
        help="the older export: LiteLLM reaches Ollama itself and loses what GateDeck fixes",
    )
    export.set_defaults(func=cmd_export)


# ---------------------------------------------------------------------- shared
def _default_shell() -> str:
    if sys.platform == "win32":
        return "powershell"
    name = Path(os.environ.get("SHELL", "bash")).name
    return name if name in SHELLS else "bash"


def _open(args: argparse.Namespace) -> Installation:
    install = open_installation(
        ollama_url=getattr(args, "serve_ollama_url", None) or args.ollama_url,
        default_model=getattr(args, "serve_default_model", None) or args.default_model,
    )
    report_load_problems(install)
    return install


def cloud_key_lookup(secrets: SecretStore) -> Any:
    def lookup(entry: CloudModel) -> str | None:
        return secrets.get(cloud_key_name(entry.name)) or os.environ.get(cloud_key_env(entry)) or None

    return lookup


def gateway_url(config: Config) -> str:
    from core.gateway.net import connect_host

    return f"http://{connect_host(config.gateway.host)}:{config.gateway.port}"


def current_gateway_url(install: Installation) -> tuple[str, bool]:
    """The running gateway's address (window or ``serve``) and True, else the config's and False."""
    running = find_running(install.paths)
    return (running.url, True) if running else (gateway_url(install.config), False)


def serve_config(config: Config, args: argparse.Namespace, fresh: bool) -> Config:
    """``config`` with this run's command-line overrides (not saved)."""
    config = config.model_copy(deep=True)  # assignments below are validated (validate_assignment)
    if args.port is not None:
        config.gateway.port = args.port
    if args.host is not None:
        config.gateway.host = args.host
    if args.serve_default_model and not fresh:  # a fresh config already uses it everywhere
        catch_all = Mapping(
            name="*",
            model=args.serve_default_model,
            backends=[config.backends[0].name],
            options=ModelOptions(num_ctx=CLAUDE_MIN_CTX),
        )
        config.mappings = [*(m for m in config.mappings if m.name != "*"), catch_all]
    if getattr(args, "serve_backend", None):
        only_backend(config, args.serve_backend)
    if args.serve_ollama_url:  # the address of the one host, or of the first
        config.backends[0].url = args.serve_ollama_url
    return config


def only_backend(config: Config, name: str) -> None:
    """Make ``name`` ``config``'s one Ollama host, serving every mapping (in place).

    Raises:
        ValueError: the config has no such host.
    """
    names = [b.name for b in config.backends]
    if name not in names:
        raise ValueError(f"the config has no Ollama host '{name}' (it has: {', '.join(names)})")
    for mapping in config.mappings:  # first: the config checks that mappings name known hosts
        mapping.backends = [name]
    config.backends = [config.backend(name)]


# ---------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    from core.gateway.service import Gateway, GatewayState, GatewayStatus

    install = _open(args)
    try:
        config = serve_config(install.config, args, fresh=install.loaded.source == "new")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gateway = Gateway(
        config,
        master_key=install.master_key,
        metrics_key=install.metrics_token,
        cloud_key=cloud_key_lookup(install.secrets),
    )
    done = threading.Event()
    exit_code = [0]

    running = RunningRecord(install.paths, "serve")

    def on_status(status: GatewayStatus) -> None:
        running.update(status.state is GatewayState.RUNNING, status.url)
        if status.state is GatewayState.FAILED:
            print(f"gateway: {status.reason}", file=sys.stderr, flush=True)
            if not status.retrying:
                exit_code[0] = 1
                done.set()
        elif status.state is GatewayState.RUNNING and status.restarts:
            print(f"gateway: running again (restart {status.restarts})", file=sys.stderr, flush=True)

    def on_signal(signum: int, frame: object) -> None:
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for warning in gateway.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print("Starting the gateway (the first start loads LiteLLM, ~10 s)...", file=sys.stderr, flush=True)
        try:
            gateway.start_blocking()
        except GateDeckError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        running.update(True, gateway.url)
        gateway.add_listener(on_status)
        for note in gateway.notes:
            print(f"note: {note}", file=sys.stderr)
        # The key is not printed: this output ends up in service logs.
        print(f"GateDeck gateway running at {gateway.url}")
        served = ", ".join(f"{m.name} ({m.model})" for m in config.mappings)
        print(f"Mappings:       {served or 'none'}")
        installed = sorted({name for names in gateway.installed.values() for name in names})
        print(f"Ollama models:  {', '.join(installed) or 'none seen yet'} (by name; any as ollama/<name>)")
        print(f"OpenAI clients: base URL {gateway.url}/v1, API key: `gatedeck config show --show-secrets`")
        print('Claude Code:    `gatedeck claude`, or eval "$(gatedeck claude-env)" and run `claude`')
        print("Codex:          `gatedeck codex`")
        print("Stop with Ctrl-C.", flush=True)
        while not done.wait(0.5):  # a timed wait keeps Ctrl-C responsive on every platform
            pass
    finally:
        running.withdraw()
        began = time.monotonic()
        if gateway.state is not GatewayState.STOPPED:
            gateway.stop_blocking(grace_s=STOP_GRACE_S)
            print(f"Stopped in {time.monotonic() - began:.1f} s.", file=sys.stderr, flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _exit_now(exit_code[0])
    return exit_code[0]


def _exit_now(code: int) -> None:
    """Leave without tearing down LiteLLM's module state: that alone takes ~3 s on 2 cores, and
    the gateway is already stopped, so Ctrl-C would otherwise take far longer than it should."""
    from core.gateway import engine as gateway_engine

    if gateway_engine.is_loaded():
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


# ---------------------------------------------------------------------- claude, codex
def cmd_claude(args: argparse.Namespace) -> int:
    """Start Claude Code with the environment that points it at the running gateway."""
    install = _open(args)
    url, running = current_gateway_url(install)
    env = claude_code_env(install.config, url, install.master_key)
    return _launch(
        "claude", "Claude Code", "@anthropic-ai/claude-code", [], args.passthrough, env, url, running
    )


def cmd_codex(args: argparse.Namespace) -> int:
    """Start the Codex CLI on the running gateway (a model provider given for this run only)."""
    install = _open(args)
    url, running = current_gateway_url(install)
    env = {KEY_VARIABLE: install.master_key}
    return _launch(
        "codex",
        "Codex",
        "@openai/codex",
        codex_overrides(url, codex_model(install.config)),
        args.passthrough,
        env,
        url,
        running,
    )


def _launch(
    program: str,
    title: str,
    package: str,
    options: list[str],
    passed_on: list[str],
    env: dict[str, str],
    url: str,
    running: bool,
) -> int:
    if not running:
        print(
            f"error: no GateDeck gateway is running (the config's address is {url}). Start the "
            "GateDeck window or `gatedeck serve` first, then run this again.",
            file=sys.stderr,
        )
        return 1
    found = shutil.which(program)
    if found is None:
        print(
            f"error: {title} is not installed (no `{program}` on PATH). Install it with "
            f"`npm install -g {package}`, then run this again.",
            file=sys.stderr,
        )
        return 127
    argv = [found, *options, *passed_on]
    merged = {**os.environ, **env}
    sys.stdout.flush()
    if os.name == "posix":
        os.execve(found, argv, merged)
    return subprocess.run(argv, env=merged, check=False).returncode


# ---------------------------------------------------------------------- claude-env
def cmd_claude_env(args: argparse.Namespace) -> int:
    if args.restore_settings:
        return restore_and_report(restore_settings)
    install = _open(args)
    url, _running = current_gateway_url(install)
    env = claude_code_env(install.config, url, install.master_key)
    if args.write_settings:
        try:
            written = write_settings(env)
        except (GateDeckError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"Updated {written.path} ({len(written.changed)} variable(s) changed).")
        if written.backup:
            print(f"The previous file is at {written.backup}.")
        if written.original:
            print(original_note(written.original))
        print("Start `claude` in a new terminal; the gateway must be running (`gatedeck serve` or the app).")
        return 0
    print(render_env(env, args.shell))
    return 0


# ---------------------------------------------------------------------- doctor
def cmd_doctor(args: argparse.Namespace) -> int:
    from core.gateway.doctor import diagnose, render_checks

    install = _open(args)
    checks = asyncio.run(
        diagnose(install.config, master_key=install.master_key, cloud_key=cloud_key_lookup(install.secrets))
    )
    print(render_checks(checks))
    return 1 if any(c.status == "fail" for c in checks) else 0


# ---------------------------------------------------------------------- export
#: What the direct-to-Ollama export loses, said in its header (measured: DESIGN.md).
DIRECT_EXPORT_LOSSES = (
    "LiteLLM reaches Ollama itself, through its own Ollama translation, which loses what GateDeck",
    "fixes: streamed parallel tool calls are merged into one, a thinking request (Claude Code's)",
    'to a model that cannot think is Ollama\'s 400 "does not support thinking", OpenAI `stop` as a',
    "string is Ollama's 500, tool results' is_error is dropped, and embeddings are not served.",
    "Without --direct-ollama the export puts LiteLLM in front of GateDeck gateways instead.",
)


def cmd_export(args: argparse.Namespace) -> int:
    install = _open(args)
    config = install.config
    if args.direct_ollama:
        rendered = render(config, master_key="", export=True)
        litellm_config = rendered.litellm_config()
        intro = [
            "# LiteLLM proxy config exported by GateDeck (--direct-ollama). Serve it with:",
            "#   litellm --config THIS_FILE --port 4000",
            *(f"# {line}" for line in DIRECT_EXPORT_LOSSES),
        ]
        gateway_envs: list[str] = []
    else:
        try:
            gateways = export_gateways(config, args)
            check_gateways(gateways)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        embedding, unasked = asyncio.run(_embedding_mappings(config))
        rendered = render_scale_out(config, gateways, embedding=embedding)
        rendered.notes.extend(
            f"Ollama '{name}' did not answer, so its mappings were exported as chat models; export "
            "again when it answers if one of them makes embeddings"
            for name in unasked
        )
        litellm_config = scale_out_litellm_config(rendered)
        gateway_envs = [g.key_env for g in gateways]
        intro = [
            "# LiteLLM proxy config exported by GateDeck: the stock proxy in front of GateDeck gateways.",
            "# Each gateway is `gatedeck serve` beside an Ollama host; LiteLLM balances each mapping",
            "# over its gateways (least busy first, a Claude Code or Codex session kept on one) and",
            "# forwards every request in the client's own API, so the answers are GateDeck's.",
            "# Gateways:",
            *(f"#   {g.name}  {g.url}  (key from {g.key_env})" for g in gateways),
            "# Serve it with:",
            "#   litellm --config THIS_FILE --port 4000",
        ]
    env_names = [EXPORT_MASTER_KEY_ENV, *gateway_envs, *sorted({cloud_key_env(c) for c in config.cloud})]
    header = [
        *intro,
        "# Keys are read from the environment, never written here. Set before starting:",
        *(f"#   {name}" for name in env_names),
        f"# ({EXPORT_MASTER_KEY_ENV} is the key clients send; `gatedeck config show --show-secrets`",
        "#  prints GateDeck's own, on a gateway's host that gateway's key.)",
        *(f"# Note: {note}" for note in rendered.notes),
    ]
    text = "\n".join(header) + "\n" + yaml.safe_dump(litellm_config, sort_keys=False)
    if str(args.out) == "-":
        sys.stdout.write(text)
        return 0
    if args.out.exists() and not args.force:
        print(f"error: {args.out} exists; add --force to overwrite it", file=sys.stderr)
        return 1
    args.out.write_text(text, encoding="utf-8")
    print(f"Wrote {args.out}. Set {', '.join(env_names)} and run: litellm --config {args.out}")
    return 0


def export_gateways(config: Config, args: argparse.Namespace) -> list[GatewayHost]:
    """The gateways ``--gateway`` names, else one beside each Ollama host of ``config``."""
    if args.gateway:
        return [parse_gateway(text) for text in args.gateway]
    return gateways_beside_backends(config, args.gateway_port or config.gateway.port)


async def _embedding_mappings(config: Config) -> tuple[frozenset[str], list[str]]:
    """Mappings whose model only makes embeddings, as the config's Ollama hosts list them, and
    the hosts that did not answer."""
    from core.gateway.health import check_backends, installed_by_backend, model_capabilities

    backends = await check_backends(config)
    capabilities = await model_capabilities(config, installed_by_backend(backends))
    unasked = [
        b.name for b in backends if not b.reachable and any(b.name in m.backends for m in config.mappings)
    ]
    return embedding_mappings(config, capabilities), unasked
