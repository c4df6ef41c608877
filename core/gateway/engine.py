"""Everything that touches LiteLLM's proxy internals, in one place (litellm is pinned: 1.106.2).

The LiteLLM proxy is a module full of process-wide state (``proxy_server.app``,
``llm_router``, ``master_key``...), so one process can run one proxy at a time; :func:`load`
returns the one :class:`Engine` of this process. What it works around (DESIGN.md):

- import reaches the network unless ``LITELLM_LOCAL_MODEL_COST_MAP=True`` is set first;
- ``GracefulShutdownManager`` keeps a class-level "shutting down" flag: without ``reset()``
  before the next start, ``/health/liveliness`` answers 503 forever;
- sockets leak per restart unless the async clients are closed on the gateway loop and the
  client cache is flushed before the server exits;
- ``Router.set_model_list`` keeps the old wildcard patterns (it never resets
  ``pattern_router``), so a hot-apply would keep serving removed patterns;
- the config is read from the YAML file named by ``CONFIG_FILE_PATH``; GateDeck answers that
  lookup itself (no environment variable for child processes to inherit) with a placeholder
  file and hands the real config over in memory, so the master key and cloud keys never land
  on disk;
- ``OllamaModelInfo._is_static_ollama_model`` lowercases every key of the cost map on each
  call (a third of the proxy's CPU per request, ~5 ms per deployment on a hot-apply); GateDeck
  caches that key set until the cost map changes.
"""

from __future__ import annotations

import asyncio
import atexit
import copy
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core import heap
from core.gateway import speedups as gateway_speedups
from core.gateway.auth import ASGIApp, KeyCheck, Message, Receive, Scope, Send
from core.gateway.render import RenderedGateway, RouteTable

if TYPE_CHECKING:  # loaded with the engine, on its thread, not while the window opens
    from core.fastpath.plan import DirectPlan
    from core.fastpath.route import DirectRoute
    from core.metrics.recorder import MetricsRecorder


@dataclass(frozen=True)
class FallbackEvent:
    """A request whose model group failed and went to its fallback (for the monitor).

    Attributes:
        from_group: the mapping (or model) that failed.
        to_group: the fallback that was tried.
        succeeded: whether the fallback answered.
        error: why the first group failed, in one line.
        at: ``time.time()`` when it happened.
    """

    from_group: str
    to_group: str
    succeeded: bool
    error: str
    at: float


EventSink = Callable[[FallbackEvent], None]


