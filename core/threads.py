"""Running a blocking call off the event loop in a thread of its own.

``asyncio.to_thread`` would do on a plain loop, but on the window's Qt-driven loop (qasync) it
starts a pool of QThreads that outlives the window; a short-lived plain thread per call costs
about 0.1 ms and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args: object, name: str = "gatedeck-worker") -> T:
    """Run blocking ``fn(*args)`` in a new daemon thread and await its result or exception."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def runner() -> None:
        if not future.set_running_or_notify_cancel():  # the caller gave up before it started
            return
        try:
            result = fn(*args)
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=runner, name=name, daemon=True).start()
    return await asyncio.wrap_future(future)
