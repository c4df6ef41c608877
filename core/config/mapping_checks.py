"""Checks on a list of mappings before it is applied, phrased for the person editing it.

Errors stop Apply (the gateway could not serve the list as meant); warnings are shown but
allowed (a model not pulled yet, a context too small for Claude Code).
"""

from __future__ import annotations

import re
from collections import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from core.config.schema import CLAUDE_MIN_CTX, Mapping
from core.ollama.load_options import ReloadGroup, reload_groups
from core.ollama.names import full_name

Severity = Literal["error", "warning"]

_BAD_PATTERN = re.compile(r"\[[^\]]*$")  # an unclosed [ never matches anything


@dataclass(frozen=True)
class MappingIssue:
    """One problem with one mapping.

    Attributes:
        row: index of the mapping in the list.
        field: which part is wrong (``name``, ``model``, ``num_ctx``, ``fallbacks``, ``backends``).
        severity: ``error`` blocks Apply; ``warning`` does not.
        message: what is wrong and what to do.
        missing_model: set when the fix is to pull this model.
        host: the Ollama host that lacks ``missing_model`` (the one to pull it onto).
        reload_model: set when the fix is to give every mapping on this model the same load
            options (:func:`core.ollama.load_options.with_same_load_options`).
    """

    row: int
    field: str
    severity: Severity
    message: str
    missing_model: str | None = None
    host: str | None = None
    reload_model: str | None = None


def check_mappings(
    rows: Sequence[Mapping | dict[str, Any]],
    installed: abc.Mapping[str, Iterable[str]] | None = None,
    backend_names: Iterable[str] = ("local",),
    cloud_names: Iterable[str] = (),
) -> list[MappingIssue]:
    """Every issue in ``rows``.

    ``installed`` holds the models each Ollama host has, by host name: a mapping whose model one
    of its hosts lacks is warned about once per such host. A host left out of it (not asked
    yet, not answering) is not judged; ``None`` skips the "not installed" check.

    Rows may be :class:`Mapping` objects or their dict form as a table edits it; a row whose
    fields are invalid is reported field by field and left out of the cross-row checks.
    """
    issues: list[MappingIssue] = []
    mappings: list[tuple[int, Mapping]] = []
    for row, raw in enumerate(rows):
        mapping, errors = _validated(row, raw)
        issues += errors
        if mapping is not None:
            mappings.append((row, mapping))
    names = [str(r.name if isinstance(r, Mapping) else r.get("name", "")) for r in rows]
    backends = list(dict.fromkeys(backend_names))
    targets = set(names) | set(cloud_names)
    have = {host: {full_name(m) for m in models} for host, models in (installed or {}).items()}
    reloads: dict[str, list[ReloadGroup]] = {}
    for group in reload_groups([m for _, m in mappings]):
        reloads.setdefault(group.mappings[0], []).append(group)  # said once, on the first row
    for row, mapping in mappings:
        if names.count(mapping.name) > 1 and names.index(mapping.name) != row:
            issues.append(
                MappingIssue(
                    row,
                    "name",
                    "error",
                    f"'{mapping.name}' is already used by row {names.index(mapping.name) + 1}",
                )
            )
        if mapping.is_pattern and _BAD_PATTERN.search(mapping.name):
            issues.append(
                MappingIssue(row, "name", "error", f"'{mapping.name}' has a '[' that is never closed")
            )
        for backend in mapping.backends:
            if backend not in backends:
                issues.append(MappingIssue(row, "backends", "error", f"no Ollama backend named '{backend}'"))
        for fallback in mapping.fallbacks:
            if fallback == mapping.name:
                issues.append(MappingIssue(row, "fallbacks", "error", "a mapping cannot fall back to itself"))
            elif fallback not in targets:
                issues.append(
                    MappingIssue(row, "fallbacks", "error", f"fallback '{fallback}' does not exist")
                )
        for host in mapping.backends:
            if host in have and full_name(mapping.model) not in have[host]:
                where = f"on {host}" if len(backends) > 1 else "in Ollama"
                issues.append(
                    MappingIssue(
                        row,
                        "model",
                        "warning",
                        f"'{mapping.model}' is not installed {where}; pull it before clients use this mapping",
                        missing_model=mapping.model,
                        host=host,
                    )
                )
        for group in reloads.get(mapping.name, ()):
            issues.append(MappingIssue(row, "num_ctx", "warning", group.describe(), reload_model=group.model))
        ctx = mapping.options.num_ctx
        if mapping.is_claude and (ctx is None or ctx < CLAUDE_MIN_CTX):
            shown = "Ollama's default" if ctx is None else f"{ctx:,}"
            issues.append(
                MappingIssue(
                    row,
                    "num_ctx",
                    "warning",
                    f"context {shown} is below {CLAUDE_MIN_CTX:,}: Claude Code's prompts (~30k tokens) "
                    "will be cut off silently",
                )
            )
    return issues


def _validated(row: int, raw: Mapping | dict[str, Any]) -> tuple[Mapping | None, list[MappingIssue]]:
    try:
        return Mapping.model_validate(raw.model_dump() if isinstance(raw, Mapping) else raw), []
    except ValidationError as exc:
        return None, [
            MappingIssue(
                row,
                str(err["loc"][-1]) if err["loc"] else "name",
                "error",
                err["msg"].removeprefix("Value error, "),
            )
            for err in exc.errors(include_url=False)
        ]


def has_errors(issues: Iterable[MappingIssue]) -> bool:
    return any(issue.severity == "error" for issue in issues)
