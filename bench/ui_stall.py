"""How smooth the window stays while the gateway engine loads, the client SDKs warm up, and the
gateway starts and restarts.

Runs the real app controller offscreen against a fake Ollama, with a 5 ms heartbeat timer on the
UI thread; the longest gap between beats is the longest main-thread stall. Prints figures, asserts
nothing.

    .venv/bin/python -m bench.ui_stall
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")


class Heartbeat:
    """Records the gaps between 5 ms timer ticks on the UI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def take(self) -> list[float]:
        gaps, self.gaps = self.gaps, []
        self._last = time.perf_counter()
        return gaps


def describe(name: str, gaps: list[float]) -> str:
    if not gaps:
        return f"{name:34s} no ticks"
    ordered = sorted(gaps)
    p99 = ordered[int(len(ordered) * 0.99) - 1] if len(ordered) > 1 else ordered[0]
    return f"{name:34s} longest stall {max(gaps) * 1000:7.1f} ms   p99 gap {p99 * 1000:6.1f} ms   ticks {len(gaps)}"


async def scenario(controller: object, beat: Heartbeat) -> list[str]:
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    lines = []
    beat.take()
    began = time.perf_counter()
    await controller.gateway.load_engine(autostart=False)
    lines.append(describe(f"engine load ({time.perf_counter() - began:.1f} s)", beat.take()))
    began = time.perf_counter()
    warmup = controller.gateway.sdk_warmup  # the client SDKs, imported once the engine is in
    if warmup is not None:
        await asyncio.get_running_loop().run_in_executor(None, warmup.join)
    lines.append(describe(f"client SDK warm-up ({time.perf_counter() - began:.1f} s)", beat.take()))
    began = time.perf_counter()
    await controller.gateway.start()
    lines.append(describe(f"first start ({time.perf_counter() - began:.2f} s)", beat.take()))
    began = time.perf_counter()
    await controller.gateway.restart()
    lines.append(describe(f"restart ({time.perf_counter() - began:.2f} s)", beat.take()))
    await controller.quit()
    return lines


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="gatedeck-bench-")
    os.environ["GATEDECK_CONFIG_DIR"] = tmp
    os.environ["GATEDECK_SECRET_STORE"] = "file"
    import qasync
    from PySide6.QtWidgets import QApplication

    from core.config.first_run import open_installation
    from core.config.schema import GatewaySettings, OllamaBackend
    from gui.controller import AppController
    from tests.core.gateway_support import free_port
    from tests.fakes.fake_ollama import FakeOllama
    from tests.fakes.ollama_catalog import default_models

    app = QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with FakeOllama(models=default_models()) as fake:
        install = open_installation()
        install.loaded.config = install.config.model_copy(
            update={
                "backends": [OllamaBackend(name="local", url=fake.url)],
                "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
            }
        )
        controller = AppController(install, use_tray=False)
        controller.window.build_panels()  # as the app has them once its first frame is up
        controller.window.show()
        beat = Heartbeat()
        with loop:
            lines = loop.run_until_complete(scenario(controller, beat))
    print("UI main-thread stalls (5 ms heartbeat; lower is smoother)")
    for line in lines:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
