"""The gateway's request records as Prometheus metrics, served as ``GET /metrics``.

:class:`PrometheusMetrics` listens to the :class:`~core.metrics.recorder.MetricsRecorder`
(one call per request, on the gateway's thread) and counts into a registry of its own, never
``prometheus_client``'s global one. Every series is labelled by mapping, model, backend and
route (``fastpath`` or ``litellm``); the requests the fast path passed on to LiteLLM are also
counted by the kind of reason (:func:`~core.metrics.recorder.decline_kind`: ``input item``,
``fields``…, ``error`` for an unexpected exception). Label values stay few: a mapping is named as the config's
routing names it (a name nothing routes becomes ``unmapped``), and models and backends beyond
:data:`MAX_VALUES` distinct values per label are counted as ``other``.

The requests of GateDeck's own tool-call probe (``probe`` records) are left out of every series
and counted alone, by mapping, in ``gatedeck_probe_requests``: a ``probe`` label on each series
would double them and make every dashboard query filter it, or count GateDeck's test of a model
as the person's traffic, saved dollars and latency.

:class:`MetricsEndpoint` serves the registry in the text exposition format; it sits behind the
gateway's key check, so scraping needs the gateway key like every other route.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core.gateway.auth import ASGIApp, Receive, Scope, Send
from core.metrics.recorder import RequestRecord, decline_kind

__all__ = ["MAX_VALUES", "METRICS_PATH", "MetricsEndpoint", "PrometheusMetrics", "is_refused_overflow"]

METRICS_PATH = "/metrics"
#: Distinct values one label keeps before further ones are counted as ``other``.
MAX_VALUES = 64
_MAX_LEN = 120
_LABELS = ("mapping", "model", "backend", "route")
_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_SPEED = (1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0)
_OVERFLOW_MARKS = ("prompt is too long", "maximum context length", "context_length_exceeded")
#: Ollama spent this long loading the model: it was (re)loaded for the request.
RELOAD_S = 0.5


def is_refused_overflow(record: RequestRecord) -> bool:
    """Whether ``record`` is a prompt refused because the mapping's context could not hold it."""
    if record.status != 400:
        return False
    error = record.error.lower()
    return any(mark in error for mark in _OVERFLOW_MARKS)


