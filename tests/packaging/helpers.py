"""Test helpers for packaging/: loading its build helpers (a folder of scripts, not an importable
package: ``import packaging`` is PyPA's library) and reading the .desktop entries it writes."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load_packaging_module(name: str) -> ModuleType:
    """``load_packaging_module("prune")`` → packaging/prune.py as a module."""
    qualified = f"gatedeck_packaging_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- reading .desktop files
def desktop_string(value: str) -> str:
    """A Desktop Entry string value with its escapes undone (\\s, \\n, \\t, \\r, \\\\)."""
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), value)


def desktop_exec(value: str) -> list[str]:
    """An Exec value as the argument list a desktop launches: string escapes, then the spec's
    quoting (inside double quotes a backslash escapes " ` $ and itself), then %% → %."""
    text = desktop_string(value)
    args: list[str] = []
    current: list[str] = []
    quoted = started = False
    i = 0
    while i < len(text):
        char = text[i]
        if quoted and char == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
            current.append(text[i + 1])
            i += 1
        elif char == '"':
            quoted, started = not quoted, True
        elif char == " " and not quoted:
            if current or started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
        i += 1
    assert not quoted, f"unterminated quote in {value!r}"
    if current or started:
        args.append("".join(current))
    return [arg.replace("%%", "%") for arg in args]


def entry_keys(entry: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in entry.splitlines() if line.startswith(f"{key}=")]
