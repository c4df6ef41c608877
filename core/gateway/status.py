"""What the gateway reports: its state, apply results, and the listener list that carries them.

Listeners are plain callables, called on the thread that made the change, or on an asyncio loop
of the listener's choosing (``call_soon_threadsafe``), so the GUI hears of changes on its own
thread without the core knowing about Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class GatewayState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


@dataclass(frozen=True)
class GatewayStatus:
    """A snapshot of the gateway, as listeners receive it.

    Attributes:
        state: where the state machine is.
        url: where clients reach the gateway (``http://127.0.0.1:4000``).
        reason: for ``failed``, why and what happens next; for ``starting``, a progress note.
        restarts: automatic restarts after crashes since the last start by hand.
        retrying: ``failed`` with a restart already scheduled.
    """

    state: GatewayState
    url: str
    reason: str = ""
    restarts: int = 0
    retrying: bool = False


class ApplyMode(StrEnum):
    HOT = "hot"  # swapped into the running router, no restart
    RESTART = "restart"  # listening address or routing strategy changed
    STORED = "stored"  # not running: used at the next start


@dataclass(frozen=True)
class ApplyResult:
    """How a new config was taken up, how long that took, and what could not be rendered."""

    mode: ApplyMode
    seconds: float
    notes: tuple[str, ...] = ()


class Listeners(Generic[T]):
    """Callbacks for one kind of news; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[tuple[Callable[[T], None], asyncio.AbstractEventLoop | None]] = []

    def add(
        self, callback: Callable[[T], None], loop: asyncio.AbstractEventLoop | None = None
    ) -> Callable[[], None]:
        """Subscribe; returns a function that unsubscribes."""
        entry = (callback, loop)
        with self._lock:
            self._entries.append(entry)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._entries.remove(entry)

        return remove

    def deliver(self, item: T) -> None:
        with self._lock:
            entries = list(self._entries)
        for callback, loop in entries:
            try:
                if loop is None:
                    callback(item)
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(callback, item)
            except Exception:  # a broken listener must not break the gateway
                log.exception("gateway listener failed")
