"""The Models panel against the fake Ollama, as a user pulling, loading and deleting models."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import Mapping, ModelOptions, OllamaBackend
from core.hardware.facts import CpuInfo, GpuInfo, HardwareInfo, MemoryInfo
from core.ollama.pull import Pull
from core.ollama.state import OllamaState
from gui.panels.models import ModelsPanel
from gui.pull_queue import JobState, PullJob
from gui.widgets.models_table import COL
from gui.widgets.pull import BAR_SCALE, PullWidget
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import nomic_embed_text
from tests.gui.conftest import Run
from tests.gui.qt_support import Answers, asyncio_like, dispose

pytestmark = pytest.mark.timeout(60)

GIB = 2**30
TINY = "tinyllama:1.1b"
RTX = HardwareInfo(
    CpuInfo("Test CPU", 8, 16, "x86_64"),
    MemoryInfo(64 * GIB, 48 * GIB),
    (GpuInfo("NVIDIA", 0, "GeForce RTX 4070", 12 * GIB, 7 * GIB, "550.54"),),
)


def ollama(holder: ConfigHolder, info: HardwareInfo = RTX) -> OllamaState:
    """The shared Ollama state for the configured server, on a machine with ``info``."""
    return OllamaState(holder.config.backends[0].url, read_hardware=lambda: info)


@pytest.fixture(autouse=True)
def like_asyncio(loop: qasync.QEventLoop) -> Iterator[None]:
    with asyncio_like(loop):
        yield


@pytest.fixture
def holder(install: Installation, fake_ollama: FakeOllama) -> ConfigHolder:
    holder = ConfigHolder(install.store, install.config)
    holder.replace(
        holder.config.model_copy(update={"backends": [OllamaBackend(name="local", url=fake_ollama.url)]})
    )
    return holder


@pytest.fixture
def panel(
    qtbot: QtBot, holder: ConfigHolder, tmp_path: Path, arun: Run, fake_ollama: FakeOllama
) -> Iterator[ModelsPanel]:
    pulls = functools.partial(Pull, stall_timeout=0.5, resume_delay=0.0, models_dir=tmp_path)
    state = ollama(holder)
    widget = ModelsPanel(holder, state, pull_factory=pulls, confirm=Answers(True))
    widget.resize(1000, 700)
    yield widget
    arun(widget.shutdown())
    arun(state.aclose())
    dispose(widget)


def row_of(panel: ModelsPanel, job: PullJob) -> PullWidget:
    row = panel.findChild(PullWidget, f"pull:{job.model}")
    assert row is not None
    return row


def cell(panel: ModelsPanel, name: str, column: str) -> str:
    for row in range(panel.proxy.rowCount()):
        if panel.proxy.index(row, COL["name"]).data() == name:
            return str(panel.proxy.index(row, COL[column]).data())
    raise AssertionError(f"{name} is not in the table")


def test_table_lists_installed_models_with_details_and_fit(panel: ModelsPanel, arun: Run) -> None:
    assert arun(panel.refresh())
    names = [panel.proxy.index(r, COL["name"]).data() for r in range(panel.proxy.rowCount())]
    assert names == ["llama3.2:3b", "qwen2.5-coder:7b"]  # sorted by name
    assert cell(panel, "qwen2.5-coder:7b", "size") == "4.7 GB"
    assert cell(panel, "qwen2.5-coder:7b", "context") == "32,768"
    assert cell(panel, "qwen2.5-coder:7b", "quantization") == "Q4_K_M"
    assert cell(panel, "llama3.2:3b", "tools") == "✓"
    assert cell(panel, "llama3.2:3b", "loaded") == "—"
    # every default mapping uses qwen at 32k: 4.4 GiB weights + 1.75 GiB KV + 0.5 GiB < 7 GiB free
    assert cell(panel, "qwen2.5-coder:7b", "fits") == "✓ GPU @ 32k"
    # llama3.2 is used by no mapping: estimated at Ollama's default context
    assert cell(panel, "llama3.2:3b", "fits") == "✓ GPU @ 4k"

    panel.table.sortByColumn(COL["size"], Qt.SortOrder.DescendingOrder)
    assert panel.proxy.index(0, COL["name"]).data() == "qwen2.5-coder:7b"
    panel.filter_field.setText("LLAMA")
    assert panel.proxy.rowCount() == 1 and panel.proxy.index(0, COL["name"]).data() == "llama3.2:3b"


def test_fit_badge_follows_the_mappings_context_and_the_hardware(
    qtbot: QtBot, holder: ConfigHolder, fake_ollama: FakeOllama, arun: Run, tmp_path: Path
) -> None:
    small = HardwareInfo(RTX.cpu, RTX.memory, (GpuInfo("NVIDIA", 0, "RTX 3050", 4 * GIB, 4 * GIB),))
    state = ollama(holder, small)
    panel = ModelsPanel(holder, state)
    try:
        assert arun(panel.refresh())
        # 4.4 GiB of weights cannot all go into 4 GiB of VRAM. By hand: a layer is 4683087332 / 29
        # = 161.5 MB of weights + 28·32768·4·256·2 / 28 = 67.1 MB of KV cache; (4 GiB − 512 MiB)
        # / 228.6 MB = 16.4 → 16 layers. At 8k the KV share is 16.8 MB: 3758 / 178.3 → 21.
        assert cell(panel, "qwen2.5-coder:7b", "fits") == "◐ 16/29 layers GPU @ 32k"
        mappings = [
            m.model_copy(update={"options": ModelOptions(num_ctx=8192)}) for m in holder.config.mappings
        ]
        holder.replace(holder.config.model_copy(update={"mappings": mappings}))
        # a smaller KV cache leaves room for more layers (no refresh needed: the config changed)
        assert cell(panel, "qwen2.5-coder:7b", "fits") == "◐ 21/29 layers GPU @ 8k"
        assert cell(panel, "llama3.2:3b", "fits") == "✓ GPU @ 4k"
    finally:
        arun(panel.shutdown())
        arun(state.aclose())
        dispose(panel)


def test_pull_from_click_to_done_with_the_bar_moving(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama, arun: Run
) -> None:
    arun(panel.refresh())
    fake_ollama.set_pull_plan(TINY, [3_000_000, 1_429, 562], steps_per_layer=40)
    fake_ollama.set_chunk_delay(0.02, "/api/pull")
    seen: list[tuple[int, str, str]] = []

    def record(job: PullJob) -> None:
        row = row_of(panel, job)
        seen.append((row.bar.value(), row.phase.text(), row.numbers.text()))

    panel.queue.changed.connect(record)
    panel.pull_field.setText(TINY)
    qtbot.mouseClick(panel.pull_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.queue.job(TINY) is not None, timeout=5000)
    job = panel.queue.job(TINY)
    assert job is not None
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=30_000)

    row = row_of(panel, job)
    assert row.bar.value() == BAR_SCALE
    assert row.phase.text() == "done"
    values = [v for v, _, _ in seen if v >= 0]
    assert values == sorted(values), "the bar never goes back"
    assert len({v for v in values if 0 < v < BAR_SCALE}) >= 5, f"the bar should move: {values}"
    phases = [p for _, p, _ in seen]
    assert "downloading" in phases and "verifying sha256 digest" in phases
    numbers = [n for _, _, n in seen]
    assert any(n.endswith("/ 3.0 MB") or "/ 3.0 MB ·" in n for n in numbers)
    assert any("MB/s" in n and "ETA" in n for n in numbers), "speed and ETA are shown while downloading"
    assert not row.cancel_button.isVisibleTo(panel) and row.remove_button.isVisibleTo(panel)
    # the finished model shows up in the table without waiting for the next poll
    qtbot.waitUntil(lambda: panel.model.row_for(TINY) is not None, timeout=10_000)


def test_cancel_then_resume_continues_where_it_stopped(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama
) -> None:
    fake_ollama.set_pull_plan(TINY, [2_000_000, 500], steps_per_layer=100)
    fake_ollama.set_chunk_delay(0.02, "/api/pull")
    job = panel.start_pull(TINY)
    row = row_of(panel, job)
    qtbot.waitUntil(lambda: job.progress is not None and job.progress.done >= 400_000, timeout=20_000)

    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: job.state is JobState.CANCELLED, timeout=10_000)
    assert row.phase.text().startswith("cancelled")
    assert row.resume_button.isVisibleTo(panel) and not row.cancel_button.isVisibleTo(panel)
    stopped = fake_ollama.wait_for_pull_sessions(TINY, 1)[0]
    assert stopped.outcome == "client-gone" and 0 < stopped.ended_at < 2_000_000
    assert TINY not in fake_ollama.installed()

    fake_ollama.set_chunk_delay(0.0, "/api/pull")
    qtbot.mouseClick(row.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=20_000)
    resumed = fake_ollama.wait_for_pull_sessions(TINY, 2)[1]
    assert resumed.outcome == "success"
    assert resumed.started_at == stopped.ended_at, "the second pull starts from the bytes Ollama kept"
    assert TINY in fake_ollama.installed()


def test_a_stall_shows_stalled_reconnecting_then_finishes(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama
) -> None:
    fake_ollama.set_pull_plan(TINY, [100_000, 500], steps_per_layer=10)
    fake_ollama.stall_pull(TINY, after_bytes=50_000)  # the fake goes silent, connection open
    shown: list[str] = []
    panel.queue.changed.connect(lambda job: shown.append(row_of(panel, job).phase.text()))
    job = panel.start_pull(TINY)
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=20_000)

    stalled = [t for t in shown if t.startswith("stalled — reconnecting")]
    assert stalled == ["stalled — reconnecting (attempt 1)"]
    after = shown[shown.index(stalled[0]) + 1 :]
    assert "downloading (reconnected 1×)" in after
    assert shown[-1] == "done"
    outcomes = sorted(s.outcome for s in fake_ollama.wait_for_pull_sessions(TINY, 2))
    assert outcomes == ["client-gone", "success"], "the watchdog hung up and the next pull finished"


def test_a_dropped_connection_is_told_apart_from_a_stall(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama
) -> None:
    fake_ollama.set_pull_plan(TINY, [100_000, 500], steps_per_layer=10)
    fake_ollama.drop_after("/api/pull", chunks=6)  # the server cuts the stream mid-download
    shown: list[str] = []
    panel.queue.changed.connect(lambda job: shown.append(row_of(panel, job).phase.text()))
    job = panel.start_pull(TINY)
    qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=20_000)
    assert "connection lost — reconnecting (attempt 1)" in shown
    assert not [t for t in shown if t.startswith("stalled")]
    assert shown[-1] == "done"


def test_several_pulls_queue_and_run_one_after_another(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama
) -> None:
    models = [TINY, "smollm2:135m", "phi4-mini:3.8b"]
    for name in models:
        fake_ollama.set_pull_plan(name, [300_000, 100], steps_per_layer=10)
    fake_ollama.set_chunk_delay(0.01, "/api/pull")
    starts: list[tuple[str, list[str]]] = []

    def on_changed(job: PullJob) -> None:
        if job.state is JobState.RUNNING and job.progress is None:
            starts.append((job.model, [j.state.value for j in panel.queue.jobs]))

    jobs = [panel.start_pull(name) for name in models]
    panel.queue.changed.connect(on_changed)
    assert [j.state for j in jobs] == [JobState.RUNNING, JobState.QUEUED, JobState.QUEUED]
    assert row_of(panel, jobs[2]).phase.text().startswith("queued")
    qtbot.waitUntil(lambda: all(j.state is JobState.DONE for j in jobs), timeout=30_000)

    assert [m for m, _ in starts] == models[1:], "the queued pulls start in the order asked"
    assert starts[0][1] == ["done", "running", "queued"], "one at a time: the next waits for the first"
    assert starts[1][1] == ["done", "done", "running"]
    assert [b["model"] for b in fake_ollama.bodies("/api/pull")] == models
    assert set(models) <= set(fake_ollama.installed())


def test_a_model_that_does_not_exist_fails_in_place_and_can_be_retried(
    qtbot: QtBot, panel: ModelsPanel, arun: Run
) -> None:
    job = arun(panel.pull("no-such-model:13b"))
    assert job.state is JobState.FAILED
    row = row_of(panel, job)
    assert "There is no model called 'no-such-model:13b'" in row.phase.text()
    assert row.resume_button.isVisibleTo(panel)
    row.remove_button.click()
    assert panel.queue.jobs == []
    qtbot.waitUntil(lambda: panel.findChild(PullWidget, "pull:no-such-model:13b") is None, timeout=5000)
    assert panel.pull_list.isHidden(), "no pulls, no pull list"


def test_delete_asks_first_and_names_the_mappings_that_use_it(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama, arun: Run
) -> None:
    assert arun(panel.refresh())
    no = Answers(False)
    assert arun(panel.delete("qwen2.5-coder:7b", confirm=no)) is False
    assert "claude-*sonnet*" in no.asked[0], "the question says which mappings would break"
    assert "qwen2.5-coder:7b" in fake_ollama.installed()
    assert panel.model.row_for("qwen2.5-coder:7b") is not None

    yes = Answers(True)
    with qtbot.waitSignal(panel.models_changed, timeout=10_000):
        assert arun(panel.delete("qwen2.5-coder:7b", confirm=yes)) is True
    assert "qwen2.5-coder:7b" not in fake_ollama.installed()
    assert panel.model.row_for("qwen2.5-coder:7b") is None
    assert fake_ollama.bodies("/api/delete")[-1]["model"] == "qwen2.5-coder:7b"
    # now the mappings need a model that is not there: the pull field suggests it
    assert "qwen2.5-coder:7b" in panel.needed_hint.text() and not panel.needed_hint.isHidden()
    completer = panel.pull_field.completer()
    assert completer is not None and completer.model().index(0, 0).data() == "qwen2.5-coder:7b"


def test_delete_button_asks_in_a_box_that_leaves_the_loop_running(
    qtbot: QtBot, holder: ConfigHolder, fake_ollama: FakeOllama, arun: Run
) -> None:
    state = ollama(holder)
    panel = ModelsPanel(holder, state)  # the real question box
    try:
        assert arun(panel.refresh())
        assert panel.select_model("llama3.2:3b")
        panel.delete_button.click()
        qtbot.waitUntil(lambda: panel.findChild(QMessageBox, "confirmBox") is not None, timeout=5000)
        box = panel.findChild(QMessageBox, "confirmBox")
        assert box is not None and "Delete llama3.2:3b from Ollama?" in box.text()
        # while it waits for an answer, other work on the loop goes on (a modal exec() would stall it)
        assert arun(panel.refresh())
        assert "llama3.2:3b" in fake_ollama.installed()
        with qtbot.waitSignal(panel.models_changed, timeout=10_000):
            box.button(QMessageBox.StandardButton.Yes).click()
        assert "llama3.2:3b" not in fake_ollama.installed()
    finally:
        arun(panel.shutdown())
        arun(state.aclose())
        dispose(panel)


def test_load_and_unload_show_in_the_table(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama, arun: Run
) -> None:
    fake_ollama.set_vram_fraction("qwen2.5-coder:7b", 0.4)
    assert arun(panel.refresh())
    assert panel.select_model("qwen2.5-coder:7b")
    assert panel.load_button.isEnabled() and not panel.unload_button.isEnabled()

    panel.load_button.click()
    qtbot.waitUntil(lambda: "qwen2.5-coder:7b" in fake_ollama.loaded(), timeout=10_000)
    qtbot.waitUntil(lambda: cell(panel, "qwen2.5-coder:7b", "loaded") != "—", timeout=10_000)
    assert cell(panel, "qwen2.5-coder:7b", "loaded") == "60%/40% CPU/GPU · kept loaded"
    body = fake_ollama.bodies("/api/generate")[-1]
    assert body["options"]["num_ctx"] == 32768, "loaded with the context its mappings ask for"
    assert body["keep_alive"] == -1
    assert panel.unload_button.isEnabled() and not panel.load_button.isEnabled()

    assert arun(panel.unload("qwen2.5-coder:7b"))
    assert "qwen2.5-coder:7b" not in fake_ollama.loaded()
    assert cell(panel, "qwen2.5-coder:7b", "loaded") == "—"
    assert panel.status.text() == "Unloaded qwen2.5-coder:7b."


def test_ollama_going_away_is_said_in_place(
    qtbot: QtBot, panel: ModelsPanel, fake_ollama: FakeOllama, arun: Run
) -> None:
    assert arun(panel.refresh())
    fake_ollama.stop()
    assert arun(panel.refresh()) is False
    assert "Ollama is not answering" in panel.banner.text.text()
    assert not panel.banner.isHidden()
    assert panel.model.row_for("llama3.2:3b") is not None, "the last list stays visible"


def test_needed_models_from_the_mappings_are_suggested(
    qtbot: QtBot, holder: ConfigHolder, panel: ModelsPanel, arun: Run, fake_ollama: FakeOllama
) -> None:
    # a download that takes a few seconds, so the pull is still running while the test looks
    fake_ollama.set_pull_plan("qwen3:8b", [500_000, 1_000], steps_per_layer=50)
    fake_ollama.set_chunk_delay(0.05, "/api/pull")
    mappings = [*holder.config.mappings[:-1], Mapping(name="gpt-4o", model="qwen3:8b")]
    holder.replace(holder.config.model_copy(update={"mappings": [*mappings, holder.config.mappings[-1]]}))
    assert arun(panel.refresh())
    assert panel.needed_models() == ["qwen3:8b"]
    assert "qwen3:8b" in panel.needed_hint.text()
    assert "qwen3:8b" in panel.pull_field.placeholderText()
    assert panel.pull_needed_button.text() == "Pull qwen3:8b" and not panel.pull_needed_button.isHidden()
    panel.pull_needed_button.click()
    qtbot.waitUntil(lambda: panel.queue.job("qwen3:8b") is not None, timeout=5000)
    job = panel.queue.job("qwen3:8b")
    assert job is not None and job.state is JobState.RUNNING, job.error
    assert panel.pull_needed_button.isHidden(), "a model being pulled is not offered again"
    assert panel.request_pull("qwen3:8b") is job, "asking again (Mappings panel) joins the same pull"
    assert len(panel.queue.jobs) == 1


def test_a_hidden_panel_asks_ollama_again_only_when_the_models_changed_and_catches_up_when_shown(
    panel: ModelsPanel, fake_ollama: FakeOllama, qtbot: QtBot
) -> None:
    names = ["llama3.2:3b", "qwen2.5-coder:7b"]
    panel.on_ollama_changed(True, names)  # the first news: the list is read even while hidden
    assert panel.refreshing
    qtbot.waitUntil(lambda: not panel.refreshing and panel.proxy.rowCount() == 2)

    fake_ollama.clear_requests()
    panel.on_ollama_changed(True, names)  # the watcher's next polls: nothing installed or removed
    panel.on_ollama_changed(True, names)
    assert not panel.refreshing, "a hidden panel leaves Ollama alone when nothing changed"

    panel.on_ollama_changed(True, ["llama3.2:3b"])  # a model was deleted elsewhere
    assert panel.refreshing
    qtbot.waitUntil(lambda: not panel.refreshing)
    assert [r.path for r in fake_ollama.requests].count("/api/ps") == 1

    panel.on_ollama_changed(True, ["llama3.2:3b"])
    assert not panel.refreshing
    panel.show()  # shown: it catches up on what it skipped
    assert panel.refreshing
    qtbot.waitUntil(lambda: not panel.refreshing)
    assert [r.path for r in fake_ollama.requests].count("/api/ps") == 2


def test_a_mapping_keep_alive_in_seconds_reaches_ollama_as_a_number(
    panel: ModelsPanel, holder: ConfigHolder, fake_ollama: FakeOllama, arun: Run
) -> None:
    mappings = [
        m.model_copy(update={"options": m.options.model_copy(update={"keep_alive": "1800"})})
        for m in holder.config.mappings
    ]
    holder.replace(holder.config.model_copy(update={"mappings": mappings}))
    assert arun(panel.load("qwen2.5-coder:7b"))
    assert fake_ollama.bodies("/api/generate")[-1]["keep_alive"] == 1800  # a bare "1800" is no duration
    assert "qwen2.5-coder:7b" in fake_ollama.loaded()


def test_a_model_that_makes_embeddings_is_marked_and_still_gets_its_fit(
    panel: ModelsPanel, fake_ollama: FakeOllama, arun: Run
) -> None:
    fake_ollama.add_model(nomic_embed_text())
    assert arun(panel.refresh())
    assert cell(panel, "nomic-embed-text:latest", "tools") == "embeddings"
    assert cell(panel, "qwen2.5-coder:7b", "tools") == "✓"  # a chat model is not marked
    row = next(
        r
        for r in range(panel.proxy.rowCount())
        if panel.proxy.index(r, COL["name"]).data() == "nomic-embed-text:latest"
    )
    tip = panel.proxy.index(row, COL["tools"]).data(Qt.ItemDataRole.ToolTipRole)
    assert "/v1/embeddings" in tip and "chat requests to it are refused" in tip
    assert cell(panel, "nomic-embed-text:latest", "fits") not in ("?", "")  # the Fits badge still applies
