"""Reading the machine's hardware from the Qt thread without blocking it."""

from __future__ import annotations

from core.hardware.facts import HardwareInfo, read_hardware
from core.threads import in_thread


async def probe_in_thread() -> HardwareInfo:
    """:func:`core.hardware.facts.read_hardware` in a short-lived thread of its own."""
    return await in_thread(read_hardware, name="gatedeck-hardware")
