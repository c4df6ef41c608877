"""Removing debug information from the bundle's shared libraries (Linux).

Some wheels and the Python library itself ship with DWARF debug sections (libpython alone
carries 17 MB of them). ``strip --strip-debug`` removes only those sections, which the loader
never reads. PyInstaller's own ``strip=True`` strips everything, and breaks libraries that
auditwheel rewrote with patchelf (NumPy's OpenBLAS in ``numpy.libs/`` then fails to load), so
files in ``*.libs`` folders are left alone.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ELF_MAGIC = b"\x7fELF"


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def has_debug_info(path: Path, readelf: str = "readelf") -> bool:
    sections = subprocess.run(
        [readelf, "--section-headers", "--wide", str(path)], capture_output=True, text=True, check=False
    ).stdout
    return " .debug_info " in sections


def strip_debug(bundle: Path) -> tuple[int, int]:
    """Strip debug sections from ELF files under ``bundle``. Returns (files stripped, bytes saved).

    Does nothing (0, 0) where ``strip`` or ``readelf`` is missing: the bundle is then only larger.
    """
    strip, readelf = shutil.which("strip"), shutil.which("readelf")
    if strip is None or readelf is None:
        return 0, 0
    count = saved = 0
    for path in sorted(bundle.rglob("*")):
        if not path.is_file() or path.is_symlink() or any(p.endswith(".libs") for p in path.parts):
            continue
        if not _is_elf(path) or not has_debug_info(path, readelf):
            continue
        before = path.stat().st_size
        subprocess.run([strip, "--strip-debug", str(path)], check=True)
        count += 1
        saved += before - path.stat().st_size
    return count, saved
