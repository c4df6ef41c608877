"""Pins: what GateDeck expects of a library's internals, checked at run time.

GateDeck touches a few internals of LiteLLM and uvicorn (:mod:`core.gateway.litellm_seam`,
:mod:`core.gateway.uvicorn_seam`). Each touch carries a :class:`Pin`: the attributes it uses and,
where it replaces or copies a function, a sha256 of that function's source as written against.
Before a touch is made its pin is checked; a pin that no longer fits (an upgrade changed the
code) is logged once and the touch's fallback is used — or, for a touch GateDeck cannot serve
without, the gateway refuses to start and says why. ``tests/core/test_seams.py`` checks every
pin against the installed libraries, so an upgrade is caught before a user meets it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import GatewayStartError

log = logging.getLogger(__name__)

#: set on a replacement: the library's own function it stands for
ORIGINAL = "__gatedeck_original__"


@dataclass(frozen=True, eq=False)  # each pin is one touch: compared (and hashed) by identity
class Pin:
    """One touch of a library's internals and what it relies on.

    Attributes:
        name: the touch, in logs and test ids.
        owner: ``"package.module"`` or ``"package.module:Class"``.
        attrs: attributes ``owner`` must have.
        sources: ``{attr: sha256}`` of ``inspect.getsource`` of functions replaced or copied.
        fallback: what GateDeck does when the pin does not fit; empty for a touch it cannot
            serve without (the gateway then refuses to start, saying why).
    """

    name: str
    owner: str
    attrs: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    fallback: str = ""

    def resolve(self) -> Any:
        module_name, _, class_name = self.owner.partition(":")
        owner = importlib.import_module(module_name)
        return getattr(owner, class_name) if class_name else owner

    def original(self, attr: str) -> Any:
        """``owner.attr`` as the library defines it, whether or not GateDeck replaced it."""
        current = inspect.getattr_static(self.resolve(), attr)
        return getattr(current, ORIGINAL, current)

    def source_hash(self, attr: str) -> str:
        function = self.original(attr)
        function = getattr(function, "__func__", function)  # staticmethod / classmethod
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()

    def problem(self) -> str | None:
        """``None`` when the library still is what this pin expects; else what changed."""
        try:
            owner = self.resolve()
        except (ImportError, AttributeError) as exc:
            return f"{self.owner} is missing ({exc})"
        for attr in (*self.attrs, *self.sources):
            if not hasattr(owner, attr):
                return f"{self.owner} has no {attr!r}"
        for attr, expected in self.sources.items():
            try:
                found = self.source_hash(attr)
            except (OSError, TypeError) as exc:
                return f"the source of {self.owner}.{attr} cannot be read ({exc})"
            if found != expected:
                return f"{self.owner}.{attr} changed"
        return None


_lock = threading.Lock()
_checked: dict[Pin, str | None] = {}


def fits(pin: Pin, version: str = "") -> bool:
    """Whether ``pin`` fits the installed library; a misfit is logged once per process."""
    with _lock:
        if pin not in _checked:
            problem = _checked[pin] = pin.problem()
            if problem is not None:
                what = pin.fallback or "the gateway cannot start"
                log.warning(
                    "gateway: %r does not fit %s (%s): %s", pin.name, version or pin.owner, problem, what
                )
        return _checked[pin] is None


def require(pin: Pin, version: str = "") -> None:
    """Raise :class:`GatewayStartError` when a touch GateDeck cannot do without does not fit."""
    if not fits(pin, version):
        raise GatewayStartError(
            f"this {version or pin.owner} is not one GateDeck works with ({_checked[pin]}); "
            "install the version GateDeck names in its requirements"
        )
