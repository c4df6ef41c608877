"""What each request through the gateway did: one :class:`RequestRecord` per client request.

A :class:`MetricsRecorder` keeps the latest records in a bounded ring buffer, appends each to
the JSONL request log (:mod:`core.metrics.request_log`) and hands it to listeners, on their own loop
when they give one (like :meth:`core.gateway.service.Gateway.add_listener`), so the window only ever
hears about records on its own thread. It knows nothing about LiteLLM: the callback that
feeds it from inside the proxy lives in :mod:`core.metrics.litellm_hook`.

The recorder is called on the gateway's event loop, once per request, after the reply went
out; what it does there is a dict lookup (two more for its cloud price), a dataclass, a
``deque.append``, one line of JSON written and one ``call_soon_threadsafe`` per listener (see
``bench/metrics_cost.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from core.metrics.request_log import RequestLog
from core.metrics.savings import PriceBook

log = logging.getLogger(__name__)

__all__ = [
    "CONTEXT_GUARD_RATIO",
    "DECLINED_ERROR",
    "DECLINED_MAX",
    "PROBE_HEADER",
    "MetricsRecorder",
    "RecordListener",
    "RequestRecord",
    "decline_kind",
    "generation_speed",
    "likely_truncated",
]

#: A prompt that fills this share of the context window has most likely been cut by Ollama,
#: which truncates silently and reports the tokens it kept (never more than ``num_ctx``).
CONTEXT_GUARD_RATIO = 0.9


#: The request header GateDeck's own tool-call probe (:mod:`core.clients.tool_probe`) sets on its
#: requests, so their records say ``probe`` and the user's usage leaves them out. Only a marker:
#: whoever sends it holds the gateway key already, and a request that carries it is still
#: answered, logged and listed like any other.
PROBE_HEADER = "x-gatedeck-probe"

#: The longest reason a record keeps for the fast path passing a request on.
DECLINED_MAX = 200
#: How the reason for an unexpected exception begins (its class and message follow).
DECLINED_ERROR = "error: "
_LITERALS = frozenset({"None", "True", "False"})


def decline_kind(reason: str) -> str:
    """The kind of a reason the fast path passed a request on, from a small fixed set (for a
    metric's label): the reason's words up to the first that is not a plain word, where what
    the client sent begins (``input item 'x'`` → ``input item``, ``fields ['logprobs']`` →
    ``fields``, ``tool None`` → ``tool``), ``error`` for an unexpected exception; empty for
    no reason."""
    if not reason:
        return ""
    if reason.startswith(DECLINED_ERROR):
        return "error"
    words = list(itertools.takewhile(lambda w: w.isalpha() and w not in _LITERALS, reason.split()))
    return " ".join(words)[:40] or "other"


def generation_speed(tokens: int | None, stream: bool, generating_s: float, latency_s: float) -> float | None:
    """Tokens per second: for a stream between the first and the last token (the first one's
    time belongs to TTFT), otherwise over the whole request."""
    if not tokens:
        return None
    if stream and tokens > 1 and generating_s > 0:
        return (tokens - 1) / generating_s
    return tokens / latency_s if latency_s > 0 else None


def likely_truncated(prompt_tokens: int | None, num_ctx: int | None) -> bool:
    """True when ``prompt_tokens`` reached :data:`CONTEXT_GUARD_RATIO` of ``num_ctx``."""
    if not prompt_tokens or not num_ctx:
        return False
    return prompt_tokens >= CONTEXT_GUARD_RATIO * num_ctx


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One client request through the gateway.

    Attributes:
        at: ``time.time()`` when the gateway received it.
        dialect: ``openai`` (``/v1/chat/completions``), ``anthropic`` (``/v1/messages``) or
            ``responses`` (``/v1/responses``, answered by the fast path).
        requested: the model name the client asked for (``claude-sonnet-4-5-20250929``).
        mapping: the mapping (LiteLLM model group) GateDeck routed that name to.
        model: the Ollama model (or cloud model) that answered, or was tried last.
        backend: which backend served it (a backend name, or the API base).
        stream: whether the client asked for a stream.
        ok: whether the client got an answer.
        status: 200, or the HTTP status of the error the client got.
        error: the error in one line (empty when ``ok``).
        ttft_s: time to the first token (for a non-streamed reply, to the whole reply).
        latency_s: time to the end of the reply.
        prompt_tokens: tokens of the prompt, as the backend counted them.
        completion_tokens: tokens generated.
        tokens_per_s: generation speed; for a stream measured between the first and last
            token, otherwise over the whole request.
        fallback: the mapping that answered instead of ``mapping`` (empty when none did).
        num_ctx: the context window the request was sent with (``None``: the model's default).
        likely_truncated: the prompt filled ≥ 90% of ``num_ctx`` (the context guard).
        load_s: the seconds Ollama spent loading the model for it (its ``load_duration``;
            ``None``: not reported).
        repaired: how a tool call the model wrote as text was written, when GateDeck made it
            a real call (``tool_call_tag``, ``function_xml``, ``json``, ``fenced_json``).
        unenforced: what the request asked that Ollama cannot be made to do (a required tool
            call), said in the Monitor instead of pretended.
        route: which path answered: ``fastpath`` (GateDeck, straight to Ollama) or ``litellm``
            (empty in records logged before GateDeck said).
        cloud_cost: what the model the client asked for would have cost in the cloud for these
            tokens, in US dollars, at LiteLLM's bundled prices (``None``: a name without a price,
            or a cloud model answered); see :mod:`core.metrics.savings`.
        inputs: how many texts an embeddings request asked to embed (``None``: not one).
        declined: why the fast path passed a request for an Ollama mapping on to LiteLLM
            (what it does not translate: ``input item 'item_reference'``; an unexpected
            exception: ``error: KeyError: …``); at most :data:`DECLINED_MAX` characters, empty
            when it did not (see :func:`decline_kind`).
        probe: GateDeck's own tool-call probe sent it (its :data:`PROBE_HEADER`): listed in the
            request log, left out of savings, ``gatedeck stats``, the Monitor's graphs and
            table, alerts and the ``/metrics`` series (``False`` in records logged before).
        seq: position in this recorder's stream of records (0 when read back from the log).
    """

    at: float
    dialect: str
    requested: str
    mapping: str
    model: str
    backend: str = ""
    stream: bool = False
    ok: bool = True
    status: int = 200
    error: str = ""
    ttft_s: float | None = None
    latency_s: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    fallback: str = ""
    num_ctx: int | None = None
    likely_truncated: bool = False
    load_s: float | None = None
    repaired: str = ""
    unenforced: str = ""
    route: str = ""
    cloud_cost: float | None = None
    inputs: int | None = None
    declined: str = ""
    probe: bool = False
    seq: int = 0

    @property
    def served_by(self) -> str:
        """The mapping that actually answered (the fallback when one was used)."""
        return self.fallback or self.mapping

    @property
    def routing(self) -> str:
        """The routing decision, as the request log shows it."""
        parts = [self.requested]
        if self.mapping and self.mapping != self.requested:
            parts.append(self.mapping)
        if self.fallback:
            parts.append(f"fallback {self.fallback}")
        if self.model:
            parts.append(self.model)
        return " → ".join(parts)

    def to_json(self) -> dict[str, Any]:
        # by hand: dataclasses.asdict deep-copies every value, half the callback's time
        return {name: getattr(self, name) for name in _JSON_FIELDS}

    def numbered(self, seq: int, cloud_cost: float | None = None) -> RequestRecord:
        """This record with ``seq`` (and ``cloud_cost``, when given) set (``dataclasses.replace``
        is several times slower)."""
        values = self.to_json()
        if cloud_cost is not None:
            values["cloud_cost"] = cloud_cost
        return RequestRecord(**values, seq=seq)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        """A record read back from the log; unknown keys (a newer GateDeck) are ignored."""
        known = {f.name for f in fields(cls)} - {"seq"}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("at", "latency_s"):
            if isinstance(values.get(key), bool) or not isinstance(values.get(key), int | float):
                raise ValueError(f"a request record needs a number in '{key}'")
        for key in (
            "ttft_s",
            "tokens_per_s",
            "prompt_tokens",
            "completion_tokens",
            "num_ctx",
            "load_s",
            "cloud_cost",
            "inputs",
        ):
            if values.get(key) is not None and not isinstance(values[key], int | float):
                raise ValueError(f"'{key}' must be a number")
        if not isinstance(values.get("probe", False), bool):
            raise ValueError("'probe' must be true or false")
        return cls(**values)


_JSON_FIELDS = tuple(f.name for f in fields(RequestRecord) if f.name != "seq")
RecordListener = Callable[[RequestRecord], None]


class MetricsRecorder:
    """Keeps, logs and hands out the gateway's request records. Thread-safe.

    Args:
        log: where each record is appended as a JSON line (``None``: memory only).
        capacity: how many records the ring buffer keeps.
        prices: prices each record's tokens at the requested model's cloud price (LiteLLM's
            price map by default).
    """

    def __init__(
        self, log: RequestLog | None = None, capacity: int = 5000, prices: PriceBook | None = None
    ) -> None:
        self._log = log
        self._prices = prices or PriceBook()
        self._lock = threading.Lock()
        self._buffer: deque[RequestRecord] = deque(maxlen=capacity)
        self._listeners: list[tuple[RecordListener, asyncio.AbstractEventLoop | None]] = []
        self._seq = 0

    @property
    def request_log(self) -> RequestLog | None:
        return self._log

    def add_listener(
        self, callback: RecordListener, loop: asyncio.AbstractEventLoop | None = None
    ) -> Callable[[], None]:
        """Call ``callback(record)`` for each new record; returns a function that unsubscribes.

        With ``loop``, the call is made on that loop (``call_soon_threadsafe``); without, on the
        thread that recorded it (the gateway's).
        """
        entry = (callback, loop)
        with self._lock:
            self._listeners.append(entry)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(entry)

        return remove

    def records(self, since_seq: int = 0) -> list[RequestRecord]:
        """Buffered records with ``seq`` greater than ``since_seq``, oldest first."""
        with self._lock:
            if since_seq <= 0:
                return list(self._buffer)
            return [r for r in self._buffer if r.seq > since_seq]

    def record(self, record: RequestRecord) -> RequestRecord:
        """Number, keep, log and deliver ``record``; returns it with its ``seq``."""
        with self._lock:
            self._seq += 1
            cost = record.cloud_cost
            if cost is None:
                cost = self._prices.cloud_cost(
                    record.requested, record.model, record.prompt_tokens, record.completion_tokens
                )
            numbered = record.numbered(self._seq, cost)
            self._buffer.append(numbered)
            listeners = list(self._listeners)
        if self._log is not None:
            self._log.append(numbered.to_json())
        for callback, loop in listeners:
            try:
                if loop is None:
                    callback(numbered)
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(callback, numbered)
            except Exception:  # a broken listener must not break the gateway
                log.exception("metrics listener failed")
        return numbered

    def close(self) -> None:
        """Flush and close the request log (the buffer stays readable)."""
        if self._log is not None:
            self._log.close()
