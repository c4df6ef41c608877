"""Every touch of uvicorn, in one place: the server the gateway thread runs.

:class:`GatewayServer` is all the gateway thread sees of uvicorn. Its speed-ups (switched by
``GATEDECK_GATEWAY_SPEEDUPS``, :mod:`core.gateway.speedups`):

- ``httptools``: uvicorn's HTTP parser in C where installed, instead of h11 (pure Python);
- ``quickstop``: :class:`QuickStopServer`, which stops in milliseconds (issue 9: restart
  in-process ≤ 0.2 s). ``uvicorn.Server`` (0.54) notices ``should_exit`` on a 0.1 s tick, then
  sleeps a fixed 0.1 s before draining and polls the draining every 0.1 s: 0.15–0.3 s of every
  stop is waiting, and a restart pays it each time. The copy wakes its tick when asked to stop
  and drains by polling every 5 ms, with the same steps in the same order (stop accepting, ask
  each connection to close once idle, wait for connections and tasks up to the graceful
  timeout, then cancel, then the lifespan shutdown).

Its HTTP protocol (httptools' or h11's) is subclassed by :func:`guarded_protocol` to hold
GateDeck's connection limits (:mod:`core.gateway.connections`): a whole request within the
receive deadline, at most 256 KB of header bytes, and the cap on open connections. uvicorn's
own ``limit_concurrency`` is not used: it counts held idle connections too and answers the
valid request with a 503, the very starvation the limits are there to stop.

The uvicorn methods the copy replaces are pinned by a hash of their source (:data:`QUICK_STOP`),
checked when a server is made: after an upgrade that changed them the gateway logs it once and
runs uvicorn's own server (slower to stop, same answers); tests/core/test_seams.py fails, so the
copy is re-checked rather than drifting.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import logging
import math
import socket
from typing import Any

import uvicorn

from core.gateway import pins, speedups
from core.gateway.connections import (
    DEFAULT_RECEIVE_TIMEOUT_S,
    Admission,
    connection_cap,
    raise_file_limit,
)
from core.gateway.pins import Pin

log = logging.getLogger(__name__)

QUICK_STOP = Pin(
    "quick-stopping server",
    "uvicorn:Server",
    attrs=("on_tick", "serve"),
    sources={
        "__init__": "c150b55284f7511eba734c0219b897d3406fa0750c5f568f629673431e832187",
        "startup": "2aa1d70a244bfcf21a1ae57e0152f9c20e40f756ffc328ccc58037f6ae8e2dfc",
        "main_loop": "afccb353a119333f206ffa120abc9efdc46a1ac60fe93485acfda2a271d75a62",
        "shutdown": "9b33c50562992b1e3cef2a9611408ece6c01d46ee17eaae2091b6091bf826eab",
        "_wait_tasks_to_complete": "17209be1e991445d37d11e0eb1abada64140131ef8d10dd0d095f384b693b734",
    },
    fallback="uvicorn's own server is used (a stop takes 0.15-0.3 s longer)",
)
GUARDED_HTTPTOOLS = Pin(
    "connection limits (httptools)",
    "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol",
    attrs=("shutdown",),
    sources={
        "__init__": "4f08999410347141468656d82e71ffebccb59f09e41909a3753a810eeed685fa",
        "connection_made": "6efb565ff3d36b916c29bd42330a2b99b601b48932389e396e5ac53dbef6b91c",
        "connection_lost": "c91a4c9bf2e29c554a97418b5f3064e97f6e0ceaba3b90fc35a3460076c705ab",
        "data_received": "010a7ae59a5d3b1a5e7326ce246878568629d126a076d8af5ba10cab040fae43",
        "on_response_complete": "64e254f28e389e7614f2c828176d639174e66aa9d814a4b06624ec86ec0a5b95",
    },
    fallback="no receive deadline and no connection cap (uvicorn's own protocol)",
)
GUARDED_H11 = Pin(
    "connection limits (h11)",
    "uvicorn.protocols.http.h11_impl:H11Protocol",
    attrs=("shutdown",),
    sources={
        "__init__": "ad1ed8e837b2db8d69271a0d66d07bed5f9ce0f51b1579e2e289070ee74d0e63",
        "connection_made": "6efb565ff3d36b916c29bd42330a2b99b601b48932389e396e5ac53dbef6b91c",
        "connection_lost": "dbb688fa2b3860005b4f7c53af5c33be1a7ac139184665008984d8935d261e91",
        "data_received": "e03b145518ca44aafc84f6f11655e54570ce724fa24854ae1287771166316a16",
        "on_response_complete": "1fbb8f48c6a1afc4cb655ddc746495c68608d12be775ea25c9debfd1e232a96a",
    },
    fallback="no receive deadline and no connection cap (uvicorn's own protocol)",
)
#: Every pin of this module, for tests/core/test_seams.py.
PINS: tuple[Pin, ...] = (QUICK_STOP, GUARDED_HTTPTOOLS, GUARDED_H11)
_POLL_S = 0.005
#: header bytes a connection may send before its request line and headers are complete
MAX_HEADER_BYTES = 256 * 1024


def version() -> str:
    try:
        return f"uvicorn {importlib.metadata.version('uvicorn')}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bundle without metadata
        return "uvicorn"


class QuickStopServer(uvicorn.Server):
    """A ``uvicorn.Server`` whose stop takes milliseconds, not tenths of a second.

    Call :meth:`stop` on its loop (instead of setting ``should_exit``).
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self._wake.set()

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):  # the tick that refreshes the Date header
                    await self._wake.wait()
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive connections close now, busy ones after their answer
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                await self._wait_tasks_to_complete()
        except TimeoutError:
            log.error(
                "gateway: cancelling %d request(s) still running at the end of the grace period",
                len(self.server_state.tasks),
            )
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()

    async def _wait_tasks_to_complete(self) -> None:
        await asyncio.sleep(0)  # connections closed just now drop out of the state on this turn
        while self.server_state.connections and not self.force_exit:  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(_POLL_S)
        while self.server_state.tasks and not self.force_exit:  # noqa: ASYNC110
            await asyncio.sleep(_POLL_S)
        for server in self.servers:
            await server.wait_closed()


