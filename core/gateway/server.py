"""uvicorn's server, made to stop as soon as it is asked (issue 9: restart in-process ≤ 0.2 s).

``uvicorn.Server`` (0.54) notices ``should_exit`` on a 0.1 s tick, then sleeps a fixed 0.1 s
before draining and polls the draining every 0.1 s: 0.15–0.3 s of every stop is waiting, and a
restart pays it each time. :class:`QuickStopServer` wakes its tick when asked to stop and
drains by polling every 5 ms, with the same steps in the same order (stop accepting, ask each
connection to close once idle, wait for connections and tasks up to the graceful timeout,
then cancel, then the lifespan shutdown). The methods it replaces are pinned by a hash of
their source (``UVICORN_PINNED``); tests/core/test_gateway_server.py fails when a uvicorn
upgrade changes them, so the copy here is re-checked rather than drifting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

log = logging.getLogger(__name__)

#: sha256 of ``inspect.getsource`` of the uvicorn methods this module re-implements.
UVICORN_PINNED = {
    "main_loop": "afccb353a119333f206ffa120abc9efdc46a1ac60fe93485acfda2a271d75a62",
    "shutdown": "9b33c50562992b1e3cef2a9611408ece6c01d46ee17eaae2091b6091bf826eab",
    "_wait_tasks_to_complete": "17209be1e991445d37d11e0eb1abada64140131ef8d10dd0d095f384b693b734",
}
_POLL_S = 0.005


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
