"""One run of the embedded proxy: a thread with its own asyncio loop serving the gateway app.

A :class:`GatewayThread` lives from one start to the matching stop (or crash); a restart is
a new thread with a fresh loop, so nothing bound to the old loop survives it. The thread
owns the listening socket it is given and reports how it ended through ``on_exit``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from core.gateway import engine as gateway_engine
from core.gateway import speedups as gateway_speedups
from core.gateway.render import RenderedGateway

if TYPE_CHECKING:  # uvicorn is imported on the gateway thread
    from core.gateway.uvicorn_seam import GatewayServer

T = TypeVar("T")

#: Renders the config once the engine is loaded (it may ask Ollama for its models first).
Prepare = Callable[[], Awaitable[RenderedGateway]]


@dataclass(frozen=True)
class ThreadExit:
    """How a run ended: ``expected`` when a stop was asked for; ``error`` says why otherwise."""

    expected: bool
    error: str = ""


class GatewayThread(threading.Thread):
    """Serve the LiteLLM proxy on ``sock`` until :meth:`request_stop`.

    Args:
        sock: a bound, listening socket (closed by this thread when it ends).
        master_key: the key clients must present.
        metrics_key: the read-only token that opens only ``GET /metrics`` (``None``: none).
        prepare: coroutine function returning the rendered config, run on this thread's loop.
        on_exit: called on this thread as it ends, with how it ended.
        status: called on this thread with a short progress note ("loading gateway engine").
    """

    def __init__(
        self,
        *,
        sock: socket.socket,
        master_key: str,
        metrics_key: str | None = None,
        prepare: Prepare,
        on_exit: Callable[[ThreadExit], None],
        status: Callable[[str], None] = lambda note: None,
    ) -> None:
        super().__init__(name="gatedeck-gateway", daemon=True)
        self._sock = sock
        self._master_key = master_key
        self._metrics_key = metrics_key
        self._prepare = prepare
        self._on_exit = on_exit
        self._status = status
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: GatewayServer | None = None
        self._stop_asked = threading.Event()
        self._grace_s = 1.0
        self.engine: gateway_engine.Engine | None = None
        self._watch: gateway_engine.LifespanWatch | None = None

    # ------------------------------------------------------------------ from other threads
    def request_stop(self, grace_s: float = 1.0) -> None:
        """Ask the server to stop; in-flight requests get ``grace_s`` seconds to finish."""
        self._grace_s = grace_s
        self._stop_asked.set()
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed: nothing to stop
                loop.call_soon_threadsafe(self._begin_stop)

    def run_on_loop(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn()`` on the gateway loop and return its result (raises its exception)."""
        loop = self.loop
        if loop is None or not self.is_alive():
            raise RuntimeError("the gateway is not running")

        async def call() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    def simulate_crash(self) -> None:
        """Make the server exit as if on its own (tests: the crash-restart path)."""
        loop = self.loop
        if loop is not None and self._server is not None:
            loop.call_soon_threadsafe(self._server.exit_on_its_own)

    # ------------------------------------------------------------------ the thread
    def run(self) -> None:
        error = ""
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(self._main())
        except BaseException as exc:  # SystemExit from the server's failed startup included
            startup_error = self._watch.startup_error if self._watch is not None else None
            error = _last_line(startup_error) if startup_error else _reason(exc)
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(error))
        finally:
            with contextlib.suppress(OSError):
                self._sock.close()
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(error or "the gateway stopped while starting"))
        expected = self._stop_asked.is_set() and not error
        if not expected and not error:
            error = "the gateway server stopped by itself"
        self._on_exit(ThreadExit(expected=expected, error="" if expected else error))

    async def _main(self) -> None:
        from core.gateway.uvicorn_seam import GatewayServer

        self.loop = asyncio.get_running_loop()
        if not gateway_engine.is_loaded():
            self._status("loading gateway engine")
        engine = gateway_engine.load()  # nothing else runs on this loop yet
        self.engine = engine
        rendered = await self._prepare()
        if self._stop_asked.is_set():
            return
        engine.use(rendered)
        engine.prepare_start()
        app, watch = engine.app(self._master_key, self._metrics_key)
        self._watch = watch
        server = GatewayServer(app, self._grace_s, receive_timeout_s=rendered.receive_timeout_s)
        self._server = server
        serving = asyncio.create_task(server.serve(self._sock))
        started = asyncio.create_task(server.wait_started())
        await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
        if not server.started:
            started.cancel()
            await serving  # raises why it ended, if it can say
            raise RuntimeError(
                _last_line(watch.startup_error) if watch.startup_error else "the proxy did not start"
            )
        self.ready.set_result(None)
        if self._stop_asked.is_set():
            self._begin_stop()
        try:
            await serving
        finally:
            # LiteLLM's pooled clients belong to this loop; close them before it goes away
            # (DESIGN.md: a socket leaks per restart otherwise).
            await engine.release_clients()

    def _begin_stop(self) -> None:
        server = self._server
        if server is None:
            return
        if self.engine is not None:
            self.engine.skip_second_drain()
        server.stop(self._grace_s)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop for the gateway's loop (installed with LiteLLM's proxy; a faster loop in C), unless
    its speed-up is off (``GATEDECK_GATEWAY_SPEEDUPS``, which bench/gateway.py switches)."""
    if not gateway_speedups.enabled("uvloop"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return "the proxy refused to start (see the log above)"
    text = str(exc).strip()
    return text or "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text
