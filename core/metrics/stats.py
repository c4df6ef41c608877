"""p50/p95 of TTFT, latency and tokens/s, what was saved and why the fast path passed requests on
to LiteLLM, per mapping (and per Ollama host), and the embeddings requests per mapping: for
``gatedeck stats`` and the monitor. GateDeck's own tool-call probe requests (``probe`` records)
are left out: they are not the person's usage."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.metrics.recorder import RequestRecord
from core.metrics.savings import saved


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) with linear interpolation between ranks; ``None`` if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Spread:
    """p50 and p95 of one measure (``None`` when no request had it)."""

    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(percentile(values, 50), percentile(values, 95))


@dataclass(frozen=True)
class MappingStats:
    """What one mapping's requests looked like.

    Timings and speed come from requests that succeeded; ``errors``, ``fallbacks`` and
    ``truncated`` count requests.
    """

    mapping: str
    requests: int
    errors: int
    fallbacks: int
    truncated: int
    ttft_s: Spread
    latency_s: Spread
    tokens_per_s: Spread
    last_at: float
    #: US dollars the requested cloud models would have cost (:mod:`core.metrics.savings`)
    saved: float = 0.0
    #: requests the fast path passed on to LiteLLM (it does not translate them)
    declined: int = 0
    #: why, the most frequent reasons first: ``(reason, requests)``, at most :data:`TOP_REASONS`
    declined_reasons: tuple[tuple[str, int], ...] = ()


#: How many reasons for passing requests on each mapping's stats keep.
TOP_REASONS = 3


def summarize(records: Iterable[RequestRecord]) -> list[MappingStats]:
    """Stats per mapping (the one the request was routed to), busiest first."""
    groups: dict[str, list[RequestRecord]] = {}
    for record in records:
        if not record.probe:
            groups.setdefault(record.mapping or record.requested, []).append(record)
    stats = [_stats(name, items) for name, items in groups.items()]
    return sorted(stats, key=lambda s: (-s.requests, s.mapping))


def _stats(mapping: str, records: list[RequestRecord]) -> MappingStats:
    good = [r for r in records if r.ok]
    reasons = Counter(r.declined for r in records if r.declined)
    return MappingStats(
        mapping=mapping,
        requests=len(records),
        errors=len(records) - len(good),
        fallbacks=sum(1 for r in records if r.fallback),
        truncated=sum(1 for r in records if r.likely_truncated),
        ttft_s=Spread.of([r.ttft_s for r in good if r.ttft_s is not None]),
        latency_s=Spread.of([r.latency_s for r in good]),
        tokens_per_s=Spread.of([r.tokens_per_s for r in good if r.tokens_per_s is not None]),
        last_at=max(r.at for r in records),
        saved=saved(records),
        declined=sum(reasons.values()),
        declined_reasons=tuple(reasons.most_common(TOP_REASONS)),
    )


@dataclass(frozen=True)
class HostStats:
    """What one Ollama host's requests looked like (timings from those that succeeded)."""

    host: str
    requests: int
    errors: int
    mappings: tuple[str, ...]
    ttft_s: Spread
    latency_s: Spread
    tokens_per_s: Spread


def summarize_hosts(records: Iterable[RequestRecord]) -> list[HostStats]:
    """Stats per host that answered (the record's backend: a backend's name or its address),
    busiest first; requests no host was chosen for are left out."""
    hosts: dict[str, list[RequestRecord]] = {}
    for record in records:
        if record.backend and not record.probe:
            hosts.setdefault(record.backend, []).append(record)
    stats = []
    for host, items in hosts.items():
        good = [r for r in items if r.ok]
        stats.append(
            HostStats(
                host=host,
                requests=len(items),
                errors=len(items) - len(good),
                mappings=tuple(sorted({r.mapping or r.requested for r in items})),
                ttft_s=Spread.of([r.ttft_s for r in good if r.ttft_s is not None]),
                latency_s=Spread.of([r.latency_s for r in good]),
                tokens_per_s=Spread.of([r.tokens_per_s for r in good if r.tokens_per_s is not None]),
            )
        )
    return sorted(stats, key=lambda s: (-s.requests, s.host))


@dataclass(frozen=True)
class EmbeddingStats:
    """One mapping's embeddings requests: how many, the texts and tokens they embedded, and
    their latency (from those that succeeded)."""

    mapping: str
    requests: int
    errors: int
    inputs: int
    tokens: int
    latency_s: Spread


def summarize_embeddings(records: Iterable[RequestRecord]) -> list[EmbeddingStats]:
    """Stats of the embeddings requests per mapping, busiest first (none: an empty list)."""
    groups: dict[str, list[RequestRecord]] = {}
    for record in records:
        if record.dialect == "embeddings" and not record.probe:
            groups.setdefault(record.mapping or record.requested, []).append(record)
    stats = []
    for mapping, items in groups.items():
        good = [r for r in items if r.ok]
        stats.append(
            EmbeddingStats(
                mapping=mapping,
                requests=len(items),
                errors=len(items) - len(good),
                inputs=sum(r.inputs or 0 for r in good),
                tokens=sum(r.prompt_tokens or 0 for r in good),
                latency_s=Spread.of([r.latency_s for r in good]),
            )
        )
    return sorted(stats, key=lambda s: (-s.requests, s.mapping))
