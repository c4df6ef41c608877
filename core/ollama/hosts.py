"""The shared :class:`~core.ollama.state.OllamaState` of each Ollama host in the config, by name.

The window builds one :class:`OllamaHosts` and hands it to whoever shows a host's models (the
Models panel's host picker, the Gateway panel's host list), so two panels looking at one host
ask it once. The first host (the default for new mappings, the one GateDeck can start itself) is
the state the Ollama watcher polls; it follows whichever host is first as the user edits the
list. Every other host's state follows its own entry's address; a state whose host was removed
stays usable (a pull on it may still be streaming) until :meth:`OllamaHosts.aclose`.
"""

from __future__ import annotations

from collections.abc import Callable

from core.config.holder import ConfigChange, ConfigHolder
from core.config.schema import OllamaBackend
from core.ollama.state import OllamaState

#: Builds the state of one host from a function giving its address.
StateFactory = Callable[[Callable[[], str]], OllamaState]


class OllamaHosts:
    """One :class:`OllamaState` per Ollama host of the config in ``holder``.

    Args:
        holder: the config in use; its ``backends`` are the hosts.
        first: the first host's state (built here when not given; its address follows the
            config's first host).
        make_state: builds the state of every other host.
    """

    def __init__(
        self,
        holder: ConfigHolder,
        first: OllamaState | None = None,
        *,
        make_state: StateFactory = OllamaState,
    ) -> None:
        self._holder = holder
        self._make_state = make_state
        self.first = first or make_state(lambda: holder.config.backends[0].url)
        self._others: dict[str, OllamaState] = {}
        self._last_url: dict[str, str] = {}  # a removed host's state keeps its last address
        self._retired: list[OllamaState] = []
        self._unsubscribe = holder.subscribe(self._on_config_changed)

    @property
    def hosts(self) -> list[OllamaBackend]:
        return list(self._holder.config.backends)

    @property
    def names(self) -> list[str]:
        return [b.name for b in self._holder.config.backends]

    def state(self, name: str) -> OllamaState:
        """The state of the host called ``name``. Raises ``KeyError`` for an unknown name."""
        if name not in self.names:
            raise KeyError(name)
        if name == self.names[0]:
            return self.first
        if name not in self._others:
            self._others[name] = self._make_state(lambda: self._url_of(name))
        return self._others[name]

    def url(self, name: str) -> str:
        """The address of the host called ``name``."""
        return self._holder.config.backend(name).url

    async def aclose(self) -> None:
        """Close every connection the hosts' states opened (the first host's included)."""
        self._unsubscribe()
        for state in [*self._others.values(), *self._retired, self.first]:
            await state.aclose()
        self._others, self._retired = {}, []

    def _url_of(self, name: str) -> str:
        for backend in self._holder.config.backends:
            if backend.name == name:
                return backend.url
        return self._last_url.get(name, "")

    def _on_config_changed(self, change: ConfigChange) -> None:
        if not change.touches("backends"):
            return
        names = [b.name for b in change.new.backends]
        for name in list(self._others):
            if name not in names[1:]:  # removed, or now the first host (the first state's job)
                old = {b.name: b.url for b in change.old.backends}
                self._last_url[name] = old.get(name, self._last_url.get(name, ""))
                self._retired.append(self._others.pop(name))
