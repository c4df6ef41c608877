"""``gatedeck claude-env --restore-settings`` and ``gatedeck codex-config --restore``: a client's
settings file from before GateDeck's first write put back, and said so."""

from __future__ import annotations

import sys
from collections.abc import Callable

from core.clients.backups import Restored
from core.errors import NoOriginalFile


def restore_and_report(restore: Callable[[], Restored]) -> int:
    """Run ``restore`` and print what it did (or, on stderr, why it could not); the exit status."""
    try:
        restored = restore()
    except (NoOriginalFile, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Put back {restored.path} as it was before GateDeck first wrote it.")
    if restored.previous:
        print(f"GateDeck's version is at {restored.previous}.")
    return 0
