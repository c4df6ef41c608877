"""The window and a managed `ollama serve`, as a user who asked GateDeck to run Ollama would see it."""

from __future__ import annotations

import psutil
import pytest
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.schema import GatewaySettings, OllamaBackend, OllamaServerSettings
from gui.controller import AppController
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_ollama_exe import FakeOllamaExe
from tests.gui.conftest import Run

pytestmark = pytest.mark.timeout(120)


def launch(install: Installation, url: str) -> AppController:
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
            "ollama_server": OllamaServerSettings(managed=True),
        }
    )
    install.store.save(config)
    install.loaded.config = config
    app = AppController(install, use_tray=False)
    app.start()
    return app


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_managed_ollama_starts_with_the_window_and_stops_when_it_quits(
    install: Installation, fake_ollama_exe: FakeOllamaExe, qtbot: QtBot, arun: Run
) -> None:
    app = launch(install, f"http://127.0.0.1:{free_port()}")  # nothing answers there yet
    try:
        qtbot.waitUntil(lambda: app.watcher.reachable is True, timeout=60_000)
        assert app.hardware_panel.server.owned
        (started,) = fake_ollama_exe.launches()
        assert started["argv"] == ["serve"]
    finally:
        arun(app.quit(), timeout_ms=60_000)
    assert gone(started["pid"]), "GateDeck stops the server it started"


def test_an_ollama_already_running_is_used_and_left_alone(
    install: Installation, fake_ollama: FakeOllama, fake_ollama_exe: FakeOllamaExe, qtbot: QtBot, arun: Run
) -> None:
    app = launch(install, fake_ollama.url)
    try:
        qtbot.waitUntil(lambda: app.watcher.reachable is True, timeout=60_000)
        qtbot.waitUntil(lambda: app.ops.pending == 0 or app.gateway.state != "loading", timeout=60_000)
        assert not app.hardware_panel.server.owned
        assert fake_ollama_exe.launches() == []
    finally:
        arun(app.quit(), timeout_ms=60_000)
    assert fake_ollama.url  # still serving: the fixture's server was never GateDeck's to stop
