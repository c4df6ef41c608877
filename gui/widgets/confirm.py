"""Yes/no questions that coroutines can await.

``QMessageBox.question()`` runs a nested event loop. Called from a coroutine on the qasync loop,
every other task that wakes while the box is open fails with "Cannot enter into task … while
another task … is being executed" (and the loop may stop). :func:`ask_yes_no` opens the box
window-modal with ``open()`` and awaits its answer instead, so the loop keeps running normally.
"""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QMessageBox, QWidget


async def ask_yes_no(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask; True when the user pressed Yes (No, Escape or closing the box is False)."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setObjectName("confirmBox")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def on_finished(_result: int) -> None:
        if not answered.done():
            clicked = box.clickedButton()
            answered.set_result(
                clicked is not None and box.standardButton(clicked) == QMessageBox.StandardButton.Yes
            )

    box.finished.connect(on_finished)
    box.open()
    try:
        return await answered
    finally:
        box.close()
        box.deleteLater()
