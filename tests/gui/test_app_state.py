"""What the window remembers between runs, and what clicking around must not do to config.yaml."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QSplitter
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.schema import GatewaySettings, OllamaBackend
from core.config.ui_state import UiStateFile
from gui.controller import AppController
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.gui.conftest import Run


@pytest.fixture
def saved_install(install: Installation, fake_ollama: FakeOllama) -> Installation:
    """An installation saved twice, so config.yaml and config.yaml.bak both exist."""
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=fake_ollama.url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
        }
    )
    install.store.save(config)
    install.store.save(config)
    install.loaded.config = config
    return install


def opened(install: Installation, qtbot: QtBot) -> AppController:
    """The app's window as it opens, without the gateway engine behind it."""
    app = AppController(install, use_tray=False)
    app.window.show()
    qtbot.waitExposed(app.window)
    return app


def file_facts(path: Path) -> tuple[bytes, int, int]:
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_ino


def test_switching_panels_leaves_config_yaml_alone_and_writes_the_state_once(
    saved_install: Installation, qtbot: QtBot, arun: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = saved_install.store
    before = {path: file_facts(path) for path in (store.path, store.backup_path)}
    state_file = saved_install.paths.state_file
    replaced: list[str] = []
    fsyncs: list[int] = []
    real_replace: Callable[..., None] = os.replace
    real_fsync: Callable[[int], None] = os.fsync

    def recording_replace(src: str | Path, dst: str | Path) -> None:
        replaced.append(Path(dst).name)
        real_replace(src, dst)

    def recording_fsync(fd: int) -> None:
        fsyncs.append(fd)
        real_fsync(fd)

    app = opened(saved_install, qtbot)
    try:
        monkeypatch.setattr(os, "replace", recording_replace)
        monkeypatch.setattr(os, "fsync", recording_fsync)
        for key in ("mappings", "models", "gateway", "models", "mappings"):
            app.window.show_panel(key)
        assert replaced == [], "nothing is written while the user is still clicking"
        qtbot.waitUntil(lambda: UiStateFile(state_file).state.last_panel == "mappings", timeout=5000)
        assert replaced == [state_file.name], "one write for the whole burst"
        assert fsyncs == []
        assert {path: file_facts(path) for path in before} == before, "config.yaml or its .bak was touched"
        assert app.holder.config == store.load().config
    finally:
        arun(app.quit(), timeout_ms=60_000)
    assert {path: file_facts(path) for path in before} == before


def test_the_last_panel_size_and_monitor_splitter_come_back_on_the_next_start(
    saved_install: Installation, qtbot: QtBot, arun: Run
) -> None:
    first = opened(saved_install, qtbot)
    try:
        first.window.resize(760, 540)
        first.window.show_panel("monitor")
        splitter = first.window.findChild(QSplitter, "monitorSplitter")
        assert isinstance(splitter, QSplitter)
        qtbot.waitUntil(lambda: sum(splitter.sizes()) > 0)
        total = sum(splitter.sizes())
        splitter.setSizes([total // 3, total - total // 3])
        moved = splitter.sizes()
    finally:
        arun(first.quit(), timeout_ms=60_000)  # writes the state as GateDeck quits

    second = opened(saved_install, qtbot)
    try:
        assert second.window.current_panel == "monitor"
        assert (second.window.width(), second.window.height()) == (760, 540)
        splitter = second.window.findChild(QSplitter, "monitorSplitter")
        assert isinstance(splitter, QSplitter)
        qtbot.waitUntil(lambda: splitter.sizes() == moved)
    finally:
        arun(second.quit(), timeout_ms=60_000)


def test_a_damaged_state_file_opens_the_gateway_panel_and_is_rewritten(
    saved_install: Installation, qtbot: QtBot, arun: Run
) -> None:
    state_file = saved_install.paths.state_file
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text('{"last_panel": ', encoding="utf-8")
    app = opened(saved_install, qtbot)
    try:
        assert app.window.current_panel == "gateway"
    finally:
        arun(app.quit(), timeout_ms=60_000)
    assert UiStateFile(state_file).state.last_panel == "gateway"
    assert not UiStateFile(state_file).unsaved, "the damaged file was replaced by a good one"
