"""Helpers for tests that watch the metrics recorder (records arrive on the gateway's thread)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.metrics.recorder import MetricsRecorder, RequestRecord


class Collector:
    """Collects records as the recorder hands them out, and waits for them without sleeping."""

    def __init__(self, recorder: MetricsRecorder) -> None:
        self._cond = threading.Condition()
        self.items: list[RequestRecord] = []
        self.remove: Callable[[], None] = recorder.add_listener(self._add)

    def _add(self, record: RequestRecord) -> None:
        with self._cond:
            self.items.append(record)
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self.items.clear()

    def wait(self, count: int = 1, timeout: float = 30.0) -> list[RequestRecord]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.items) >= count, timeout):
                raise TimeoutError(f"{len(self.items)} of {count} request records arrived in {timeout} s")
            return list(self.items)
