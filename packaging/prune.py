"""Dropping a shared library from the bundle together with what only it brought in.

PyInstaller collects every shared library that a collected binary links against. Dropping one
binary (a Qt plugin GateDeck does not want) should also drop the libraries that were collected
for it alone, but never one that something else still links against.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

# (destination in the bundle, source path, PyInstaller type code)
TocEntry = tuple[str, str, str]
Imports = Callable[[str], Iterable[str]]


def linked_names(path: str) -> set[str]:
    """Base names of the libraries ``path`` links against (PyInstaller's own ldd/otool reading)."""
    from PyInstaller.depend.bindepend import get_imports

    return {os.path.basename(name) for name, _ in get_imports(path)}


def _closure(roots: Iterable[TocEntry], by_name: dict[str, TocEntry], imports: Imports) -> set[str]:
    """Names of the bundled top-level libraries reachable from ``roots``."""
    reached: set[str] = set()
    stack = list(roots)
    while stack:
        _, source, _ = stack.pop()
        for name in imports(source):
            if name in by_name and name not in reached:
                reached.add(name)
                stack.append(by_name[name])
    return reached


def drop_binaries(
    binaries: list[TocEntry], unwanted: Iterable[str], imports: Imports = linked_names
) -> tuple[list[TocEntry], list[str]]:
    """Remove binaries whose destination ends with one of ``unwanted``, and their orphans.

    An orphan is a top-level library (destination without a folder) that a dropped binary links
    against, directly or not, and that no kept binary reaches. Returns the kept entries and the
    destinations removed.
    """
    suffixes = tuple(unwanted)
    dropped = [entry for entry in binaries if entry[0].endswith(suffixes)]
    if not dropped:
        return binaries, []
    by_name = {entry[0]: entry for entry in binaries if "/" not in entry[0]}
    kept_roots = [entry for entry in binaries if not entry[0].endswith(suffixes)]
    # A top-level library that nothing links against (the Python library, one loaded with ctypes)
    # is itself a root; only libraries that a dropped binary reaches are candidates for removal.
    from_dropped = _closure(dropped, by_name, imports)
    still_needed = _closure([e for e in kept_roots if e[0] not in from_dropped], by_name, imports)
    orphans = from_dropped - still_needed
    removed = {entry[0] for entry in dropped} | orphans
    return [entry for entry in binaries if entry[0] not in removed], sorted(removed)
