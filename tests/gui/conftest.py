"""GUI test setup: offscreen Qt, a qasync loop on the test's QApplication, no leaked windows."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import qasync
import shiboken6
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation, open_installation


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """An asyncio loop driven by Qt. Never ``loop.stop()`` it (DESIGN.md: it quits the app)."""
    event_loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    leaked = [task for task in asyncio.all_tasks(event_loop) if not task.done()]
    for task in leaked:
        task.cancel()
    asyncio.set_event_loop(None)
    # qasync marks itself as the running loop; clear that so later asyncio.run() / pytest-asyncio
    # tests in the same process do not see a loop "already running".
    asyncio.events._set_running_loop(None)
    assert not leaked, f"test left background work running: {leaked}"


Run = Callable[..., Any]


@pytest.fixture
def arun(loop: qasync.QEventLoop, qtbot: QtBot) -> Run:
    """``arun(panel.apply())``: run a coroutine on the Qt-driven loop until it is done."""

    def run(coro: Coroutine[Any, Any, Any], timeout_ms: int = 20_000) -> Any:
        task = loop.create_task(coro)
        qtbot.waitUntil(task.done, timeout=timeout_ms)
        return task.result()

    return run


@pytest.fixture
def install() -> Installation:
    return open_installation(default_model="qwen2.5-coder:7b")


@pytest.fixture(autouse=True)
def no_leaked_windows(qapp: QApplication) -> Iterator[None]:
    before = set(QApplication.topLevelWidgets())
    yield
    leaked = [w for w in QApplication.topLevelWidgets() if w not in before and w.isVisible()]
    for widget in leaked:
        widget.close()
        widget.deleteLater()
    assert not leaked, f"test left windows open: {leaked}"


@pytest.fixture(autouse=True)
def no_leaked_timers_or_threads(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves a QTimer ticking or a QThread running behind it."""
    before = {id(o) for o in _qt_objects()}
    yield
    leaked = [
        o
        for o in _qt_objects()
        if id(o) not in before
        and shiboken6.isValid(o)
        and (o.isActive() if isinstance(o, QTimer) else o.isRunning())
    ]
    for leftover in leaked:
        if isinstance(leftover, QTimer):
            leftover.stop()
    assert not leaked, (
        f"test left Qt timers or threads running: {[(o, o.objectName(), o.parent()) for o in leaked]}"
    )


def _qt_objects() -> list[QTimer | QThread]:
    return [o for o in gc.get_objects() if isinstance(o, QTimer | QThread)]
