"""``gatedeck doctor``: what stands between this machine and a working gateway, with the fix."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from core.clients.claude_code import unserved_tiers
from core.config.schema import CLAUDE_MIN_CTX, CloudModel, Config
from core.errors import PortInUse
from core.gateway.health import check_backends, check_liveliness, installed_by_backend, missing_models
from core.gateway.net import bind_listener, connect_host, exposure_warning
from core.gateway.render import cloud_key_env
from core.ollama.load_options import reload_groups

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One line of the checklist: what was checked, how it went, and how to fix it."""

    title: str
    status: Status
    detail: str = ""
    fix: str = ""


async def diagnose(
    config: Config,
    *,
    master_key: str | None,
    cloud_key: Callable[[CloudModel], str | None] | None = None,
    per_request_s: float = 3.0,
) -> list[Check]:
    """Every check, in the order a person would fix them."""
    checks = [await port_check(config, per_request_s)]
    checks.append(
        Check("Gateway key", "ok", "stored")
        if master_key
        else Check("Gateway key", "fail", "no key stored", "run `gatedeck config show` once to create one")
    )
    if config.gateway.exposed:
        checks.append(
            Check(
                "Listening address",
                "warn",
                exposure_warning(config.gateway.host),
                "use host 127.0.0.1 unless other machines must use this gateway",
            )
        )

    backends = await check_backends(config, per_request_s)
    for backend in backends:
        if backend.reachable:
            checks.append(
                Check(
                    f"Ollama '{backend.name}'",
                    "ok",
                    f"version {backend.version} at {backend.url}, {len(backend.installed)} model(s)",
                )
            )
        else:
            checks.append(
                Check(
                    f"Ollama '{backend.name}'",
                    "fail",
                    backend.error,
                    "start Ollama (`ollama serve` or the Ollama app), or correct the backend's URL",
                )
            )

    missing = missing_models(config, installed_by_backend(backends))
    first = config.backends[0].name
    for gap in missing:
        # `models pull` pulls onto the first host unless told another's address.
        onto = "" if gap.backend == first else f" --ollama-url {config.backend(gap.backend).url}"
        checks.append(
            Check(
                f"Model for '{gap.mapping}'",
                "fail",
                f"{gap.model} is not installed on '{gap.backend}'",
                f"gatedeck models pull {gap.model}{onto}",
            )
        )
    if config.mappings and not missing and all(b.reachable for b in backends):
        checks.append(Check("Mapped models", "ok", f"all {len(config.mappings)} mapping(s) have their model"))

    for index, mapping in enumerate(config.mappings):
        ctx = mapping.options.num_ctx
        if mapping.is_claude and (ctx is None or ctx < CLAUDE_MIN_CTX):
            now = "Ollama's default (2048-4096)" if ctx is None else str(ctx)
            checks.append(
                Check(
                    f"Context of '{mapping.name}'",
                    "fail",
                    f"num_ctx is {now}; Claude Code's first request alone is ~30k tokens and Ollama "
                    "cuts longer prompts silently",
                    f"set num_ctx to {CLAUDE_MIN_CTX} or more (Mappings panel, or "
                    f"mappings[{index}].options.num_ctx in the config file)",
                )
            )

    for group in reload_groups(config.mappings):
        checks.append(
            Check(
                f"Load options of {group.model}",
                "warn",
                group.describe(),
                "give them the same context and GPU settings (Mappings panel: 'Use the same load options')",
            )
        )

    unserved = unserved_tiers(config)
    if unserved:
        checks.append(
            Check(
                "Claude Code tiers",
                "warn",
                f"no mapping serves Claude Code's {', '.join(unserved)} model names",
                "add mappings such as 'claude-*sonnet*' or a catch-all '*' (the default config has them)",
            )
        )
    else:
        checks.append(Check("Claude Code tiers", "ok", "opus, sonnet and haiku names all land on a mapping"))

    for entry in config.cloud:
        if not (cloud_key and cloud_key(entry)):
            checks.append(
                Check(
                    f"Cloud '{entry.name}'",
                    "warn",
                    "no API key stored or in the environment",
                    f"store the key in GateDeck, or set {cloud_key_env(entry)}",
                )
            )
    return checks


async def port_check(config: Config, per_request_s: float) -> Check:
    """Whether the gateway can listen on the config's port (or a gateway already does)."""
    settings = config.gateway
    title = f"Gateway port {settings.port}"
    try:
        with contextlib.closing(bind_listener(settings.host, settings.port)):
            return Check(title, "ok", f"free on {settings.host}")
    except PortInUse as exc:
        url = f"http://{connect_host(settings.host)}:{settings.port}"
        live, _ = await check_liveliness(url, per_request_s)
        if live:
            return Check(title, "ok", f"a gateway is already running at {url}")
        holder = exc.holder or "another program"
        alternative = f" (port {exc.suggestion} is free)" if exc.suggestion else ""
        return Check(
            title,
            "fail",
            f"in use by {holder}",
            f"stop {holder}, or choose another port{alternative}: gateway.port in the config (or "
            "the Gateway panel), then `gatedeck claude-env --write-settings` so Claude Code's "
            "settings follow it",
        )
    except OSError as exc:
        return Check(
            title,
            "fail",
            f"cannot listen on {settings.host}: {exc.strerror or exc}",
            "set the gateway host to 127.0.0.1 (or an address of this machine)",
        )


def render_checks(checks: list[Check]) -> str:
    marks = {"ok": "[ok]  ", "warn": "[warn]", "fail": "[FAIL]"}
    lines = []
    for check in checks:
        line = f"{marks[check.status]} {check.title}"
        if check.detail:
            line += f": {check.detail}"
        lines.append(line)
        if check.fix and check.status != "ok":
            lines.append(f"       fix: {check.fix}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append("")
    lines.append("All good." if not failed and not warned else f"{failed} problem(s), {warned} warning(s).")
    return "\n".join(lines)
