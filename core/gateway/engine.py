"""GateDeck's driver of the LiteLLM proxy: config in, routing, fallbacks and errors out.

The LiteLLM proxy is a module full of process-wide state, so one process runs one proxy at a
time; :func:`load` returns the one :class:`Engine` of this process. The engine never touches
LiteLLM's internals itself: :mod:`core.gateway.litellm_seam` does, each touch pinned. It is
also the proxy's one callback (:class:`~core.gateway.litellm_seam.ProxyEvents`): every request
LiteLLM serves is recorded (:class:`~core.metrics.litellm_hook.RecordBuilder`, which sees the
name the client asked for first), then routed the way GateDeck's config says.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.gateway import litellm_seam
from core.gateway import speedups as gateway_speedups
from core.gateway.auth import ASGIApp, KeyCheck, Message, Receive, Scope, Send
from core.gateway.render import RenderedGateway, RouteTable
from core.metrics.litellm_hook import RecordBuilder
from core.metrics.prometheus import METRICS_PATH, MetricsEndpoint, PrometheusMetrics

if TYPE_CHECKING:  # loaded with the engine, on its thread, not while the window opens
    from core.fastpath.plan import DirectPlan
    from core.fastpath.route import DirectRoute
    from core.gateway.allowlist import RouteAllowlist
    from core.metrics.recorder import MetricsRecorder


class LifespanWatch:
    """Passes everything to ``app`` and keeps the reason when its startup fails."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.startup_error: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def watching_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                self.startup_error = str(message.get("message", "")) or "the proxy failed to start"
            await send(message)

        await self.app(scope, receive, watching_send)


