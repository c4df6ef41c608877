"""Reading the machine's hardware from the Qt thread without blocking it."""

from __future__ import annotations

import asyncio
import threading

from core.hardware.facts import HardwareInfo, read_hardware


async def probe_in_thread() -> HardwareInfo:
    """:func:`core.hardware.facts.read_hardware` in a short-lived thread.

    ``asyncio.to_thread`` on the qasync loop would start its pool of QThreads for this one read,
    and keep them until the loop closes.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[HardwareInfo] = loop.create_future()

    def deliver(result: HardwareInfo | None, error: BaseException | None) -> None:
        if future.done():  # the caller gave up waiting
            return
        if error is not None:
            future.set_exception(error)
        else:
            assert result is not None
            future.set_result(result)

    def work() -> None:
        try:
            info = read_hardware()
        except Exception as exc:
            loop.call_soon_threadsafe(deliver, None, exc)
        else:
            loop.call_soon_threadsafe(deliver, info, None)

    threading.Thread(target=work, name="gatedeck-hardware", daemon=True).start()
    return await future
