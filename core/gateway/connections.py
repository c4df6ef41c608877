"""How many connections the gateway holds open, and for how long one may take to send a request.

Each open connection costs the process a file descriptor. Held without limit, idle or half-sent
connections (no key needed to open one) used up the process's open-file limit, and then every
valid request failed — the fast path could not even open a socket to Ollama, which it reported
as "Ollama not answering". So:

- at start the soft open-file limit is raised to the hard one where the system allows
  (:func:`raise_file_limit`);
- the gateway holds at most :func:`connection_cap` connections, well below that limit, leaving
  descriptors for Ollama, LiteLLM's clients, logs and the config;
- when a new connection would pass the cap, the connection that has waited longest without
  sending a whole request is closed to make room (:class:`Admission`), so a client that sends
  its request at once is served while others merely hold sockets;
- a request must be received whole (headers and body) within ``gateway.receive_timeout_s`` of
  the connection opening or of the previous answer on it, else the connection is closed.
"""

from __future__ import annotations

import logging
import sys
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT_RECEIVE_TIMEOUT_S = 10.0
#: the most connections held at once, however high the file limit (a desktop gateway's clients
#: are a handful of CLIs and apps; each idle connection costs memory too)
MOST_CONNECTIONS = 1024
#: descriptors never given to incoming connections: Ollama, LiteLLM's clients, logs, files
_RESERVE_MIN = 128
_UNLIMITED_TARGET = 65536


def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard one where allowed; return the soft limit now.

    Where the system has no such limit (Windows) this returns :data:`MOST_CONNECTIONS` twice
    over, so the cap is :data:`MOST_CONNECTIONS`.
    """
    if sys.platform == "win32":
        return 2 * MOST_CONNECTIONS
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:  # macOS caps it below "unlimited"; containers may refuse
            log.info("gateway: the open-file limit stays at %d (%s)", soft, exc)
    return _UNLIMITED_TARGET if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(file_limit: int) -> int:
    """The most connections held at once under an open-file limit of ``file_limit``."""
    reserve = max(_RESERVE_MIN, file_limit // 4)
    return max(16, min(MOST_CONNECTIONS, file_limit - reserve))


class Held(Protocol):
    """A connection as :class:`Admission` sees it."""

    #: loop time since which it has waited for a whole request (None: a request is being served)
    def waiting_since(self) -> float | None: ...

    def drop(self) -> None: ...


class Admission:
    """Keeps the number of open connections at most ``cap``, closing the longest-waiting one.

    Connections are kept in the order they last began to wait for a request, so the one to
    close is found from the front without looking at every connection (an attack opens
    thousands a second).

    Args:
        cap: the most connections held at once.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.evicted = 0  # connections closed to make room
        self.refused = 0  # new connections closed because every held one was being served
        self._order: dict[Held, None] = {}  # oldest wait first

    def __len__(self) -> int:
        return len(self._order)

    def opened(self, new: Held) -> None:
        """``new`` opened: hold it, closing the longest-waiting other one past the cap."""
        self._order[new] = None
        if len(self._order) <= self.cap:
            return
        for connection in self._order:
            if connection is not new and connection.waiting_since() is not None:
                self.evicted += 1
                self.closed(connection)
                connection.drop()
                return
        self.refused += 1
        self.closed(new)
        new.drop()

    def waiting(self, connection: Held) -> None:
        """``connection`` began to wait for its next request (it moves to the back)."""
        if connection in self._order:
            del self._order[connection]
            self._order[connection] = None

    def closed(self, connection: Held) -> None:
        self._order.pop(connection, None)
