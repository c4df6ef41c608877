"""Background work started through BackgroundOps, on the window's own (qasync) loop."""

from __future__ import annotations

import asyncio
import threading

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from gui.ops import BackgroundOps, async_slot
from tests.gui.conftest import Run


def test_success_lands_on_the_ui_thread_and_the_work_is_kept_until_it_ends(
    loop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    shown: list[str] = []
    ops = BackgroundOps(shown.append)
    release = asyncio.Event()
    got: list[tuple[int, str]] = []

    async def work() -> int:
        await release.wait()
        return 42

    ops.run(work(), on_success=lambda value: got.append((value, threading.current_thread().name)))
    assert ops.pending == 1
    release.set()
    qtbot.waitUntil(lambda: ops.pending == 0)
    assert got == [(42, threading.main_thread().name)] and shown == []


def test_a_failure_nobody_handles_is_shown_and_a_handled_one_is_not(
    loop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    shown: list[str] = []
    handled: list[BaseException] = []
    ops = BackgroundOps(shown.append, owner="models panel")

    async def fail(message: str) -> None:
        raise OSError(message)

    ops.run(fail("Ollama is not answering"))
    ops.run(fail("handled"), on_failure=handled.append)
    ops.run(asyncio.sleep(0, result=1), on_success=lambda _v: 1 / 0)  # a broken callback
    qtbot.waitUntil(lambda: ops.pending == 0)
    assert shown == ["Ollama is not answering", "division by zero"]
    assert [str(e) for e in handled] == ["handled"]


def test_shutdown_cancels_and_waits_and_nothing_starts_after(loop: qasync.QEventLoop, arun: Run) -> None:
    ops = BackgroundOps()
    ended: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("cleaned up")

    task = ops.run(forever(), on_failure=lambda e: ended.append(f"failure {e}"))
    arun(asyncio.sleep(0))  # let it start
    arun(ops.shutdown())
    assert task.cancelled() and ended == ["cleaned up"] and ops.pending == 0
    late = forever()
    with pytest.raises(RuntimeError, match="shut down"):
        ops.run(late)
    assert late.cr_frame is None, "the refused coroutine is closed, not left never awaited"


def test_blocking_work_runs_in_its_own_thread_and_errors_come_back(
    loop: qasync.QEventLoop, arun: Run
) -> None:
    ops = BackgroundOps(owner="hardware")
    assert arun(ops.in_thread(lambda: threading.current_thread().name)) == "gatedeck-hardware"

    def broken() -> None:
        raise ValueError("no GPU driver")

    with pytest.raises(ValueError, match="no GPU driver"):
        arun(ops.in_thread(broken))


class Panel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []
        self.ops = BackgroundOps(self.shown.append, owner="test panel")
        self.done: list[str] = []
        self.button = QPushButton("Go", self)
        self.button.clicked.connect(self._on_button_clicked)
        self.fail_button = QPushButton("Fail", self)
        self.fail_button.clicked.connect(self._on_fail_button_clicked)

    async def go(self) -> None:
        await asyncio.sleep(0)
        self.done.append(threading.current_thread().name)

    @async_slot()
    async def _on_button_clicked(self) -> None:
        await self.go()

    @async_slot()
    async def _on_fail_button_clicked(self) -> None:
        raise ConnectionError("Ollama is not answering")


def test_a_slot_runs_through_its_owners_ops_and_shows_its_failure(
    loop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    panel = Panel()
    qtbot.addWidget(panel)
    qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)  # clicked(bool): the slot takes none
    assert panel.ops.pending == 1
    qtbot.waitUntil(lambda: panel.done == [threading.main_thread().name])
    qtbot.mouseClick(panel.fail_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.shown == ["Ollama is not answering"])
    assert panel.ops.pending == 0