class _Bounded:
    """Keeps one label's values to at most ``limit`` distinct ones."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        value = value[:_MAX_LEN] or "none"
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self._limit:
                return "other"
            self._seen.add(value)
            return value


class PrometheusMetrics:
    """Counts request records into GateDeck's own registry.

    Args:
        group_of: the mapping (deployment group) a requested name lands on, as the running
            config routes it; ``None`` when nothing serves it.
        max_values: distinct models (and backends) kept per label before ``other``.
    """

    def __init__(
        self, group_of: Callable[[str], str | None] = lambda name: name, max_values: int = MAX_VALUES
    ) -> None:
        self._group_of = group_of
        self._model = _Bounded(max_values)
        self._backend = _Bounded(max_values)
        self._mapping = _Bounded(max_values)  # the config's names; bounded all the same
        self._reason = _Bounded(max_values)  # a fixed set of kinds; bounded all the same
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.probes = Counter(
            "gatedeck_probe_requests",
            "GateDeck's own tool-call probe requests (left out of every other series)",
            ["mapping"],
            registry=r,
        )
        self.requests = Counter(
            "gatedeck_requests", "Client requests answered, by HTTP status", [*_LABELS, "status"], registry=r
        )
        self.ttft = Histogram(
            "gatedeck_ttft_seconds", "Time to the first token", _LABELS, buckets=_SECONDS, registry=r
        )
        self.latency = Histogram(
            "gatedeck_request_seconds", "Time to the end of the reply", _LABELS, buckets=_SECONDS, registry=r
        )
        self.prompt_tokens = Counter("gatedeck_prompt_tokens", "Prompt tokens", _LABELS, registry=r)
        self.completion_tokens = Counter(
            "gatedeck_completion_tokens", "Generated tokens", _LABELS, registry=r
        )
        self.speed = Histogram(
            "gatedeck_tokens_per_second", "Generation speed per request", _LABELS, buckets=_SPEED, registry=r
        )
        self.fallbacks = Counter(
            "gatedeck_fallbacks",
            "Requests answered by a fallback mapping",
            [*_LABELS, "fallback"],
            registry=r,
        )
        self.overflows = Counter(
            "gatedeck_refused_overflows",
            "Prompts refused because the mapping's context cannot hold them",
            _LABELS,
            registry=r,
        )
        self.repaired = Counter(
            "gatedeck_repaired_tool_calls",
            "Tool calls a model wrote as text, made real calls",
            [*_LABELS, "shape"],
            registry=r,
        )
        self.reloads = Counter(
            "gatedeck_model_reloads",
            f"Requests that waited ≥ {RELOAD_S} s for Ollama to load the model",
            _LABELS,
            registry=r,
        )
        self.load_seconds = Counter(
            "gatedeck_model_load_seconds",
            "Seconds requests waited for Ollama to load the model",
            _LABELS,
            registry=r,
        )
        self.saved = Counter(
            "gatedeck_cloud_cost_saved_usd",
            "What the requested cloud model would have charged for the tokens served locally (US dollars)",
            _LABELS,
            registry=r,
        )
        self.embedded = Counter(
            "gatedeck_embedded_inputs", "Texts embedded for /v1/embeddings requests", _LABELS, registry=r
        )
        self.unenforced = Counter(
            "gatedeck_unenforced_tool_choice",
            "Requests whose required tool call Ollama cannot be made to make",
            _LABELS,
            registry=r,
        )

        self.declined = Counter(
            "gatedeck_fastpath_declined",
            "Requests for Ollama mappings the fast path passed on to LiteLLM, by the kind of reason",
            [*_LABELS, "reason"],
            registry=r,
        )

    def labels(self, record: RequestRecord) -> tuple[str, str, str, str]:
        """The bounded ``mapping, model, backend, route`` labels of ``record``."""
        group = self._group_of(record.mapping) if record.mapping else None
        mapping = self._mapping(group) if group else "unmapped"
        route = record.route if record.route in ("fastpath", "litellm") else "unknown"
        return mapping, self._model(record.model), self._backend(record.backend), route

    def observe(self, record: RequestRecord) -> None:
        """Count one request (a :class:`~core.metrics.recorder.MetricsRecorder` listener)."""
        labels = self.labels(record)
        if record.probe:
            self.probes.labels(labels[0]).inc()
            return
        self.requests.labels(*labels, str(record.status)).inc()
        self.latency.labels(*labels).observe(record.latency_s)
        if record.ok and record.ttft_s is not None:
            self.ttft.labels(*labels).observe(record.ttft_s)
        if record.prompt_tokens:
            self.prompt_tokens.labels(*labels).inc(record.prompt_tokens)
        if record.completion_tokens:
            self.completion_tokens.labels(*labels).inc(record.completion_tokens)
        if record.tokens_per_s is not None:
            self.speed.labels(*labels).observe(record.tokens_per_s)
        if record.fallback:
            self.fallbacks.labels(*labels, self._mapping(record.fallback)).inc()
        if is_refused_overflow(record):
            self.overflows.labels(*labels).inc()
        if record.repaired:
            self.repaired.labels(*labels, record.repaired[:40]).inc()
        if record.load_s is not None:
            self.load_seconds.labels(*labels).inc(max(0.0, record.load_s))
            if record.load_s >= RELOAD_S:
                self.reloads.labels(*labels).inc()
        if record.unenforced:
            self.unenforced.labels(*labels).inc()
        if record.cloud_cost:
            self.saved.labels(*labels).inc(record.cloud_cost)
        if record.inputs and record.ok:
            self.embedded.labels(*labels).inc(record.inputs)
        if record.declined:
            self.declined.labels(*labels, self._reason(decline_kind(record.declined))).inc()

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class MetricsEndpoint:
    """ASGI middleware: answers ``GET /metrics`` from ``metrics``; everything else goes to ``app``.

    Args:
        app: what serves the model APIs (behind the same key check).
        metrics: the registry to serve.
    """

    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != METRICS_PATH:
            await self.app(scope, receive, send)
            return
        body = self.metrics.render()
        headers = [
            (b"content-type", CONTENT_TYPE_LATEST.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})
