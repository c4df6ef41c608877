"""The window notices Ollama coming and going, as a user starting and stopping it would."""

from __future__ import annotations

import pytest
import qasync
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import OllamaBackend
from core.hardware.facts import CpuInfo, HardwareInfo, MemoryInfo
from core.ollama.state import OllamaState
from gui.gateway_bridge import GatewayBridge
from gui.ollama_watch import OllamaWatcher
from gui.panels.hardware import HardwarePanel
from gui.panels.models import ModelsPanel
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import tiny_model
from tests.gui.conftest import Run
from tests.gui.qt_support import asyncio_like, dispose

MACHINE = HardwareInfo(CpuInfo("Test CPU", 4, 8, "x86_64"), MemoryInfo(16 * 2**30, 8 * 2**30))


def holder_for(install: Installation, fake: FakeOllama) -> ConfigHolder:
    """The config in use, with ``fake`` as its Ollama."""
    holder = ConfigHolder(install.store, install.config)
    holder.replace(holder.config.model_copy(update={"backends": [OllamaBackend(name="local", url=fake.url)]}))
    return holder


def shared_state(holder: ConfigHolder) -> OllamaState:
    """The one Ollama state the window shares, on a machine with :data:`MACHINE`."""
    return OllamaState(holder.config.backends[0].url, read_hardware=lambda: MACHINE)


def test_reachable_then_gone(qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, arun: Run) -> None:
    holder = holder_for(install, fake_ollama)
    watcher = OllamaWatcher(holder)
    seen: list[tuple[bool, str, object]] = []
    watcher.changed.connect(lambda ok, msg, models: seen.append((ok, msg, models)))

    assert arun(watcher.refresh()) is True
    ok, version, models = seen[-1]
    assert ok and version
    assert isinstance(models, list) and "qwen2.5-coder:7b" in models

    fake_ollama.stop()
    with qtbot.waitSignal(watcher.went_away, timeout=10_000) as gone:
        assert arun(watcher.refresh()) is False
    assert "ollama serve" in gone.args[0]
    assert seen[-1][0] is False and seen[-1][2] is None
    arun(watcher.stop())


@pytest.mark.timeout(60)
def test_an_idle_window_asks_ollama_once_per_poll_for_everyone(
    qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, arun: Run, loop: qasync.QEventLoop
) -> None:
    """The watcher and the Models and Hardware panels share one state: a poll while the Models
    panel is shown asks for the model list and the loaded models, nothing more; while it is
    hidden, the model list only. (Each panel used to ask on its own: 4 requests a poll.)"""
    holder = holder_for(install, fake_ollama)
    state = shared_state(holder)
    watcher = OllamaWatcher(holder, state)
    models = ModelsPanel(holder, state)
    hardware = HardwarePanel(holder, GatewayBridge(holder, install.secrets, install.master_key), state)

    def poll() -> None:
        assert arun(watcher.refresh())
        qtbot.waitUntil(
            lambda: not models.refreshing and not models.ops.pending and not hardware.ops.pending,
            timeout=10_000,
        )

    watcher.changed.connect(lambda ok, _msg, names: models.on_ollama_changed(ok, names))
    watcher.changed.connect(lambda ok, _msg, names: hardware.on_ollama_changed(ok, names))
    with asyncio_like(loop):
        try:
            models.show()
            poll()  # the first look: version, models, loaded models, each model's details once
            assert len(fake_ollama.bodies("/api/show")) == 2
            fake_ollama.clear_requests()
            for _ in range(3):
                poll()
            assert sorted(r.path for r in fake_ollama.requests) == ["/api/ps"] * 3 + ["/api/tags"] * 3
            models.hide()
            fake_ollama.clear_requests()
            for _ in range(3):
                poll()
            assert [r.path for r in fake_ollama.requests] == ["/api/tags"] * 3
        finally:
            arun(watcher.stop())
            arun(models.shutdown())
            arun(hardware.shutdown())
            arun(state.aclose())
            dispose(models)
            dispose(hardware)


def test_news_found_by_a_panel_reaches_the_window_before_the_next_poll(
    qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, arun: Run, loop: qasync.QEventLoop
) -> None:
    holder = holder_for(install, fake_ollama)
    state = shared_state(holder)
    watcher = OllamaWatcher(holder, state)
    models = ModelsPanel(holder, state)
    seen: list[object] = []
    watcher.changed.connect(lambda _ok, _msg, names: seen.append(names))
    with asyncio_like(loop):
        try:
            assert arun(watcher.refresh())
            fake_ollama.add_model(tiny_model())
            models.refresh_button.click()  # the user refreshes the Models panel; no poll runs
            qtbot.waitUntil(lambda: len(seen) == 2, timeout=10_000)
            assert isinstance(seen[-1], list) and "tinyllama:1.1b" in seen[-1]
            qtbot.waitUntil(lambda: not models.ops.pending, timeout=10_000)
            assert len(seen) == 2  # told once, not again by its own refresh
        finally:
            arun(watcher.stop())
            arun(models.shutdown())
            arun(state.aclose())
            dispose(models)
