"""Several Ollama hosts from the window, as a user with a second GPU box would set them up: add it
on the Gateway panel, test it, give mappings to it, and pull models onto it."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import Config, GatewaySettings, OllamaBackend
from core.ollama.hosts import OllamaHosts
from core.ollama.pull import Pull
from gui.controller import AppController
from gui.gateway_bridge import GatewayBridge
from gui.panels.gateway import GatewayPanel
from gui.panels.hardware import HardwarePanel
from gui.panels.mappings import MappingsPanel
from gui.panels.models import ModelsPanel
from gui.pull_queue import JobState
from gui.widgets import hosts_table
from gui.widgets.mappings_table import COLUMNS, HostsEditor
from gui.widgets.models_table import COL
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen3_8b
from tests.gui.conftest import Run
from tests.gui.qt_support import Answers, asyncio_like, dispose

pytestmark = pytest.mark.timeout(60)

GPU_BOX_VERSION = "0.15.1"


@pytest.fixture(autouse=True)
def like_asyncio(loop: qasync.QEventLoop) -> Iterator[None]:
    with asyncio_like(loop):
        yield


@pytest.fixture
def gpu_box() -> Iterator[FakeOllama]:
    """A second Ollama on another port, with another model and another version."""
    with FakeOllama(models=[qwen3_8b()], version=GPU_BOX_VERSION) as fake:
        yield fake


@pytest.fixture
def holder(install: Installation, fake_ollama: FakeOllama) -> ConfigHolder:
    holder = ConfigHolder(install.store, install.config)
    holder.replace(
        holder.config.model_copy(update={"backends": [OllamaBackend(name="local", url=fake_ollama.url)]})
    )
    return holder


@pytest.fixture
def hosts(holder: ConfigHolder, arun: Run) -> Iterator[OllamaHosts]:
    hosts = OllamaHosts(holder)
    yield hosts
    arun(hosts.aclose())


@pytest.fixture
def gateway_panel(
    qtbot: QtBot, holder: ConfigHolder, install: Installation, hosts: OllamaHosts, arun: Run
) -> Iterator[GatewayPanel]:
    bridge = GatewayBridge(holder, install.secrets, install.master_key)
    panel = GatewayPanel(holder, bridge, hosts)
    panel.resize(1000, 800)
    yield panel
    arun(panel.shutdown())
    arun(bridge.close())
    dispose(panel)


def host_row(panel: GatewayPanel, name: str) -> list[str]:
    table = panel.hosts.table
    row = [b.name for b in panel.hosts._holder.config.backends].index(name)
    return [table.item(row, c).text() if table.item(row, c) else "" for c in range(table.columnCount())]


def test_a_second_host_added_through_the_dialog_is_saved_and_checked(
    qtbot: QtBot, gateway_panel: GatewayPanel, holder: ConfigHolder, gpu_box: FakeOllama, arun: Run
) -> None:
    gateway_panel.show()
    qtbot.waitUntil(lambda: host_row(gateway_panel, "local")[2] == "● up")
    assert gateway_panel.hosts.remove_button.isEnabled() is False  # the only host stays

    dialog = gateway_panel.hosts.add_host()
    dialog.name_field.setText("gpu-box")
    dialog.url_field.setText(gpu_box.url.removeprefix("http://"))  # typed without the scheme
    assert arun(dialog.save()) is False
    assert dialog.isVisible() and "must start with http:// or https://" in dialog.error_label.text()
    assert dialog.name_field.text() == "gpu-box"  # nothing typed is lost
    assert [b.name for b in holder.config.backends] == ["local"]

    dialog.url_field.setText(gpu_box.url + "/")
    found = arun(dialog.test())
    assert found.up and found.version == GPU_BOX_VERSION
    assert f"Ollama {GPU_BOX_VERSION}" in dialog.check_label.text()
    assert arun(dialog.save()) is True
    assert gateway_panel.hosts.dialog is None  # closed (and deleted)

    assert [(b.name, b.url) for b in holder.config.backends] == [
        ("local", holder.config.backends[0].url),
        ("gpu-box", gpu_box.url),
    ]
    assert [(b.name, b.url) for b in holder.store.load().config.backends] == [
        (b.name, b.url) for b in holder.config.backends
    ]  # on disk too
    qtbot.waitUntil(lambda: host_row(gateway_panel, "gpu-box")[2] == "● up")
    name, url, _state, version, loaded, latency = host_row(gateway_panel, "gpu-box")
    assert (name, url, version, loaded) == ("gpu-box", gpu_box.url, GPU_BOX_VERSION, "none")
    assert latency.endswith(" ms")
    assert host_row(gateway_panel, "local")[0] == "local (default)"

    # A second host with a name already used is refused in place.
    again = gateway_panel.hosts.add_host()
    again.name_field.setText("gpu-box")
    again.url_field.setText("http://10.0.0.9:11434")
    assert arun(again.save()) is False
    assert "already exists" in again.error_label.text()
    again.reject()


def test_test_asks_the_selected_host_and_a_host_that_is_down_says_so(
    qtbot: QtBot, gateway_panel: GatewayPanel, holder: ConfigHolder, gpu_box: FakeOllama, arun: Run
) -> None:
    arun(
        holder.replace_async(
            holder.config.model_copy(
                update={"backends": [*holder.config.backends, OllamaBackend(name="gpu-box", url=gpu_box.url)]}
            )
        )
    )
    gateway_panel.hosts.select_host("gpu-box")
    gateway_panel.hosts.test_button.click()
    qtbot.waitUntil(
        lambda: gateway_panel.hosts.status.text().startswith(f"gpu-box: Ollama {GPU_BOX_VERSION}, ")
    )
    assert gpu_box.wait_for_requests("/api/version")

    gpu_box.stop()
    found = arun(gateway_panel.hosts.check("gpu-box"))
    assert not found.up
    assert host_row(gateway_panel, "gpu-box")[2] == "● down"


def test_removing_a_host_that_mappings_use_asks_and_names_them(
    qtbot: QtBot, gateway_panel: GatewayPanel, holder: ConfigHolder, gpu_box: FakeOllama, arun: Run
) -> None:
    config = holder.config
    mappings = [
        m.model_copy(update={"backends": ["gpu-box"]}) if i == 0 else m for i, m in enumerate(config.mappings)
    ]
    arun(
        holder.replace_async(
            config.model_copy(
                update={
                    "backends": [*config.backends, OllamaBackend(name="gpu-box", url=gpu_box.url)],
                    "mappings": mappings,
                }
            )
        )
    )
    first = mappings[0].name
    no = Answers(False)
    gateway_panel.hosts._confirm = no
    assert arun(gateway_panel.hosts.remove_host("gpu-box")) is False
    assert no.asked and first in no.asked[0] and "move to local" in no.asked[0]
    assert [b.name for b in holder.config.backends] == ["local", "gpu-box"]

    gateway_panel.hosts._confirm = Answers(True)
    assert arun(gateway_panel.hosts.remove_host("gpu-box")) is True
    assert [b.name for b in holder.config.backends] == ["local"]
    assert holder.config.mappings[0].backends == ["local"]
    assert gateway_panel.hosts.table.rowCount() == 1

    assert arun(gateway_panel.hosts.remove_host("local")) is False
    assert "at least one Ollama host" in gateway_panel.hosts.status.text()


def test_editing_a_host_renames_it_in_the_mappings_that_use_it(
    qtbot: QtBot, gateway_panel: GatewayPanel, holder: ConfigHolder, gpu_box: FakeOllama, arun: Run
) -> None:
    add_gpu_box(holder, gpu_box, arun)
    first = holder.config.mappings[0].model_copy(update={"backends": ["local", "gpu-box"]})
    arun(
        holder.replace_async(
            holder.config.model_copy(update={"mappings": [first, *holder.config.mappings[1:]]})
        )
    )
    gateway_panel.hosts.select_host("gpu-box")
    gateway_panel.hosts.edit_button.click()
    dialog = gateway_panel.hosts.dialog
    assert dialog is not None and dialog.windowTitle() == "Edit Ollama host"
    assert (dialog.name_field.text(), dialog.url_field.text()) == ("gpu-box", gpu_box.url)
    dialog.name_field.setText("big box")
    assert arun(dialog.save()) is False  # a space is refused in place, with the schema's reason
    assert dialog.error_label.text().startswith("name: ")
    dialog.name_field.setText("big-box")
    assert arun(dialog.save()) is True
    assert [b.name for b in holder.config.backends] == ["local", "big-box"]
    assert holder.config.mappings[0].backends == ["local", "big-box"]
    assert host_row(gateway_panel, "big-box")[:2] == ["big-box", gpu_box.url]


def test_the_list_follows_a_change_made_elsewhere(
    qtbot: QtBot, gateway_panel: GatewayPanel, holder: ConfigHolder, gpu_box: FakeOllama, arun: Run
) -> None:
    """The setup wizard moves the first host to another address through the config directly."""
    local = holder.config.backends[0]
    arun(
        holder.replace_async(
            holder.config.model_copy(update={"backends": [local.model_copy(update={"url": gpu_box.url})]})
        )
    )
    assert host_row(gateway_panel, "local")[1] == gpu_box.url
    qtbot.waitUntil(lambda: host_row(gateway_panel, "local")[3] == GPU_BOX_VERSION)


def add_gpu_box(holder: ConfigHolder, gpu_box: FakeOllama, arun: Run) -> None:
    backends = [*holder.config.backends, OllamaBackend(name="gpu-box", url=gpu_box.url)]
    arun(holder.replace_async(holder.config.model_copy(update={"backends": backends})))


def test_the_mapping_editor_puts_a_mapping_on_both_hosts(
    qtbot: QtBot, holder: ConfigHolder, gpu_box: FakeOllama, arun: Run
) -> None:
    async def apply(config: Config) -> str:
        await holder.replace_async(config)
        return "Saved."

    panel = MappingsPanel(holder, apply)
    panel.resize(1000, 600)
    hosts_column = [key for key, _ in COLUMNS].index("backends")
    try:
        panel.show()
        assert panel.table.isColumnHidden(hosts_column)  # one host: nothing to choose
        add_gpu_box(holder, gpu_box, arun)
        panel.hide()
        panel.show()  # back from the Gateway panel, where the host was added
        assert not panel.table.isColumnHidden(hosts_column)

        index = panel.model.index(0, hosts_column)
        panel.table.setCurrentIndex(index)
        panel.table.edit(index)
        editor = panel.table.findChild(HostsEditor)
        assert isinstance(editor, HostsEditor)
        assert [editor.item(i).text() for i in range(editor.count())] == ["local", "gpu-box"]
        assert editor.checked() == ["local"]
        editor.item(0).setCheckState(Qt.CheckState.Unchecked)
        assert editor.checked() == ["local"]  # a mapping keeps at least one host
        editor.item(1).setCheckState(Qt.CheckState.Checked)
        editor.item(0).setCheckState(Qt.CheckState.Unchecked)
        editor.item(0).setCheckState(Qt.CheckState.Checked)
        assert editor.checked() == ["local", "gpu-box"]
        qtbot.keyClick(editor, Qt.Key.Key_Return)  # commits the edit
        qtbot.waitUntil(lambda: index.data() == "local, gpu-box")

        assert arun(panel.apply()) is True
        first = holder.config.mappings[0]
        assert first.backends == ["local", "gpu-box"]
        assert holder.store.load().config.mappings[0].backends == ["local", "gpu-box"]

        # Without the other hosts' states, only the first host's list judges (and only its mappings).
        rows = panel.model.rows()
        rows[1].update(backends=["gpu-box"], model="qwen3:8b")
        rows[2].update(backends=["local"], model="qwen3:8b")
        panel.model.set_rows(rows)
        panel.set_installed_models(["llama3.2:3b", "qwen2.5-coder:7b"])
        assert [i.row for i in panel.issues if i.missing_model] == [2]

        panel.add_mapping()  # a new mapping starts on the first host
        added = panel.model.rows()[panel.table.selectionModel().selectedRows()[0].row()]
        assert added["backends"] == ["local"]
    finally:
        dispose(panel)


def listed(panel: ModelsPanel) -> list[str]:
    return sorted(row.name for row in panel.model.rows())


def test_the_models_panel_lists_and_pulls_on_the_host_picked(
    qtbot: QtBot,
    holder: ConfigHolder,
    hosts: OllamaHosts,
    fake_ollama: FakeOllama,
    gpu_box: FakeOllama,
    tmp_path: Path,
    arun: Run,
) -> None:
    pulls = functools.partial(Pull, stall_timeout=0.5, resume_delay=0.0, models_dir=tmp_path)
    panel = ModelsPanel(holder, hosts.first, pull_factory=pulls, confirm=Answers(True), hosts=hosts)
    panel.resize(1000, 700)
    try:
        panel.show()
        assert not panel.host_picker.isVisible()  # one host: nothing to pick
        add_gpu_box(holder, gpu_box, arun)
        # A mapping on the GPU box only, whose model it lacks.
        first = holder.config.mappings[0].model_copy(
            update={"backends": ["gpu-box"], "model": "tinyllama:1.1b"}
        )
        arun(
            holder.replace_async(
                holder.config.model_copy(update={"mappings": [first, *holder.config.mappings[1:]]})
            )
        )
        assert panel.host_picker.isVisible()
        assert [panel.host_picker.itemData(i) for i in range(panel.host_picker.count())] == [
            "local",
            "gpu-box",
        ]

        assert arun(panel.refresh()) is True
        assert sorted(listed(panel)) == sorted(fake_ollama.installed())
        assert "tinyllama:1.1b" not in panel.needed_models()  # the desk's mappings have their models

        panel.host_picker.setCurrentIndex(1)
        panel.host_picker.activated.emit(1)  # the user picks the GPU box
        qtbot.waitUntil(lambda: listed(panel) == ["qwen3:8b"])
        assert panel.url == gpu_box.url
        assert panel.needed_models() == ["tinyllama:1.1b"]
        assert panel.status.text().endswith("loaded on gpu-box.")
        assert panel.table.isColumnHidden(COL["fits"])  # this computer's fit says nothing of the GPU box

        fake_ollama.clear_requests()
        job = arun(panel.pull("tinyllama:1.1b"))
        assert job.state is JobState.DONE and job.host == "gpu-box"
        assert [b["model"] for b in gpu_box.bodies("/api/pull")] == ["tinyllama:1.1b"]
        assert fake_ollama.bodies("/api/pull") == []  # nothing went to the desk
        qtbot.waitUntil(lambda: "tinyllama:1.1b" in listed(panel))
        assert "tinyllama:1.1b" in gpu_box.installed() and "tinyllama:1.1b" not in fake_ollama.installed()
        name_labels = [w.text() for w in panel.pull_list.findChildren(QLabel) if "tinyllama" in w.text()]
        assert any("on gpu-box" in text for text in name_labels)

        assert arun(panel.delete("qwen3:8b")) is True
        assert panel.status.text() == "Deleted qwen3:8b on gpu-box."
        assert "qwen3:8b" not in gpu_box.installed()

        # The Mappings panel's Pull (its checks are the first host's) pulls onto the first host.
        job = panel.request_pull("tinyllama:1.1b")
        assert job.host == "local"
        assert arun(panel.queue.wait(job)).state is JobState.DONE
        assert "tinyllama:1.1b" in fake_ollama.installed()
    finally:
        arun(panel.shutdown())
        dispose(panel)


def test_the_hardware_panel_says_which_host_its_server_settings_are_for(
    qtbot: QtBot,
    holder: ConfigHolder,
    install: Installation,
    hosts: OllamaHosts,
    gpu_box: FakeOllama,
    arun: Run,
) -> None:
    bridge = GatewayBridge(holder, install.secrets, install.master_key)
    panel = HardwarePanel(holder, bridge, hosts.first)
    try:
        panel.show()
        assert not panel.host_note.isVisible()
        add_gpu_box(holder, gpu_box, arun)
        assert panel.host_note.isVisible()
        assert f"<b>local</b> ({holder.config.backends[0].url})" in panel.host_note.text()
    finally:
        arun(panel.shutdown())
        arun(bridge.close())
        dispose(panel)


def test_showing_the_list_again_asks_the_hosts_again_once_the_last_answers_are_old(
    qtbot: QtBot,
    gateway_panel: GatewayPanel,
    fake_ollama: FakeOllama,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def versions() -> int:
        return sum(1 for r in fake_ollama.requests if r.path == "/api/version")

    gateway_panel.show()
    qtbot.waitUntil(lambda: host_row(gateway_panel, "local")[2] == "● up")
    asked = versions()
    gateway_panel.hide()
    gateway_panel.show()  # at once: the answers are fresh
    qtbot.waitUntil(lambda: gateway_panel.hosts.ops.pending == 0)
    assert versions() == asked

    monkeypatch.setattr(hosts_table, "RECHECK_AFTER_S", 0.0)  # as if minutes had passed
    gateway_panel.hide()
    gateway_panel.show()
    qtbot.waitUntil(lambda: versions() == asked + 1)
    qtbot.waitUntil(lambda: gateway_panel.hosts.ops.pending == 0)


@pytest.mark.timeout(240)
def test_in_the_window_a_host_added_and_given_a_mapping_answers_that_mappings_requests(
    qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, gpu_box: FakeOllama, arun: Run
) -> None:
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=fake_ollama.url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=True),
        }
    )
    install.store.save(config)
    install.loaded.config = config
    app = AppController(install, use_tray=False)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.gateway.state == "running", timeout=120_000)
        dialog = app.gateway_panel.hosts.add_host()
        dialog.name_field.setText("gpu-box")
        dialog.url_field.setText(gpu_box.url)
        assert arun(dialog.save()) is True

        mappings = app.mappings_panel
        rows = mappings.model.rows()
        opus = next(i for i, r in enumerate(rows) if r["name"] == "claude-*opus*")
        rows[opus].update(backends=["gpu-box"], model="qwen3:8b")
        mappings.model.set_rows(rows)
        assert arun(mappings.apply()) is True

        client = openai.OpenAI(base_url=app.gateway.url + "/v1", api_key=app.gateway.master_key, timeout=30)
        reply = client.chat.completions.create(
            model="claude-opus-4-1", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content
        assert [b["model"] for b in gpu_box.bodies("/api/chat")] == ["qwen3:8b"]
        assert fake_ollama.bodies("/api/chat") == []
    finally:
        # The client SDKs' warm-up thread must not be cut off mid-import by the test run's end
        # (the interpreter's exit would then wait on its import lock).
        if app.gateway.sdk_warmup is not None:
            app.gateway.sdk_warmup.join(timeout=120)
        arun(app.quit(), timeout_ms=60_000)
