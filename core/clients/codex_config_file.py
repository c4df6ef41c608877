"""Writing GateDeck's provider into Codex's own ``config.toml``, merged with what is there.

Codex reads ``$CODEX_HOME/config.toml``, or ``~/.codex/config.toml`` when ``CODEX_HOME`` is
unset or empty (Codex's ``find_codex_home``). GateDeck sets the top-level ``model_provider``
(and ``model`` when one is given) and its own ``[model_providers.gatedeck]`` table; every other
line of the file — comments, other providers, profiles — is kept byte for byte. The old file is
copied to ``config.toml.bak``, and the first time also to ``config.toml.before-gatedeck``
(:mod:`core.clients.backups`); the new text must read back, through ``tomllib``, as the old
settings plus GateDeck's before it replaces the file in one step. The gateway key is never
written: the provider's ``env_key`` tells Codex to read it from ``GATEDECK_API_KEY``.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clients.atomic_file import replace_file
from core.clients.backups import Restored, back_up, restore_original
from core.clients.codex import PROVIDER, provider_fields, provider_table, toml_string
from core.clients.toml_lines import Statement, split_lines, statements
from core.errors import CodexConfigError

CONFIG_FILE = "config.toml"


def codex_home(env: Mapping[str, str] | None = None) -> Path:
    """The folder Codex keeps its settings in: ``CODEX_HOME`` when set, else ``~/.codex``."""
    value = (os.environ if env is None else env).get("CODEX_HOME", "")
    return Path(value).expanduser() if value else Path.home() / ".codex"


def default_codex_config_path(env: Mapping[str, str] | None = None) -> Path:
    return codex_home(env) / CONFIG_FILE


@dataclass(frozen=True)
class CodexConfigWritten:
    """What :func:`write_codex_config` did.

    Attributes:
        path: the config file.
        backup: the copy of the previous file (``None`` when there was none, or nothing changed).
        changed: whether the file was written (``False``: it already said all of it).
        note: a warning for the person (an active profile that picks another provider), or ``""``.
        original: the file from before GateDeck first wrote it (``config.toml.before-gatedeck``),
            or ``None`` when there was none or nothing changed.
    """

    path: Path
    backup: Path | None
    changed: bool
    note: str = ""
    original: Path | None = None


def write_codex_config(
    base_url: str, path: Path | None = None, model: str | None = None
) -> CodexConfigWritten:
    """Merge GateDeck's provider for the gateway at ``base_url`` into Codex's ``config.toml``.

    Raises:
        CodexConfigError: the file is not valid TOML, or GateDeck could not merge its lines
            safely (the file is left untouched, the message says why and what to do).
        OSError: the file or its folder could not be read or written.
    """
    path = path or default_codex_config_path()
    if path.parent.exists() and not path.parent.is_dir():
        raise CodexConfigError(f"{path.parent} is not a folder, so Codex cannot keep its settings there.")
    old = path.read_bytes() if path.exists() else b""
    try:
        text = old.decode("utf-8")
    except UnicodeDecodeError:
        raise CodexConfigError(f"{path} is not UTF-8 text; GateDeck left it as it is.") from None
    new = merge_codex_config(text, base_url, model, where=str(path))
    note = _profile_note(tomllib.loads(new))
    if new == text:
        return CodexConfigWritten(path=path, backup=None, changed=False, note=note)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o600
    backups = back_up(path)
    replace_file(path, new.encode("utf-8"), mode)
    return CodexConfigWritten(
        path=path, backup=backups.previous, changed=True, note=note, original=backups.original
    )


def restore_codex_config(path: Path | None = None) -> Restored:
    """Put Codex's ``config.toml`` from before GateDeck's first write back, with its own
    permissions; GateDeck's version becomes ``config.toml.bak``.

    Raises:
        NoOriginalFile: GateDeck kept no original (the message says why).
    """
    return restore_original(path or default_codex_config_path())


def merge_codex_config(text: str, base_url: str, model: str | None = None, where: str = "config.toml") -> str:
    """``text`` (a ``config.toml``) with GateDeck's provider set; every other line as it was."""
    before = _parse(
        text, f"{where} is not valid TOML ({{}}). GateDeck left it as it is: fix it, or move it away."
    )
    top = {"model_provider": PROVIDER} | ({"model": model} if model else {})
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = split_lines(text)
    found = statements(lines)
    first_table = next((i for i, s in enumerate(found) if s.kind == "header"), len(found))
    # Edits run from the end of the file up, so earlier line numbers stay right.
    table = [line.replace("\n", newline) for line in split_lines(provider_table(base_url))]
    own = next(
        (i for i, s in enumerate(found) if s.kind == "header" and s.path == ("model_providers", PROVIDER)),
        None,
    )
    if own is not None:
        lines[found[own].start : _table_end(found, own)] = table
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += newline
        lines += ([newline] if lines and lines[-1].strip() else []) + table
    pairs = [s for s in found[:first_table] if s.kind == "key"]
    for statement in reversed(pairs):
        if statement.path[0] in top:
            key = statement.path[0]
            lines[statement.start : statement.end] = [f"{key} = {toml_string(top.pop(key))}{newline}"]
    if top:
        added = [f"{key} = {toml_string(value)}{newline}" for key, value in top.items()]
        at = pairs[-1].end if pairs else 0
        if not pairs and at < len(lines) and lines[at].strip():
            added.append(newline)
        lines[at:at] = added
    merged = "".join(lines)
    _check(before, merged, base_url, model, where)
    return merged


