"""One GateDeck per user: a second launch asks the first to show its window, then exits."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket


def server_name(config_dir: Path) -> str:
    """Per user and per config folder, so a portable install can run beside the normal one."""
    user = (
        os.environ.get("USER")
        or os.environ.get("USERNAME")
        or str(os.getuid() if hasattr(os, "getuid") else "")
    )
    digest = hashlib.sha256(f"{user}:{config_dir.resolve()}".encode()).hexdigest()[:16]
    return f"gatedeck-{digest}"


class SingleInstance(QObject):
    """Listens for later launches.

    Signals:
        activated(str): another launch asked us to show the window; carries its ``--panel`` or "".
    """

    activated = Signal(str)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._name = name
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_server_new_connection)

    def ask_running_instance(self, panel: str = "", timeout_ms: int = 1000) -> bool:
        """True if another GateDeck answered (and was asked to show itself)."""
        socket = QLocalSocket()
        socket.connectToServer(self._name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(f"show {panel}\n".encode())
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return True

    def listen(self) -> bool:
        if self._server.listen(self._name):
            return True
        # A crashed GateDeck can leave its socket file behind; nobody answered, so take it over.
        QLocalServer.removeServer(self._name)
        return self._server.listen(self._name)

    def close(self) -> None:
        self._server.close()

    def _on_server_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            # The other launch writes one short line right after connecting; reading it here
            # (bounded wait) avoids keeping Python callbacks on a socket Qt may delete.
            if socket.bytesAvailable() or socket.waitForReadyRead(500):
                line = bytes(socket.readAll().data()).decode(errors="replace").strip()
                if line.startswith("show"):
                    self.activated.emit(line[4:].strip())
            socket.disconnectFromServer()
            socket.deleteLater()
