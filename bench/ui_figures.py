"""The UI rows of issue 9's table, for ``bench/gateway.py``: runs the UI benches as processes.

- ``bench.monitor_stall`` (per gateway mode): the longest main-thread stall while 8 streams
  pass the gateway, with the gateway panel in front and with the monitor in front, each beside
  a bare Qt process's heartbeat over the same seconds (the machine's own noise);
- ``bench.startup`` (once; it does not depend on the gateway): launch → first paint, GateDeck
  and a bare PySide6 window.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_STALL = re.compile(r"^\s*(?P<name>.+?)\s+longest stall\s+(?P<ms>[\d.]+) ms", re.MULTILINE)
_PAINT = re.compile(r"(bare PySide6 window|GateDeck window)\s+(\d+) ms")


@dataclass(frozen=True)
class Stalls:
    """Longest UI stalls (ms) with 8 streams, and the bare process's beside each."""

    gateway_front: float
    gateway_front_bare: float
    monitor_front: float
    monitor_front_bare: float


def _run(module: str, args: list[str], env: dict[str, str], what: str) -> str | None:
    print(f"[{what}] python -m {module} {' '.join(args)}...", file=sys.stderr, flush=True)
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=900,
        check=False,
    )
    if done.returncode:
        print(f"[{what}] failed: {done.stderr.decode()[-800:]}", file=sys.stderr)
        return None
    return done.stdout.decode()


def stalls(env: dict[str, str], mode: str, seconds: float = 12.0) -> Stalls | None:
    out = _run("bench.monitor_stall", ["--seconds", str(seconds)], env, mode)
    if out is None:
        return None
    found: dict[str, float] = {}
    last = ""
    for match in _STALL.finditer(out):
        name = match["name"].strip()
        key = f"{last} | bare" if name.startswith("a bare Qt process") else name
        found[key] = float(match["ms"])
        last = name
    try:
        return Stalls(
            gateway_front=found["8 streams, gateway in front"],
            gateway_front_bare=found["8 streams, gateway in front | bare"],
            monitor_front=found["8 streams, monitor in front"],
            monitor_front_bare=found["8 streams, monitor in front | bare"],
        )
    except KeyError:
        print(f"[{mode}] unexpected monitor_stall output:\n{out}", file=sys.stderr)
        return None


def startup(env: dict[str, str]) -> tuple[float, float] | None:
    """(GateDeck ms, bare ms), medians of bench.startup's runs."""
    out = _run("bench.startup", [], env, "startup")
    if out is None:
        return None
    paints = dict(_PAINT.findall(out))
    if len(paints) != 2:
        return None
    return float(paints["GateDeck window"]), float(paints["bare PySide6 window"])
