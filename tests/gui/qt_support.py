"""Test helpers for panels that run asyncio work on the Qt loop.

What ``asyncio.run`` gives a loop and the qasync test loop lacks (see tests/gui/conftest.py).

The ``loop`` fixture's ``qasync.QEventLoop(already_running=True)`` is never run or closed, so:

- ``asyncio.to_thread`` starts QThreads (qasync's default executor) that outlive the test and
  make Qt print "QThread: Destroyed while thread is still running" at exit;
- no async-generator hooks are installed (qasync never installs them, even in ``run_forever``),
  so an async generator dropped half-way (the ``ollama`` client's pull stream after an
  ``{"error": ...}`` line) is closed by the garbage collector without a loop, which raises
  "async generator ignored GeneratorExit" as an unraisable exception.

:func:`asyncio_like` gives the loop an executor it shuts down after the test, and the hooks.

:class:`Answers` stands in for a yes/no question box: it answers as told and keeps the questions.

:func:`dispose` deletes a widget's C++ side at once. ``qtbot.addWidget`` only asks for a
``deleteLater``, which no event loop serves after the last test, so the garbage collector destroys
that panel at some later moment, running its slots from inside a collection (Python 3.11.7 then
fails whatever it was compiling with "AST constructor recursion depth mismatch").
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator

import qasync
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QWidget


class Answers:
    """A confirm function that records the question and answers as told."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[str] = []

    async def __call__(self, _parent: QWidget, _title: str, text: str) -> bool:
        self.asked.append(text)
        return self.answer


@contextlib.contextmanager
def asyncio_like(loop: qasync.QEventLoop) -> Iterator[None]:
    pool = qasync.QThreadExecutor(2)
    loop.set_default_executor(pool)
    old_hooks = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=loop._asyncgen_firstiter_hook, finalizer=loop._asyncgen_finalizer_hook)
    try:
        yield
    finally:
        # Close what the test dropped while the hooks can still hand it to this loop.
        gc.collect()
        for _ in range(3):
            QApplication.processEvents()
        sys.set_asyncgen_hooks(*old_hooks)
        pool.shutdown(wait=True)  # its QThreads end here, not at interpreter exit
        loop.set_default_executor(None)


def dispose(widget: QWidget) -> None:
    """Close ``widget`` and delete its C++ object now."""
    widget.close()
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
