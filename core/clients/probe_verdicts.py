"""The tool-call probe's last verdict per mapping, kept in the data folder.

Not in config.yaml: a verdict is something GateDeck measured, not a setting. Each entry also
holds the Ollama model and ``num_ctx`` it was measured with, so a mapping that has since changed
either shows no verdict rather than a stale one (:meth:`SavedVerdict.applies_to`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.clients.tool_probe import Outcome, ProbeResult

log = logging.getLogger(__name__)

VERDICTS_FILE = "tool_probe_verdicts.json"


@dataclass(frozen=True)
class SavedVerdict:
    """One mapping's last probe: the outcome, the spread, when, and with what."""

    outcome: Outcome
    runs: int
    worked: int
    used_result: int
    held_back: int
    at: float
    model: str
    num_ctx: int | None
    verdict: str

    @classmethod
    def of(cls, result: ProbeResult, model: str, num_ctx: int | None) -> SavedVerdict:
        assert result.outcome is not None, "a failed probe has no verdict to keep"
        return cls(
            result.outcome,
            len(result.runs),
            result.worked,
            result.used_result,
            result.held_back,
            result.at,
            model,
            num_ctx,
            result.verdict,
        )

    def applies_to(self, model: str, num_ctx: int | None) -> bool:
        return (self.model, self.num_ctx) == (model, num_ctx)


def load_verdicts(folder: Path) -> dict[str, SavedVerdict]:
    """Saved verdicts by mapping name (none when the file is missing; bad entries skipped)."""
    try:
        data = json.loads((folder / VERDICTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, SavedVerdict] = {}
    for name, entry in data.items():
        try:
            out[str(name)] = _entry(entry)
        except (KeyError, TypeError, ValueError):
            log.warning("skipping a bad tool-probe verdict for %r in %s", name, folder / VERDICTS_FILE)
    return out


def save_verdicts(folder: Path, verdicts: dict[str, SavedVerdict]) -> None:
    """Save atomically (temp file + rename); a failure is logged, not raised."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = folder / (VERDICTS_FILE + ".tmp")
        payload = {name: asdict(v) for name, v in verdicts.items()}
        temp.write_text(json.dumps(payload, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(temp, folder / VERDICTS_FILE)
    except OSError as exc:
        log.warning("could not save tool-probe verdicts in %s: %s", folder, exc)


def keep_verdict(
    folder: Path,
    result: ProbeResult,
    model: str,
    num_ctx: int | None,
    mappings: Sequence[str] | None = None,
) -> dict[str, SavedVerdict]:
    """Save ``result``'s verdict (a failed probe changes nothing); returns all.

    It is saved for ``mappings`` — mappings that run ``model`` with the same load options as
    the one probed, so the verdict is theirs too — or else for the mapping probed.
    """
    verdicts = load_verdicts(folder)
    if result.outcome is not None:
        saved = SavedVerdict.of(result, model, num_ctx)
        for name in [result.mapping] if mappings is None else mappings:
            verdicts[name] = saved
        save_verdicts(folder, verdicts)
    return verdicts


def _entry(entry: Any) -> SavedVerdict:
    num_ctx = entry.get("num_ctx")
    return SavedVerdict(
        Outcome(entry["outcome"]),
        int(entry["runs"]),
        int(entry["worked"]),
        int(entry["used_result"]),
        int(entry["held_back"]),
        float(entry["at"]),
        str(entry["model"]),
        None if num_ctx is None else int(num_ctx),
        str(entry.get("verdict", "")),
    )
