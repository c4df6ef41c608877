"""What in the gateway's traffic deserves a notification: the context guard and alerts.

- **Context guard**: a request whose prompt filled ≥ 90% of its mapping's ``num_ctx`` was most
  likely cut by Ollama (it truncates silently). One notification per mapping and context size,
  with the action "raise context"; raising ``num_ctx`` re-arms it.
- **Slow mapping**: a successful request slower than the mapping's latency threshold.
- **Backend down**: a request that could not reach its Ollama server.

Slow and down alerts are rate-limited per mapping / backend. Plain Python, no Qt; the GUI turns
an :class:`Alert` into a tray notification (``gui/alert_notifier.py``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.metrics.recorder import CONTEXT_GUARD_RATIO, RequestRecord

log = logging.getLogger(__name__)

RAISE_CONTEXT = "raise_context"
THRESHOLDS_FILE = "alert_thresholds.json"
# LiteLLM's words for a refused connection, and GateDeck's own (core.errors.OllamaUnreachable)
_UNREACHABLE = (
    "cannot connect",
    "connection refused",
    "connect call failed",
    "connecterror",
    "is not answering at",
)


@dataclass(frozen=True)
class Alert:
    """A notification to show.

    Attributes:
        kind: ``context``, ``latency`` or ``backend_down``.
        key: the mapping (or backend) it is about.
        title: one short line.
        message: what happened and what to do.
        critical: shown as an error rather than information.
        action: what clicking it does (``raise_context``: open the hardware panel), or empty.
    """

    kind: str
    key: str
    title: str
    message: str
    critical: bool = False
    action: str = ""


class ContextGuard:
    """Warns once per mapping and ``num_ctx`` when prompts fill the context window."""

    def __init__(self) -> None:
        self._warned: set[tuple[str, int | None]] = set()

    def check(self, record: RequestRecord) -> Alert | None:
        if not record.likely_truncated:
            return None
        key = (record.mapping, record.num_ctx)
        if key in self._warned:
            return None
        self._warned.add(key)
        share = (record.prompt_tokens or 0) / (record.num_ctx or 1)
        return Alert(
            kind="context",
            key=record.mapping,
            title=f"'{record.mapping}' is probably cutting prompts",
            message=(
                f"A request used {record.prompt_tokens} of its {record.num_ctx}-token context "
                f"({share:.0%}, warning from {CONTEXT_GUARD_RATIO:.0%}); Ollama drops the rest of the "
                "prompt without saying so. Click to raise the context on the Hardware panel."
            ),
            action=RAISE_CONTEXT,
        )


class AlertPolicy:
    """Turns request records into alerts.

    Args:
        thresholds: latency threshold in seconds per mapping (no entry: no latency alert).
        min_interval_s: at most one slow / down alert per mapping or backend in this time.
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        thresholds: Mapping[str, float] | None = None,
        min_interval_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._thresholds = dict(thresholds or {})
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self.guard = ContextGuard()

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self._thresholds)

    def set_threshold(self, mapping: str, seconds: float | None) -> None:
        """Alert when ``mapping`` takes longer than ``seconds`` (``None`` or ≤ 0: never)."""
        if seconds is None or seconds <= 0:
            self._thresholds.pop(mapping, None)
        else:
            self._thresholds[mapping] = seconds

    def check(self, record: RequestRecord) -> list[Alert]:
        """The alerts ``record`` raises (none for GateDeck's own probe requests: a slow or
        overflowing probe is reported by the probe itself)."""
        if record.probe:
            return []
        alerts: list[Alert] = []
        context = self.guard.check(record)
        if context is not None:
            alerts.append(context)
        limit = self._thresholds.get(record.served_by)
        if (
            record.ok
            and limit is not None
            and record.latency_s > limit
            and self._allow("latency", record.served_by)
        ):
            alerts.append(
                Alert(
                    kind="latency",
                    key=record.served_by,
                    title=f"'{record.served_by}' is slow",
                    message=(
                        f"A request took {record.latency_s:.1f} s (alert above {limit:g} s) on "
                        f"{record.model or 'its model'}. The Monitor panel shows the trend."
                    ),
                )
            )
        if not record.ok and unreachable(record.error):
            backend = record.backend or record.mapping
            if self._allow("backend_down", backend):
                alerts.append(
                    Alert(
                        kind="backend_down",
                        key=backend,
                        title=f"Backend '{backend}' is not answering",
                        message=(
                            f"A request for '{record.requested}' could not reach it: {record.error} "
                            "Check that Ollama runs there."
                        ),
                        critical=True,
                    )
                )
        return alerts

    def _allow(self, kind: str, key: str) -> bool:
        now = self._clock()
        last = self._last.get((kind, key))
        if last is not None and now - last < self.min_interval_s:
            return False
        self._last[(kind, key)] = now
        return True


def unreachable(error: str) -> bool:
    """Whether an error says the backend could not be reached at all."""
    text = error.lower()
    return any(marker in text for marker in _UNREACHABLE)


def load_thresholds(folder: Path) -> dict[str, float]:
    """Latency thresholds saved by :func:`save_thresholds` (none when the file is missing or bad)."""
    try:
        data = json.loads((folder / THRESHOLDS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in data.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v > 0
    }


def save_thresholds(folder: Path, thresholds: Mapping[str, float]) -> None:
    """Save atomically (temp file + rename); a failure is logged, not raised."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = folder / (THRESHOLDS_FILE + ".tmp")
        temp.write_text(json.dumps(dict(thresholds), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(temp, folder / THRESHOLDS_FILE)
    except OSError as exc:
        log.warning("could not save alert thresholds in %s: %s", folder, exc)
