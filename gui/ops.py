"""Background work in the window, started one way.

In the spirit of Anki's ``QueryOp``: every piece of background work of a part of the window (a
panel, the controller) goes through that part's :class:`BackgroundOps`. The work is kept until
it ends (no task is dropped half-way by the garbage collector, none outlives its owner's
:meth:`~BackgroundOps.shutdown`); its success and failure land on the UI thread; and a failure
nobody handles is shown to the person through the owner's ``show_error`` (a status line, a
banner) and logged, never lost in a task nobody awaited.

Blocking calls go through :meth:`BackgroundOps.in_thread` (:func:`core.threads.in_thread`: a
short-lived thread per call, not qasync's pool of QThreads).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from PySide6.QtCore import Slot

from core.threads import in_thread

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
ErrorSink = Callable[[str], None]


class BackgroundOps:
    """The background work of one part of the window.

    Args:
        show_error: how this part shows a failure to the person; ``None`` logs it only.
        owner: a short name for logs ("models panel").
    """

    def __init__(self, show_error: ErrorSink | None = None, owner: str = "window") -> None:
        self._show_error = show_error
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    @property
    def pending(self) -> int:
        """How many pieces of work have not ended yet."""
        return len(self._tasks)

    def run(
        self,
        work: Awaitable[T],
        *,
        on_success: Callable[[T], object] | None = None,
        on_failure: Callable[[BaseException], object] | None = None,
    ) -> asyncio.Task[T]:
        """Start ``work`` now; ``on_success(result)`` or ``on_failure(error)`` run on the UI thread.

        Without ``on_failure`` a failure is shown through ``show_error``. Cancelling the returned
        task (or :meth:`shutdown`) calls neither.
        """
        if self._closed:
            if asyncio.iscoroutine(work):
                work.close()
            raise RuntimeError(f"the {self._owner}'s background work has been shut down")
        task: asyncio.Task[T] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._finished(done, on_success, on_failure))
        return task

    async def in_thread(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a thread of its own; the result (or error) comes back on this loop."""
        return await in_thread(fn, *args, name=f"gatedeck-{self._owner.replace(' ', '-')}")

    async def shutdown(self) -> None:
        """Cancel what is still running and wait until it has ended. No work starts after this."""
        self._closed = True
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]  # not the caller
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _finished(
        self,
        task: asyncio.Task[T],
        on_success: Callable[[T], object] | None,
        on_failure: Callable[[BaseException], object] | None,
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        try:
            if error is None:
                if on_success is not None:
                    on_success(task.result())
            elif on_failure is not None:
                on_failure(error)
            else:
                self._report(error)
        except Exception as callback_error:  # a broken callback is a failure like any other
            self._report(callback_error)

    def _report(self, error: BaseException) -> None:
        log.error("%s: background work failed", self._owner, exc_info=error)
        if self._show_error is not None:
            self._show_error(str(error) or type(error).__name__)


class HasOps(Protocol):
    """A part of the window that owns its background work."""

    ops: BackgroundOps


Owner = TypeVar("Owner", bound=HasOps)


def async_slot(
    *types: type,
) -> Callable[
    [Callable[Concatenate[Owner, P], Coroutine[Any, Any, object]]], Callable[Concatenate[Owner, P], None]
]:
    """A Qt slot whose coroutine runs through its owner's ``ops`` (kept, and shown if it fails).

    ``types`` are the slot's Qt argument types, as for ``@Slot``. Trailing arguments a signal
    sends that the method does not take (``clicked``'s ``checked``) are dropped.
    """

    def decorate(
        method: Callable[Concatenate[Owner, P], Coroutine[Any, Any, object]],
    ) -> Callable[Concatenate[Owner, P], None]:
        signature = inspect.signature(method)

        @Slot(*types)
        @functools.wraps(method)
        def slot(owner: Owner, /, *args: P.args, **kwargs: P.kwargs) -> None:
            given: tuple[Any, ...] = args
            while given:
                try:
                    signature.bind(owner, *given, **kwargs)
                    break
                except TypeError:
                    given = given[:-1]
            owner.ops.run(method(owner, *given, **kwargs))

        return slot

    return decorate
