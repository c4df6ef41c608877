"""Keep PySide6 6.12.0 from killing the process on CPython 3.11 ("deallocating None").

PySide6 6.12.0 treats ``None``, ``True`` and ``False`` as immortal, as they are on CPython 3.12+,
and so on 3.11 it drops one reference to them on many calls: measured here, 1000
``QLabel.setText`` calls take 1000 references from ``None``, 300 emits of a connected signal take
300 from ``True``; 6.11.3 takes none. When a count reaches zero CPython aborts with
``none_dealloc`` / ``bool_dealloc``, after a few thousand calls without LiteLLM loaded and within
minutes of a live monitor with it.

:func:`make_singletons_immortal` does what CPython 3.12 does: it gives the three objects a
reference count no program can use up. CPython never frees them anyway, so nothing else
changes. It does nothing on 3.12+ or on a debug build (different object layout). The real fix is
a PySide6 without the bug (6.11.3, or a later 6.12.x) or CPython 3.12+.
"""

from __future__ import annotations

import ctypes
import sys

#: Far more references than any run could drop (CPython 3.12 uses a similar fixed value).
IMMORTAL = 1 << 60


def make_singletons_immortal() -> bool:
    """Pin the reference counts of ``None``, ``True`` and ``False``; True when it did."""
    if sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value = IMMORTAL
    return True
