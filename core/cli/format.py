"""How the ``gatedeck models`` and ``gatedeck hw`` commands print things: tables, sizes,
durations, the pull progress line and the hardware summary."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Sequence
from typing import TextIO

from core.hardware.facts import HardwareInfo
from core.ollama.pull import PullPhase, PullProgress


def table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write(
            "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
        )


def human_bytes(n: float) -> str:
    """Decimal units, as ``ollama`` prints them: ``4.7 GB``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def human_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def ago(when: dt.datetime | None) -> str:
    if when is None:
        return "-"
    delta = dt.datetime.now(dt.UTC) - when
    return "in the future" if delta.total_seconds() < 0 else f"{human_duration(delta.total_seconds())} ago"


def until(when: dt.datetime | None, forever: bool) -> str:
    if forever:
        return "Forever"
    if when is None:
        return "-"
    left = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return "expired" if left <= 0 else f"{human_duration(left)} from now"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``24GiB`` → 25769803776, ``8G`` → 8000000000, ``512MiB``, or plain bytes."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 24GiB, 8GB, 512MiB)")
    number, prefix, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** " kmgt".index(prefix.lower() or " "))


def render_progress(p: PullProgress, width: int = 24) -> str:
    """One line for a terminal, e.g. ``qwen2.5-coder:7b [#######.....] 42% 2.0/4.7 GB 11.3 MB/s ETA 4m02s``."""
    if p.phase in (PullPhase.STARTING, PullPhase.MANIFEST):
        return f"{p.model}: pulling manifest"
    if p.phase is PullPhase.RESUMING:
        return f"{p.model}: no progress or connection lost, resuming (attempt {p.resumes + 1})"
    fraction = p.fraction or 0.0
    filled = int(fraction * width)
    bar = "#" * filled + "." * (width - filled)
    speed = f"{human_bytes(p.speed)}/s" if p.speed > 0 else "--/s"
    eta = f"ETA {human_duration(p.eta)}" if p.eta is not None and p.phase is PullPhase.DOWNLOADING else ""
    label = {PullPhase.VERIFYING: "verifying", PullPhase.WRITING: "writing", PullPhase.DONE: "done"}.get(
        p.phase, ""
    )
    sizes = f"{human_bytes(p.done)}/{human_bytes(p.total)}"
    return " ".join(x for x in (f"{p.model} [{bar}] {fraction:4.0%}", sizes, speed, eta, label) if x)


def describe_hardware(hw: HardwareInfo) -> list[str]:
    cpu = hw.cpu
    cores = f"{cpu.physical_cores or '?'} cores / {cpu.logical_cores or '?'} threads"
    lines = [
        f"CPU     {cpu.model} ({cores}, {cpu.architecture})",
        f"RAM     {human_bytes(hw.memory.total)} total, {human_bytes(hw.memory.available)} available",
    ]
    if hw.gpus:
        for gpu in hw.gpus:
            driver = f", driver {gpu.driver}" if gpu.driver else ""
            lines.append(
                f"GPU {gpu.index}   {gpu.vendor} {gpu.name}: {human_bytes(gpu.vram_total)} VRAM, "
                f"{human_bytes(gpu.vram_free)} free{driver}"
            )
    else:
        lines.append("GPU     none found (models run on the CPU)")
    lines += [f"note    {note}" for note in hw.notes]
    return lines
