"""PySide6 6.12.0 on Python 3.11 drops references to None on void calls; the guard outlasts it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.core.gateway_support import REPO

SCRIPT = """
import sys
from gui.pyside_refcount import make_singletons_immortal
guarded = sys.argv[1] == "guarded"
if guarded:
    make_singletons_immortal()
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
for _ in range(20_000):  # far more than None's ~4000 references in a bare process
    label.setText("x")
print("survived")
"""


def run(mode: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_twenty_thousand_qt_calls_survive_with_the_guard() -> None:
    guarded = run("guarded")
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert guarded.stdout.strip() == "survived"
