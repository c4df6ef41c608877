"""The Hardware panel against the fake Ollama and a described machine (no gateway engine needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import Mapping, ModelOptions, OllamaBackend, OllamaServerSettings
from core.hardware.facts import CpuInfo, GpuInfo, HardwareInfo, MemoryInfo
from core.hardware.fit import Placement
from core.ollama.state import OllamaState
from gui.gateway_bridge import GatewayBridge
from gui.panels.hardware import HardwarePanel
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_ollama_exe import FakeOllamaExe
from tests.fakes.ollama_catalog import tiny_model
from tests.gui.conftest import Run
from tests.gui.qt_support import asyncio_like, dispose

pytestmark = pytest.mark.timeout(60)

GIB = 2**30
RTX = HardwareInfo(
    CpuInfo("AMD Ryzen 7 7700", 8, 16, "x86_64"),
    MemoryInfo(64 * GIB, 48 * GIB),
    (GpuInfo("NVIDIA", 0, "GeForce RTX 4070", 12 * GIB, 7 * GIB, "550.54"),),
)
LAPTOP = HardwareInfo(CpuInfo("Intel Core i5", 2, 4, "x86_64"), MemoryInfo(16 * GIB, 9 * GIB))


def ollama(holder: ConfigHolder, info: HardwareInfo) -> OllamaState:
    """The shared Ollama state for the configured server, on a machine with ``info``."""
    return OllamaState(holder.config.backends[0].url, read_hardware=lambda: info)


@pytest.fixture(autouse=True)
def like_asyncio(loop: qasync.QEventLoop) -> Iterator[None]:
    with asyncio_like(loop):
        yield


@pytest.fixture
def holder(install: Installation, fake_ollama: FakeOllama) -> ConfigHolder:
    fake_ollama.add_model(tiny_model())  # 22 blocks, 2k context
    holder = ConfigHolder(install.store, install.config)
    mappings = [
        *install.config.mappings,
        Mapping(name="gpt-4o", model="llama3.2:3b", options=ModelOptions(num_ctx=8192, num_thread=32)),
        Mapping(name="tiny", model="tinyllama:1.1b"),
    ]
    holder.replace(
        holder.config.model_copy(
            update={"backends": [OllamaBackend(name="local", url=fake_ollama.url)], "mappings": mappings}
        )
    )
    return holder


def make(holder: ConfigHolder, install: Installation, arun: Run, hw: HardwareInfo) -> HardwarePanel:
    bridge = GatewayBridge(holder, install.secrets, install.master_key)
    panel = HardwarePanel(holder, bridge, ollama(holder, hw))
    panel.resize(1100, 800)
    arun(panel.refresh())
    return panel


@pytest.fixture
def panel(holder: ConfigHolder, install: Installation, arun: Run) -> Iterator[HardwarePanel]:
    widget = make(holder, install, arun, RTX)
    yield widget
    arun(widget.shutdown())
    arun(widget.ollama.aclose())
    dispose(widget)


def test_sliders_are_bounded_by_the_hardware_and_the_model(panel: HardwarePanel, arun: Run) -> None:
    assert panel.mapping == "claude-*opus*"  # the first mapping, qwen2.5-coder:7b
    assert (panel.tuning.gpu_layers.minimum, panel.tuning.gpu_layers.maximum) == (0, 29)  # 28 blocks + output
    assert (panel.tuning.threads.minimum, panel.tuning.threads.maximum) == (1, 16)  # logical cores
    assert (panel.tuning.context.minimum, panel.tuning.context.maximum) == (
        2048,
        32768,
    )  # the model's maximum
    assert panel.tuning.context.value() == 32768 and panel.tuning.context.choices[-3:] == [
        16384,
        24576,
        32768,
    ]
    assert not panel.tuning.main_gpu.isEnabled(), "one GPU: nothing to choose"
    assert "28 layers, context up to 32,768" in panel.tuning.model_label.text()

    arun(panel.select_mapping("gpt-4o"))  # llama3.2:3b, 128k context
    assert panel.tuning.context.maximum == 131072 and panel.tuning.context.value() == 8192
    # the mapping asks for 32 threads; this machine has 16: the slider says so and stops at 16
    assert panel.tuning.threads.value() == 16
    assert "outside what this machine and model allow" in panel.tuning.bounds_note.text()

    arun(panel.select_mapping("tiny"))  # tinyllama: 22 blocks, 2k context
    assert panel.tuning.gpu_layers.maximum == 23
    assert panel.tuning.context.choices == [2048]
    assert panel.tuning.context.value() is None, "no num_ctx set: Ollama's default"


def test_without_a_gpu_the_layers_slider_is_off(
    holder: ConfigHolder, install: Installation, arun: Run
) -> None:
    panel = make(holder, install, arun, LAPTOP)
    try:
        assert panel.tuning.gpu_layers.choices == [0] and not panel.tuning.gpu_layers.isEnabled()
        assert panel.tuning.threads.maximum == 4
        assert panel.findChild(type(panel.machine.cpu_label), "noGpu") is not None
        fit = panel.estimate()
        assert fit is not None and fit.placement is Placement.CPU and fit.layers_on_gpu == 0
        assert "Runs on the CPU" in panel.tuning.fit.headline.text()
    finally:
        arun(panel.shutdown())
        arun(panel.ollama.aclose())
        dispose(panel)


def test_moving_the_context_slider_changes_the_estimate_and_apply_saves_it(
    qtbot: QtBot, panel: HardwarePanel, holder: ConfigHolder, install: Installation, arun: Run
) -> None:
    before = panel.tuning.fit.estimate
    assert before is not None and before.num_ctx == 32768
    # By hand: 28 layers × 32768 tokens × 4 KV heads × (128 + 128) × 2 bytes = 1.75 GiB
    assert before.kv_cache == 28 * 32768 * 4 * 256 * 2
    assert before.placement is Placement.FULL and "Fits on the GPU" in panel.tuning.fit.headline.text()
    assert not panel.tuning.apply_button.isEnabled()

    panel.tuning.context.set_position(panel.tuning.context.position_of(8192))  # as a user dragging it
    after = panel.tuning.fit.estimate
    assert after is not None and after.num_ctx == 8192
    assert after.kv_cache == before.kv_cache // 4
    assert (
        "1.8 GiB" not in panel.tuning.fit.breakdown.text() and "0.4 GiB" in panel.tuning.fit.breakdown.text()
    )
    assert panel.dirty and panel.tuning.apply_button.isEnabled()

    panel.revert()
    assert panel.tuning.context.value() == 32768 and not panel.dirty

    panel.tuning.context.set_position(panel.tuning.context.position_of(16384))
    with qtbot.waitSignal(panel.applied, timeout=10_000):
        panel.tuning.apply_button.click()
    assert holder.config.mappings[0].options.num_ctx == 16384
    assert install.store.load().config.mappings[0].options.num_ctx == 16384, "saved to disk"
    assert holder.config.mappings[1].options.num_ctx == 32768, "other mappings untouched"
    assert not panel.dirty and panel.tuning.context.value() == 16384


def test_gpu_layers_decide_where_the_model_sits(panel: HardwarePanel, arun: Run) -> None:
    assert panel.tuning.gpu_layers.value() is None  # auto: as many as fit
    assert panel.tuning.fit.estimate is not None and panel.tuning.fit.estimate.layers_on_gpu == 29
    panel.tuning.gpu_layers.set_position(10)
    fit = panel.tuning.fit.estimate
    assert fit is not None and fit.placement is Placement.PARTIAL and fit.layers_on_gpu == 10
    assert panel.tuning.fit.layers.text() == "10 of 29"
    assert "Partly on the GPU" in panel.tuning.fit.headline.text()
    panel.tuning.gpu_layers.set_position(0)
    assert panel.tuning.fit.estimate is not None and panel.tuning.fit.estimate.placement is Placement.CPU


def test_edits_stay_per_mapping_until_applied(panel: HardwarePanel, holder: ConfigHolder, arun: Run) -> None:
    panel.tuning.threads.set_position(panel.tuning.threads.position_of(6))
    keep = panel.tuning.keep_alive
    keep.setCurrentIndex(keep.findData("-1m"))  # "keep loaded", as a duration Ollama parses
    arun(panel.select_mapping("gpt-4o"))
    panel.tuning.context.set_position(panel.tuning.context.position_of(65536))
    arun(panel.select_mapping("claude-*opus*"))
    assert panel.tuning.threads.value() == 6, "the first mapping's edit is still there"
    assert arun(panel.apply())
    by_name = {m.name: m.options for m in holder.config.mappings}
    assert by_name["claude-*opus*"].num_thread == 6
    assert by_name["claude-*opus*"].keep_alive == "-1m"
    assert by_name["gpt-4o"].num_ctx == 65536
    assert by_name["gpt-4o"].num_thread == 16, "the clamped thread count was applied with it"


def test_hardware_summary_and_measure_needs_a_running_gateway(panel: HardwarePanel, arun: Run) -> None:
    assert "AMD Ryzen 7 7700 — 8 cores, 16 threads" in panel.machine.cpu_label.text()
    gpu = panel.findChild(type(panel.machine.ram_bar), "gpu0")
    assert gpu is not None and gpu.format() == "GPU 0 GeForce RTX 4070: 5.0 GiB of 12.0 GiB VRAM in use"
    assert gpu.value() == round(1000 * 5 / 12)
    assert arun(panel.measure()) is None
    assert "gateway is not running" in panel.speed.status.text()
    assert panel.speed.table.rowCount() == 0


def test_server_settings_are_read_only_when_ollama_is_not_ours(panel: HardwarePanel) -> None:
    box = panel.server_box
    assert not box.managed.isChecked()
    assert not box.editable and not box.kv_cache.isEnabled()
    assert "systemctl edit ollama" in box.note.text() and "OLLAMA_" in box.note.text()
    box.managed.setChecked(True)
    assert box.editable and "restarts" in box.note.text()


@pytest.mark.timeout(90)
def test_managed_server_restarts_with_new_settings(
    qtbot: QtBot,
    holder: ConfigHolder,
    install: Installation,
    arun: Run,
    fake_ollama_exe: FakeOllamaExe,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing answers here yet: GateDeck starts its own
    holder.replace(holder.config.model_copy(update={"backends": [OllamaBackend(name="local", url=url)]}))
    panel = make(holder, install, arun, RTX)
    try:
        box = panel.server_box
        box.managed.setChecked(True)
        box.flash.setCurrentIndex(box.flash.findData(True))
        box.kv_cache.setCurrentIndex(box.kv_cache.findData("q8_0"))
        box.context.setValue(8192)
        assert panel.tuning.fit.estimate is None and "not answering" in panel.tuning.model_label.text()
        box.apply_button.click()
        qtbot.waitUntil(
            lambda: "restarted" in box.status.text() or "could" in box.status.text(), timeout=60_000
        )
        assert "Ollama restarted with the new settings" in box.status.text()
        assert panel.server.owned
        env = fake_ollama_exe.launches()[-1]["env"]
        assert (env["OLLAMA_FLASH_ATTENTION"], env["OLLAMA_KV_CACHE_TYPE"], env["OLLAMA_CONTEXT_LENGTH"]) == (
            "1",
            "q8_0",
            "8192",
        )
        saved = install.store.load().config.ollama_server
        assert saved.managed and saved.kv_cache_type == "q8_0"
        assert box.busy.isHidden() and box.apply_button.isEnabled()
        # the models are read from the new server, and the estimate follows its KV cache type:
        # q8_0 stores 34 bytes per 32 values instead of 2 bytes per value
        fit = panel.tuning.fit.estimate
        assert fit is not None and fit.kv_cache_type == "q8_0"
        assert fit.kv_cache == 28 * 32768 * 4 * 256 * 34 // 32
    finally:
        arun(panel.shutdown(), timeout_ms=30_000)
        arun(panel.ollama.aclose())
        dispose(panel)
    assert not panel.server.owned, "the server GateDeck started stops with it"


def test_a_server_someone_else_runs_is_left_alone(panel: HardwarePanel, arun: Run) -> None:
    settings = OllamaServerSettings(managed=True, flash_attention=True)
    assert arun(panel.apply_server_settings(settings)) is False
    assert "was not started by GateDeck" in panel.server_box.status.text()
    assert not panel.server.owned


def test_a_smaller_context_on_a_shared_model_warns_of_reloads_and_one_click_evens_it(
    panel: HardwarePanel, arun: Run, qtbot: QtBot
) -> None:
    arun(panel.select_mapping("claude-*haiku*"))  # on the same model as opus, sonnet and *
    note = panel.tuning.reload_note
    assert note.isHidden(), "all four load it the same way"
    panel.tuning.context.set_value(16384)  # a user making haiku lighter
    assert not note.isHidden() and "16,384 (claude-*haiku*)" in note.text()
    assert "loads the model again" in note.text()

    qtbot.mouseClick(panel.tuning.same_load_button, Qt.MouseButton.LeftButton)
    assert note.isHidden()
    assert panel.current_options() is not None and panel.current_options().num_ctx == 32768  # type: ignore[union-attr]
    assert not panel.dirty, "back to the saved options: nothing left to apply"
