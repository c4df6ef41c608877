"""Launch → first paint of GateDeck's window, next to a bare PySide6 window, in one run.

Each figure is a fresh process, measured from the process's creation to the first paint event
of its main window (offscreen platform). Prints the median of several launches; asserts nothing.

    .venv/bin/python -m bench.startup [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD_COMMON = """
import os, sys, time, psutil
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
born = psutil.Process().create_time()

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(f"PAINTED {time.time() - born:.4f}", flush=True)
            os._exit(0)
        return False
"""

BARE = (
    CHILD_COMMON
    + """
app = QApplication(sys.argv)
from PySide6.QtWidgets import QWidget
w = QWidget(); w.resize(1100, 720)
spy = FirstPaint(); w.installEventFilter(spy)
w.show()
app.exec()
"""
)

GATEDECK = (
    CHILD_COMMON
    + """
import asyncio, qasync
app = QApplication(sys.argv)
from core.config.first_run import open_installation
from gui.controller import AppController
loop = qasync.QEventLoop(app); asyncio.set_event_loop(loop)
install = open_installation()
controller = AppController(install, use_tray=False)
spy = FirstPaint(); controller.window.installEventFilter(spy)
controller.start()
with loop:
    loop.run_forever()
"""
)


def launch(code: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    for line in done.stdout.splitlines():
        if line.startswith("PAINTED "):
            return float(line.split()[1])
    raise RuntimeError(f"no paint reported:\n{done.stdout}\n{done.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        GATEDECK_CONFIG_DIR=tempfile.mkdtemp(prefix="gatedeck-startup-"),
        GATEDECK_SECRET_STORE="file",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    launch(GATEDECK, env)  # first run writes the config and warms the disk cache
    bare = [launch(BARE, env) for _ in range(args.runs)]
    gatedeck = [launch(GATEDECK, env) for _ in range(args.runs)]
    b, g = statistics.median(bare), statistics.median(gatedeck)
    print(f"launch → first paint, median of {args.runs} (offscreen)")
    print(f"  bare PySide6 window   {b * 1000:7.0f} ms")
    print(f"  GateDeck window       {g * 1000:7.0f} ms   ratio {g / b:.2f} (target ≤ 2.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
