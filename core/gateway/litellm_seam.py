"""Every touch of LiteLLM's internals, in one place (litellm is pinned: 1.106.2).

The rest of GateDeck reaches LiteLLM through :class:`Proxy` (built by :func:`load`) and the one
callback it installs (:class:`ProxyEvents`); an import-linter contract keeps it that way. Each
touch below carries a :class:`~core.gateway.pins.Pin`, checked before the touch is made: one
that no longer fits a LiteLLM upgrade is logged once and falls back (a speed-up is skipped, a
stop waits for LiteLLM's own drain...), or, where GateDeck cannot serve without it, the gateway
refuses to start and says why. What the touches work around (DESIGN.md):

- import reaches the network unless ``LITELLM_LOCAL_MODEL_COST_MAP=True`` is set first;
- the config is read from the YAML file named by ``CONFIG_FILE_PATH``; GateDeck answers that
  lookup itself (nothing inherited by child processes) with a placeholder file and hands the
  real config over in memory, so the master key and cloud keys never land on disk;
- ``GracefulShutdownManager`` keeps a class-level "shutting down" flag: without ``reset()``
  before the next start, ``/health/liveliness`` answers 503 forever; GateDeck drains requests
  itself, so LiteLLM's own drain is marked done;
- sockets leak per restart unless the async clients are closed on the gateway loop and the
  client cache is flushed before the server exits;
- ``Router.set_model_list`` keeps the old wildcard patterns (it never resets
  ``pattern_router``), so a hot-apply would keep serving removed patterns.
- the Ollama stream reader skips a line that is not JSON, so a cut answer ended with
  ``end_turn`` / ``[DONE]`` as if complete; such a line is an error here
  (:func:`strict_ollama_stream`).
- the proxy prints coloured lines to stdout at each start ("LiteLLM: Proxy initialized with
  Config, Set models:" and every model name); they go to GateDeck's log at debug instead
  (:func:`quiet_startup_lines`), so ``gatedeck setup``'s and ``serve``'s output is GateDeck's own.

The speed-ups (issue 9: functions py-spy showed on every request) are made here too, each
switched by ``GATEDECK_GATEWAY_SPEEDUPS`` (:mod:`core.gateway.speedups`); ``0`` leaves LiteLLM's
per-request work as shipped, so ``bench/gateway.py`` can show the stock proxy beside GateDeck's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib
import importlib.metadata
import inspect
import logging
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core import heap
from core.gateway import pins, speedups
from core.gateway.pins import Pin

log = logging.getLogger(__name__)

_MANAGER = "litellm.proxy.shutdown.graceful_shutdown_manager:GracefulShutdownManager"
_HOOK_METHODS = (
    "async_pre_call_hook",
    "async_post_call_failure_hook",
    "async_log_success_event",
    "async_log_failure_event",
    "async_filter_deployments",
    "log_success_fallback_event",
    "log_failure_fallback_event",
)

CONFIG_IN_MEMORY = Pin(
    "config handed over in memory",
    "litellm.proxy.proxy_server",
    attrs=("get_secret_str", "proxy_config", "app", "llm_router", "llm_model_list"),
)
CONFIG_READER = Pin(
    "config read from memory", "litellm.proxy.proxy_server:ProxyConfig", ("_get_config_from_file",)
)
RESTART_RESET = Pin("shutdown flag reset before a start", _MANAGER, ("reset",))
SKIP_SECOND_DRAIN = Pin(
    "no second drain at a stop",
    _MANAGER,
    ("_drain_performed",),
    fallback="a stop may wait up to 30 s more for LiteLLM's own drain",
)
_ROUTER_FIELDS = (
    "pattern_router",
    "provider_default_deployment_ids",
    "fallbacks",
    "num_retries",
    "model_list",
)
HOT_APPLY = Pin("mappings swapped while serving", "litellm.router:Router", ("set_model_list",))
WILDCARD_RESET = Pin(
    "old wildcards dropped on a swap", "litellm.router_utils.pattern_match_deployments:PatternMatchRouter"
)
CLOSE_CLIENTS = Pin(
    "pooled clients closed at a stop",
    "litellm",
    ("close_litellm_async_clients", "in_memory_llm_clients_cache"),
    fallback="a connection may stay open per restart",
)
CALLBACK = Pin("GateDeck's callback", "litellm.integrations.custom_logger:CustomLogger", _HOOK_METHODS)
CALLBACK_LIST = Pin("GateDeck's callback registered", "litellm", ("logging_callback_manager", "callbacks"))
PRICE_MAP = Pin(
    "cloud prices by model name", "litellm", ("model_cost",), fallback="requests carry no cloud price"
)


def version() -> str:
    try:
        return f"litellm {importlib.metadata.version('litellm')}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bundle without metadata
        return "litellm"


def offline_environment() -> None:
    """Settings LiteLLM must see before it is imported: no network at import, quiet logs."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    os.environ.setdefault("LITELLM_DONT_SHOW_FEEDBACK_BOX", "true")
    # litellm's TypedDicts trip a pydantic notice on first use of some routes; not ours to fix
    warnings.filterwarnings("ignore", message="Items? .* `ReadOnly` qualifier", category=UserWarning)


