"""A fake ``ollama`` program for tests of GateDeck's managed server.

:func:`install_fake_ollama_exe` writes an executable named ``ollama`` into a folder. Run as
``ollama serve`` it appends one JSON line (its argv, pid and whole environment) to a log, then
replaces itself (same pid) with ``python -m tests.fakes.fake_ollama serve``, which listens where
``OLLAMA_HOST`` says and honours ``OLLAMA_CONTEXT_LENGTH`` / ``OLLAMA_KEEP_ALIVE`` like Ollama.
"""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = """#!{python}
import json, os, sys
with open({launch_log!r}, "a", encoding="utf-8") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "pid": os.getpid(), "env": dict(os.environ)}}) + "\\n")
{exit_early}
os.environ["PYTHONPATH"] = {repo!r} + os.pathsep + os.environ.get("PYTHONPATH", "")
os.execv(sys.executable, [sys.executable, "-m", "tests.fakes.fake_ollama", *sys.argv[1:]])
"""


@dataclass(frozen=True)
class FakeOllamaExe:
    """Where the fake ``ollama`` lives and what it recorded."""

    path: Path
    launch_log: Path

    def launches(self) -> list[dict[str, Any]]:
        """One entry per start: ``{"argv": [...], "pid": N, "env": {...}}``, oldest first."""
        if not self.launch_log.exists():
            return []
        return [json.loads(line) for line in self.launch_log.read_text(encoding="utf-8").splitlines()]


def install_fake_ollama_exe(folder: Path, *, exit_with: str | None = None) -> FakeOllamaExe:
    """Write the fake ``ollama`` into ``folder``; with ``exit_with`` it prints that and exits 1."""
    folder.mkdir(parents=True, exist_ok=True)
    launch_log = folder / "ollama-launches.jsonl"
    early = f"print({exit_with!r}, file=sys.stderr); sys.exit(1)" if exit_with else ""
    text = _SCRIPT.format(python=sys.executable, launch_log=str(launch_log), repo=str(REPO), exit_early=early)
    if sys.platform == "win32":  # a .cmd wrapper so shutil.which finds it on PATH
        script = folder / "ollama_fake.py"
        script.write_text(text, encoding="utf-8")
        path = folder / "ollama.cmd"
        path.write_text(f'@"{sys.executable}" "{script}" %*\r\n', encoding="utf-8")
    else:
        path = folder / "ollama"
        path.write_text(text, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FakeOllamaExe(path, launch_log)
