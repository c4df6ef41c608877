"""Pulling a model: progress records, cancel, a stall watchdog and a disk-space guard.

A :class:`Pull` is an async iterator of :class:`PullProgress` records::

    pull = Pull(client, "qwen2.5-coder:7b")
    async for progress in pull:          # pull.cancel() from elsewhere ends it cleanly
        bar.show(progress.done, progress.total, progress.speed, progress.eta)

Ollama keeps partly downloaded layers, so stopping (cancel, a dropped connection, a stall) and
pulling again resumes where it stopped. The watchdog uses that: when no byte arrives for
``stall_timeout`` seconds it closes the stream and asks again, a few times, before giving up with
:class:`~core.errors.PullStalled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.errors import (
    InsufficientDisk,
    ModelNotInLibrary,
    OllamaError,
    OllamaUnreachable,
    PullError,
    PullInterrupted,
    PullStalled,
)
from core.ollama.client import OllamaClient, map_ollama_error
from core.ollama.storage import free_bytes, is_local_url, ollama_models_dir
from core.threads import in_thread

if TYPE_CHECKING:  # loaded with the client (core.ollama.client imports them when first used)
    import ollama

#: Room left free beyond the download itself (Ollama writes a manifest, the OS needs air).
DISK_MARGIN = 512 * 1024 * 1024


class PullPhase(StrEnum):
    STARTING = "starting"
    MANIFEST = "manifest"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    WRITING = "writing"
    RESUMING = "resuming"  # reconnecting after a stall or a dropped connection
    DONE = "done"
    CANCELLED = "cancelled"


# How far along each phase is; reaching a later phase counts as progress for the watchdog.
_RANK = {PullPhase.MANIFEST: 1, PullPhase.DOWNLOADING: 2, PullPhase.VERIFYING: 3, PullPhase.WRITING: 4}


@dataclass(frozen=True)
class PullProgress:
    """One moment of a pull.

    Attributes:
        done: bytes downloaded, summed over every layer announced so far (never decreases).
        total: bytes of every layer announced so far (grows as Ollama announces layers).
        speed: smoothed download speed in bytes per second (0.0 until it can be measured).
        eta: seconds left at that speed, or ``None`` when unknown.
        status: Ollama's own status line, e.g. ``pulling 6a0746a1ec1a``.
        resumes: how many times the pull reconnected so far.
    """

    model: str
    phase: PullPhase
    done: int
    total: int
    speed: float
    eta: float | None
    status: str
    resumes: int

    @property
    def fraction(self) -> float | None:
        """0.0–1.0 of the bytes announced so far, or ``None`` before any layer is known."""
        return min(1.0, self.done / self.total) if self.total > 0 else None


class SpeedMeter:
    """Download speed smoothed over time.

    Bytes are summed over windows of at least ``window`` seconds; each window's rate feeds an
    exponential moving average whose weight depends on the window's length (time constant
    ``tau``), so bursty progress lines do not make the speed jump about.
    """

    def __init__(self, window: float = 0.5, tau: float = 4.0) -> None:
        self.window = window
        self.tau = tau
        self._speed: float | None = None
        self._start: float | None = None
        self._bytes = 0

    @property
    def speed(self) -> float:
        return self._speed or 0.0

    def reset(self, now: float) -> None:
        """Start a new window (after a reconnect the gap is not download time)."""
        self._start = now
        self._bytes = 0

    def add(self, nbytes: int, now: float) -> float:
        if self._start is None:
            self.reset(now)
        assert self._start is not None
        self._bytes += nbytes
        elapsed = now - self._start
        if elapsed >= self.window:
            rate = self._bytes / elapsed
            if self._speed is None:
                self._speed = rate
            else:
                self._speed += (1 - math.exp(-elapsed / self.tau)) * (rate - self._speed)
            self.reset(now)
        return self.speed


class _Failure(Exception):
    """An attempt ended in a way a new attempt may fix (stall, dropped or refused connection)."""

    def __init__(self, kind: Literal["stall", "drop", "refused"], detail: str = "") -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


_END = object()


class Pull:
    """A cancellable, self-resuming pull of one model. Iterate it once.

    Args:
        client: the Ollama server to pull on.
        model: e.g. ``llama3.2:3b``.
        stall_timeout: seconds without a new byte (or a later phase) before reconnecting.
        finish_timeout: the same limit once every byte is in: Ollama then checks the digests of
            all layers (minutes for a large model on a slow disk) without a word.
        max_resumes: reconnects in a row that make no progress before giving up.
        resume_delay: seconds to wait before reconnecting.
        models_dir: where Ollama writes models, to check free space; ``"auto"`` finds it when the
            server is on this machine; ``None`` skips the check.
        expected_size: bytes the model is expected to need, when known, for a check before the
            first byte; layers Ollama announces are checked as they come in any case.
        disk_margin: bytes to leave free beyond the download.
        disk_check_interval: seconds between free-space checks while bytes flow.
        speed_meter: how speed is smoothed (default: :class:`SpeedMeter` with its defaults).
        clock: monotonic clock (seconds).
    """

    def __init__(
        self,
        client: OllamaClient,
        model: str,
        *,
        stall_timeout: float = 60.0,
        finish_timeout: float = 1800.0,
        max_resumes: int = 3,
        resume_delay: float = 1.0,
        models_dir: Path | Literal["auto"] | None = "auto",
        expected_size: int | None = None,
        disk_margin: int = DISK_MARGIN,
        disk_check_interval: float = 5.0,
        speed_meter: SpeedMeter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.model = model
        self.stall_timeout = stall_timeout
        self.finish_timeout = finish_timeout
        self.max_resumes = max_resumes
        self.resume_delay = resume_delay
        if models_dir == "auto":
            models_dir = ollama_models_dir() if is_local_url(client.url) else None
        self.models_dir: Path | None = models_dir
        self.expected_size = expected_size
        self.disk_margin = disk_margin
        self.disk_check_interval = disk_check_interval
        self._clock = clock
        self._cancel = asyncio.Event()
        self._layers: dict[str, list[int]] = {}  # digest → [completed, total]
        self._seen: set[str] = set()  # layers seen in the current attempt
        self._meter = speed_meter or SpeedMeter()
        self._phase = PullPhase.STARTING
        self._rank = 0
        self._status = ""
        self._resumes = 0
        self._last: PullProgress | None = None
        self._last_disk_check = -math.inf
        self._last_failure: Literal["stall", "drop", "refused"] | None = None

    # ------------------------------------------------------------------ public
    def cancel(self) -> None:
        """Stop reading; the iteration ends with a ``CANCELLED`` record. Ollama keeps what it has."""
        self._cancel.set()

    @property
    def last(self) -> PullProgress | None:
        return self._last

    @property
    def last_failure(self) -> Literal["stall", "drop", "refused"] | None:
        """Why the latest reconnect happened: no bytes for too long (``stall``), the stream was
        cut (``drop``) or Ollama stopped answering (``refused``); ``None`` before any."""
        return self._last_failure

    def __aiter__(self) -> AsyncIterator[PullProgress]:
        return self._run()

    async def run(self) -> PullProgress:
        """Pull to the end and return the last record (``DONE`` or ``CANCELLED``)."""
        async for _ in self:
            pass
        assert self._last is not None
        return self._last

    # ------------------------------------------------------------------ the loop
    async def _run(self) -> AsyncIterator[PullProgress]:
        import ollama

        await self._check_disk(self.expected_size or 0)
        yield self._snapshot()
        failures = 0
        while True:
            progressed = False
            queue: asyncio.Queue[object] = asyncio.Queue()
            reader = asyncio.create_task(self._read(queue), name=f"pull {self.model}")
            self._seen.clear()
            self._meter.reset(self._clock())
            last_progress = self._clock()
            try:
                while True:
                    item = await self._next(queue, self._stall_limit() - (self._clock() - last_progress))
                    if item is None:
                        yield self._snapshot(PullPhase.CANCELLED)
                        return
                    if isinstance(item, BaseException):
                        raise item
                    if item is _END:
                        raise _Failure("drop", "the stream ended before Ollama said 'success'")
                    assert isinstance(item, ollama.ProgressResponse)
                    new_layer, moved = self._absorb(item)
                    if moved:
                        progressed, last_progress = True, self._clock()
                    if new_layer or (
                        moved and self._clock() - self._last_disk_check >= self.disk_check_interval
                    ):
                        await self._check_disk(self._remaining())
                    progress = self._snapshot()
                    yield progress
                    if progress.phase is PullPhase.DONE:
                        return
            except _Failure as failure:
                self._last_failure = failure.kind
                failures = 1 if progressed else failures + 1
                if failures > self.max_resumes:
                    raise self._give_up(failure, failures) from None
            finally:
                reader.cancel()
                await asyncio.wait([reader])
            self._resumes += 1
            yield self._snapshot(PullPhase.RESUMING)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.resume_delay):
                    await self._cancel.wait()
            if self._cancel.is_set():
                yield self._snapshot(PullPhase.CANCELLED)
                return

    async def _read(self, queue: asyncio.Queue[object]) -> None:
        """Feed Ollama's progress lines (or the error that ended them) into ``queue``."""
        try:
            stream = await self.client.official.pull(self.model, stream=True)
            try:
                async for part in stream:
                    queue.put_nowait(part)
            finally:
                if isinstance(stream, AsyncGenerator):  # close the HTTP response now, not at GC
                    await stream.aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            queue.put_nowait(self._classify(exc))
        else:
            queue.put_nowait(_END)

    async def _next(self, queue: asyncio.Queue[object], remaining: float) -> object | None:
        """The next queued item; ``None`` when cancelled; raises ``_Failure`` on a stall."""
        if self._cancel.is_set():
            return None
        if not queue.empty():
            return queue.get_nowait()
        if remaining <= 0:
            raise _Failure("stall", f"no progress for {self._stall_limit():g} s")
        getter = asyncio.ensure_future(queue.get())
        cancelled = asyncio.ensure_future(self._cancel.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, cancelled}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in (getter, cancelled):
                waiter.cancel()
            await asyncio.wait([getter, cancelled])
        if cancelled in done:
            return None
        if getter in done:
            return getter.result()
        raise _Failure("stall", f"no progress for {self._stall_limit():g} s")

    def _stall_limit(self) -> float:
        finishing = self._phase in (PullPhase.VERIFYING, PullPhase.WRITING)
        return self.finish_timeout if finishing else self.stall_timeout

    # ------------------------------------------------------------------ bookkeeping
    def _absorb(self, part: ollama.ProgressResponse) -> tuple[bool, bool]:
        """Take in one progress line; returns (a new layer was announced, progress was made)."""
        self._status = part.status or ""
        self._phase = _phase_of(self._status, part.digest, self._phase)
        moved = False
        rank = _RANK.get(self._phase, 5 if self._phase is PullPhase.DONE else 0)
        if rank > self._rank:  # a phase reached for the first time (not again after a resume)
            self._rank, moved = rank, True
        new_layer = False
        if part.digest and part.total:
            completed = int(part.completed or 0)
            layer = self._layers.get(part.digest)
            if layer is None:
                layer = self._layers[part.digest] = [0, int(part.total)]
                new_layer = True
            layer[1] = int(part.total)
            gained = max(0, completed - layer[0])
            if part.digest in self._seen:
                self._meter.add(gained, self._clock())
            else:  # first sighting in this attempt: bytes Ollama already had, not downloaded now
                self._seen.add(part.digest)
            if gained:
                layer[0] += gained
                moved = True
        return new_layer, moved

    def _remaining(self) -> int:
        return sum(total - done for done, total in self._layers.values())

    def _snapshot(self, phase: PullPhase | None = None) -> PullProgress:
        phase = phase or self._phase
        total = sum(t for _, t in self._layers.values())
        done = total if phase is PullPhase.DONE else sum(d for d, _ in self._layers.values())
        speed = self._meter.speed
        if total and done >= total:
            eta: float | None = 0.0
        elif speed > 0 and total:
            eta = (total - done) / speed
        else:
            eta = None
        self._last = PullProgress(self.model, phase, done, total, speed, eta, self._status, self._resumes)
        return self._last

    async def _check_disk(self, needed: int) -> None:
        if self.models_dir is None:
            return
        self._last_disk_check = self._clock()
        free = await in_thread(free_bytes, self.models_dir)
        if needed + self.disk_margin > free:
            raise InsufficientDisk(self.model, needed + self.disk_margin, free, str(self.models_dir))

    # ------------------------------------------------------------------ errors
    def _classify(self, exc: Exception) -> Exception:
        """What the reader saw, as a retryable ``_Failure`` or one of GateDeck's errors."""
        import httpx
        import ollama

        if isinstance(exc, ollama.ResponseError) and exc.status_code == -1:
            return _streamed_error(self.model, str(exc.error))
        if isinstance(
            exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | ConnectionResetError
        ):
            return _Failure("drop", str(exc) or type(exc).__name__)
        if isinstance(exc, httpx.ConnectError | ConnectionError) and self._resumes > 0:
            return _Failure("refused", str(exc) or type(exc).__name__)
        return map_ollama_error(exc, self.client.url, model=None, what=f"pulling {self.model}")

    def _give_up(self, failure: _Failure, attempts: int) -> OllamaError:
        if failure.kind == "stall":
            return PullStalled(self.model, self._stall_limit(), attempts)
        if failure.kind == "refused":
            return OllamaUnreachable(self.client.url, f"it went away while pulling {self.model}")
        return PullInterrupted(self.model, attempts, failure.detail)


def _phase_of(status: str, digest: str | None, current: PullPhase) -> PullPhase:
    lowered = status.lower()
    if lowered == "success":
        return PullPhase.DONE
    if lowered.startswith("pulling manifest"):
        return PullPhase.MANIFEST
    if lowered.startswith("verifying"):
        return PullPhase.VERIFYING
    if lowered.startswith(("writing", "removing")):
        return PullPhase.WRITING
    if digest or lowered.startswith(("pulling", "downloading")):
        return PullPhase.DOWNLOADING
    return current


def _streamed_error(model: str, text: str) -> PullError:
    """An ``{"error": ...}`` line in the pull stream, in plain words."""
    lowered = text.lower()
    if "file does not exist" in lowered or "manifest unknown" in lowered or "not found" in lowered:
        return ModelNotInLibrary(model, text)
    if "no space left" in lowered:
        return PullError(
            model,
            f"Ollama ran out of disk space while pulling '{model}' ({text}). Free some space and pull again.",
        )
    return PullError(
        model, f"Ollama could not pull '{model}': {text}. Check the name, your connection and the Ollama log."
    )
