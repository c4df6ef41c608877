"""Pulls waiting their turn: one (or a few) download at a time, the rest queued in order.

Each :class:`PullJob` runs a :class:`core.ollama.pull.Pull` in its own asyncio task and reports every
progress record through the queue's signals, on the Qt thread. A cancelled or failed job can be
resumed: Ollama keeps the layers it already has, so the new pull continues where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import QObject, Signal

from core.errors import GateDeckError
from core.ollama.client import OllamaClient
from core.ollama.pull import Pull, PullPhase, PullProgress
from gui.ops import BackgroundOps

#: Builds the pull for a model (tests pass one with a short stall timeout).
PullFactory = Callable[[OllamaClient, str], Pull]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class PullJob:
    """One model to pull and where it stands.

    Attributes:
        model: the model name as the user typed it.
        host: the Ollama host it is pulled onto (empty: the queue's own client's host).
        state: queued, running, done, cancelled or failed.
        progress: the latest progress record (``None`` before the first).
        failure: why the latest reconnect happened (``stall``, ``drop``, ``refused``), if any.
        error: the message of the error that ended a failed job.
    """

    def __init__(self, model: str, host: str = "", client: Callable[[], OllamaClient] | None = None) -> None:
        self.model = model
        self.host = host
        #: the client of the job's host (``None``: the queue's)
        self.client = client
        self.state = JobState.QUEUED
        self.progress: PullProgress | None = None
        self.failure: str | None = None
        self.error = ""
        self.pull: Pull | None = None
        self.task: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()

    @property
    def active(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING)

    def __repr__(self) -> str:
        on = f" on {self.host}" if self.host else ""
        return f"PullJob({self.model!r}{on}, {self.state.value})"


class PullQueue(QObject):
    """Runs pulls in order, at most ``max_parallel`` at a time.

    Signals:
        added(object): a new :class:`PullJob` joined the queue.
        changed(object): a job's state or progress changed; carries the job.
        finished(object): a job ended (done, cancelled or failed); carries the job.
        removed(object): a finished job was taken off the list.
    """

    added = Signal(object)
    changed = Signal(object)
    finished = Signal(object)
    removed = Signal(object)

    def __init__(
        self,
        client: Callable[[], OllamaClient],
        pull_factory: PullFactory = Pull,
        max_parallel: int = 1,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ops = BackgroundOps(owner="pull queue")  # each pull reports its own failure on its job
        self._client = client
        self._factory = pull_factory
        self.max_parallel = max_parallel
        self._jobs: list[PullJob] = []
        self._closed = False

    @property
    def jobs(self) -> list[PullJob]:
        return list(self._jobs)

    def job(self, model: str, host: str = "") -> PullJob | None:
        return next((j for j in self._jobs if j.model == model and j.host == host), None)

    def enqueue(
        self, model: str, *, host: str = "", client: Callable[[], OllamaClient] | None = None
    ) -> PullJob:
        """Queue a pull of ``model`` (onto ``host``, through ``client``, when given); an active job
        for it is returned as is, an ended one resumes."""
        model = model.strip()
        if not model:
            raise ValueError("no model name given")
        job = self.job(model, host)
        if job is not None:
            if not job.active:
                self.resume(job)
            return job
        job = PullJob(model, host, client)
        self._jobs.append(job)
        self.added.emit(job)
        self._pump()
        return job

    def cancel(self, job: PullJob) -> None:
        """Stop a running job (Ollama keeps what it has) or take a queued one out of the line."""
        if job.state is JobState.RUNNING and job.pull is not None:
            job.pull.cancel()
        elif job.state is JobState.QUEUED:
            self._end(job, JobState.CANCELLED)

    def resume(self, job: PullJob) -> None:
        """Queue a cancelled or failed job again; it continues where it stopped."""
        if job.active or job.state is JobState.DONE:
            return
        job.state, job.error, job.failure = JobState.QUEUED, "", None
        job.finished = asyncio.Event()
        self.changed.emit(job)
        self._pump()

    def remove(self, job: PullJob) -> None:
        """Take an ended job off the list (an active one is cancelled first)."""
        if job.active:
            self.cancel(job)
        if job in self._jobs and not job.active:
            self._jobs.remove(job)
            self.removed.emit(job)

    async def wait(self, job: PullJob) -> PullJob:
        """Wait until ``job`` ends (done, cancelled or failed)."""
        await job.finished.wait()
        return job

    async def close(self) -> None:
        """Cancel every pull and wait for them to stop."""
        self._closed = True
        for job in self._jobs:
            if job.state is JobState.QUEUED:
                self._end(job, JobState.CANCELLED)
            elif job.pull is not None:
                job.pull.cancel()
        tasks = [j.task for j in self._jobs if j.task is not None and not j.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        await self.ops.shutdown()  # a pull stuck before its first read: stopped the hard way

    # ---------------------------------------------------------------- internals
    def _pump(self) -> None:
        if self._closed:
            return
        running = sum(1 for j in self._jobs if j.state is JobState.RUNNING)
        for job in self._jobs:
            if running >= self.max_parallel:
                break
            if job.state is JobState.QUEUED:
                job.state = JobState.RUNNING
                running += 1
                job.task = self.ops.run(self._run(job))
                self.changed.emit(job)

    async def _run(self, job: PullJob) -> None:
        try:
            pull = job.pull = self._factory((job.client or self._client)(), job.model)
            async for progress in pull:
                job.progress = progress
                if progress.phase is PullPhase.RESUMING:
                    job.failure = pull.last_failure
                self.changed.emit(job)
            done = job.progress is not None and job.progress.phase is PullPhase.DONE
            self._end(job, JobState.DONE if done else JobState.CANCELLED)
        except GateDeckError as exc:
            job.error = str(exc)
            self._end(job, JobState.FAILED)
        except asyncio.CancelledError:
            self._end(job, JobState.CANCELLED)
            raise
        except Exception as exc:  # shown on the job's row instead of vanishing into a log
            job.error = f"Unexpected problem while pulling {job.model}: {exc!r}"
            self._end(job, JobState.FAILED)
        finally:
            job.pull = None

    def _end(self, job: PullJob, state: JobState) -> None:
        job.state = state
        job.finished.set()
        self.changed.emit(job)
        self.finished.emit(job)
        self._pump()
