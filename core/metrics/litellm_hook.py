"""The LiteLLM proxy's events turned into :class:`core.metrics.recorder.RequestRecord`\\ s.

GateDeck's one LiteLLM callback (:mod:`core.gateway.litellm_seam`, driven by
:class:`core.gateway.engine.Engine`) hands each event to a :class:`RecordBuilder`. What LiteLLM
1.106.2 tells a callback inside the proxy, per client request (measured against the fake
Ollama; the keys used here are the ones checked by the tests):

- ``async_pre_call_hook`` once, on the gateway loop, with ``data["model"]`` as the client sent
  it (the engine records it before routing rewrites it);
  ``data["litellm_call_id"]`` ties the later events to it and ``call_type`` is
  ``anthropic_messages`` for ``/v1/messages``;
- ``async_log_failure_event`` for each failed attempt (a fallback may follow);
- then either ``async_log_success_event`` once (streams: after the last chunk) with the
  ``standard_logging_object`` (model group, token counts, start / first-token / end times) and
  ``original_model_group`` / ``attempted_fallbacks`` in the request metadata, or
  ``async_post_call_failure_hook`` once with the exception the client got (also for a stream
  that broke half-way).

Those events become one record, so a request is counted once however many attempts it took.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.logs import scrub

if TYPE_CHECKING:
    from core.metrics.recorder import MetricsRecorder

#: Requests seen by the pre-call hook and not finished yet; older ones are dropped beyond this
#: (a request LiteLLM never reports on must not grow the map forever).
MAX_PENDING = 4096


@dataclass(frozen=True)
class HandedOn:
    """A request the fast path hands to LiteLLM: for a mapping's fallback it cannot serve
    itself (a cloud model), after the mapping's Ollama model failed, or for an Ollama mapping
    whose request it does not translate. What its record keeps.

    Attributes:
        requested: the name the client asked for.
        mapping: the mapping whose Ollama model failed (empty: none failed).
        at: ``time.time()`` when the gateway received the request.
        declined: why the fast path passed the request on untranslated (empty: it did not);
            see :attr:`core.metrics.recorder.RequestRecord.declined`.
    """

    requested: str
    mapping: str
    at: float
    declined: str = ""


#: Set by the fast path (:mod:`core.fastpath.route`) while it hands a request on; LiteLLM's
#: pre-call hook runs in that request's task, so :meth:`RecordBuilder.started` sees it there.
HANDED_ON: ContextVar[HandedOn | None] = ContextVar("gatedeck_handed_on", default=None)

#: Set by the fast path (:mod:`core.fastpath.route`, which every request passes) for a request
#: that carries :data:`core.metrics.recorder.PROBE_HEADER`; its record, the fast path's or
#: LiteLLM's, says ``probe``.
PROBE: ContextVar[bool] = ContextVar("gatedeck_probe", default=False)


@dataclass
class _Pending:
    requested: str
    dialect: str
    at: float
    model: str = ""
    backend: str = ""
    num_ctx: int | None = None
    fell_back_from: str = ""  # the mapping that failed on the fast path (see HANDED_ON)
    declined: str = ""  # why the fast path passed it on (see HANDED_ON)
    probe: bool = False  # GateDeck's tool-call probe sent it (see PROBE)


class RecordBuilder:
    """Pairs LiteLLM's events for one request and hands the finished record to the recorder.

    LiteLLM-free (it reads plain dicts), so each event can be exercised on its own.
    """

    def __init__(self, recorder: MetricsRecorder, clock: Callable[[], float] = time.time) -> None:
        self.recorder = recorder
        self._clock = clock
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._lock = threading.Lock()

    def started(self, call_id: str, requested: str, call_type: str) -> None:
        dialect = "anthropic" if call_type == "anthropic_messages" else "openai"
        hop = HANDED_ON.get()
        if hop is None:
            pending = _Pending(requested, dialect, self._clock(), probe=PROBE.get())
        else:
            pending = _Pending(
                hop.requested,
                dialect,
                hop.at,
                fell_back_from=hop.mapping,
                declined=hop.declined,
                probe=PROBE.get(),
            )
        with self._lock:
            self._pending[call_id] = pending
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)

    def attempt_failed(self, kwargs: Mapping[str, Any]) -> None:
        """A deployment failed; remember what was tried in case nothing else answers."""
        with self._lock:
            pending = self._pending.get(str(kwargs.get("litellm_call_id") or ""))
        if pending is not None:
            pending.model = str(kwargs.get("model") or pending.model)
            pending.backend = _backend(kwargs) or pending.backend
            pending.num_ctx = _num_ctx(kwargs) or pending.num_ctx

    def succeeded(self, kwargs: Mapping[str, Any], start_time: Any, end_time: Any) -> None:
        from core.metrics.recorder import RequestRecord, generation_speed, likely_truncated

        slo: Mapping[str, Any] = kwargs.get("standard_logging_object") or {}
        meta = _metadata(kwargs)
        pending = self._pop(kwargs.get("litellm_call_id"))
        served = str(slo.get("model_group") or meta.get("model_group") or "")
        original = str(meta.get("original_model_group") or served)
        tried_fallbacks = _int(meta.get("attempted_fallbacks")) or 0
        start = _epoch(slo.get("startTime"), start_time)
        end = _epoch(slo.get("endTime"), end_time)
        first = _epoch(slo.get("completionStartTime"), kwargs.get("completion_start_time")) or end
        at = pending.at if pending else start
        stream = bool(kwargs.get("stream"))
        prompt = _int(slo.get("prompt_tokens"))
        completion = _int(slo.get("completion_tokens"))
        num_ctx = _num_ctx(kwargs)
        latency = max(0.0, end - at)
        self.recorder.record(
            RequestRecord(
                at=at,
                dialect=pending.dialect if pending else _dialect(kwargs.get("call_type")),
                requested=pending.requested if pending else original,
                mapping=(pending and pending.fell_back_from) or original,
                model=str(kwargs.get("model") or ""),
                backend=_backend(kwargs),
                stream=stream,
                ttft_s=max(0.0, min(first, end) - at),
                latency_s=latency,
                prompt_tokens=prompt,
                completion_tokens=completion,
                tokens_per_s=generation_speed(completion, stream, end - first, latency),
                fallback=served
                if (pending and pending.fell_back_from) or (tried_fallbacks and served != original)
                else "",
                num_ctx=num_ctx,
                likely_truncated=likely_truncated(prompt, num_ctx),
                route="litellm",
                declined=pending.declined if pending else "",
                probe=pending.probe if pending else False,
            )
        )

    def failed(self, request_data: Mapping[str, Any], error: BaseException) -> None:
        from core.metrics.recorder import RequestRecord

        pending = self._pop(request_data.get("litellm_call_id"))
        now = self._clock()
        requested = str(request_data.get("model") or "")
        status = _int(getattr(error, "status_code", None)) or 500
        self.recorder.record(
            RequestRecord(
                at=pending.at if pending else now,
                dialect=pending.dialect if pending else "openai",
                requested=pending.requested if pending else requested,
                mapping=(pending and pending.fell_back_from) or requested,
                model=pending.model if pending else "",
                backend=pending.backend if pending else "",
                stream=bool(request_data.get("stream")),
                ok=False,
                status=status,
                error=_one_line(error),
                latency_s=max(0.0, now - pending.at) if pending else 0.0,
                num_ctx=pending.num_ctx if pending else None,
                route="litellm",
                declined=pending.declined if pending else "",
                probe=pending.probe if pending else False,
            )
        )

    def expects(self, call_id: object) -> bool:
        """Whether the request ``call_id`` started while this builder recorded (its later
        events are this builder's; a request started before belongs to whoever recorded then)."""
        with self._lock:
            return str(call_id or "") in self._pending

    def _pop(self, call_id: object) -> _Pending | None:
        with self._lock:
            return self._pending.pop(str(call_id or ""), None)


# ---------------------------------------------------------------------- reading LiteLLM's dicts
def _metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    params = kwargs.get("litellm_params") or {}
    meta = params.get("metadata") or params.get("litellm_metadata") or {}
    return meta if isinstance(meta, Mapping) else {}


def _backend(kwargs: Mapping[str, Any]) -> str:
    params = kwargs.get("litellm_params") or {}
    info = params.get("model_info") or {}
    name = info.get("gatedeck_backend") if isinstance(info, Mapping) else None
    if name:
        return str(name)
    base = str(params.get("api_base") or "")
    return base.split("/api/", 1)[0] if base else ""


def _num_ctx(kwargs: Mapping[str, Any]) -> int | None:
    optional = kwargs.get("optional_params") or {}
    return _int(kwargs.get("num_ctx")) or _int(
        optional.get("num_ctx") if isinstance(optional, Mapping) else None
    )


def _dialect(call_type: object) -> str:
    return "anthropic" if call_type == "anthropic_messages" else "openai"


def _epoch(value: object, fallback: object = None) -> float:
    for item in (value, fallback):
        if isinstance(item, int | float) and not isinstance(item, bool):
            return float(item)
        if isinstance(item, dt.datetime):
            return item.timestamp()
    return 0.0


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _one_line(error: BaseException) -> str:
    text = str(getattr(error, "message", "") or error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return scrub(first)[:300]
