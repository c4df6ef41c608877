"""Build GateDeck's wheel and use it the way ``pip install .`` / ``pipx install .`` users do.

The wheel is installed into a clean virtual environment that sees nothing of this checkout: it
runs from a temporary folder, and GateDeck's dependencies come from this test's own environment
as a plain path (so the editable install's finder for core/ and gui/ does not come along). In it
the window opens offscreen and paints with its icon, and ``gatedeck serve`` answers a chat
request from the fake Ollama.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import openai
import pytest

from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from core.version import __version__
from tests.core.gateway_support import Lines, free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.packaging.helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MODEL = "qwen2.5-coder:7b"  # what the first-run mappings send Claude's names to
START_TIMEOUT_S = 120  # LiteLLM's import alone takes ~10 s on two busy cores
BUILD_TIMEOUT_S = 300


# ---------------------------------------------------------------- the wheel, built once
@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of this checkout's files (the build writes into its tree)."""
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a file deleted but not yet committed is still listed
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    # The build backend comes from the lock (scripts/setup installs it), so no download here.
    backend = importlib.metadata.version("setuptools")
    assert int(backend.split(".")[0]) >= 77, (
        f"setuptools {backend} is older than the lock's: run scripts/setup --dev"
    )
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            ".",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert built.returncode == 0, (built.stdout + built.stderr)[-4000:]
    (path,) = out.glob("gatedeck-*.whl")
    return path


@dataclass(frozen=True)
class CleanEnv:
    python: Path
    gatedeck: Path
    cwd: Path

    def env(self) -> dict[str, str]:
        """This test's environment (its own user folders) without any path to this checkout."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        return env | {"QT_QPA_PLATFORM": "offscreen", "PYTHONNOUSERSITE": "1", "PYTHONSAFEPATH": "1"}


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> CleanEnv:
    """A new virtual environment with the wheel installed and no trace of this checkout."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # GateDeck's dependencies, already installed for the tests, as plain path entries: a .pth
    # line that names a folder adds it to sys.path without running the .pth files inside it
    # (one of which is the editable install's finder for this checkout).
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "gatedeck-test-dependencies.pth").write_text("\n".join(ours) + "\n", encoding="utf-8")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert pip.returncode == 0, (pip.stdout + pip.stderr)[-4000:]
    return CleanEnv(python, venv / "bin" / "gatedeck", tmp_path_factory.mktemp("elsewhere"))


def run_python(clean: CleanEnv, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(clean.python), "-c", code],
        cwd=clean.cwd,
        env=clean.env(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )


# ---------------------------------------------------------------- what the wheel holds
def repository_files(folder: str, pattern: str) -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / folder).rglob(pattern)
        if "__pycache__" not in path.parts
    }


def test_the_wheel_holds_core_gui_and_the_icons_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"gatedeck-{__version__}.dist-info"
        top_level = archive.read(f"{info}/top_level.txt").decode().split()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()

    tops = {PurePosixPath(name).parts[0] for name in names}
    assert tops == {"core", "gui", info}, sorted(tops)
    assert sorted(top_level) == ["core", "gui"]
    assert re.search(r"^gatedeck = core\.cli\.main:main$", entry_points, re.M), entry_points

    # Every module of core/ and gui/ (a package folder left out of pyproject.toml's list would
    # be missing here), and every icon, under the package that finds it.
    modules = repository_files("core", "*.py") | repository_files("gui", "*.py")
    assert modules - set(names) == set()
    icons = {f"gui/assets/icons/{name.split('/')[-1]}" for name in repository_files("resources", "*.svg")}
    assert "gui/assets/icons/gatedeck.svg" in icons
    assert icons - set(names) == set()
    assert not [n for n in names if re.match(r"(tests|bench|docs|packaging|scripts|resources)/", n)]
    size_kb = wheel.stat().st_size / 1000
    print(f"{wheel.name}: {size_kb:.0f} kB, {len(names)} files")


def test_the_clean_environment_imports_gatedeck_from_the_wheel(installed: CleanEnv) -> None:
    found = run_python(
        installed,
        "import importlib.util, json, sys, core, gui, gui.assets\n"
        "print(json.dumps({'core': core.__file__, 'gui': gui.__file__, 'assets': gui.assets.__file__,"
        " 'resources': importlib.util.find_spec('resources') is not None,"
        " 'finders': [type(f).__name__ for f in sys.meta_path]}))",
    )
    assert found.returncode == 0, found.stderr
    places = json.loads(found.stdout)
    site = installed.python.parent.parent
    for name in ("core", "gui", "assets"):
        assert Path(places[name]).is_relative_to(site), places
    assert not places["resources"], "a top-level 'resources' package was installed"
    assert not [f for f in places["finders"] if "Editable" in f], places["finders"]


# ---------------------------------------------------------------- using it
#: What Qt's offscreen platform says about itself (pyproject.toml's qt_log_ignore has the same).
OFFSCREEN_NOTES = {"This plugin does not support propagateSizeHints()"}

WINDOW = """
import json, sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv)
from gui.main_window import MainWindow
from gui.resources import icon

class FirstPaint(QObject):
    painted = False
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not self.painted:
            self.painted = True
            QTimer.singleShot(0, lambda: app.exit(0))
        return False

window = MainWindow({})
watch = FirstPaint()
window.installEventFilter(watch)
window.show()
QTimer.singleShot(60_000, lambda: app.exit(0))  # only a bound: the first paint ends it
app.exec()

def inked(qicon):
    image = qicon.pixmap(48, 48).toImage()
    return sum(image.pixelColor(x, y).alpha() > 0 for x in range(image.width()) for y in range(image.height()))

names = ["gatedeck", "tray-stopped", "tray-starting", "tray-running", "tray-failed"]
print(json.dumps({
    "painted": watch.painted,
    "window_icon": inked(window.windowIcon()),
    "icons": {name: inked(icon(name)) for name in names},
}))
"""


def test_the_window_opens_and_paints_with_its_icon(installed: CleanEnv) -> None:
    result = run_python(installed, WINDOW)
    assert result.returncode == 0, result.stderr[-4000:]
    # No Qt warning (a missing or unreadable icon would print one) but the offscreen platform's own.
    warnings = [line for line in result.stderr.splitlines() if line not in OFFSCREEN_NOTES]
    assert warnings == [], result.stderr
    shown = json.loads(result.stdout.splitlines()[-1])
    assert shown["painted"]
    assert shown["window_icon"] > 100, shown  # opaque pixels of the 48x48 GateDeck icon
    assert all(pixels > 0 for pixels in shown["icons"].values()), shown


@pytest.fixture
def serving(installed: CleanEnv, fake_ollama: FakeOllama) -> Iterator[tuple[int, str, Lines]]:
    """``gatedeck serve`` from the wheel against the fake Ollama: (port, master key, its output)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(installed.gatedeck), "--ollama-url", fake_ollama.url, "serve", "--port", str(port)],
        cwd=installed.cwd,
        env=installed.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = Lines(proc)
        lines.wait_for("GateDeck gateway running at", START_TIMEOUT_S)
        lines.wait_for("Claude Code:", 10)
        key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY)  # the key serve made (not printed)
        assert key
        yield port, key, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_serve_answers_a_chat_request_from_ollama(
    serving: tuple[int, str, Lines], fake_ollama: FakeOllama
) -> None:
    port, key, _ = serving
    fake_ollama.set_reply(MODEL, text="Hello from the wheel", chunks=3)
    chat = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, timeout=60, max_retries=0)
    reply = chat.chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello from the wheel"
    assert [body["model"] for body in fake_ollama.bodies("/api/chat")] == [MODEL]
