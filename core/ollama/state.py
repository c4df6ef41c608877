"""What one Ollama server holds right now, asked once and shared by everyone who shows it.

:class:`OllamaState` keeps the installed models (``/api/tags``), the loaded ones (``/api/ps``,
with their expiry), each model's details (``/api/show``, kept by digest: a model that did not
change is asked about once, a re-pull of the same tag brings new details) and a snapshot of the
machine's hardware. The window builds one and hands it to the Ollama watcher and the Models and
Hardware panels, so a poll every few seconds is one request instead of one per panel.

Listeners are plain callbacks told what changed (:class:`StateChange`), as the config holder's
are; the GUI adapts them to signals. Failures are GateDeck's :class:`~core.errors.OllamaError`s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.errors import ModelNotFound, OllamaError
from core.hardware.facts import HardwareInfo, read_hardware
from core.ollama.client import OllamaClient
from core.ollama.models import InstalledModel, LoadedModel, ModelDetails
from core.ollama.names import full_name
from core.threads import in_thread

ClientFactory = Callable[[str], OllamaClient]
#: Where the server is: an address, or a function giving the current one (the first backend of
#: a config that the user may edit); the state follows it when it changes.
UrlSource = str | Callable[[], str]

#: How old a hardware snapshot may be before it is read again (free memory moves).
HARDWARE_MAX_AGE_S = 30.0


@dataclass(frozen=True)
class StateChange:
    """What one refresh changed: the installed list, the loaded list, whether Ollama answers."""

    installed: bool = False
    loaded: bool = False
    reachable: bool = False

    def __bool__(self) -> bool:
        return self.installed or self.loaded or self.reachable


Listener = Callable[[StateChange], None]


class OllamaState:
    """One Ollama server's models, loaded models, model details and the machine's hardware.

    Args:
        url: the server's address, or a function returning the address in use.
        client_factory: builds the client for an address (one client per address).
        read_hardware: reads CPU, RAM and GPUs (blocking; run on a thread of its own).
    """

    def __init__(
        self,
        url: UrlSource,
        *,
        client_factory: ClientFactory = OllamaClient,
        read_hardware: Callable[[], HardwareInfo] = read_hardware,
    ) -> None:
        self._url_source = url
        self._factory = client_factory
        self._read_hardware = read_hardware
        self._client: OllamaClient | None = None
        self._retired: list[OllamaClient] = []  # a pull may still stream through an old client
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._describing = asyncio.Lock()
        self._details: dict[str, ModelDetails] = {}  # by digest
        self._hardware: HardwareInfo | None = None
        self._hardware_at = 0.0
        #: Whether Ollama answered the last ask (``None``: not asked yet).
        self.reachable: bool | None = None
        #: Ollama's version, once it has answered.
        self.version = ""
        #: The last failure's message (it says how to fix it); empty while Ollama answers.
        self.problem = ""
        #: What ``/api/tags`` last said (kept while Ollama is away: the last known list).
        self.installed: list[InstalledModel] = []
        #: What ``/api/ps`` last said, by model name.
        self.loaded: dict[str, LoadedModel] = {}

    # ---------------------------------------------------------------- server
    @property
    def url(self) -> str:
        url = self._url_source if isinstance(self._url_source, str) else self._url_source()
        return url.rstrip("/")

    def client(self) -> OllamaClient:
        """The client for the server's current address (a new one when the address changed:
        what was known about the old server is forgotten and listeners are told)."""
        url = self.url
        if self._client is not None and self._client.url == url:
            return self._client
        moved = self._client is not None
        if self._client is not None:
            self._retired.append(self._client)
        self._client = self._factory(url)
        if moved:
            self.reachable, self.version, self.problem = None, "", ""
            self.installed, self.loaded = [], {}
            self._tell(StateChange(installed=True, loaded=True, reachable=True))
        return self._client

    async def aclose(self) -> None:
        """Close every connection this state opened."""
        for client in [*self._retired, *([self._client] if self._client else [])]:
            await client.aclose()
        self._client, self._retired = None, []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change)`` whenever a refresh changes something. Returns a function
        that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # ---------------------------------------------------------------- asking
    async def refresh(self) -> StateChange:
        """Ask for the installed models (and the version, when Ollama was not answering).

        Raises the :class:`~core.errors.OllamaError` when Ollama does not answer, after telling
        listeners that it went away.
        """
        async with self._lock:
            client = self.client()
            try:
                if not self.reachable:
                    self.version = await client.version()
                installed = await client.list_models()
            except OllamaError as exc:
                self._failed(exc)
                raise
            change = StateChange(installed=installed != self.installed, reachable=self.reachable is not True)
            self.reachable, self.problem, self.installed = True, "", installed
            self._tell(change)
            return change

    async def refresh_loaded(self) -> StateChange:
        """Ask which models are in memory, and until when."""
        async with self._lock:
            try:
                loaded = {m.name: m for m in await self.client().ps()}
            except OllamaError as exc:
                self._failed(exc)
                raise
            change = StateChange(loaded=loaded != self.loaded, reachable=self.reachable is not True)
            self.reachable, self.problem, self.loaded = True, "", loaded
            self._tell(change)
            return change

    def installed_model(self, name: str) -> InstalledModel | None:
        """The installed model called ``name`` (``name:latest`` for a bare name), if any."""
        wanted = full_name(name)
        return next((m for m in self.installed if full_name(m.name) == wanted), None)

    def cached_details(self, model: InstalledModel) -> ModelDetails | None:
        """The details already known for ``model`` (by its digest), without asking."""
        known = self._details.get(model.digest)
        return None if known is None else _named(known, model.name)

    async def details(self, name: str) -> ModelDetails:
        """``/api/show`` for an installed model, asked once per digest.

        Raises :class:`~core.errors.ModelNotFound` when Ollama does not have it.
        """
        model = self.installed_model(name)
        if model is None:
            await self.refresh()
            model = self.installed_model(name)
        if model is None:
            raise ModelNotFound(name, self.url)
        async with self._describing:  # two panels asking at once: one question, one answer
            known = self.cached_details(model)
            if known is not None:
                return known
            shown = await self.client().show(model.name)
            if model.digest:
                self._details[model.digest] = shown
            return shown

    async def describe_installed(self) -> dict[str, ModelDetails | str]:
        """Details of every installed model, by name; where Ollama could not say, the reason."""
        out: dict[str, ModelDetails | str] = {}
        for model in list(self.installed):
            try:
                out[model.name] = await self.details(model.name)
            except OllamaError as exc:
                out[model.name] = str(exc)
        return out

    async def hardware(self, max_age: float = HARDWARE_MAX_AGE_S) -> HardwareInfo:
        """The machine's CPU, RAM and GPUs, read again when the snapshot is older than
        ``max_age`` seconds (``0``: always)."""
        if self._hardware is None or time.monotonic() - self._hardware_at >= max_age:
            self._hardware = await in_thread(self._read_hardware, name="gatedeck-hardware")
            self._hardware_at = time.monotonic()
        return self._hardware

    # ---------------------------------------------------------------- internals
    def _failed(self, exc: OllamaError) -> None:
        was = self.reachable
        self.reachable, self.problem = False, str(exc)
        if was is not False:
            self._tell(StateChange(reachable=True))

    def _tell(self, change: StateChange) -> None:
        if change:
            for listener in list(self._listeners):
                listener(change)


def _named(details: ModelDetails, name: str) -> ModelDetails:
    """Details kept for a digest, under the name asked for (a copy shares its original's)."""
    return details if details.name == name else replace(details, name=name)
