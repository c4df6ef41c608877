"""Pulls as rows: model, phase, progress bar, bytes, speed, ETA, and their buttons."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from core.cli.format import human_bytes, human_duration
from core.ollama.pull import PullPhase, PullProgress
from gui.palette import Tone, tint
from gui.pull_queue import JobState, PullJob, PullQueue

#: Seconds without news before the row says it is waiting (the watchdog reconnects later).
QUIET_AFTER_S = 5.0

_RECONNECT_WORDS = {
    "stall": "stalled — reconnecting",
    "drop": "connection lost — reconnecting",
    "refused": "Ollama went away — reconnecting",
}
_PHASE_WORDS = {
    PullPhase.STARTING: "starting",
    PullPhase.MANIFEST: "pulling manifest",
    PullPhase.DOWNLOADING: "downloading",
    PullPhase.VERIFYING: "verifying sha256 digest",
    PullPhase.WRITING: "writing manifest",
    PullPhase.DONE: "done",
    PullPhase.CANCELLED: "cancelled",
}
BAR_SCALE = 1000  # QProgressBar holds an int; bytes overflow it, so the bar counts per mille


def phase_text(job: PullJob) -> str:
    """What the row says about where ``job`` stands."""
    progress = job.progress
    if job.state is JobState.QUEUED:
        return "queued — waiting for the pull ahead of it"
    if job.state is JobState.FAILED:
        return f"failed: {job.error}"
    if job.state is JobState.CANCELLED:
        return "cancelled — Resume continues where it stopped"
    if job.state is JobState.DONE:
        return "done"
    if progress is None:
        return "starting"
    if progress.phase is PullPhase.RESUMING:
        words = _RECONNECT_WORDS.get(job.failure or "", "reconnecting")
        return f"{words} (attempt {progress.resumes})"
    words = _PHASE_WORDS.get(progress.phase, progress.phase.value)
    if progress.resumes:
        words += f" (reconnected {progress.resumes}×)"
    return words


def numbers_text(progress: PullProgress | None) -> str:
    """``1.2 GB / 4.7 GB · 38.0 MB/s · ETA 1m32s``."""
    if progress is None or not progress.total:
        return ""
    parts = [f"{human_bytes(progress.done)} / {human_bytes(progress.total)}"]
    if progress.speed > 0 and progress.phase is PullPhase.DOWNLOADING:
        parts.append(f"{human_bytes(progress.speed)}/s")
        if progress.eta is not None:
            parts.append(f"ETA {human_duration(progress.eta)}")
    return " · ".join(parts)


class PullWidget(QWidget):
    """A row for one :class:`PullJob`; its buttons act through the queue."""

    def __init__(self, job: PullJob, queue: PullQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"pull:{job.model}")
        self.job = job
        self._queue = queue
        self._last_news = time.monotonic()

        on = f" on {job.host}" if job.host else ""
        self.name = QLabel(f"<b>{job.model}</b>{on}")
        self.phase = QLabel()
        self.phase.setObjectName("pullPhase")
        self.phase.setWordWrap(True)
        self.numbers = QLabel()
        self.numbers.setObjectName("pullNumbers")
        self.bar = QProgressBar()
        self.bar.setObjectName("pullBar")
        self.bar.setRange(0, BAR_SCALE)
        self.bar.setFormat("%p%")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelPull")
        self.cancel_button.clicked.connect(lambda: self._queue.cancel(self.job))
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumePull")
        self.resume_button.clicked.connect(lambda: self._queue.resume(self.job))
        self.remove_button = QPushButton("Clear")
        self.remove_button.setObjectName("removePull")
        self.remove_button.setToolTip("Take this row off the list")
        self.remove_button.clicked.connect(lambda: self._queue.remove(self.job))

        top = QHBoxLayout()
        top.addWidget(self.name)
        top.addWidget(self.phase, 1)
        top.addWidget(self.numbers)
        bottom = QHBoxLayout()
        bottom.addWidget(self.bar, 1)
        for button in (self.cancel_button, self.resume_button, self.remove_button):
            bottom.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(bottom)

        # Between progress records the row would look frozen; say how long Ollama has been silent.
        self._quiet = QTimer(self)
        self._quiet.setInterval(1000)
        self._quiet.timeout.connect(self._on_quiet_timeout)
        self.update_from_job()

    def update_from_job(self) -> None:
        job = self.job
        self._last_news = time.monotonic()
        progress = job.progress
        fraction = progress.fraction if progress is not None else None
        if job.state is JobState.DONE:
            fraction = 1.0
        if fraction is None and job.state is JobState.RUNNING:
            self.bar.setRange(0, 0)  # busy: no layer announced yet
        else:
            self.bar.setRange(0, BAR_SCALE)
            self.bar.setValue(round((fraction or 0.0) * BAR_SCALE))
        self.phase.setText(phase_text(job))
        tone = {JobState.FAILED: Tone.BAD, JobState.DONE: Tone.GOOD}.get(job.state)
        if progress is not None and progress.phase is PullPhase.RESUMING and job.active:
            tone = Tone.WARNING
        tint(self.phase, tone)
        self.numbers.setText(numbers_text(progress) if job.state is not JobState.FAILED else "")
        self.cancel_button.setVisible(job.active)
        self.resume_button.setVisible(job.state in (JobState.CANCELLED, JobState.FAILED))
        self.remove_button.setVisible(not job.active)
        if job.state is JobState.RUNNING:
            if not self._quiet.isActive():
                self._quiet.start()
        else:
            self._quiet.stop()

    def _on_quiet_timeout(self) -> None:
        progress = self.job.progress
        quiet = time.monotonic() - self._last_news
        if progress is None or progress.phase is not PullPhase.DOWNLOADING or quiet < QUIET_AFTER_S:
            return
        self.phase.setText(f"{phase_text(self.job)} — no data for {quiet:.0f} s, waiting…")


class PullList(QScrollArea):
    """The queue's jobs as rows, as tall as the first three; hidden when there are none."""

    def __init__(self, queue: PullQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pullScroll")
        self._queue = queue
        self.rows: dict[PullJob, PullWidget] = {}
        self._inner = QWidget()
        self._inner.setObjectName("pullList")
        self._layout = QVBoxLayout(self._inner)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(0)
        self._layout.addStretch(1)
        self.setWidgetResizable(True)
        self.setWidget(self._inner)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.hide()
        queue.added.connect(self._on_queue_added)
        queue.changed.connect(self._on_queue_changed)
        queue.removed.connect(self._on_queue_removed)

    def _on_queue_added(self, job: PullJob) -> None:
        row = PullWidget(job, self._queue)
        self.rows[job] = row
        self._layout.insertWidget(self._layout.count() - 1, row)
        self._fit()

    def _on_queue_changed(self, job: PullJob) -> None:
        row = self.rows.get(job)
        if row is not None:
            row.update_from_job()

    def _on_queue_removed(self, job: PullJob) -> None:
        row = self.rows.pop(job, None)
        if row is not None:
            self._layout.removeWidget(row)
            row.deleteLater()
        self._fit()

    def _fit(self) -> None:
        shown = list(self.rows.values())[:3]
        self.setVisible(bool(shown))
        self.setFixedHeight(sum(row.sizeHint().height() for row in shown) + 2 * self.frameWidth())