class Engine:
    """The LiteLLM proxy of this process, driven by GateDeck. Build it with :func:`load`."""

    def __init__(self, proxy: litellm_seam.Proxy) -> None:
        self._proxy = proxy
        self._config: dict[str, Any] = {}
        self._timeout_s = 600.0
        self._max_body = 32 * 1024 * 1024
        self.routes = RouteTable()
        self.breaker = BackendBreaker()
        #: where requests are recorded, both paths (:meth:`record_to`)
        self.recorder: MetricsRecorder | None = None
        self._records: RecordBuilder | None = None
        self.direct_plan: DirectPlan | None = None
        self.embedding_plan: DirectPlan | None = None
        self.direct: DirectRoute | None = None
        #: the requests recorded, as Prometheus metrics (``GET /metrics``)
        self.prometheus = PrometheusMetrics(group_of=lambda name: self.routes.lands_on(name))
        self._unlisten: Callable[[], None] | None = None

        async def config() -> dict[str, Any]:
            return copy.deepcopy(self._config)

        proxy.read_config_from(config)
        proxy.add_events(self)

    def record_to(self, recorder: MetricsRecorder) -> Callable[[], None]:
        """Record the requests that start from now on (fast path and LiteLLM alike) to
        ``recorder``, instead of to the one before; returns a function that stops recording to
        it. A request is recorded by the recorder its start was recorded by, or not at all."""
        records = RecordBuilder(recorder)
        self.recorder, self._records = recorder, records
        if self._unlisten is not None:
            self._unlisten()
        unlisten = self._unlisten = recorder.add_listener(self.prometheus.observe)

        def stop() -> None:
            unlisten()
            if self._records is records:
                self.recorder, self._records = None, None

        return stop

    def use(self, rendered: RenderedGateway) -> None:
        """The config the next start loads."""
        self._config = rendered.litellm_config()
        self._take(rendered)

    def _take(self, rendered: RenderedGateway) -> None:
        self.routes = rendered.routes
        from core.fastpath.plan import DirectPlan

        direct = rendered.direct_path and gateway_speedups.enabled("fastpath")
        plan = DirectPlan.from_rendered(rendered)
        self.direct_plan = plan if direct else None
        self.embedding_plan = plan  # LiteLLM cannot embed with Ollama chat deployments
        self._timeout_s = rendered.request_timeout_s
        self._max_body = rendered.max_body_bytes

    def app(self, master_key: str, metrics_key: str | None = None) -> tuple[RouteAllowlist, LifespanWatch]:
        """The proxy app behind GateDeck's route allowlist, key check and request intake (and
        its direct path, and ``GET /metrics``, which ``metrics_key`` opens too), and the
        lifespan watch inside it."""
        from core.fastpath.route import DirectRoute
        from core.gateway.allowlist import RouteAllowlist
        from core.gateway.intake import RequestIntake

        watch = LifespanWatch(self._proxy.app)
        self.direct = DirectRoute(
            watch,
            plan=lambda: self.direct_plan,
            embedding_plan=lambda: self.embedding_plan,
            recorder=lambda: self.recorder,
            trip=self.breaker.trip,
            timeout_s=lambda: self._timeout_s,
        )
        intake = RequestIntake(self.direct, max_body=lambda: self._max_body)
        metrics = MetricsEndpoint(intake, self.prometheus)
        return RouteAllowlist(KeyCheck(metrics, master_key, metrics_key, METRICS_PATH)), watch

    def prepare_start(self) -> None:
        """Called on the gateway loop just before the server starts."""
        self._proxy.prepare_start()

    async def release_clients(self) -> None:
        """Close the pooled HTTP clients; run on the gateway loop before the server exits."""
        if self.direct is not None:
            await self.direct.close()
        await self._proxy.close_clients()

    def skip_second_drain(self) -> None:
        self._proxy.skip_second_drain()

    def hot_apply(self, rendered: RenderedGateway) -> None:
        """Swap the running router's model list and fallbacks. Call on the gateway loop."""
        settings = rendered.router_settings
        self._proxy.swap_model_list(rendered.model_list, settings.get("fallbacks", []), rendered.num_retries)
        self._config = rendered.litellm_config()
        self._take(rendered)

    def model_names(self) -> list[str]:
        return self._proxy.model_names()

    def deployments(self) -> list[dict[str, Any]]:
        return self._proxy.deployments()

    # ------------------------------------------------------------------ the proxy's events
    def pre_call(self, data: dict[str, Any], call_type: str) -> None:
        requested = data.get("model")
        if not isinstance(requested, str):
            return
        call_id = data.get("litellm_call_id")
        records = self._records
        if records is not None and isinstance(call_id, str):
            records.started(call_id, requested, call_type)
        target = self.routes.resolve(requested)  # after the record saw the name asked for
        if target is not None:
            data["model"] = target

    def attempt_failed(self, kwargs: Mapping[str, Any]) -> None:
        records = self._records
        if records is not None:
            records.attempt_failed(kwargs)
        error = kwargs.get("exception")
        api_base = (kwargs.get("litellm_params") or {}).get("api_base")
        if api_base and error is not None and _is_unreachable(error):
            self.breaker.trip(str(api_base))

    def succeeded(self, kwargs: Mapping[str, Any], start_time: Any, end_time: Any) -> None:
        records = self._records
        if records is not None and records.expects(kwargs.get("litellm_call_id")):
            records.succeeded(kwargs, start_time, end_time)

    def failed(self, request_data: Mapping[str, Any], error: Exception) -> tuple[int, str] | None:
        records = self._records
        if records is not None and records.expects(request_data.get("litellm_call_id")):
            records.failed(request_data, error)
        return explain_failure(error, request_data)

    def filter_deployments(self, deployments: list[Any]) -> list[Any]:
        return self.breaker.filter(deployments)


_UNREACHABLE = ("Cannot connect to host", "Connect call failed", "Connection refused", "ConnectError")


