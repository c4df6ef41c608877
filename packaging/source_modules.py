"""Every module of an installed package, found by its files.

PyInstaller's ``collect_submodules`` walks packages with ``pkgutil``, which does not see folders
without an ``__init__.py`` (implicit namespace packages). LiteLLM has hundreds of them, among them
``litellm/proxy/anthropic_endpoints``, so this reads the folder tree instead, without importing.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from collections.abc import Iterable
from pathlib import Path

_SUFFIXES = (".py", *importlib.machinery.EXTENSION_SUFFIXES)


def _module_name(relative: Path) -> str | None:
    parts = list(relative.parts)
    last = parts.pop()
    stem = next((last[: -len(s)] for s in _SUFFIXES if last.endswith(s)), None)
    if stem is None:
        return None
    if stem != "__init__":
        parts.append(stem)
    if not all(part.isidentifier() for part in parts):
        return None  # a data folder such as a web UI build, not importable
    return ".".join(parts)


def modules_in(package: str, exclude: Iterable[str] = ()) -> list[str]:
    """Dotted names of ``package`` and every module under it, namespace folders included.

    ``exclude`` lists dotted prefixes to leave out with everything below them.
    """
    spec = importlib.util.find_spec(package)  # a top-level name: nothing is imported
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not an installed package")
    skipped = tuple(exclude)
    names: set[str] = set()
    for location in spec.submodule_search_locations:
        root = Path(location)
        for path in root.rglob("*"):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            name = _module_name(Path(package, path.relative_to(root)))
            if name and not any(name == s or name.startswith(f"{s}.") for s in skipped):
                names.add(name)
    return sorted(names)
