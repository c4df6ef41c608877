"""The embedded gateway as the window sees it: Qt signals over the Qt-free core gateway.

The core gateway runs in its own thread and reports state changes from there; this bridge
hops them onto the Qt thread (``loop.call_soon_threadsafe``) before any widget hears of them.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.config import Config
from core.config_holder import ConfigHolder
from core.secrets import SecretStore, regenerate_master_key


class GatewayBridge(QObject):
    """Start, stop, restart and hot-apply the embedded gateway from the UI.

    Signals:
        state_changed(str, str): new state (loading, stopped, starting, running, stopping,
            failed) and a human reason (empty unless failed).
    """

    state_changed = Signal(str, str)

    def __init__(
        self,
        holder: ConfigHolder,
        secrets: SecretStore,
        master_key: str,
        gateway: Any = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._holder = holder
        self._secrets = secrets
        self.master_key = master_key
        self._gateway = gateway
        self.state = "loading" if gateway is None else "stopped"
        self.reason = ""
        self.suggested_port: int | None = None

    @property
    def url(self) -> str:
        settings = self._holder.config.gateway
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        return f"http://{host}:{settings.port}"

    def _set_state(self, state: str, reason: str = "") -> None:
        self.state, self.reason = state, reason
        self.state_changed.emit(state, reason)

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def restart(self) -> None:
        raise NotImplementedError

    async def apply(self, config: Config) -> str:
        """Save ``config`` and hot-apply it if the gateway runs. Returns a status for the user."""
        self._holder.replace(config)
        return "Saved."

    async def regenerate_master_key(self) -> str:
        self.master_key = await asyncio.to_thread(regenerate_master_key, self._secrets)
        return self.master_key
