"""The first-run setup: from "this machine" to "Claude Code works here, checked" in one flow.

Six steps, each of which can be skipped (*Skip this step*), and the whole of it too (*Skip
setup*): Ollama, this machine, a recommended model, its download, Claude Code's tiers mapped onto
it with the tool-call probe's verdict, and Claude Code (and Codex) pointed at GateDeck. A bad
verdict offers the next recommendation, back at the download. The window opens it on the first
launch; the Gateway panel's *Set up…* runs it again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.dialogs.setup_choice import ModelsPage
from gui.dialogs.setup_claude import ClaudePage
from gui.dialogs.setup_model_pages import PullPage, TiersPage
from gui.dialogs.setup_pages import MachinePage, OllamaPage
from gui.dialogs.setup_run import SetupPage, SetupRun, SetupServices
from gui.ops import BackgroundOps, async_slot
from gui.widgets.banner import Banner


class SetupWizard(QDialog):
    """The setup's steps, one at a time, with Back / Skip this step / Next and Skip setup.

    Signals:
        ollama_changed(): the Ollama address changed or GateDeck started Ollama (the window asks
            Ollama again).
    """

    ollama_changed = Signal()

    def __init__(self, services: SetupServices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("setupWizard")
        self.setWindowTitle("Set up GateDeck")
        self.resize(1060, 640)
        self.ops = BackgroundOps(self._show_error, owner="setup")
        self.run = SetupRun(services)
        self.ollama_page = OllamaPage(self.run, self.ops)
        self.machine_page = MachinePage(self.run, self.ops)
        self.models_page = ModelsPage(self.run, self.ops)
        self.pull_page = PullPage(self.run, self.ops)
        self.tiers_page = TiersPage(self.run, self.ops)
        self.claude_page = ClaudePage(self.run, self.ops)
        self.pages: list[SetupPage] = [
            self.ollama_page,
            self.machine_page,
            self.models_page,
            self.pull_page,
            self.tiers_page,
            self.claude_page,
        ]

        self.steps = QListWidget()
        self.steps.setObjectName("setupSteps")
        self.steps.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.steps.setFixedWidth(170)
        self.steps.setFrameShape(QFrame.Shape.NoFrame)
        self.steps.setSpacing(3)
        self.steps.setStyleSheet("QListWidget { background: transparent; }")
        for number, page in enumerate(self.pages, 1):
            item = QListWidgetItem(f"{number}. {page.title}")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.steps.addItem(item)
        self.heading = QLabel()
        self.heading.setObjectName("setupHeading")
        heading_font = QFont(self.heading.font())
        heading_font.setPointSizeF(heading_font.pointSizeF() * 1.35)
        heading_font.setBold(True)
        self.heading.setFont(heading_font)
        self.banner = Banner()
        self.stack = QStackedWidget()
        for page in self.pages:
            self.stack.addWidget(page)
            page.done_changed.connect(self._update_buttons)

        self.skip_setup = QPushButton("Skip setup")
        self.skip_setup.setObjectName("setupSkipAll")
        self.skip_setup.setToolTip("Close the setup; the Gateway panel's Set up… runs it again.")
        self.skip_setup.clicked.connect(self.reject)
        self.back_button = QPushButton("‹ Back")
        self.back_button.setObjectName("setupBack")
        self.back_button.clicked.connect(self._on_back_button_clicked)
        self.skip_step = QPushButton("Skip this step")
        self.skip_step.setObjectName("setupSkipStep")
        self.skip_step.clicked.connect(self._on_next_button_clicked)
        self.next_button = QPushButton("Next ›")
        self.next_button.setObjectName("setupNext")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self._on_next_button_clicked)
        self.finish_button = QPushButton("Finish")
        self.finish_button.setObjectName("setupFinish")
        self.finish_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_setup)
        buttons.addStretch(1)
        for button in (self.back_button, self.skip_step, self.next_button, self.finish_button):
            buttons.addWidget(button)

        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(self.banner)
        right.addWidget(self.stack, 1)
        body = QHBoxLayout()
        body.addWidget(self.steps)
        body.addSpacing(12)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)

        self.ollama_page.address_changed.connect(self.ollama_changed)
        self.tiers_page.retry_requested.connect(self._on_tiers_page_retry_requested)
        self._show(0)

    # ---------------------------------------------------------------- navigation
    @property
    def current(self) -> SetupPage:
        page = self.stack.currentWidget()
        assert isinstance(page, SetupPage)
        return page

    async def begin(self) -> None:
        """Enter the first step (the window calls this once the dialog is open)."""
        await self.go_to(self.ollama_page)

    async def go_to(self, page: SetupPage) -> None:
        """Show ``page`` and let it ask what it needs."""
        self.banner.clear()
        self._show(self.pages.index(page))
        await page.enter()

    async def next(self) -> None:
        """On to the next step that has anything to do (the current one may be unfinished)."""
        following = self._step_from(self.pages.index(self.current) + 1, 1)
        if following is not None:
            await self.go_to(following)

    async def back(self) -> None:
        previous = self._step_from(self.pages.index(self.current) - 1, -1)
        if previous is not None:
            await self.go_to(previous)

    async def shutdown(self) -> None:
        """Stop what the setup still has running (a probe; a download goes on in the queue)."""
        await self.ops.shutdown()

    def _step_from(self, index: int, direction: int) -> SetupPage | None:
        while 0 <= index < len(self.pages):
            if self.pages[index].applies():
                return self.pages[index]
            index += direction
        return None

    def _show(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        self.heading.setText(f"Step {index + 1} of {len(self.pages)}: {self.pages[index].title}")
        self._update_buttons()

    def _update_buttons(self, *_args: object) -> None:
        index = self.pages.index(self.current)
        for row, page in enumerate(self.pages):
            item = self.steps.item(row)
            mark = "✓" if page.done else ("▸" if row == index else "○")
            item.setText(f"{mark} {row + 1}. {page.title}")
            font = item.font()
            font.setBold(row == index)
            item.setFont(font)
        last = self._step_from(index + 1, 1) is None
        self.back_button.setEnabled(self._step_from(index - 1, -1) is not None)
        self.skip_step.setVisible(not last and not self.current.done)
        self.next_button.setVisible(not last)
        self.next_button.setEnabled(self.current.done)
        self.finish_button.setVisible(last)

    def _show_error(self, message: str) -> None:
        self.banner.show_message(message, "error")

    # ---------------------------------------------------------------- slots
    @async_slot()
    async def _on_next_button_clicked(self) -> None:
        await self.next()

    @async_slot()
    async def _on_back_button_clicked(self) -> None:
        await self.back()

    @async_slot()
    async def _on_tiers_page_retry_requested(self) -> None:
        chosen = self.run.chosen
        if chosen is not None:
            self.models_page.choose(chosen.model)
        await self.go_to(self.pull_page if self.pull_page.applies() else self.tiers_page)
