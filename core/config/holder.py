"""The config in use while GateDeck runs, shared by the window, the gateway and the CLI.

Whoever changes the config goes through the holder, which validates, saves atomically and then
tells every subscriber (the gateway hot-applies, panels refresh) which top-level sections
changed, so a subscriber that does not care returns at once. The window saves with
:meth:`ConfigHolder.replace_async` (the disk work runs on a worker thread, never stalling the
UI on an fsync); the CLI uses :meth:`ConfigHolder.replace`. Plain callbacks, no Qt: the GUI
adapts them to signals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from core.config.schema import Config
from core.config.store import ConfigStore
from core.threads import in_thread


@dataclass(frozen=True)
class ConfigChange:
    """One replacement of the config.

    Attributes:
        old: the config before.
        new: the config now in use.
        sections: the top-level sections that differ (``{"mappings"}``, ``{"gateway", "ui"}``…).
    """

    old: Config
    new: Config
    sections: frozenset[str]

    def touches(self, *sections: str) -> bool:
        """True when any of ``sections`` changed."""
        return not self.sections.isdisjoint(sections)


Listener = Callable[[ConfigChange], None]


def changed_sections(old: Config, new: Config) -> frozenset[str]:
    """The top-level sections (``gateway``, ``mappings``, ``ui``…) that differ."""
    return frozenset(name for name in Config.model_fields if getattr(old, name) != getattr(new, name))


class ConfigHolder:
    """Owns the current :class:`Config` and its store."""

    def __init__(self, store: ConfigStore, config: Config) -> None:
        self._store = store
        self._config = config
        self._listeners: list[Listener] = []
        self._saving = asyncio.Lock()

    @property
    def config(self) -> Config:
        """The config in use. Treat it as read-only; change it with :meth:`replace`."""
        return self._config

    @property
    def store(self) -> ConfigStore:
        return self._store

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change)`` after each change that alters something. Returns a function
        that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def replace(self, new: Config) -> None:
        """Validate ``new`` (raises ``pydantic.ValidationError``), save it, then notify.

        Blocks while the file is written and flushed to disk; code on an event loop that must
        stay responsive uses :meth:`replace_async`.
        """
        self._commit(self._checked_and_saved(new))

    async def replace_async(self, new: Config) -> None:
        """:meth:`replace` with the validation and the save on a thread of their own.

        Saves run one at a time, in the order they were asked for; subscribers are told on the
        calling loop, once the file is safely written.
        """
        async with self._saving:
            checked = await in_thread(self._checked_and_saved, new, name="gatedeck-config-save")
            self._commit(checked)

    def _checked_and_saved(self, new: Config) -> Config:
        checked = Config.model_validate(new.model_dump())
        self._store.save(checked)
        return checked

    def _commit(self, checked: Config) -> None:
        old, self._config = self._config, checked
        sections = changed_sections(old, checked)
        if not sections:
            return
        change = ConfigChange(old, checked, sections)
        for listener in list(self._listeners):
            listener(change)