def _table_end(found: list[Statement], header: int) -> int:
    """The line after the table's last key (comments and blank lines after it stay with the next table)."""
    end = found[header].end
    for statement in found[header + 1 :]:
        if statement.kind == "header":
            break
        if statement.kind == "key":
            end = statement.end
    return end


def _parse(text: str, message: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CodexConfigError(message.format(exc)) from None


def _check(before: dict[str, Any], merged: str, base_url: str, model: str | None, where: str) -> None:
    """The merged text must hold the old settings plus GateDeck's, nothing else changed."""
    by_hand = (
        f"GateDeck could not merge its lines into {where} safely ({{}}), so it left the file as "
        "it is. Add GateDeck's provider by hand, or start Codex with `gatedeck codex`, which "
        "passes it for one run."
    )
    after = _parse(merged, by_hand)
    provider = after.get("model_providers", {}).get(PROVIDER, {})
    wanted = provider_fields(base_url)
    if any(provider.get(key) != value for key, value in wanted.items()):
        raise CodexConfigError(by_hand.format("its provider table did not read back"))
    if after.get("model_provider") != PROVIDER or (model and after.get("model") != model):
        raise CodexConfigError(by_hand.format("model_provider did not read back"))
    if _without_ours(after, model) != _without_ours(before, model):
        raise CodexConfigError(by_hand.format("another setting read back differently"))


def _without_ours(config: dict[str, Any], model: str | None) -> dict[str, Any]:
    rest = {k: v for k, v in config.items() if k != "model_provider" and not (model and k == "model")}
    providers = rest.get("model_providers")
    if isinstance(providers, dict):
        rest["model_providers"] = {k: v for k, v in providers.items() if k != PROVIDER}
        if not rest["model_providers"]:
            del rest["model_providers"]
    return rest


def _profile_note(config: dict[str, Any]) -> str:
    name = config.get("profile")
    profile = config.get("profiles", {}).get(name, {}) if isinstance(name, str) else {}
    chosen = profile.get("model_provider") if isinstance(profile, dict) else None
    if chosen in (None, PROVIDER):
        return ""
    return (
        f'The active profile "{name}" picks the provider "{chosen}", which wins over the top-level '
        f'setting: run Codex with `--profile` of another profile, or set its model_provider to "{PROVIDER}".'
    )
