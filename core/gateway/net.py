"""The gateway's listening socket: bound by GateDeck, so a busy port is a clear error.

Binding before uvicorn starts (and handing uvicorn the socket) means "port in use" is known
at once, in the caller's thread, as :class:`~core.errors.PortInUse` naming the port, the
program that holds it when the OS tells us, and a free port to use instead.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys

_IN_USE = {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}
_SUGGESTION_SPAN = 20


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    Raises:
        PortInUse: another program (or another GateDeck gateway) listens there.
        OSError: any other reason the address cannot be bound (e.g. a host that is not local).
    """
    from core.errors import PortInUse

    try:
        return _bind(host, port)
    except OSError as exc:
        if exc.errno in _IN_USE or getattr(exc, "winerror", None) == 10048:
            raise PortInUse(
                host, port, holder=port_holder(port), suggestion=free_port_near(host, port)
            ) from exc
        raise


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        if sys.platform == "win32":
            # On Windows SO_REUSEADDR would let us steal a port another program listens on.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)  # type: ignore[attr-defined,unused-ignore]
        else:
            # Lets a restart rebind at once while old connections sit in TIME_WAIT; a port
            # another socket listens on still fails with EADDRINUSE.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(False)
    except BaseException:
        sock.close()
        raise
    return sock


def free_port_near(host: str, port: int) -> int | None:
    """A port close to ``port`` that can be bound on ``host`` now, or ``None``."""
    for candidate in range(port + 1, min(port + _SUGGESTION_SPAN, 65535) + 1):
        try:
            with contextlib.closing(_bind(host, candidate)):
                return candidate
        except OSError:
            continue
    return None


def port_holder(port: int) -> str:
    """``"python3 (pid 1234)"`` for the process listening on ``port``, or ``""`` when the OS
    does not say (another user's process, or no permission to ask)."""
    try:
        import psutil

        for conn in psutil.net_connections(kind="inet"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                if conn.pid == os.getpid():
                    return f"this GateDeck (pid {conn.pid})"
                try:
                    name = psutil.Process(conn.pid).name()
                except (psutil.Error, OSError):
                    name = "a program"
                return f"{name} (pid {conn.pid})"
    except Exception:  # psutil raises AccessDenied on macOS without root; the hint is optional
        return ""
    return ""


def connect_host(host: str) -> str:
    """The address a client on this machine uses to reach a gateway bound to ``host``."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def exposure_warning(host: str) -> str:
    """What listening on ``host`` (not this machine only) means, said the same way everywhere."""
    return (
        f"The gateway listens on {host}: other machines on the network can reach it. The gateway "
        "key crosses the network in plain HTTP there, and it opens every model GateDeck serves "
        "(cloud ones too, on your API keys). Use 127.0.0.1 to keep it on this machine."
    )
