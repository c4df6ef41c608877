"""The window notices Ollama coming and going, as a user starting and stopping it would."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import OllamaBackend
from gui.ollama_watch import OllamaWatcher
from tests.fakes.fake_ollama import FakeOllama
from tests.gui.conftest import Run


def test_reachable_then_gone(qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, arun: Run) -> None:
    holder = ConfigHolder(install.store, install.config)
    holder.replace(
        holder.config.model_copy(update={"backends": [OllamaBackend(name="local", url=fake_ollama.url)]})
    )
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
