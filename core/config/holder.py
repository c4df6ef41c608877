"""The config in use while GateDeck runs, shared by the window, the gateway and the CLI.

Whoever changes the config goes through :meth:`ConfigHolder.replace`, which validates, saves
atomically and then tells every subscriber (the gateway hot-applies, panels refresh). Plain
callbacks, no Qt: the GUI adapts them to signals.
"""

from __future__ import annotations

from collections.abc import Callable

from core.config.schema import Config
from core.config.store import ConfigStore

Listener = Callable[[Config, Config], None]


class ConfigHolder:
    """Owns the current :class:`Config` and its store."""

    def __init__(self, store: ConfigStore, config: Config) -> None:
        self._store = store
        self._config = config
        self._listeners: list[Listener] = []

    @property
    def config(self) -> Config:
        """The config in use. Treat it as read-only; change it with :meth:`replace`."""
        return self._config

    @property
    def store(self) -> ConfigStore:
        return self._store

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(old, new)`` after each change. Returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def replace(self, new: Config) -> None:
        """Validate ``new`` (raises ``pydantic.ValidationError``), save it, then notify."""
        checked = Config.model_validate(new.model_dump())
        self._store.save(checked)
        old, self._config = self._config, checked
        for listener in list(self._listeners):
            listener(old, checked)