def offline_environment() -> None:
    """Settings LiteLLM must see before it is imported: no network at import, quiet logs."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    os.environ.setdefault("LITELLM_DONT_SHOW_FEEDBACK_BOX", "true")
    # litellm's TypedDicts trip a pydantic notice on first use of some routes; not ours to fix
    warnings.filterwarnings("ignore", message="Items? .* `ReadOnly` qualifier", category=UserWarning)


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

    def __init__(self, litellm: Any, proxy_server: Any, shutdown_manager: Any, pattern_router: Any) -> None:
        self._litellm = litellm
        self._proxy = proxy_server
        self._shutdown_manager = shutdown_manager
        self._pattern_router_class = pattern_router
        self._config: dict[str, Any] = {}
        self._timeout_s = 600.0
        self.routes = RouteTable()
        self.event_sink: EventSink | None = None
        self.breaker = BackendBreaker()
        #: where the direct path records requests (the gateway sets its recorder)
        self.recorder: MetricsRecorder | None = None
        self.direct_plan: DirectPlan | None = None
        self.direct: DirectRoute | None = None
        stub = str(_stub_config_file())
        read_secret = proxy_server.get_secret_str

        def get_secret_str(secret_name: str, *args: Any, **kwargs: Any) -> Any:
            # The proxy's lifespan asks for CONFIG_FILE_PATH; answering here instead of setting
            # the variable keeps it out of the environment of every program GateDeck starts
            # (a stock `litellm` started from here would otherwise load the placeholder).
            if secret_name == "CONFIG_FILE_PATH":
                return stub
            return read_secret(secret_name, *args, **kwargs)

        proxy_server.get_secret_str = get_secret_str

        engine = self

        async def config_from_memory(config_file_path: str | None = None) -> dict[str, Any]:
            return copy.deepcopy(engine._config)

        # The proxy's lifespan reads CONFIG_FILE_PATH through this method; answer from memory.
        proxy_server.proxy_config._get_config_from_file = config_from_memory
        litellm.logging_callback_manager.add_litellm_callback(_make_hook(litellm, self))

    def use(self, rendered: RenderedGateway) -> None:
        """The config the next start loads."""
        self._config = rendered.litellm_config()
        self._take(rendered)

    def _take(self, rendered: RenderedGateway) -> None:
        self.routes = rendered.routes
        from core.fastpath.plan import DirectPlan

        direct = rendered.direct_path and gateway_speedups.enabled()
        self.direct_plan = DirectPlan.from_rendered(rendered) if direct else None
        self._timeout_s = float(rendered.litellm_settings.get("request_timeout") or 600.0)

    def app(self, master_key: str) -> tuple[KeyCheck, LifespanWatch]:
        """The proxy app behind GateDeck's key check (and its direct path), and the lifespan
        watch inside it."""
        from core.fastpath.route import DirectRoute

        watch = LifespanWatch(self._proxy.app)
        self.direct = DirectRoute(
            watch,
            plan=lambda: self.direct_plan,
            recorder=lambda: self.recorder,
            is_down=self.breaker.is_down,
            trip=self.breaker.trip,
            timeout_s=lambda: self._timeout_s,
        )
        return KeyCheck(self.direct, master_key), watch

    def prepare_start(self) -> None:
        """Called on the gateway loop just before the server starts."""
        self._shutdown_manager.reset()
        if gateway_speedups.enabled():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not on a loop: nothing to set up
                return
            gateway_speedups.use_inline_executor(loop)

    async def release_clients(self) -> None:
        """Close LiteLLM's pooled HTTP clients; run on the gateway loop before the server exits."""
        if self.direct is not None:
            await self.direct.close()
        await self._litellm.close_litellm_async_clients()
        self._litellm.in_memory_llm_clients_cache.flush_cache()

    def skip_second_drain(self) -> None:
        # uvicorn already drained in-flight requests within GateDeck's grace period; without
        # this the proxy's lifespan would wait up to 30 s more for requests it cannot see end.
        self._shutdown_manager._drain_performed = True

    def hot_apply(self, rendered: RenderedGateway) -> None:
        """Swap the running router's model list and fallbacks. Call on the gateway loop."""
        router = self._proxy.llm_router
        if router is None:
            raise RuntimeError("the gateway has no router yet")
        model_list = copy.deepcopy(rendered.model_list)
        router.pattern_router = self._pattern_router_class()
        router.provider_default_deployment_ids = []
        router.set_model_list(model_list)
        router.fallbacks = copy.deepcopy(rendered.router_settings.get("fallbacks", []))
        router.num_retries = rendered.router_settings.get("num_retries", router.num_retries)
        self._proxy.llm_model_list = router.model_list
        self._config = rendered.litellm_config()
        self._take(rendered)

    def model_names(self) -> list[str]:
        router = self._proxy.llm_router
        return [] if router is None else sorted(router.model_names)

    def deployments(self) -> list[dict[str, Any]]:
        router = self._proxy.llm_router
        return [] if router is None else list(router.model_list)


def _stub_config_file() -> Path:
    handle, name = tempfile.mkstemp(prefix="gatedeck-litellm-", suffix=".yaml")
    with os.fdopen(handle, "w") as stub:
        stub.write("# GateDeck passes the gateway config to LiteLLM in memory; this file is a placeholder.\n")
    path = Path(name)
    atexit.register(lambda: path.unlink(missing_ok=True))
    return path


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


def explain_failure(error: Exception, request_data: dict[str, Any]) -> tuple[int, str] | None:
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


