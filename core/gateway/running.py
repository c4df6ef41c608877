"""Which gateway is running right now, for the commands that point clients at it.

A gateway that serves (the window's or ``gatedeck serve``'s) writes a small file in the data
folder with its address and process id, and removes it when it stops. ``gatedeck claude-env``,
``gatedeck claude`` and the window's Claude Code actions read it, so they point at the port
that is actually listening (``serve --port 4100``), not the one in the config. A file left by a
process that died is recognised by its process id and ignored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import psutil

from core.paths import AppPaths

log = logging.getLogger(__name__)

RUNNING_FILE = "gateway.running.json"
Where = Literal["window", "serve"]


@dataclass(frozen=True)
class RunningGateway:
    """A gateway serving on this machine: its address, who runs it, since when."""

    url: str
    pid: int
    where: Where
    started: float


def running_file(paths: AppPaths) -> Path:
    return paths.data_dir / RUNNING_FILE


def find_running(paths: AppPaths) -> RunningGateway | None:
    """The gateway serving now, or ``None`` (no file, a damaged one, or its process is gone)."""
    try:
        data = json.loads(running_file(paths).read_text(encoding="utf-8"))
        found = RunningGateway(
            url=str(data["url"]), pid=int(data["pid"]), where=data["where"], started=float(data["started"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if found.where not in ("window", "serve") or not found.url.startswith("http"):
        return None
    return found if _alive(found) else None


class RunningRecord:
    """Keeps the running file in step with one gateway of this process.

    Call :meth:`update` with each state the gateway reports; :meth:`withdraw` when it stops for
    good. Removing the file only happens while it is still this record's (a gateway started
    since by another process keeps its own).
    """

    def __init__(self, paths: AppPaths, where: Where) -> None:
        self._paths = paths
        self._where: Where = where
        self._current: RunningGateway | None = None

    def update(self, serving: bool, url: str) -> None:
        if not serving:
            self.withdraw()
        elif self._current is None or self._current.url != url:
            self._publish(url)

    def withdraw(self) -> None:
        mine, self._current = self._current, None
        if mine is not None and find_running(self._paths) == mine:
            with contextlib.suppress(OSError):
                running_file(self._paths).unlink()

    def _publish(self, url: str) -> None:
        record = RunningGateway(url=url, pid=os.getpid(), where=self._where, started=time.time())
        path = running_file(self._paths)
        try:
            self._paths.ensure()
            temp = path.with_name(f".{path.name}.{record.pid}")
            temp.write_text(json.dumps(asdict(record)), encoding="utf-8")
            os.replace(temp, path)
        except OSError as exc:  # a read-only data folder: clients fall back to the config's address
            log.warning("could not record the running gateway in %s: %s", path, exc)
            return
        self._current = record


def _alive(found: RunningGateway) -> bool:
    if found.pid == os.getpid():
        return True
    try:
        process = psutil.Process(found.pid)
        # A reused process id belongs to a process started after the gateway was.
        return process.is_running() and process.create_time() <= found.started + 1.0
    except (psutil.Error, OSError):
        return False
