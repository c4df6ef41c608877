"""Pointing Claude Code at the gateway: its environment, for a shell or its settings file.

Claude Code reads ``ANTHROPIC_BASE_URL`` and ``ANTHROPIC_AUTH_TOKEN`` (sent as
``Authorization: Bearer``), and picks models by tier: ``ANTHROPIC_DEFAULT_OPUS_MODEL``,
``ANTHROPIC_DEFAULT_SONNET_MODEL``, ``ANTHROPIC_DEFAULT_HAIKU_MODEL`` and
``CLAUDE_CODE_SUBAGENT_MODEL``. Its own default names are dated (``claude-sonnet-4-5-20250929``),
so GateDeck sets a tier variable only to a name that lands on that tier's mapping; when the
tiers are patterns the variables are left out and Claude Code's own names land on them.

Claude Code believes every ``claude-*`` model has a 200k window, while Ollama cuts a longer
prompt to the mapping's ``num_ctx`` without a word. :func:`claude_context` tells Claude Code the
real window through the variables it reads (read from Claude Code's own code, 2.1.197 and
2.1.332 alike):

- ``CLAUDE_CODE_MAX_OUTPUT_TOKENS``: its answers' ``max_tokens`` (32,000 by default, which alone
  would fill a 32k context);
- ``CLAUDE_CODE_AUTO_COMPACT_WINDOW``: the window it compacts against (it raises anything below
  100,000 to 100,000, so a smaller context is expressed with the next variable);
- ``CLAUDE_AUTOCOMPACT_PCT_OVERRIDE``: the share of that window (less the output it reserves,
  at most 20,000) at which it compacts the conversation;
- ``CLAUDE_CODE_BLOCKING_LIMIT_OVERRIDE``: the size at which it stops and asks to compact;
- ``CLAUDE_CODE_ATTRIBUTION_HEADER=0``: leaves out the header line it puts first in the system
  prompt (``cc_version=2.1.332.31a`` — the suffix changes from request to request, and 2.1.332
  adds per-turn fields), so the prompt's start stays the same and Ollama reuses the ~20k tokens
  it already processed instead of reading the whole prompt again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.clients.atomic_file import replace_file
from core.clients.backups import Restored, back_up, kept_original, restore_original
from core.config.schema import Config
from core.errors import ClaudeSettingsError
from core.ollama.load_options import effective_num_ctx

Shell = Literal["bash", "zsh", "fish", "powershell", "json"]
SHELLS: tuple[Shell, ...] = ("bash", "zsh", "fish", "powershell", "json")

TIER_VARIABLES = {
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
}
#: Names Claude Code has used for each tier; a mapping that catches one serves the tier.
TIER_PROBES = {
    "opus": ("claude-opus-4-1-20250805", "claude-opus-4-1", "claude-3-opus-latest"),
    "sonnet": ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "claude-3-7-sonnet-latest"),
    "haiku": ("claude-haiku-4-5-20251001", "claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"),
}


#: Claude Code raises a compaction window below this to it (2.1.197, 2.1.332).
CLAUDE_MIN_COMPACT_WINDOW = 100_000
#: The most output Claude Code sets aside from its window before compacting (2.1.197, 2.1.332).
CLAUDE_MAX_RESERVED_OUTPUT = 20_000
#: Room left for GateDeck's token estimate to be wrong (compaction starts this much earlier).
ESTIMATE_MARGIN = 0.10


@dataclass(frozen=True)
class ClaudeContext:
    """The window Claude Code gets: the smallest context among the mappings it uses.

    Attributes:
        num_ctx: the smallest ``num_ctx`` among the mappings serving Claude Code's tiers.
        mapping: the name of the mapping that has it.
        max_output: the answer length Claude Code asks for (a quarter of the context, 1k–32k).
        compact_at: the conversation size (tokens) at which Claude Code compacts.
        blocking_at: the size at which it stops before sending (prompt + answer would not fit).
    """

    num_ctx: int
    mapping: str
    max_output: int
    compact_at: int
    blocking_at: int

    @property
    def window(self) -> int:
        return max(self.num_ctx, CLAUDE_MIN_COMPACT_WINDOW)

    @property
    def compact_percent(self) -> float:
        usable = self.window - min(self.max_output, CLAUDE_MAX_RESERVED_OUTPUT)
        # Rounded down, so Claude Code's own arithmetic never lands above compact_at.
        return int(self.compact_at / usable * 10_000) / 100

    def env(self) -> dict[str, str]:
        return {
            "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(self.max_output),
            "CLAUDE_CODE_AUTO_COMPACT_WINDOW": str(self.window),
            "CLAUDE_AUTOCOMPACT_PCT_OVERRIDE": f"{self.compact_percent:g}",
            "CLAUDE_CODE_BLOCKING_LIMIT_OVERRIDE": str(self.blocking_at),
            "CLAUDE_CODE_ATTRIBUTION_HEADER": "0",
        }

    def explain(self) -> str:
        return (
            f"The smallest context among Claude Code's mappings is {self.num_ctx:,} tokens "
            f"({self.mapping}). Claude Code is told to ask for answers of at most "
            f"{self.max_output:,} tokens and to compact the conversation at about "
            f"{self.compact_at:,} tokens, so a request never outgrows what Ollama keeps."
        )


def claude_context(config: Config) -> ClaudeContext | None:
    """The window to give Claude Code, or ``None`` when no mapping serves its tiers."""
    served = []
    for tier, names in TIER_PROBES.items():
        exact = tier_model(config, tier)
        mapping = (
            config.mapping_for(exact)
            if exact
            else next((m for m in (config.mapping_for(name) for name in names) if m is not None), None)
        )
        if mapping is not None:
            served.append(mapping)
    if not served:
        return None
    server_ctx = config.ollama_server.context_length
    num_ctx, name = min((effective_num_ctx(m.options, server_ctx), m.name) for m in served)
    max_output = max(1024, min(32_000, num_ctx // 4))
    return ClaudeContext(
        num_ctx=num_ctx,
        mapping=name,
        max_output=max_output,
        compact_at=int((num_ctx - max_output) * (1 - ESTIMATE_MARGIN)),
        blocking_at=num_ctx - max_output,
    )


def tier_model(config: Config, tier: str) -> str | None:
    """An exact mapping name for ``tier`` (e.g. ``claude-sonnet-local``), if the config has one."""
    for mapping in config.mappings:
        if not mapping.is_pattern and mapping.name.startswith("claude") and tier in mapping.name:
            return mapping.name
    return None


def unserved_tiers(config: Config) -> list[str]:
    """Tiers whose Claude Code names no mapping (pattern or catch-all) would serve."""
    return [
        tier
        for tier, names in TIER_PROBES.items()
        if tier_model(config, tier) is None and not any(config.mapping_for(name) for name in names)
    ]


def claude_code_env(config: Config, base_url: str, token: str) -> dict[str, str]:
    """The environment that points Claude Code at the gateway at ``base_url``."""
    env = {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_AUTH_TOKEN": token}
    for tier, variable in TIER_VARIABLES.items():
        name = tier_model(config, tier)
        if name:
            env[variable] = name
    sonnet = tier_model(config, "sonnet")
    if sonnet:
        env["CLAUDE_CODE_SUBAGENT_MODEL"] = sonnet
    context = claude_context(config)
    if context is not None:
        env.update(context.env())
    return env


def render_env(env: dict[str, str], shell: Shell) -> str:
    """Lines that set ``env`` in ``shell`` (``eval "$(gatedeck claude-env)"``), or JSON."""
    if shell == "json":
        return json.dumps(env, indent=2)
    lines = []
    for name, value in env.items():
        if shell in ("bash", "zsh"):
            lines.append(f"export {name}={_posix_quote(value)}")
        elif shell == "fish":
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            lines.append(f"set -gx {name} '{escaped}'")
        else:
            escaped = value.replace("'", "''")
            lines.append(f"$env:{name} = '{escaped}'")
    return "\n".join(lines)


def _posix_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def default_settings_path() -> Path:
    return Path.home() / ".claude" / "settings.json"


@dataclass(frozen=True)
class SettingsWritten:
    """Where the settings went, the copies kept, and which variables changed.

    Attributes:
        path: the settings file.
        backup: the file as it was before this write (``settings.json.bak``), or ``None``.
        changed: the variables whose value changed.
        original: the file from before GateDeck first wrote it (``settings.json.before-gatedeck``),
            or ``None`` when there was none.
    """

    path: Path
    backup: Path | None
    changed: tuple[str, ...]
    original: Path | None = None


def write_settings(env: dict[str, str], path: Path | None = None) -> SettingsWritten:
    """Merge ``env`` into the ``env`` block of Claude Code's ``settings.json``.

    Every other key (and every other variable) is kept; the old file is copied to
    ``settings.json.bak`` first, and the first time also to ``settings.json.before-gatedeck``
    (:mod:`core.clients.backups`). The new one is written atomically, readable by this user only
    (it holds the gateway key). A file that already says all of ``env`` is left as it is.

    Raises:
        ClaudeSettingsError: the file exists but is not a JSON object (it is left untouched).
    """
    path = path or default_settings_path()
    data, section = _read_settings(path)
    changed = tuple(name for name, value in env.items() if section.get(name) != value)
    if not changed and path.exists():  # left as it is, so the .bak stays the version before
        return SettingsWritten(path=path, backup=None, changed=(), original=kept_original(path))
    backups = back_up(path)
    data["env"] = {**section, **env}
    replace_file(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
    return SettingsWritten(path=path, backup=backups.previous, changed=changed, original=backups.original)


def restore_settings(path: Path | None = None) -> Restored:
    """Put Claude Code's settings file from before GateDeck's first write back, readable by this
    user only; GateDeck's version becomes ``settings.json.bak``.

    Raises:
        NoOriginalFile: GateDeck kept no original (the message says why).
    """
    return restore_original(path or default_settings_path(), 0o600)


def _read_settings(path: Path) -> tuple[dict[str, object], dict[str, object]]:
    """The settings file's object and its ``env`` block (both empty when there is no file).

    Raises:
        ClaudeSettingsError: the file is not a JSON object, or its ``env`` is not one.
    """
    if not path.exists():
        return {}, {}
    text = path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ClaudeSettingsError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            "GateDeck left it as it is: fix it, or move it away and run this again."
        ) from None
    if not isinstance(loaded, dict):
        raise ClaudeSettingsError(f"{path} does not hold a JSON object; GateDeck left it as it is.")
    section = loaded.get("env", {})
    if not isinstance(section, dict):
        raise ClaudeSettingsError(f'"env" in {path} is not an object; GateDeck left the file as it is.')
    return loaded, section


def follow_gateway(
    before: dict[str, str], after: dict[str, str], path: Path | None = None
) -> SettingsWritten | None:
    """Write ``after`` into Claude Code's settings when they hold every value of ``before``: the
    gateway they point at got a new key (``ANTHROPIC_AUTH_TOKEN``) or a new address
    (``ANTHROPIC_BASE_URL``), and new Claude Code sessions should follow it.

    Settings that point elsewhere (another value for any variable of ``before``) and a file
    GateDeck cannot read are left as they are: ``None``. Otherwise as :func:`write_settings`
    (the old file backed up).
    """
    path = path or default_settings_path()
    try:
        _data, section = _read_settings(path)
    except (ClaudeSettingsError, OSError):
        return None
    if not before or any(not value or section.get(name) != value for name, value in before.items()):
        return None
    return write_settings(after, path)
