"""The request log: one JSON object per line in ``<data dir>/logs/requests.jsonl``, rotated by size.

Both the window's gateway and ``gatedeck serve`` append to it; ``gatedeck stats`` reads it.
Lines hold what the monitor shows (names, timings, token counts, errors), never prompts or
replies. When the file would pass ``max_bytes`` it becomes ``requests.jsonl.1`` (the older
ones shift up to ``.N``) and a new one starts. Reading skips lines it cannot parse, such as a
last line cut short by a crash.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from core.logs import scrub

log = logging.getLogger(__name__)

LOG_FILE = "requests.jsonl"


class RequestLog:
    """Appends records to ``folder/requests.jsonl``. Thread-safe; never raises on a write.

    Args:
        folder: where the log lives (``AppPaths.log_dir``).
        max_bytes: rotate when the current file would grow past this.
        backups: rotated files kept (``requests.jsonl.1`` … ``.N``).
    """

    def __init__(self, folder: Path, max_bytes: int = 10_000_000, backups: int = 3) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.backups = backups
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._size = 0
        self._broken = False

    @property
    def path(self) -> Path:
        return self.folder / LOG_FILE

    def append(self, record: dict[str, Any]) -> None:
        line = scrub(json.dumps(record, separators=(",", ":"), ensure_ascii=False)) + "\n"
        size = len(line.encode())
        with self._lock:
            if self._broken:
                return
            try:
                if self._file is None:
                    self._open()
                if self._size and self._size + size > self.max_bytes:
                    self._rotate()
                assert self._file is not None
                self._file.write(line)
                self._file.flush()  # `gatedeck stats` and a crash both see every finished line
                self._size += size
            except OSError as exc:
                self._broken = True  # say it once, then keep serving without a log
                log.warning("request log disabled: cannot write %s (%s)", self.path, exc)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open between lines)
        self._size = self._file.tell()

    def _rotate(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        for n in range(self.backups, 0, -1):
            older = self.folder / f"{LOG_FILE}.{n}"
            newer = self.folder / (f"{LOG_FILE}.{n - 1}" if n > 1 else LOG_FILE)
            if newer.exists():
                newer.replace(older)
        self._open()


def log_files(folder: Path) -> list[Path]:
    """The request log's files, oldest first."""
    rotated = sorted(
        (p for p in folder.glob(f"{LOG_FILE}.*") if p.suffix[1:].isdigit()),
        key=lambda p: int(p.suffix[1:]),
        reverse=True,
    )
    current = folder / LOG_FILE
    return [*rotated, *([current] if current.exists() else [])]


def read_log(folder: Path, since: float | None = None) -> Iterator[dict[str, Any]]:
    """Every parsable line of the request log, oldest first (``since``: ``at`` ≥ that time)."""
    for path in log_files(folder):
        try:
            handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError:
            continue  # rotated away between listing and opening
        with handle:
            for line in handle:
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(item, dict):
                    continue
                if since is not None and not (
                    isinstance(item.get("at"), int | float) and item["at"] >= since
                ):
                    continue
                yield item