def guarded_protocol(
    parser: str, admission: Admission, receive_timeout_s: float
) -> type[asyncio.Protocol] | None:
    """uvicorn's HTTP protocol for ``parser`` with GateDeck's connection limits
    (:mod:`core.gateway.connections`); ``None`` when its pin does not fit this uvicorn."""
    if parser == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base

        pin = GUARDED_HTTPTOOLS
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base  # type: ignore[assignment]

        pin = GUARDED_H11
    if not pins.fits(pin, version()):
        return None

    class GuardedProtocol(base):
        """Closes a connection that has not sent a whole request within the deadline, or that
        waited longest when a new one would pass the cap; counts header bytes."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._gd_timer: asyncio.TimerHandle | None = None
            self._gd_header_bytes = 0
            super().connection_made(transport)
            self._gd_wait()
            admission.opened(self)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._gd_timer is not None:
                self._gd_timer.cancel()
            admission.closed(self)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.waiting_since() is not None and (self.cycle is None or self.cycle.response_complete):
                # the parser took these bytes without completing a request's headers
                self._gd_header_bytes += len(data)
                if self._gd_header_bytes > MAX_HEADER_BYTES:
                    self.drop()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._gd_wait()

        def waiting_since(self) -> float | None:
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete and not cycle.more_body:
                return None  # received whole, being answered
            return self._gd_since

        def drop(self) -> None:
            if not self.transport.is_closing():
                self.transport.close()

        def _gd_wait(self) -> None:
            self._gd_since = self.loop.time()
            self._gd_header_bytes = 0
            if self._gd_timer is not None:
                self._gd_timer.cancel()
                self._gd_timer = None
            if self.transport.is_closing():
                return
            admission.waiting(self)
            self._gd_timer = self.loop.call_later(receive_timeout_s, self._gd_deadline)

        def _gd_deadline(self) -> None:
            self._gd_timer = None
            since = self.waiting_since()
            if since is not None and self.loop.time() - since >= receive_timeout_s - 0.001:
                self.drop()

    GuardedProtocol.__name__ = GuardedProtocol.__qualname__ = f"Guarded{base.__name__}"
    return GuardedProtocol


class GatewayServer:
    """The HTTP server for one run of the gateway (uvicorn, with the speed-ups that are on).

    Args:
        app: the ASGI app to serve (lifespan included).
        grace_s: how long in-flight requests may take to finish once a stop is asked.
        quick_stop: the pin :class:`QuickStopServer` is used under (when it fits).
        receive_timeout_s: how long a connection may take to send a whole request.
    """

    def __init__(
        self,
        app: Any,
        grace_s: float,
        quick_stop: Pin = QUICK_STOP,
        receive_timeout_s: float = DEFAULT_RECEIVE_TIMEOUT_S,
    ) -> None:
        parser = http_parser()
        #: which connections are held, evicted and refused (read by tests and the bench)
        self.admission = Admission(connection_cap(raise_file_limit()))
        protocol = guarded_protocol(parser, self.admission, receive_timeout_s)
        config = uvicorn.Config(
            app,
            http=protocol or parser,
            lifespan="on",
            log_config=None,  # leave the app's logging alone
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=math.ceil(grace_s),
            # an idle keep-alive connection is closed after this (the clients reconnect)
            timeout_keep_alive=max(1, math.ceil(min(5.0, receive_timeout_s))),
        )
        quick = speedups.enabled("quickstop") and pins.fits(quick_stop, version())
        self._server: uvicorn.Server = QuickStopServer(config) if quick else uvicorn.Server(config)

    @property
    def quick(self) -> bool:
        """Whether this is :class:`QuickStopServer` (False: uvicorn's own)."""
        return isinstance(self._server, QuickStopServer)

    @property
    def started(self) -> bool:
        """Listening, and the app's lifespan startup ran."""
        return bool(self._server.started)

    async def serve(self, sock: socket.socket) -> None:
        """Serve on ``sock`` until stopped (raises SystemExit when the app's startup failed)."""
        await self._server.serve(sockets=[sock])

    async def wait_started(self) -> None:
        # uvicorn exposes no event for "listening"; it sets ``started`` after the lifespan ran.
        while not self._server.started:  # noqa: ASYNC110  (no event to await instead)
            await asyncio.sleep(0.01)

    def stop(self, grace_s: float) -> None:
        """Stop accepting; in-flight requests get ``grace_s`` seconds. Call on the server's loop."""
        self._server.config.timeout_graceful_shutdown = math.ceil(grace_s)
        if isinstance(self._server, QuickStopServer):
            self._server.stop()
        else:
            self._server.should_exit = True

    def exit_on_its_own(self) -> None:
        """End as if on its own (tests: the crash-restart path). Call on the server's loop."""
        self._server.should_exit = True


def http_parser() -> str:
    """``httptools`` (C) where installed and switched on, else uvicorn's h11 (pure Python)."""
    if speedups.enabled("httptools") and importlib.util.find_spec("httptools") is not None:
        return "httptools"
    return "h11"
