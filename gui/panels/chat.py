"""Test chat panel: try a mapping (or two side by side) through the gateway before Claude Code.

Each reply streams through the gateway with the official SDK of the chosen dialect
(:mod:`core.clients.chat`); in A/B mode the same prompt goes to both mappings at once, each
side keeping its own conversation. Stop cancels the streaming tasks, which closes the HTTP
streams. "Probe tool calls" runs :func:`core.clients.tool_probe.probe_tool_calls` for a side's mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.clients.chat import DIALECTS, ChatClient, Dialect, ReplyDone, TextDelta, error_text
from core.clients.tool_probe import ProbeResult
from gui.ops import BackgroundOps, async_slot
from gui.widgets.chat_side import ChatSide

ClientFactory = Callable[[], ChatClient]
Probe = Callable[[str], Awaitable[ProbeResult]]
NameSource = Callable[[], list[str]]
DIALECT_TITLES = {"openai": "OpenAI (/v1/chat/completions)", "anthropic": "Anthropic (/v1/messages)"}


class ChatPanel(QWidget):
    """Chat with one or two mappings.

    Args:
        client_factory: a fresh :class:`ChatClient` for the gateway as it is now (URL, key).
        probe: runs the tool-call probe for a mapping name.
        names: the names to offer in the mapping pickers (mappings, installed models).

    Signals:
        reply_finished(str, object): a side ("A"/"B") finished a reply; its ``ReplyDone`` or
            ``None`` when it was stopped or failed.
    """

    reply_finished = Signal(str, object)

    def __init__(
        self, client_factory: ClientFactory, probe: Probe, names: NameSource, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("chatPanel")
        self._client_factory = client_factory
        self._probe = probe
        self._names = names
        self.ops = BackgroundOps(self._show_error, owner="chat panel")
        self._replies: asyncio.Future[list[object]] | None = None
        self._sending = False

        self.dialect = QComboBox()
        self.dialect.setObjectName("chatDialect")
        for key in DIALECTS:
            self.dialect.addItem(DIALECT_TITLES[key], key)
        self.ab = QCheckBox("A/B: same prompt to two mappings")
        self.ab.setObjectName("chatAB")
        top = QHBoxLayout()
        top.addWidget(QLabel("<h2>Test chat</h2>"))
        top.addStretch(1)
        top.addWidget(QLabel("API:"))
        top.addWidget(self.dialect)
        top.addWidget(self.ab)

        self.system = QPlainTextEdit()
        self.system.setObjectName("chatSystem")
        self.system.setPlaceholderText("System prompt (optional)")
        self.system.setMaximumHeight(self.fontMetrics().height() * 3 + 12)

        self.side_a = ChatSide("A")
        self.side_b = ChatSide("B")
        self.side_b.hide()
        sides = QSplitter(Qt.Orientation.Horizontal)
        sides.addWidget(self.side_a)
        sides.addWidget(self.side_b)

        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("chatPrompt")
        self.prompt.setPlaceholderText("Message (Ctrl+Enter sends)")
        self.prompt.setMaximumHeight(self.fontMetrics().height() * 4 + 12)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("chatSend")
        self.send_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("chatStop")
        self.stop_button.setEnabled(False)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("chatClear")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("chatCopy")
        buttons = QVBoxLayout()
        for button in (self.send_button, self.stop_button, self.clear_button, self.copy_button):
            buttons.addWidget(button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.prompt, 1)
        bottom.addLayout(buttons)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.system)
        layout.addWidget(sides, 1)
        layout.addLayout(bottom)

        self.ab.toggled.connect(self._on_ab_toggled)
        self.send_button.clicked.connect(self._on_send_button_clicked)
        self.stop_button.clicked.connect(self.stop)
        self.clear_button.clicked.connect(self.clear)
        self.copy_button.clicked.connect(self.copy)
        self.side_a.probe_button.clicked.connect(lambda: self._on_probe_clicked(self.side_a))
        self.side_b.probe_button.clicked.connect(lambda: self._on_probe_clicked(self.side_b))
        QShortcut(QKeySequence("Ctrl+Return"), self.prompt, self._on_send_button_clicked)
        self.refresh_names()

    # ---------------------------------------------------------------- state
    @property
    def sides(self) -> list[ChatSide]:
        return [self.side_a, self.side_b] if self.ab.isChecked() else [self.side_a]

    @property
    def busy(self) -> bool:
        """A prompt is being answered (until its connections are closed too)."""
        return self._sending

    def set_dialect(self, dialect: Dialect) -> None:
        self.dialect.setCurrentIndex(DIALECTS.index(dialect))

    def refresh_names(self) -> None:
        names = self._names()
        self.side_a.set_names(names)
        self.side_b.set_names(names, first_pick=1)  # A/B starts with two different mappings

    # ---------------------------------------------------------------- actions (awaitable)
    async def send(self, prompt: str) -> None:
        """Send ``prompt`` to every active side and stream the replies until done or stopped."""
        prompt = prompt.strip()
        if not prompt or self.busy:
            return
        dialect: Dialect = self.dialect.currentData()
        system = self.system.toPlainText()
        self.prompt.clear()
        self._sending = True
        self._set_busy(True)
        try:
            async with self._client_factory() as client:
                self._replies = asyncio.gather(
                    *(self._reply(client, side, prompt, system, dialect) for side in self.sides),
                    return_exceptions=True,
                )
                with contextlib.suppress(asyncio.CancelledError):
                    await self._replies
        finally:
            self._replies = None
            self._sending = False
            self._set_busy(False)

    def stop(self) -> None:
        """Cancel the replies being streamed (what arrived so far stays)."""
        if self._replies is not None:
            self._replies.cancel()

    def clear(self) -> None:
        self.stop()
        for side in (self.side_a, self.side_b):
            side.clear()

    def copy(self) -> None:
        """Copy the conversation(s) to the clipboard."""
        parts = [
            f"[{side.label}: {side.model}]\n{side.text()}" if self.ab.isChecked() else side.text()
            for side in self.sides
        ]
        QGuiApplication.clipboard().setText("\n\n".join(parts))

    async def probe(self, side: ChatSide) -> ProbeResult:
        """Run the tool-call probe for ``side``'s mapping and show the verdict there."""
        side.probe_button.setEnabled(False)
        side.show_probe(None, f"Probing {side.model} for tool calls…")
        try:
            result = await self._probe(side.model)
        finally:
            side.probe_button.setEnabled(True)
        side.show_probe(result)
        return result

    # ---------------------------------------------------------------- internals
    async def _reply(
        self, client: ChatClient, side: ChatSide, prompt: str, system: str, dialect: Dialect
    ) -> None:
        side.begin_exchange(prompt)
        turns = list(side.turns)
        pieces: list[str] = []
        try:
            async for event in client.stream(side.model, turns, system=system, dialect=dialect):
                if isinstance(event, TextDelta):
                    pieces.append(event.text)
                    side.add_text(event.text)
                elif isinstance(event, ReplyDone):
                    side.finish(event.text, event.stats)
                    self.reply_finished.emit(side.label, event)
        except asyncio.CancelledError:
            side.finish("".join(pieces), None, "stopped")
            self.reply_finished.emit(side.label, None)
            raise
        except Exception as exc:  # shown in place: the chat is for finding out what breaks
            side.fail(error_text(exc))
            self.reply_finished.emit(side.label, None)

    def _set_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.dialect.setEnabled(not busy)
        self.ab.setEnabled(not busy)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_names()

    def _show_error(self, message: str) -> None:
        self.side_a.stats.setText(message)

    def _on_ab_toggled(self, checked: bool) -> None:
        self.side_b.setVisible(checked)

    @async_slot()
    async def _on_send_button_clicked(self) -> None:
        await self.send(self.prompt.toPlainText())

    @async_slot(object)
    async def _on_probe_clicked(self, side: ChatSide) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.probe(side)
