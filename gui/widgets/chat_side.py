"""One side of the test chat: a mapping, its conversation, the streamed reply and its stats."""

from __future__ import annotations

from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.clients.chat import ChatTurn, ReplyStats
from core.clients.tool_probe import ProbeResult
from gui.palette import Tone, tint


class ChatSide(QWidget):
    """Mapping picker, transcript, reply stats and the tool-call probe for one mapping.

    The conversation (:attr:`turns`) belongs to the side, not to the mapping: picking another
    mapping keeps it, so the next reply comes from the new mapping with the same history.
    """

    def __init__(self, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self.turns: list[ChatTurn] = []
        self.mapping = QComboBox()
        self.mapping.setEditable(True)
        self.mapping.setObjectName(f"chatMapping{label}")
        self.mapping.setToolTip("A mapping name, or any name a client could ask for")
        self.probe_button = QPushButton("Probe tool calls")
        self.probe_button.setObjectName(f"chatProbe{label}")
        self.probe_button.setToolTip(
            "Send a conversation as big as Claude Code's (24 tools, about 20k tokens), three times, "
            "and check that real tool calls come back"
        )
        self.transcript = QPlainTextEdit()
        self.transcript.setObjectName(f"chatTranscript{label}")
        self.transcript.setReadOnly(True)
        self.transcript.setPlaceholderText("Replies stream here.")
        font = QFont(self.transcript.font())
        font.setPointSizeF(font.pointSizeF() * 1.05)
        self.transcript.setFont(font)
        self.stats = QLabel(" ")
        self.stats.setObjectName(f"chatStats{label}")
        self.probe_result = QLabel()
        self.probe_result.setObjectName(f"chatProbeResult{label}")
        self.probe_result.setWordWrap(True)
        self.probe_result.hide()

        top = QHBoxLayout()
        top.addWidget(QLabel(f"<b>{label}</b>"))
        top.addWidget(self.mapping, 1)
        top.addWidget(self.probe_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.probe_result)
        layout.addWidget(self.transcript, 1)
        layout.addWidget(self.stats)

    @property
    def model(self) -> str:
        return self.mapping.currentText().strip()

    def set_names(self, names: list[str], first_pick: int = 0) -> None:
        """Offer ``names`` in the picker, keeping what is typed or picked (at first: ``first_pick``)."""
        first = self.mapping.count() == 0 and not self.mapping.currentText()
        current = self.mapping.currentText()
        self.mapping.blockSignals(True)
        self.mapping.clear()
        self.mapping.addItems(names)
        if first and names:
            current = names[min(first_pick, len(names) - 1)]
        self.mapping.setCurrentText(current)
        self.mapping.blockSignals(False)

    # ---------------------------------------------------------------- transcript
    def begin_exchange(self, prompt: str) -> None:
        self.turns.append(ChatTurn("user", prompt))
        self._append(
            f"{'' if self.transcript.document().isEmpty() else chr(10) * 2}You: {prompt}\n\n{self.model}: "
        )
        self.stats.setText("waiting for the first token…")
        tint(self.stats, None)

    def add_text(self, text: str) -> None:
        self._append(text)

    def finish(self, reply: str, stats: ReplyStats | None, note: str = "") -> None:
        """End the exchange: keep ``reply`` in the conversation (a stopped one too)."""
        if reply:
            self.turns.append(ChatTurn("assistant", reply))
        if note:
            self._append(f" [{note}]")
        self.stats.setText(stats.summary() if stats else note or " ")

    def fail(self, message: str) -> None:
        """The request failed: the unanswered prompt leaves the conversation."""
        if self.turns and self.turns[-1].role == "user":
            self.turns.pop()
        self._append(f"[error: {message}]")
        self.stats.setText(message)
        tint(self.stats, Tone.BAD)

    def clear(self) -> None:
        self.turns.clear()
        self.transcript.clear()
        self.stats.setText(" ")
        tint(self.stats, None)

    def text(self) -> str:
        return self.transcript.toPlainText()

    def show_probe(self, result: ProbeResult | None, busy: str = "") -> None:
        if result is None:
            self.probe_result.setText(busy)
            tint(self.probe_result, None)
        else:
            mark = "✔" if result.passed else "✘"
            self.probe_result.setText(f"{mark} {result.mapping}: {result.verdict} ({result.seconds:.1f} s)")
            tint(self.probe_result, Tone.GOOD if result.passed else Tone.BAD)
        self.probe_result.show()

    def _append(self, text: str) -> None:
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.transcript.setTextCursor(cursor)
        self.transcript.ensureCursorVisible()
