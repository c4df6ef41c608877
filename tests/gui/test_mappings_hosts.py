"""The Mappings panel's "not installed" warnings with a second Ollama host, as a user with a GPU
box tries them: each warning names the host that lacks the model, its Pull lands on that host,
and the warning goes once the model is there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.ollama.hosts import OllamaHosts
from gui import panels
from gui.controller import AppController
from gui.panels.mappings import MappingsPanel
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen3_8b, qwen25_coder_7b
from tests.gui.conftest import Run
from tests.gui.qt_support import asyncio_like, dispose

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def like_asyncio(loop: qasync.QEventLoop) -> Iterator[None]:
    with asyncio_like(loop):
        yield


@pytest.fixture
def gpu_box() -> Iterator[FakeOllama]:
    """A second Ollama with qwen3:8b only; qwen2.5-coder:7b can be pulled onto it."""
    with FakeOllama(models=[qwen3_8b()], library=[qwen3_8b(), qwen25_coder_7b()]) as fake:
        yield fake


def two_host_config(config: Config, desk: FakeOllama, gpu_box: FakeOllama) -> Config:
    """The desk (qwen2.5-coder:7b, llama3.2:3b) and the GPU box (qwen3:8b), with mappings that
    miss a model on one host or the other."""
    return config.model_copy(
        update={
            "backends": [
                OllamaBackend(name="local", url=desk.url),
                OllamaBackend(name="gpu-box", url=gpu_box.url),
            ],
            "mappings": [
                Mapping(
                    name="claude-*",
                    model="qwen2.5-coder:7b",  # on both hosts: the GPU box lacks it
                    backends=["local", "gpu-box"],
                    options=ModelOptions(num_ctx=32768),
                ),
                Mapping(name="gpt-4o", model="qwen2.5-coder:7b", backends=["gpu-box"]),  # same gap
                Mapping(name="gpt-4.1", model="qwen3:8b", backends=["gpu-box"]),  # the GPU box has it
                Mapping(name="o3", model="qwen3:8b", backends=["local"]),  # the desk lacks it
            ],
        }
    )


def shown_issues(panel: MappingsPanel) -> list[tuple[str, list[str]]]:
    """Each line of the issue list: its text and the texts of its Pull buttons."""
    out = []
    for i in range(panel.issue_list.count()):
        widget = panel.issue_list.itemWidget(panel.issue_list.item(i))
        label = widget.findChild(QLabel)
        pulls = [b.text() for b in widget.findChildren(QPushButton) if b.objectName() == "pullMissingModel"]
        out.append((label.text() if label else "", pulls))
    return out


def pull_button(panel: MappingsPanel, text: str) -> QPushButton:
    for i in range(panel.issue_list.count()):
        for button in panel.issue_list.itemWidget(panel.issue_list.item(i)).findChildren(QPushButton):
            if button.text() == text:
                return button
    raise AssertionError(f"no button {text!r} in {shown_issues(panel)}")


def tags_asked(fake: FakeOllama) -> int:
    return sum(1 for r in fake.requests if r.path == "/api/tags")


def test_each_host_that_lacks_a_mapped_model_gets_its_own_warning_and_pull(
    qtbot: QtBot,
    install: Installation,
    fake_ollama: FakeOllama,
    gpu_box: FakeOllama,
    arun: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = ConfigHolder(install.store, install.config)
    holder.replace(two_host_config(holder.config, fake_ollama, gpu_box))
    hosts = OllamaHosts(holder)

    async def apply(config: Config) -> str:
        await holder.replace_async(config)
        return "Saved."

    panel = MappingsPanel(holder, apply, hosts=hosts)
    panel.resize(1100, 700)
    try:
        panel.set_installed_models(fake_ollama.installed())  # what the watcher reports of the desk
        # The GPU box is not asked until the panel is shown: nothing is said about it yet.
        assert {(i.missing_model, i.host) for i in panel.issues if i.missing_model} == {("qwen3:8b", "local")}

        panel.show()
        qtbot.waitUntil(lambda: len([i for i in panel.issues if i.missing_model]) == 3)
        missing = sorted((i.row, i.missing_model, i.host) for i in panel.issues if i.missing_model)
        assert missing == [
            (0, "qwen2.5-coder:7b", "gpu-box"),  # not the desk, which has it
            (1, "qwen2.5-coder:7b", "gpu-box"),
            (3, "qwen3:8b", "local"),
        ]
        lines = [(text, pulls) for text, pulls in shown_issues(panel) if pulls]
        assert lines == [
            (
                "⚠ Rows 1, 2, Ollama model: 'qwen2.5-coder:7b' is not installed on gpu-box; pull it "
                "before clients use this mapping",
                ["Pull qwen2.5-coder:7b onto gpu-box"],
            ),
            (
                "⚠ Row 4, Ollama model: 'qwen3:8b' is not installed on local; pull it before clients "
                "use this mapping",
                ["Pull qwen3:8b onto local"],
            ),
        ]
        pulls: list[tuple[str, str]] = []
        panel.pull_requested.connect(lambda model, host: pulls.append((model, host)))
        pull_button(panel, "Pull qwen2.5-coder:7b onto gpu-box").click()
        assert pulls == [("qwen2.5-coder:7b", "gpu-box")]

        # Showing the panel again soon asks nobody; once the answer is old, the GPU box once.
        asked = tags_asked(gpu_box)
        assert asked == 1
        panel.hide()
        panel.show()
        qtbot.waitUntil(lambda: panel.ops.pending == 0)
        assert tags_asked(gpu_box) == asked
        monkeypatch.setattr(panels.mappings, "RECHECK_AFTER_S", 0.0)  # as if minutes had passed
        panel.hide()
        panel.show()
        qtbot.waitUntil(lambda: tags_asked(gpu_box) == asked + 1)
        qtbot.waitUntil(lambda: panel.ops.pending == 0)
        assert tags_asked(fake_ollama) == 0  # the desk is the watcher's to ask

        # Another panel's ask of the GPU box (here the state's own refresh) brings its news.
        gpu_box.add_model(qwen25_coder_7b())
        arun(hosts.state("gpu-box").refresh())
        assert {(i.missing_model, i.host) for i in panel.issues if i.missing_model} == {("qwen3:8b", "local")}

        # A host that stops answering is not judged (the Gateway panel says it is down).
        gpu_box.stop()
        arun(panel.refresh_hosts())
        rows = panel.model.rows()
        rows[2]["model"] = "llama3.2:3b"  # an edit: the GPU box does not have it, but cannot say
        panel.model.set_rows(rows)
        assert not [i for i in panel.issues if i.host == "gpu-box"]
    finally:
        arun(panel.shutdown())
        dispose(panel)
        arun(hosts.aclose())


def test_in_the_window_the_pull_lands_on_the_host_the_warning_names_and_the_warning_goes(
    qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, gpu_box: FakeOllama, arun: Run
) -> None:
    config = two_host_config(install.config, fake_ollama, gpu_box).model_copy(
        update={"gateway": GatewaySettings(port=install.config.gateway.port, start_on_launch=False)}
    )
    install.store.save(config)
    install.loaded.config = config
    app = AppController(install, use_tray=False)
    app.start()
    try:
        app.window.show_panel("mappings")
        mappings = app.mappings_panel
        wanted = "Pull qwen2.5-coder:7b onto gpu-box"
        qtbot.waitUntil(lambda: any(wanted in pulls for _, pulls in shown_issues(mappings)), timeout=30_000)
        pull_button(mappings, wanted).click()
        assert app.window.panel("models").isVisible()  # the pull shows in the Models panel's queue
        qtbot.waitUntil(lambda: "qwen2.5-coder:7b" in gpu_box.installed(), timeout=30_000)
        assert [b["model"] for b in gpu_box.bodies("/api/pull")] == ["qwen2.5-coder:7b"]
        assert fake_ollama.bodies("/api/pull") == []  # nothing went to the desk

        # Back on the Mappings panel, the GPU box's warning is gone; the desk's stays.
        app.window.show_panel("mappings")
        qtbot.waitUntil(
            lambda: (
                {(i.missing_model, i.host) for i in mappings.issues if i.missing_model}
                == {("qwen3:8b", "local")}
            ),
            timeout=30_000,
        )
        assert [pulls for _, pulls in shown_issues(mappings) if pulls] == [["Pull qwen3:8b onto local"]]
    finally:
        arun(app.quit(), timeout_ms=60_000)