class ProxyEvents(Protocol):
    """What GateDeck does with the proxy's per-request events (one object, one callback).

    Called on the gateway loop. ``pre_call`` sees ``data["model"]`` as the client sent it and
    may rewrite it (GateDeck's routing); ``failed`` may return ``(status, message)`` to answer
    with instead of LiteLLM's error.
    """

    def pre_call(self, data: dict[str, Any], call_type: str) -> None: ...
    def attempt_failed(self, kwargs: Mapping[str, Any]) -> None: ...
    def succeeded(self, kwargs: Mapping[str, Any], start_time: Any, end_time: Any) -> None: ...
    def failed(self, request_data: Mapping[str, Any], error: Exception) -> tuple[int, str] | None: ...
    def filter_deployments(self, deployments: list[Any]) -> list[Any]: ...


class Proxy:
    """LiteLLM's proxy of this process (its state is module-wide: one per process)."""

    def __init__(self, litellm: Any, proxy_server: Any) -> None:
        self._litellm = litellm
        self._server = proxy_server
        self._version = version()

    @property
    def app(self) -> Any:
        """The proxy's ASGI app."""
        return self._server.app

    def read_config_from(self, config: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        """Make the proxy's lifespan load ``await config()`` instead of a YAML file."""
        pins.require(CONFIG_IN_MEMORY, self._version)
        pins.require(CONFIG_READER, self._version)
        stub = str(_stub_config_file())
        read_secret = self._server.get_secret_str

        def get_secret_str(secret_name: str, *args: Any, **kwargs: Any) -> Any:
            # Answering here instead of setting CONFIG_FILE_PATH keeps it out of the environment
            # of every program GateDeck starts (a stock `litellm` would load the placeholder).
            if secret_name == "CONFIG_FILE_PATH":
                return stub
            return read_secret(secret_name, *args, **kwargs)

        async def config_from_memory(config_file_path: str | None = None) -> dict[str, Any]:
            return await config()

        self._server.get_secret_str = get_secret_str
        self._server.proxy_config._get_config_from_file = config_from_memory

    def add_events(self, events: ProxyEvents) -> None:
        """Install GateDeck's one callback, which hands the proxy's events to ``events``."""
        pins.require(CALLBACK, self._version)
        pins.require(CALLBACK_LIST, self._version)
        self._litellm.logging_callback_manager.add_litellm_callback(_callback(events))

    def prepare_start(self) -> None:
        """On the gateway loop, just before the server starts."""
        pins.require(RESTART_RESET, self._version)
        _shutdown_manager().reset()
        if speedups.enabled("inline-executor") and _inline_calls_fit(self._version):
            loop = asyncio.get_running_loop()
            loop.set_default_executor(InlineLocalCompletions(thread_name_prefix="gatedeck-litellm"))

    def skip_second_drain(self) -> None:
        """GateDeck drained in-flight requests within its grace period already; without this the
        proxy's lifespan would wait up to 30 s more for requests it cannot see end."""
        if pins.fits(SKIP_SECOND_DRAIN, self._version):
            _shutdown_manager()._drain_performed = True

    async def close_clients(self) -> None:
        """Close LiteLLM's pooled HTTP clients (on the gateway loop, before the server exits)."""
        if pins.fits(CLOSE_CLIENTS, self._version):
            await self._litellm.close_litellm_async_clients()
            self._litellm.in_memory_llm_clients_cache.flush_cache()

    def swap_model_list(
        self, model_list: list[dict[str, Any]], fallbacks: list[Any], num_retries: int
    ) -> None:
        """Serve ``model_list`` from the next request on (on the gateway loop)."""
        pins.require(HOT_APPLY, self._version)
        pins.require(WILDCARD_RESET, self._version)
        router = self._server.llm_router
        if router is None:
            raise RuntimeError("the gateway has no router yet")
        for field_name in _ROUTER_FIELDS:  # set in Router.__init__: checked on the router itself
            if not hasattr(router, field_name):
                raise RuntimeError(f"{self._version}'s router has no {field_name!r}: restart the gateway")
        pattern_router: Any = WILDCARD_RESET.resolve()
        router.pattern_router = pattern_router()
        router.provider_default_deployment_ids = []
        router.set_model_list(model_list)
        router.fallbacks = fallbacks
        router.num_retries = num_retries
        self._server.llm_model_list = router.model_list

    def routes(self) -> list[tuple[str, str]]:
        """Every ``(method, path)`` the proxy app registers (tests: the allowlist covers them)."""
        found: set[tuple[str, str]] = set()

        def walk(routes: list[Any]) -> None:
            for route in routes:
                nested = getattr(route, "effective_candidates", None)  # FastAPI's included routers
                if callable(nested):
                    walk(nested())
                    walk(route.effective_low_priority_routes())
                    continue
                path = str(getattr(route, "path", "") or "")
                if type(route).__name__ == "Mount":
                    path = path.rstrip("/") + "/{path}"
                for method in getattr(route, "methods", None) or ("GET",):
                    found.add((str(method), path))

        walk(list(self._server.app.routes))
        # features LiteLLM registers on the first request under their prefix (/v1/messages,
        # /mcp, /scim...): their prefixes stand for their routes
        lazy = importlib.import_module("litellm.proxy._lazy_features")
        for feature in getattr(lazy, "LAZY_FEATURES", ()):
            for prefix in (*feature.path_prefixes, *feature.path_suffixes):
                path = prefix if prefix.startswith("/") else "/x" + prefix
                found.update({("GET", path), ("POST", path)})
        return sorted(found)

    def model_names(self) -> list[str]:
        router = self._server.llm_router
        return [] if router is None else sorted(router.model_names)

    def deployments(self) -> list[dict[str, Any]]:
        router = self._server.llm_router
        return [] if router is None else list(router.model_list)


def load() -> Proxy:
    """Import LiteLLM's proxy (≈10 s on 2 cores; off the UI thread) with the speed-ups that are on."""
    offline_environment()
    # LiteLLM leaves ~900k long-lived objects; every full collection walks them all with the
    # GIL held (0.6-1 s, freezing the window and the gateway alike), and while they load the
    # collector keeps walking what is there so far. Load them with the collector off and freeze
    # them out of its way (bench/ui_stall.py: longest UI stall while this runs 331-388 → 48-56 ms).
    with heap.loading_long_lived():
        import litellm
        from litellm.proxy import proxy_server

        apply_speedups(version())
        strict_ollama_stream(version())
        quiet_startup_lines(version())
    return Proxy(litellm, proxy_server)


@dataclass(frozen=True, slots=True)
class TokenPrices:
    """What a cloud model charges per token, in US dollars."""

    input: float
    output: float


def price_map_loaded() -> bool:
    """Whether LiteLLM (and with it its bundled price map) is loaded; pricing never loads it."""
    return "litellm" in sys.modules and pins.fits(PRICE_MAP, version())


def prices(name: str) -> TokenPrices | None:
    """LiteLLM's bundled per-token prices for the model ``name`` (``claude-sonnet-4-5``,
    ``gpt-4o``, ``anthropic/claude-sonnet-4-5``), or ``None`` for a name without a price (a
    local model, or one the map lists at zero) or while LiteLLM is not loaded."""
    if not price_map_loaded():
        return None
    table: Mapping[str, Any] = PRICE_MAP.resolve().model_cost
    entry = table.get(name)
    if entry is None and "/" in name:
        entry = table.get(name.split("/", 1)[1])
    if not isinstance(entry, Mapping):
        return None
    paid_in, paid_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if not isinstance(paid_in, int | float) or not isinstance(paid_out, int | float):
        return None
    if paid_in <= 0 and paid_out <= 0:
        return None
    return TokenPrices(float(paid_in), float(paid_out))


def http_error(status: int, message: str) -> Exception:
    """An error LiteLLM's proxy answers with ``status`` and ``message``. GateDeck's Ollama
    errors that a retry cannot fix (model not installed, Ollama not running) say
    ``x-should-retry: false``, so that the SDKs and Claude Code show them at once."""
    from fastapi import HTTPException

    final = {"x-should-retry": "false"} if status in (404, 503) else None
    return HTTPException(status_code=status, detail=message, headers=final)


def _shutdown_manager() -> Any:
    return RESTART_RESET.resolve()


_STUB_TEXT = "# GateDeck passes the gateway config to LiteLLM in memory; this file is a placeholder.\n"


def _stub_config_file() -> Path:
    """The file name LiteLLM is told to read its config from (it never does: see above). One
    shared file, not one per run: ``gatedeck serve`` leaves without tearing LiteLLM down (so no
    exit handler runs), and a file per run would pile up in the temp folder."""
    path = (
        Path(tempfile.gettempdir())
        / f"gatedeck-litellm-placeholder-{os.getuid() if hasattr(os, 'getuid') else 0}.yaml"
    )
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == _STUB_TEXT:
            return path
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(_STUB_TEXT, encoding="utf-8")
    os.replace(temp, path)
    return path


_callback_classes: list[type] = []
_class_lock = threading.Lock()


def _callback(events: ProxyEvents) -> Any:
    with _class_lock:
        if not _callback_classes:
            _callback_classes.append(_callback_class())
        return _callback_classes[0](events)


def _callback_class() -> type:
    from litellm.integrations.custom_logger import CustomLogger

    class GateDeckCallback(CustomLogger):
        """GateDeck's one LiteLLM callback: metrics, routing, breaker, fallbacks, error wording."""

        gatedeck = True

        def __init__(self, events: ProxyEvents) -> None:
            super().__init__()
            self._events = events

        async def async_pre_call_hook(
            self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
        ) -> dict[str, Any]:
            self._events.pre_call(data, str(call_type or ""))
            return data

        async def async_log_success_event(
            self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self._events.succeeded(kwargs, start_time, end_time)

        async def async_log_failure_event(
            self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            self._events.attempt_failed(kwargs)

        async def async_post_call_failure_hook(
            self,
            request_data: dict[str, Any],
            original_exception: Exception,
            user_api_key_dict: Any,
            traceback_str: str | None = None,
        ) -> Any:
            explained = self._events.failed(request_data, original_exception)
            return None if explained is None else http_error(*explained)

        async def async_filter_deployments(
            self,
            model: str,
            healthy_deployments: list[Any],
            messages: Any,
            request_kwargs: Any = None,
            parent_otel_span: Any = None,
        ) -> list[Any]:
            return self._events.filter_deployments(healthy_deployments)

    return GateDeckCallback


# --------------------------------------------------------------------------- speed-ups

_SKIPPED = "LiteLLM's own code is used (slower, same answers)"
_LOCAL_PROVIDERS = frozenset({"ollama", "ollama_chat"})


@dataclass(frozen=True)
class Patch:
    """Replace one LiteLLM function with ``make(original)`` when speed-up ``name`` is on and
    ``pin`` (the function's source as written against) fits."""

    name: str
    pin: Pin
    make: Callable[[Any], Any]

    @property
    def attr(self) -> str:
        return next(iter(self.pin.sources))


def _no_tenant_otel(original: Any) -> Any:
    # user_api_key_auth._seed_request_destinations resolves per-tenant OpenTelemetry
    # destinations after every successful key check. Its first step imports
    # litellm.integrations.otel.*, which fails without the optional OTel packages, and a
    # failed import is retried (a full sys.path search) on every request: 0.6 ms of CPU per
    # request LiteLLM serves, cloud models included. GateDeck configures no OTel, so there is never a destination to seed; the original
    # swallows every error and returns None, which is what this does at once.
    def _seed_request_destinations(user_api_key_dict: Any, request: Any = None) -> None:
        return None

    return _seed_request_destinations


def _free_local_models(original: Any) -> Any:
    # Logging.response_cost_calculator prices every answer (cost map lookups, token-type
    # breakdowns, a zero-cost diagnostic): 0.4-0.7 ms of CPU per Ollama request LiteLLM
    # serves (the fast path off, a request it does not translate). Ollama models are free,
    # and GateDeck renders them with a zero price anyway, so the answer is always 0.0 for them;
    # cloud mappings still get LiteLLM's own pricing.
    def response_cost_calculator(self: Any, result: object, *args: Any, **kwargs: Any) -> float | None:
        if self.model_call_details.get("custom_llm_provider") in _LOCAL_PROVIDERS:
            return 0.0
        result_cost: float | None = original(self, result, *args, **kwargs)
        return result_cost

    return response_cost_calculator


def _cached_static_ollama_lookup(original: Any) -> Any:
    # OllamaModelInfo._is_static_ollama_model lowercases every key of the cost map on each
    # call: 2-3 calls, 1.1-1.6 ms of CPU per Ollama request LiteLLM serves, and a hot-apply of
    # 100 Ollama deployments took 265 ms of the gateway loop (51 ms with this). Keep that key
    # set until the cost map changes.
    import litellm

    strip = _OLLAMA_INFO.resolve()._strip_ollama_model_prefix
    cached: dict[str, Any] = {"stamp": None, "keys": frozenset()}

    def is_static_ollama_model(model: str) -> bool:
        model_cost = litellm.model_cost
        stamp = (id(model_cost), len(model_cost))
        if cached["stamp"] != stamp:  # the cost map gained (or lost) entries: rebuild once
            cached["keys"] = frozenset(key.lower() for key in list(model_cost))
            cached["stamp"] = stamp
        keys: frozenset[str] = cached["keys"]
        stripped = strip(model)
        names = (model, stripped, "ollama/" + stripped, "ollama_chat/" + stripped)
        return any(name.lower() in keys for name in names)

    return staticmethod(is_static_ollama_model)


_OLLAMA_INFO = Pin(
    "speed-up ollama-lookup-cache",
    "litellm.llms.ollama.common_utils:OllamaModelInfo",
    attrs=("_strip_ollama_model_prefix",),
    sources={"_is_static_ollama_model": "d9f26759b3ed82e6b9c6ddea6795221c2612482267ee8ab7941f3e0bf5056b86"},
    fallback=_SKIPPED,
)

PATCHES: tuple[Patch, ...] = (
    Patch(
        "no-otel-import",
        Pin(
            "speed-up no-otel-import",
            "litellm.proxy.auth.user_api_key_auth",
            sources={
                "_seed_request_destinations": "c7685468c8f19b6298e579ccd9978475298fee7af3b019e735585e89f4160ab4"
            },
            fallback=_SKIPPED,
        ),
        _no_tenant_otel,
    ),
    Patch(
        "free-local-cost",
        Pin(
            "speed-up free-local-cost",
            "litellm.litellm_core_utils.litellm_logging:Logging",
            sources={
                "response_cost_calculator": "f486b03e933f7d6b38c6ea4a7ddafe6a7216178180c5b976d1ca6b5632cb5c13"
            },
            fallback=_SKIPPED,
        ),
        _free_local_models,
    ),
    Patch("ollama-lookup-cache", _OLLAMA_INFO, _cached_static_ollama_lookup),
)


def apply_speedups(library: str = "", patches: tuple[Patch, ...] = PATCHES) -> list[str]:
    """Make the patches that are switched on and whose pin fits; the names of those in place.

    Idempotent. Call after LiteLLM's proxy is imported, before the gateway serves.
    """
    applied = []
    for patch in patches:
        if not speedups.enabled(patch.name) or not pins.fits(patch.pin, library):
            continue
        owner = patch.pin.resolve()
        current = inspect.getattr_static(owner, patch.attr)
        if getattr(current, pins.ORIGINAL, None) is not None:
            applied.append(patch.name)
            continue
        replacement = patch.make(getattr(current, "__func__", current))
        for marked in (replacement, getattr(replacement, "__func__", replacement)):
            setattr(marked, pins.ORIGINAL, current)  # a staticmethod and its function alike
        setattr(owner, patch.attr, replacement)
        applied.append(patch.name)
    return applied


# LiteLLM functions that ``loop.run_in_executor`` is handed in async mode, and the keyword that
# says "async mode" (the function then only builds a coroutine that does the I/O on the loop).
INLINE_COMPLETION = Pin(
    "speed-up inline-executor (OpenAI)", "litellm.main", ("completion",), fallback=_SKIPPED
)
INLINE_MESSAGES = Pin(
    "speed-up inline-executor (Anthropic)",
    "litellm.llms.anthropic.pass_through.messages.handler",
    ("anthropic_messages_handler",),
    fallback=_SKIPPED,
)
_INLINE_CALLS = {
    ("litellm.main", "completion"): "acompletion",  # litellm.acompletion (OpenAI route)
    (
        "litellm.llms.anthropic.pass_through.messages.handler",
        "anthropic_messages_handler",
    ): "is_async",  # litellm.anthropic_messages (/v1/messages, Claude Code)
}


def _inline_calls_fit(library: str) -> bool:
    return pins.fits(INLINE_COMPLETION, library) and pins.fits(INLINE_MESSAGES, library)


def _is_local_completion(fn: Callable[..., Any]) -> bool:
    """Is ``fn`` LiteLLM's ``partial(ctx.run, partial(<call>, ..., <async flag>=True))`` for an
    Ollama model, ``<call>`` one of :data:`_INLINE_CALLS`?"""
    if not isinstance(fn, functools.partial) or len(fn.args) != 1 or fn.keywords:
        return False
    inner = fn.args[0]
    if not isinstance(inner, functools.partial) or inner.args:
        return False
    target = inner.func
    flag = _INLINE_CALLS.get((getattr(target, "__module__", ""), getattr(target, "__name__", "")))
    keywords = inner.keywords
    if flag is None or keywords.get(flag) is not True:
        return False
    provider = keywords.get("custom_llm_provider")
    model = str(keywords.get("model") or "")
    return provider in _LOCAL_PROVIDERS or (provider is None and model.split("/", 1)[0] in _LOCAL_PROVIDERS)


class InlineLocalCompletions(concurrent.futures.ThreadPoolExecutor):
    """The gateway loop's default executor: runs LiteLLM's async-mode ``completion()`` and
    ``anthropic_messages_handler()`` for Ollama models inline, everything else on worker
    threads as usual.

    ``litellm.acompletion`` and ``litellm.anthropic_messages`` run those synchronous functions
    through ``loop.run_in_executor`` even when they only build a coroutine (which an Ollama
    call does: the HTTP request is made by the coroutine, on the loop). The hop to a worker
    thread and back cost 1.7 ms of CPU per OpenAI chat request to Ollama through LiteLLM
    (15.4 → 13.7 ms; nothing measurable on /v1/messages) and a GIL hand-off each way, shared
    with the UI thread. Cloud providers, DNS lookups (``getaddrinfo``) and anything else
    keep their worker threads, so nothing that can block is moved onto the loop.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        if args or kwargs or not _is_local_completion(fn):
            return super().submit(fn, *args, **kwargs)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn())
        except Exception as exc:  # delivered to the awaiting acompletion, as from a thread
            future.set_exception(exc)
        return future


# --------------------------------------------------------------------------- Ollama's stream

STRICT_OLLAMA_STREAM = Pin(
    "a malformed line in Ollama's stream is an error",
    "litellm.llms.ollama.chat.transformation:OllamaChatCompletionResponseIterator",
    sources={"_handle_string_chunk": "f664000f6ea88aeada24e67b59767a8f5774b15cd454086c969f2031a0592d9e"},
    fallback="a malformed line in Ollama's stream is skipped, so a cut answer may look complete",
)


def strict_ollama_stream(library: str = "") -> bool:
    """Make a line of Ollama's stream that is not JSON end the answer with an error.

    LiteLLM's stream reader skips such a line as if it were empty; the stream then ends with
    ``end_turn`` / ``[DONE]`` and a cut answer looks complete to the client. Idempotent.
    """
    if not pins.fits(STRICT_OLLAMA_STREAM, library):
        return False
    owner = STRICT_OLLAMA_STREAM.resolve()
    if "_handle_string_chunk" in vars(owner):
        return True
    original = STRICT_OLLAMA_STREAM.original("_handle_string_chunk")
    from litellm.llms.ollama.common_utils import OllamaError

    def _handle_string_chunk(self: Any, str_line: str) -> Any:
        if "[DONE]" not in str_line and self._string_to_dict_parser(str_line) is None:
            raise OllamaError(
                status_code=502,
                message="Ollama sent a line that is not JSON in its answer; the answer is incomplete",
                headers={},
            )
        return original(self, str_line)

    setattr(_handle_string_chunk, pins.ORIGINAL, original)
    owner._handle_string_chunk = _handle_string_chunk
    return True


# --------------------------------------------------------------------------- the proxy's prints

STARTUP_PRINTS = Pin(
    "the proxy's startup lines kept off stdout",
    "litellm.proxy.proxy_server:ProxyConfig",
    sources={"load_config": "ab3905dc04bafa705794de4d907bfafacbec1b93ca554f767624fa889681aff9"},
    fallback="LiteLLM prints its coloured 'Proxy initialized with Config' lines to stdout at each start",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def quiet_startup_lines(library: str = "") -> bool:
    """Send what LiteLLM's proxy module prints to GateDeck's log (at debug, without colour codes).

    The proxy prints with the built-in ``print`` (the model list at every start, a feedback box,
    cache and alerting notices); a module-level ``print`` in its namespace takes the place of
    the built-in for that module alone. Lines it writes to another stream than stdout go there
    as before. Idempotent.
    """
    if not pins.fits(STARTUP_PRINTS, library):
        return False
    module = importlib.import_module(STARTUP_PRINTS.owner.partition(":")[0])
    module.print = _print_to_log  # type: ignore[attr-defined]
    return True


def _print_to_log(
    *values: object, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
) -> None:
    if file is not None and file is not sys.stdout:
        print(*values, sep=sep, end=end, file=file, flush=flush)
        return
    line = _ANSI.sub("", (" " if sep is None else sep).join(map(str, values))).strip()
    if line:
        log.debug("litellm: %s", line)


#: Every pin of this module (the speed-ups' included), for tests/core/test_seams.py.
PINS: tuple[Pin, ...] = (
    STRICT_OLLAMA_STREAM,
    STARTUP_PRINTS,
    PRICE_MAP,
    CONFIG_IN_MEMORY,
    CONFIG_READER,
    RESTART_RESET,
    SKIP_SECOND_DRAIN,
    HOT_APPLY,
    WILDCARD_RESET,
    CLOSE_CLIENTS,
    CALLBACK,
    CALLBACK_LIST,
    *(patch.pin for patch in PATCHES),
    INLINE_COMPLETION,
    INLINE_MESSAGES,
)