def _make_hook(litellm: Any, engine: Engine) -> Any:
    from litellm.integrations.custom_logger import CustomLogger

    class GateDeckHook(CustomLogger):
        """Routes requested names the way GateDeck's config says, and reports fallbacks."""

        async def async_pre_call_hook(
            self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
        ) -> dict[str, Any]:
            requested = data.get("model")
            if isinstance(requested, str):
                target = engine.routes.resolve(requested)
                if target is not None:
                    data["model"] = target
            return data

        async def async_post_call_failure_hook(
            self,
            request_data: dict[str, Any],
            original_exception: Exception,
            user_api_key_dict: Any,
            traceback_str: str | None = None,
        ) -> Any:
            explained = explain_failure(original_exception, request_data)
            if explained is None:
                return None
            from fastapi import HTTPException

            status, message = explained
            # a retry cannot bring a model or Ollama back: the SDKs and Claude Code show it at once
            final = {"x-should-retry": "false"} if status in (404, 503) else None
            return HTTPException(status_code=status, detail=message, headers=final)

        async def async_log_failure_event(
            self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            error = kwargs.get("exception")
            params = kwargs.get("litellm_params") or {}
            api_base = params.get("api_base")
            if api_base and error is not None and _is_unreachable(error):
                engine.breaker.trip(str(api_base))

        async def async_filter_deployments(
            self,
            model: str,
            healthy_deployments: list[Any],
            messages: Any,
            request_kwargs: Any = None,
            parent_otel_span: Any = None,
        ) -> list[Any]:
            return engine.breaker.filter(healthy_deployments)

        async def log_success_fallback_event(
            self, original_model_group: str, kwargs: dict[str, Any], original_exception: Exception
        ) -> None:
            _report(original_model_group, kwargs, original_exception, succeeded=True)

        async def log_failure_fallback_event(
            self, original_model_group: str, kwargs: dict[str, Any], original_exception: Exception
        ) -> None:
            _report(original_model_group, kwargs, original_exception, succeeded=False)

    def _report(group: str, kwargs: dict[str, Any], error: Exception, *, succeeded: bool) -> None:
        sink = engine.event_sink
        if sink is None:
            return
        message = str(getattr(error, "message", error)).strip().splitlines()
        sink(
            FallbackEvent(
                from_group=group,
                to_group=str(kwargs.get("model", "")),
                succeeded=succeeded,
                error=message[0][:300] if message else type(error).__name__,
                at=time.time(),
            )
        )

    return GateDeckHook()


_load_lock = threading.Lock()
_engine: list[Engine] = []  # the process's one proxy (LiteLLM's module state is process-wide)


def load() -> Engine:
    """Import LiteLLM's proxy (≈10 s on 2 cores; call it off the UI thread) and wrap it."""
    with _load_lock:
        if not _engine:
            offline_environment()
            # LiteLLM leaves ~900k long-lived objects; every full collection walks them all with
            # the GIL held (0.6-1 s, freezing the window and the gateway alike), and while they
            # load the collector keeps walking what is there so far. Load them with the collector
            # off and freeze them out of its way (bench/ui_stall.py: longest UI stall while this
            # runs 331-388 → 48-56 ms, what is left being LiteLLM's own JSON work; 7.7-8.7 → 6.0 s).
            with heap.loading_long_lived():
                import litellm
                from litellm.proxy import proxy_server
                from litellm.proxy.shutdown.graceful_shutdown_manager import GracefulShutdownManager
                from litellm.router_utils.pattern_match_deployments import PatternMatchRouter

                litellm.telemetry = False
                # GATEDECK_GATEWAY_SPEEDUPS=0 leaves LiteLLM's per-request work as shipped, so
                # bench/gateway.py can show the stock proxy beside GateDeck's (issue 9).
                if gateway_speedups.enabled():
                    _cache_static_ollama_lookup(litellm)
                    gateway_speedups.apply()
                _engine.append(Engine(litellm, proxy_server, GracefulShutdownManager, PatternMatchRouter))
        return _engine[0]


def _cache_static_ollama_lookup(litellm: Any) -> None:
    from litellm.llms.ollama.common_utils import OllamaModelInfo

    cached: dict[str, Any] = {"stamp": None, "keys": frozenset()}

    def is_static_ollama_model(model: str) -> bool:
        model_cost = litellm.model_cost
        stamp = (id(model_cost), len(model_cost))
        if cached["stamp"] != stamp:  # the cost map gained (or lost) entries: rebuild once
            cached["keys"] = frozenset(key.lower() for key in list(model_cost))
            cached["stamp"] = stamp
        keys: frozenset[str] = cached["keys"]
        stripped = OllamaModelInfo._strip_ollama_model_prefix(model)
        names = (model, stripped, "ollama/" + stripped, "ollama_chat/" + stripped)
        return any(name.lower() in keys for name in names)

    setattr(OllamaModelInfo, "_is_static_ollama_model", staticmethod(is_static_ollama_model))  # noqa: B010


def is_loaded() -> bool:
    return bool(_engine)


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
