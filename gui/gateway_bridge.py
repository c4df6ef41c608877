"""The embedded gateway as the window sees it: Qt signals over the Qt-free core gateway.

The core gateway reports state changes from its own threads; the bridge asks for them on the
Qt thread's asyncio loop (``add_listener(..., loop)``), so widgets only ever hear them there.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
from enum import StrEnum

from PySide6.QtCore import QObject, Signal

from core import heap
from core.config.holder import ConfigHolder
from core.config.schema import CloudModel, Config
from core.errors import GateDeckError, PortInUse
from core.gateway.render import cloud_key_env
from core.gateway.service import ApplyMode, Gateway, GatewayStatus
from core.logs import register_secret
from core.metrics.recorder import MetricsRecorder
from core.secrets import SecretStore, cloud_key_name, regenerate_master_key
from core.threads import in_thread

log = logging.getLogger(__name__)


class BridgeState(StrEnum):
    """The gateway as the window shows it: the core gateway's states, plus loading the engine."""

    LOADING = "loading"
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


class GatewayBridge(QObject):
    """Start, stop, restart and hot-apply the embedded gateway from the UI.

    Signals:
        state_changed(str, str): the new :class:`BridgeState` (as its value) and a human
            reason (why it failed, or a progress note while starting).
    """

    state_changed = Signal(str, str)

    def __init__(
        self,
        holder: ConfigHolder,
        secrets: SecretStore,
        master_key: str,
        gateway: Gateway | None = None,
        parent: QObject | None = None,
        metrics_key: str | None = None,
    ) -> None:
        super().__init__(parent)
        self._holder = holder
        self._secrets = secrets
        self._core = gateway or Gateway(
            holder.config, master_key=master_key, metrics_key=metrics_key, cloud_key=self._cloud_key
        )
        self.state = BridgeState.LOADING
        self.reason = ""
        self.suggested_port: int | None = None
        self._engine_loaded = False
        self._closed = False
        #: The thread importing the client SDKs once the engine is in (None before that).
        self.sdk_warmup: threading.Thread | None = None
        self._unsubscribe = self._core.add_listener(self._on_core_status, asyncio.get_event_loop())

    # ---------------------------------------------------------------- observation
    @property
    def url(self) -> str:
        return self._core.url

    @property
    def master_key(self) -> str:
        return self._core.master_key

    @property
    def metrics_token(self) -> str | None:
        """The read-only token a Prometheus server scrapes ``/metrics`` with."""
        return self._core.metrics_key

    @property
    def metrics(self) -> MetricsRecorder:
        """Where the gateway records each request it answers."""
        return self._core.metrics

    @property
    def installed_models(self) -> list[str]:
        """The Ollama models the gateway serves under their own names, on every backend."""
        return sorted({model for models in self._core.installed.values() for model in models})

    @property
    def serving(self) -> bool:
        return self.state is BridgeState.RUNNING

    # ---------------------------------------------------------------- actions
    async def load_engine(self, autostart: bool | None = None) -> None:
        """Import the gateway engine off the UI thread; then start it if the user wants that."""
        self._set(BridgeState.LOADING, "")
        try:
            await self._core.preload()
        except Exception as exc:  # a broken install: say so in place instead of dying
            log.exception("gateway engine failed to load")
            self._set(BridgeState.FAILED, f"The gateway engine could not be loaded: {exc}")
            return
        self._engine_loaded = True
        self._set(BridgeState(self._core.state.value), self._core.status.reason)
        self.sdk_warmup = _warm_client_libraries()
        if self._holder.config.gateway.start_on_launch if autostart is None else autostart:
            await self.start()

    async def start(self) -> bool:
        """Start serving. Failures land in the failed state with their reason; returns success."""
        self.suggested_port = None
        try:
            await self._core.start()
        except PortInUse as exc:
            self.suggested_port = exc.suggestion
            self._set(BridgeState.FAILED, str(exc))
            return False
        except GateDeckError as exc:
            self._set(BridgeState.FAILED, str(exc))
            return False
        return True

    async def stop(self) -> None:
        try:
            await self._core.stop()
        except GateDeckError as exc:
            self._set(BridgeState.FAILED, str(exc))

    async def restart(self) -> bool:
        await self.stop()
        return await self.start()

    async def apply(self, config: Config) -> str:
        """Save ``config`` and serve it at once. Returns a status line for the user."""
        await self._holder.replace_async(config)
        try:
            result = await self._core.apply(self._holder.config)
        except PortInUse as exc:
            self.suggested_port = exc.suggestion
            self._set(BridgeState.FAILED, str(exc))
            return f"Saved, but the gateway could not restart: {exc}"
        except GateDeckError as exc:
            return f"Saved, but the gateway could not apply it: {exc}"
        if result.mode is ApplyMode.HOT:
            message = (
                f"Saved and applied to the running gateway in {result.seconds * 1000:.0f} ms (no restart)."
            )
        elif result.mode is ApplyMode.RESTART:
            message = "Saved; the gateway restarted to listen on the new address."
        else:
            message = "Saved; the gateway will use it when it starts."
        notes = " ".join(result.notes)
        return f"{message} {notes}".strip()

    async def regenerate_master_key(self) -> str:
        key = await in_thread(regenerate_master_key, self._secrets)
        register_secret(key)
        await self._core.set_master_key(key)
        return key

    async def refresh_installed(self) -> None:
        """Ask Ollama again which models it has, so they are served under their own names."""
        await self._core.refresh_installed()

    async def serve_without_saving(self, config: Config) -> None:
        """Serve ``config`` for a moment (a measurement's trial options); the saved config stays."""
        await self._core.apply(config)

    async def close(self) -> None:
        """Stop the gateway (if it runs), stop listening to it, and let the SDK warm-up end.

        The warm-up imports the client SDKs on a daemon thread; a process that exits while an
        import is half done can hang at exit (a LiteLLM client's finaliser waits on the module
        lock the import holds), so quitting waits for what is left of it (seconds at most).
        """
        await self.stop()
        self._unsubscribe()
        self._closed = True
        warmup = self.sdk_warmup
        if warmup is not None and warmup.is_alive():
            await in_thread(warmup.join, name="gatedeck-quit-warmup")

    # ---------------------------------------------------------------- internals
    def _cloud_key(self, entry: CloudModel) -> str | None:
        return self._secrets.get(cloud_key_name(entry.name)) or os.environ.get(cloud_key_env(entry))

    def _on_core_status(self, status: GatewayStatus) -> None:
        if self._closed:  # delivered after close(): the window may be gone
            return
        if not self._engine_loaded and status.state.value == BridgeState.STOPPED:
            return  # still importing the engine: keep showing "loading"
        self._set(BridgeState(status.state.value), status.reason)

    def _set(self, state: BridgeState, reason: str) -> None:
        self.state, self.reason = state, reason
        self.state_changed.emit(state, reason)


def _warm_client_libraries() -> threading.Thread:
    """Import the OpenAI and Anthropic SDKs on a background thread once the engine is in.

    The test chat and the tool-call probe need them; imported on first use they would freeze
    the window for ~2 s on a slow machine. A send that comes while this runs waits only for
    what is left of the import. What they leave behind lives as long as the app, so they load
    with the garbage collector off and are then frozen out of its way (:mod:`core.heap`).
    """

    def warm() -> None:
        with heap.loading_long_lived():
            for name in ("openai", "anthropic"):
                try:
                    importlib.import_module(name)
                except Exception:  # the send that needs it will say what is wrong
                    log.debug("warming %s failed", name, exc_info=True)

    thread = threading.Thread(target=warm, name="gatedeck-warm-sdks", daemon=True)
    thread.start()
    return thread
