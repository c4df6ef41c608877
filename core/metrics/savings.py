"""What running locally saved: the cloud price of the tokens GateDeck's local models served.

Each :class:`~core.metrics.recorder.RequestRecord` carries ``cloud_cost``: what the model the
client asked for (``claude-sonnet-4-5``, ``gpt-4o``…) would have charged for the record's prompt
and completion tokens at LiteLLM's bundled prices (read through
:func:`core.gateway.litellm_seam.prices`). A name without a price (a local model name) has none,
and so has a request a cloud model answered: nothing was saved on it. :class:`PriceBook` resolves
each name once; after that a record costs one dict lookup. The requests of GateDeck's own
tool-call probe (``probe`` records) saved the person nothing and are never counted.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.gateway import litellm_seam
from core.gateway.litellm_seam import TokenPrices
from core.metrics.request_log import read_log

if TYPE_CHECKING:
    from core.metrics.recorder import RequestRecord

PriceLookup = Callable[[str], TokenPrices | None]


class PriceBook:
    """Per-token prices by model name, each name resolved once.

    Args:
        lookup: a name's prices (``None``: no price); LiteLLM's price map by default.
        ready: whether ``lookup`` can answer yet (until then nothing is priced or cached).
    """

    def __init__(
        self,
        lookup: PriceLookup = litellm_seam.prices,
        ready: Callable[[], bool] = litellm_seam.price_map_loaded,
    ) -> None:
        self._lookup = lookup
        self._ready = ready
        self._known: dict[str, TokenPrices | None] = {}
        self._lock = threading.Lock()

    def prices(self, name: str) -> TokenPrices | None:
        try:
            return self._known[name]
        except KeyError:
            pass
        if not name or not self._ready():
            return None
        found = self._lookup(name)
        with self._lock:
            if len(self._known) < 10_000:  # names come from clients: keep the cache bounded
                self._known[name] = found
        return found

    def cloud_cost(
        self, requested: str, model: str, prompt_tokens: int | None, completion_tokens: int | None
    ) -> float | None:
        """What ``requested`` would have cost for these tokens, when ``model`` (the model that
        answered) is not itself a priced cloud model; ``None`` otherwise."""
        if prompt_tokens is None and completion_tokens is None:
            return None
        price = self.prices(requested)
        if price is None or (model and self.prices(model) is not None):
            return None
        return (prompt_tokens or 0) * price.input + (completion_tokens or 0) * price.output


@dataclass(frozen=True)
class SavingsSummary:
    """US dollars saved today and this week (since Monday, local time), and per mapping over
    the records given."""

    today: float
    week: float
    by_mapping: dict[str, float]


def saved(records: Iterable[RequestRecord]) -> float:
    """The sum of ``cloud_cost`` over the answered records (the probe's left out)."""
    return sum(r.cloud_cost for r in records if counts_as_saved(r) and r.cloud_cost is not None)


def counts_as_saved(record: RequestRecord) -> bool:
    """Whether ``record`` saved the person its ``cloud_cost``: answered, priced, and not one of
    GateDeck's own probe requests."""
    return record.ok and bool(record.cloud_cost) and not record.probe


def day_start(now: float) -> float:
    local = dt.datetime.fromtimestamp(now).astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def week_start(now: float) -> float:
    local = dt.datetime.fromtimestamp(now).astimezone()
    monday = local.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=local.weekday())
    return monday.timestamp()


def summarize_savings(records: Iterable[RequestRecord], now: float) -> SavingsSummary:
    today_from, week_from = day_start(now), week_start(now)
    today = week = 0.0
    by_mapping: dict[str, float] = {}
    for r in records:
        if not counts_as_saved(r) or r.cloud_cost is None:
            continue
        name = r.mapping or r.requested
        by_mapping[name] = by_mapping.get(name, 0.0) + r.cloud_cost
        if r.at >= week_from:
            week += r.cloud_cost
            if r.at >= today_from:
                today += r.cloud_cost
    return SavingsSummary(today, week, by_mapping)


def saved_by_day(folder: Path, since: float, before: float) -> dict[float, float]:
    """US dollars saved per local day (keyed by its midnight) by the answered requests in the
    request log in ``folder`` received from ``since`` up to (not including) ``before``."""
    from core.metrics.recorder import RequestRecord

    days: dict[float, float] = {}
    for item in read_log(folder, since=since):
        cost = item.get("cloud_cost")
        if not cost or not item.get("ok", True) or item.get("probe") is True:
            continue
        try:
            record = RequestRecord.from_json(item)
        except (TypeError, ValueError):
            continue  # a line GateDeck cannot read is skipped, as ``gatedeck stats`` does
        if record.at < before and record.cloud_cost:
            day = day_start(record.at)
            days[day] = days.get(day, 0.0) + record.cloud_cost
    return days


def dollars(value: float | None) -> str:
    """``$0.42``, ``$12.30``; ``<$0.01`` for a little above nothing; ``–`` for none."""
    if value is None:
        return "–"
    if 0 < value < 0.005:
        return "<$0.01"
    return f"${value:,.2f}"
