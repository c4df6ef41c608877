"""The embedded gateway: GateDeck's config served by a LiteLLM proxy in a thread of this process.

States::

    stopped ──start──▶ starting ──▶ running ──stop──▶ stopping ──▶ stopped
                          │            │
                          ▼            ▼ (the server dies on its own)
                        failed ◀── failed, restarting in N s ──▶ starting ...

A crash is restarted with backoff; after ``len(restart_backoff)`` failures in a row (a restart
that fails, or one that dies again within ``stable_after_s``) the gateway stays ``failed`` and
says so. Observers subscribe with :meth:`Gateway.add_listener` (optionally on their own loop)
or iterate :meth:`Gateway.watch`; no Qt involved.

Every operation is available blocking (``start_blocking``: the CLI, tests) and as a coroutine
(``await start()``: the GUI), which runs the blocking one in a short-lived thread, so nothing
waits on the caller's loop. LiteLLM is imported on the gateway thread at the first start
(≈10 s), or earlier with :meth:`Gateway.preload`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TypeVar

from core.config.schema import CloudModel, Config
from core.errors import GateDeckError, GatewayBusy, GatewayError, GatewayStartError
from core.gateway import engine as gateway_engine
from core.gateway.health import (
    GatewayHealth,
    ShownCapabilities,
    cannot_think,
    check_backends,
    check_health,
    installed_by_backend,
    model_capabilities,
)
from core.gateway.net import bind_listener, connect_host, exposure_warning
from core.gateway.render import RenderedGateway, render
from core.gateway.status import ApplyMode, ApplyResult, GatewayState, GatewayStatus, Listeners
from core.gateway.thread import GatewayThread, ThreadExit
from core.metrics.recorder import MetricsRecorder
from core.metrics.request_log import RequestLog
from core.paths import AppPaths

__all__ = ["ApplyMode", "ApplyResult", "Gateway", "GatewayState", "GatewayStatus"]

log = logging.getLogger(__name__)
T = TypeVar("T")


StatusListener = Callable[[GatewayStatus], None]
CloudKeyLookup = Callable[[CloudModel], str | None]


class Gateway:
    """The embedded LiteLLM proxy, driven by GateDeck's config.

    Args:
        config: the config to serve (its ``gateway`` section gives host and port).
        master_key: the key clients must present.
        metrics_key: the install's read-only metrics token: it opens ``GET /metrics`` and
            nothing else (``None``: only the gateway key opens it).
        cloud_key: looks up a cloud entry's API key (secret store, then environment).
        installed: installed models by backend name; ``None`` asks each backend at start.
        restart_backoff: seconds before each automatic restart after a crash; its length is
            how many failures in a row are tolerated.
        stable_after_s: a run this long resets the count of failures in a row.
        start_timeout_s: how long a start may take once LiteLLM is imported.
        metrics: where per-request figures go; by default a recorder writing the request log.
    """

    def __init__(
        self,
        config: Config,
        *,
        master_key: str,
        metrics_key: str | None = None,
        cloud_key: CloudKeyLookup | None = None,
        installed: Mapping[str, Sequence[str]] | None = None,
        restart_backoff: Sequence[float] = (0.5, 2.0, 5.0),
        stable_after_s: float = 30.0,
        start_timeout_s: float = 120.0,
        metrics: MetricsRecorder | None = None,
    ) -> None:
        if not master_key.strip():
            raise ValueError("the gateway key must not be empty")
        self._config = config
        self._master_key = master_key
        self._metrics_key = metrics_key
        self._cloud_key = cloud_key
        self._installed_fixed = None if installed is None else {k: list(v) for k, v in installed.items()}
        self._installed: dict[str, list[str]] = dict(self._installed_fixed or {})
        #: what Ollama says mapped models can do, by backend (asked with the installed models)
        self._capabilities: dict[str, dict[str, tuple[str, ...]]] = {}
        self._shown: ShownCapabilities = {}  # /api/show's answers since the models were last listed
        self._backoff = tuple(restart_backoff)
        self._stable_after_s = stable_after_s
        self._start_timeout_s = start_timeout_s
        #: Per-request figures (the monitor, the request log, ``gatedeck stats``).
        self.metrics = (
            metrics if metrics is not None else MetricsRecorder(RequestLog(AppPaths.from_env().log_dir))
        )

        self._lock = threading.RLock()  # state, listeners, current thread
        self._op_lock = threading.RLock()  # one start/stop/apply at a time
        # Lock order: _op_lock, then _deliver_lock, then _lock. Listeners are called holding
        # _deliver_lock (so they hear changes in order) and must not call blocking operations.
        self._deliver_lock = threading.RLock()
        self._status = GatewayStatus(GatewayState.STOPPED, self.url)
        self._listeners: Listeners[GatewayStatus] = Listeners()
        self._thread: GatewayThread | None = None
        self._exits: dict[GatewayThread, ThreadExit] = {}
        self._timer: threading.Timer | None = None
        self._generation = 0
        self._failures_in_row = 0
        self._restarts = 0
        self._started_at = 0.0
        self._notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ observation
    @property
    def config(self) -> Config:
        return self._config

    @property
    def url(self) -> str:
        settings = self._config.gateway
        return f"http://{connect_host(settings.host)}:{settings.port}"

    @property
    def status(self) -> GatewayStatus:
        with self._lock:
            return self._status

    @property
    def state(self) -> GatewayState:
        return self.status.state

    @property
    def master_key(self) -> str:
        return self._master_key

    @property
    def metrics_key(self) -> str | None:
        """The read-only token that opens only ``GET /metrics`` (``None``: none)."""
        return self._metrics_key

    @property
    def notes(self) -> tuple[str, ...]:
        """What the last render could not do (e.g. a cloud entry without a key)."""
        return self._notes

    @property
    def warnings(self) -> tuple[str, ...]:
        settings = self._config.gateway
        if settings.exposed:
            return (exposure_warning(settings.host),)
        return ()

    @property
    def installed(self) -> dict[str, list[str]]:
        """Installed models by backend, as last seen (served under their own names)."""
        return {k: list(v) for k, v in self._installed.items()}

    def add_listener(
        self, callback: StatusListener, loop: asyncio.AbstractEventLoop | None = None
    ) -> Callable[[], None]:
        """Call ``callback(status)`` on every change; returns a function that unsubscribes.

        With ``loop``, the call is made on that loop (``call_soon_threadsafe``); without, on
        whichever thread made the change (the gateway thread, a timer, the caller's).
        """
        return self._listeners.add(callback, loop)

    async def watch(self) -> AsyncIterator[GatewayStatus]:
        """The current status, then every change, on the caller's loop (a status may repeat)."""
        queue: asyncio.Queue[GatewayStatus] = asyncio.Queue()
        with self._lock:
            remove = self.add_listener(queue.put_nowait, asyncio.get_running_loop())
            queue.put_nowait(self._status)
        try:
            while True:
                yield await queue.get()
        finally:
            remove()

    async def wait_for(self, *states: GatewayState, within_s: float = 30.0) -> GatewayStatus:
        """Wait until the gateway is in one of ``states``; ``TimeoutError`` otherwise."""
        async with asyncio.timeout(within_s):
            async for status in self.watch():
                if status.state in states:
                    return status
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ async API (GUI)
    async def preload(self) -> None:
        """Import LiteLLM now, off the caller's thread, so the first start is quick."""
        await _in_thread(gateway_engine.load)

    async def start(self) -> None:
        await _in_thread(self.start_blocking)

    async def stop(self, grace_s: float = 1.0) -> None:
        await _in_thread(self.stop_blocking, grace_s)

    async def restart(self) -> None:
        await _in_thread(self.restart_blocking)

    async def apply(self, config: Config) -> ApplyResult:
        """Serve ``config`` from now on: hot when only mappings changed (see :class:`ApplyMode`)."""
        return await _in_thread(self.apply_blocking, config)

    async def set_master_key(self, master_key: str) -> None:
        """Use a new key; a running gateway restarts (in-flight requests get 1 s)."""
        await _in_thread(self.set_master_key_blocking, master_key)

    async def refresh_installed(self, per_request_s: float = 3.0) -> ApplyResult:
        """Ask the backends which models they have and serve those under their own names."""
        installed = installed_by_backend(await check_backends(self._config, per_request_s))
        self._shown = {}  # a model may have been pulled again since it was asked about
        capabilities = await model_capabilities(self._config, installed, per_request_s, self._shown)
        return await _in_thread(self._apply_installed, installed, capabilities)

    async def health(self, per_request_s: float = 3.0) -> GatewayHealth:
        running = self.state is GatewayState.RUNNING
        return await check_health(self._config, self.url if running else None, per_request_s)

    # ------------------------------------------------------------------ blocking API
    def start_blocking(self) -> None:
        """Start and wait until it serves. Raises PortInUse, GatewayStartError, GatewayBusy."""
        with self._op_lock:
            if self.state is GatewayState.RUNNING:
                return
            self._generation += 1
            self._cancel_timer()
            self._failures_in_row = 0
            self._restarts = 0
            try:
                self._start_locked()
            except GateDeckError as exc:
                self._set(GatewayState.FAILED, _reason_of(exc))
                raise

    def stop_blocking(self, grace_s: float = 1.0) -> None:
        """Stop; in-flight requests get ``grace_s`` seconds to finish."""
        with self._op_lock:
            self._generation += 1
            self._cancel_timer()
            self._stop_locked(grace_s)

    def restart_blocking(self) -> None:
        with self._op_lock:
            self.stop_blocking()
            self.start_blocking()

    def set_master_key_blocking(self, master_key: str) -> None:
        if not master_key.strip():
            raise ValueError("the gateway key must not be empty")
        with self._op_lock:
            self._master_key = master_key
            if self.state is GatewayState.RUNNING:
                self.restart_blocking()

    def apply_blocking(self, config: Config) -> ApplyResult:
        with self._op_lock:
            old, self._config = self._config, config
            began = time.perf_counter()
            if self.state is not GatewayState.RUNNING:
                self._notes = tuple(self._render(config).notes)
                if old.gateway != config.gateway:  # the URL listeners show may have changed
                    self._set(self._status.state, self._status.reason)
                return ApplyResult(ApplyMode.STORED, 0.0, self._notes)
            if _needs_restart(old, config):
                self._stop_locked(1.0)
                self.start_blocking()
                return ApplyResult(ApplyMode.RESTART, time.perf_counter() - began, self._notes)
            if self._installed_fixed is None and (
                old.backends != config.backends or _mapped_models(old) != _mapped_models(config)
            ):
                # a new or moved backend, or newly mapped models: learn what they are before
                # serving them
                asyncio.run(self._learn_models(config, fetch_installed=old.backends != config.backends))
                began = time.perf_counter()
            return self._hot_apply(self._render(config), began)

    def _apply_installed(
        self, installed: dict[str, list[str]], capabilities: dict[str, dict[str, tuple[str, ...]]]
    ) -> ApplyResult:
        with self._op_lock:
            self._installed, self._capabilities = installed, capabilities
            if self.state is not GatewayState.RUNNING:
                return ApplyResult(ApplyMode.STORED, 0.0)
            return self._hot_apply(self._render(self._config), time.perf_counter())

    # ------------------------------------------------------------------ internals
    def _render(self, config: Config) -> RenderedGateway:
        return render(
            config,
            master_key=self._master_key,
            installed=self._installed,
            cloud_key=self._cloud_key,
            cannot_think=cannot_think(self._capabilities),
            capabilities=self._capabilities,
        )

    async def _learn_models(self, config: Config, *, fetch_installed: bool = True) -> None:
        """Ask the backends which models they have, and what the mapped ones can do."""
        if fetch_installed:
            self._installed = installed_by_backend(await check_backends(config, per_request_s=2.0))
            self._shown = {}
        # a newly mapped model that is installed was asked about already: only new ones are asked
        self._capabilities = await model_capabilities(config, self._installed, 2.0, self._shown)

    def _hot_apply(self, rendered: RenderedGateway, began: float) -> ApplyResult:
        thread = self._thread
        engine = gateway_engine.load()
        if thread is None:
            raise GatewayError("The gateway is not running.")
        thread.run_on_loop(lambda: engine.hot_apply(rendered))
        self._notes = tuple(rendered.notes)
        return ApplyResult(ApplyMode.HOT, time.perf_counter() - began, self._notes)

    def _start_locked(self) -> None:
        """Bind, start a thread, wait until it serves. The caller sets FAILED on error."""
        if not gateway_engine.claim(self):
            raise GatewayBusy()
        thread: GatewayThread | None = None
        try:
            self._set(GatewayState.STARTING)
            settings = self._config.gateway
            try:
                sock = bind_listener(settings.host, settings.port)
            except OSError as exc:
                raise GatewayStartError(
                    f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}); "
                    "check the host in the gateway settings"
                ) from exc
            config = self._config
            thread = GatewayThread(
                sock=sock,
                master_key=self._master_key,
                metrics_key=self._metrics_key,
                prepare=lambda: self._prepare(config),
                on_exit=self._on_thread_exit,
                status=self._on_note,
            )
            with self._lock:
                self._thread = thread
            thread.start()
            limit = self._start_timeout_s + (0.0 if gateway_engine.is_loaded() else 120.0)
            try:
                thread.ready.result(timeout=limit)
            except concurrent.futures.TimeoutError:
                thread.request_stop(0.0)
                thread.join(10)
                raise GatewayStartError(f"it did not come up within {limit:g} s") from None
            except Exception as exc:
                thread.join(10)
                raise GatewayStartError(str(exc)) from exc
            with self._deliver_lock:  # the thread may end at this very moment (see _on_thread_exit)
                with self._lock:
                    early_exit = self._exits.pop(thread, None)
                    self._started_at = time.monotonic()
                if early_exit is None:
                    self._set(GatewayState.RUNNING)
            if early_exit is not None:
                raise GatewayStartError(early_exit.error or "it stopped right after starting")
        except BaseException:
            with self._lock:
                self._thread = None
                if thread is not None:
                    self._exits.pop(thread, None)
            gateway_engine.release(self)
            raise

    async def _prepare(self, config: Config) -> RenderedGateway:
        engine = gateway_engine.load()
        engine.record_to(self.metrics)
        if self._installed_fixed is None:
            await self._learn_models(config)
        rendered = self._render(config)
        self._notes = tuple(rendered.notes)
        for note in rendered.notes:
            log.warning("gateway: %s", note)
        return rendered

    def _stop_locked(self, grace_s: float) -> None:
        with self._lock:
            thread = self._thread
        if thread is None:
            if self.state is not GatewayState.STOPPED:
                self._set(GatewayState.STOPPED)
            return
        self._set(GatewayState.STOPPING)
        thread.request_stop(grace_s)
        thread.join(grace_s + 15.0)
        if thread.is_alive():
            self._set(GatewayState.FAILED, "the gateway did not stop within 15 s; quit GateDeck to end it")
            raise GatewayError("The gateway did not stop in time.")
        with self._lock:
            self._thread = None
            self._exits.pop(thread, None)
        gateway_engine.release(self)
        self._set(GatewayState.STOPPED)

    def _on_note(self, note: str) -> None:
        if self.state is GatewayState.STARTING:
            self._set(GatewayState.STARTING, note)

    def _on_thread_exit(self, info: ThreadExit) -> None:
        """Called on the gateway thread as it ends."""
        thread = threading.current_thread()
        with self._deliver_lock, self._lock:
            if thread is not self._thread or info.expected:
                return
            if self._status.state is not GatewayState.RUNNING:
                self._exits[self._thread] = info  # the start in progress reports it
                return
            self._thread = None
            generation = self._generation
        gateway_engine.release(self)
        log.error("gateway: stopped unexpectedly: %s", info.error)
        self._crashed(info.error, generation)

    def _crashed(self, error: str, generation: int) -> None:
        with self._deliver_lock:
            with self._lock:
                if generation != self._generation:
                    return
                if time.monotonic() - self._started_at > self._stable_after_s:
                    self._failures_in_row = 0
                self._failures_in_row += 1
                tries = len(self._backoff)
                timer: threading.Timer | None = None
                if self._failures_in_row <= tries:
                    delay = self._backoff[self._failures_in_row - 1]
                    timer = threading.Timer(delay, self._auto_restart, args=(generation,))
                    timer.name = "gatedeck-gateway-restart"
                    timer.daemon = True
                    self._timer = timer
            if timer is None:
                self._set(
                    GatewayState.FAILED,
                    f"The gateway stopped unexpectedly and {tries} restarts in a row failed, so "
                    f"GateDeck gave up restarting it. Last error: {error}. Fix that and press Start.",
                )
                return
            self._set(
                GatewayState.FAILED,
                f"The gateway stopped unexpectedly ({error}); restarting in {delay:g} s "
                f"(try {self._failures_in_row} of {tries}).",
                retrying=True,
            )
            timer.start()  # still holding _deliver_lock: _cancel_timer never sees it unstarted

    def _auto_restart(self, generation: int) -> None:
        # A start or stop by hand bumps the generation and waits for this timer: give way to it.
        while not self._op_lock.acquire(timeout=0.1):
            if generation != self._generation:
                return
        try:
            with self._lock:
                if generation != self._generation or not self._status.retrying:
                    return
                self._timer = None
                self._restarts += 1
            try:
                self._start_locked()
            except GateDeckError as exc:
                self._crashed(_reason_of(exc), generation)
        finally:
            self._op_lock.release()

    def _cancel_timer(self) -> None:
        with self._deliver_lock, self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            if timer is not threading.current_thread():
                timer.join(5)

    def _set(self, state: GatewayState, reason: str = "", *, retrying: bool = False) -> None:
        with self._deliver_lock:
            with self._lock:
                status = GatewayStatus(state, self.url, reason, self._restarts, retrying)
                self._status = status
            self._listeners.deliver(status)


def _reason_of(exc: BaseException) -> str:
    if isinstance(exc, GatewayStartError):
        return exc.reason
    return str(exc)


def _mapped_models(config: Config) -> set[tuple[str, str]]:
    return {(backend, m.model) for m in config.mappings for backend in m.backends}


def _needs_restart(old: Config, new: Config) -> bool:
    """Listening address and router-wide settings are fixed while running; mappings are not."""
    a, b = old.gateway, new.gateway
    return (a.host, a.port, a.routing_strategy, a.request_timeout_s) != (
        b.host,
        b.port,
        b.routing_strategy,
        b.request_timeout_s,
    )


async def _in_thread(fn: Callable[..., T], *args: object) -> T:
    """Run blocking ``fn`` in a short-lived thread and await it (no pool thread lingers)."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def runner() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=runner, name="gatedeck-gateway-op", daemon=True).start()
    return await asyncio.wrap_future(future)
