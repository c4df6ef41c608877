"""The copies GateDeck keeps of a client's settings file before it writes one, and putting the
original back.

Two copies, one rule for Claude Code's ``settings.json`` and Codex's ``config.toml``:

- ``<file>.bak``: the previous version, replaced at every write;
- ``<file>.before-gatedeck``: the file as it was before GateDeck first wrote it, made once and
  never overwritten, so setups run again, a regenerated key or a new port never lose it.

When there was no file before GateDeck's first write there is no original; an empty marker
(``.<file>.made-by-gatedeck``) remembers that, so a later write does not take GateDeck's own file
for the user's. A file GateDeck wrote before it kept originals (a ``.bak`` is there already) gets
no original either: which version was the user's is no longer known.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from core.clients.atomic_file import replace_file
from core.errors import NoOriginalFile

ORIGINAL_SUFFIX = ".before-gatedeck"
PREVIOUS_SUFFIX = ".bak"


def original_path(path: Path) -> Path:
    """Where the file from before GateDeck's first write is kept."""
    return path.with_name(path.name + ORIGINAL_SUFFIX)


def previous_path(path: Path) -> Path:
    """Where the version before GateDeck's last write is kept."""
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def kept_original(path: Path) -> Path | None:
    """The file from before GateDeck's first write, when GateDeck kept one."""
    original = original_path(path)
    return original if original.exists() else None


def _made_marker(path: Path) -> Path:
    return path.with_name(f".{path.name}.made-by-gatedeck")


@dataclass(frozen=True)
class Backups:
    """The copies beside a settings file: ``previous`` (``.bak``, this write's old file) and
    ``original`` (``.before-gatedeck``); ``None`` where there is none."""

    previous: Path | None
    original: Path | None


def back_up(path: Path) -> Backups:
    """Keep ``path`` before GateDeck replaces it: as the previous version, and, the first time
    GateDeck writes it, as the original. Call it right before the write.

    Raises:
        OSError: the file could not be read or a copy could not be written (``path`` untouched).
    """
    original = original_path(path)
    previous = previous_path(path)
    first_write = not (original.exists() or previous.exists() or _made_marker(path).exists())
    if not path.exists():
        if first_write:
            path.parent.mkdir(parents=True, exist_ok=True)
            _made_marker(path).touch()
        return Backups(previous=None, original=kept_original(path))
    data = path.read_bytes()
    mode = stat.S_IMODE(path.stat().st_mode)
    if first_write:
        replace_file(original, data, mode)
    replace_file(previous, data, mode)
    return Backups(previous=previous, original=kept_original(path))


@dataclass(frozen=True)
class Restored:
    """What :func:`restore_original` did: ``path`` holds ``original`` again; the file it replaced
    is ``previous`` (``None`` when there was none)."""

    path: Path
    original: Path
    previous: Path | None


def restore_original(path: Path, mode: int | None = None) -> Restored:
    """Put the file from before GateDeck's first write back at ``path``, in one step, with
    permissions ``mode`` (``None``: the original's own). The file it replaces becomes the ``.bak``;
    the original stays, so restoring again does the same.

    Raises:
        NoOriginalFile: GateDeck kept no original (the message says why, and what to do).
        OSError: a file could not be read or written.
    """
    original = original_path(path)
    if not original.exists():
        raise NoOriginalFile(_why_none(path))
    data = original.read_bytes()
    kept = mode if mode is not None else stat.S_IMODE(original.stat().st_mode)
    backups = back_up(path)
    replace_file(path, data, kept)
    return Restored(path=path, original=original, previous=backups.previous)


def _why_none(path: Path) -> str:
    if _made_marker(path).exists():
        return (
            f"There is nothing to restore: there was no {path.name} before GateDeck made {path}. "
            "Delete that file to go back to none."
        )
    previous = previous_path(path)
    if previous.exists():
        return (
            f"There is nothing to restore: GateDeck wrote {path} before it kept originals, so the "
            f"file from before is not known. The previous version is {previous}."
        )
    return f"There is nothing to restore: GateDeck has not written {path}, so it is as you left it."


def original_note(original: Path | None, name_only: bool = False) -> str:
    """A sentence for the person that says where their file from before GateDeck is, or ``""``."""
    if original is None:
        return ""
    return f"Your file from before GateDeck is kept as {original.name if name_only else original}."