def _origin(url: str) -> str:
    """``http://host:port`` of a URL (LiteLLM reports ``.../api/chat`` where the config says
    ``http://host:port``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url.rstrip("/")


def _is_unreachable(error: object) -> bool:
    return any(marker in str(error) for marker in _UNREACHABLE)


class BackendBreaker:
    """Keeps requests away from an Ollama backend that just refused a connection.

    LiteLLM never cools a deployment down for a connection error, so with two backends behind
    one mapping and one of them stopped, every other request would fail (its retry picks at
    random again). A backend that refused a connection is skipped for ``hold_s`` seconds, as
    long as another backend of the same mapping is left; then it is tried again.
    """

    def __init__(self, hold_s: float = 10.0) -> None:
        self.hold_s = hold_s
        self._down_until: dict[str, float] = {}

    def trip(self, api_base: str) -> None:
        self._down_until[_origin(api_base)] = time.monotonic() + self.hold_s

    def is_down(self, api_base: str) -> bool:
        until = self._down_until.get(_origin(api_base))
        return until is not None and until > time.monotonic()

    def filter(self, deployments: list[Any]) -> list[Any]:
        if len(deployments) < 2 or not self._down_until:
            return deployments
        up = [
            d
            for d in deployments
            if not self.is_down(str((d.get("litellm_params") or {}).get("api_base", "")))
        ]
        return up or deployments  # all down: let the request fail (or fall back) as it would


_CUT_OFF = (
    "Response payload is not completed",
    "Server disconnected",
    "Connection reset",
    "RemoteProtocolError",
)


def explain_failure(error: Exception, request_data: Mapping[str, Any]) -> tuple[int, str] | None:
    """GateDeck's wording (status, message) for an Ollama failure LiteLLM reports in its own.

    LiteLLM answers "Ollama_chatException - Cannot connect to host ... ssl:<SSLContext ...>";
    the client (and whoever reads Claude Code's error line) should learn that Ollama is not
    running and how to start it. Only for answers that are not streamed: LiteLLM's stream
    generator re-raises a replaced error after the headers went out, which cuts the connection
    instead of sending an error event. LiteLLM's /v1/messages handler ignores replaced errors,
    so this reaches OpenAI clients; Anthropic clients keep LiteLLM's text.
    """
    if request_data.get("stream") or getattr(error, "llm_provider", None) not in ("ollama_chat", "ollama"):
        return None
    from core.errors import ModelNotFound, OllamaConnectionLost, OllamaUnreachable

    metadata = request_data.get("metadata") or request_data.get("litellm_metadata") or {}
    api_base = str(metadata.get("api_base") or "Ollama")
    model = str(metadata.get("deployment") or "").split("/", 1)[-1]
    group = metadata.get("model_group")
    where = f" (serving '{group}')" if group else ""
    text = str(error)
    if getattr(error, "status_code", None) == 404 and "not found" in text and model:
        return 404, f"{ModelNotFound(model, api_base)}{where}"
    if any(marker in text for marker in _UNREACHABLE):
        return 503, f"{OllamaUnreachable(api_base)}{where}"
    if any(marker in text for marker in _CUT_OFF):
        return 502, f"{OllamaConnectionLost(api_base)}{where}"
    return None


_load_lock = threading.Lock()
_engine: list[Engine] = []  # the process's one proxy (LiteLLM's module state is process-wide)


def load() -> Engine:
    """Import LiteLLM's proxy (≈10 s on 2 cores; call it off the UI thread) and wrap it."""
    with _load_lock:
        if not _engine:
            _engine.append(Engine(litellm_seam.load()))
        return _engine[0]


def is_loaded() -> bool:
    return bool(_engine)


def loaded() -> Engine | None:
    """The engine, if LiteLLM has been loaded (without loading it)."""
    return _engine[0] if _engine else None


_owner_lock = threading.Lock()
_owner: list[object] = []


def claim(owner: object) -> bool:
    """Reserve the process's proxy for ``owner``; False when another owner runs it."""
    with _owner_lock:
        if _owner and _owner[0] is not owner:
            return False
        _owner[:] = [owner]
        return True


def release(owner: object) -> None:
    with _owner_lock:
        if _owner and _owner[0] is owner:
            _owner.clear()
