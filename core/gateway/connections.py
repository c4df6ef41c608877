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
from collections.abc import Iterable
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

    Args:
        cap: the most connections held at once.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.evicted = 0  # connections closed to make room
        self.refused = 0  # new connections closed because every held one was being served

    def admit(self, new: Held, held: Iterable[Held], count: int) -> None:
        """Called when ``new`` opened; ``held`` are all open connections (``new`` among them)."""
        if count <= self.cap:
            return
        oldest: Held | None = None
        oldest_since = 0.0
        for connection in held:
            since = connection.waiting_since()
            if connection is new or since is None:
                continue
            if oldest is None or since < oldest_since:
                oldest, oldest_since = connection, since
        if oldest is not None:
            self.evicted += 1
            oldest.drop()
        else:
            self.refused += 1
            new.drop()
