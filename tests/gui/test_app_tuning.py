"""The Hardware and Models panels in the whole window, driving the real embedded gateway."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
import qasync
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.schema import GatewaySettings, Mapping, OllamaBackend
from core.hardware.autotune import tune_candidates
from gui.controller import AppController
from gui.pull_queue import JobState
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.gui.conftest import Run
from tests.gui.qt_support import asyncio_like

ENGINE_MS = 120_000  # the first import of the gateway engine takes seconds on a busy 2-core box
MODEL = "qwen2.5-coder:7b"


@pytest.fixture(autouse=True)
def like_asyncio(loop: qasync.QEventLoop) -> Iterator[None]:
    with asyncio_like(loop):  # a pull checks free disk space through asyncio.to_thread
        yield


@pytest.fixture
def controller(install: Installation, fake_ollama: FakeOllama, arun: Run) -> Iterator[AppController]:
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=fake_ollama.url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
        }
    )
    install.store.save(config)
    install.loaded.config = config
    app = AppController(install, use_tray=False)
    app.start()
    yield app
    arun(app.quit(), timeout_ms=60_000)


def chat(app: AppController, model: str) -> None:
    client = openai.OpenAI(base_url=app.gateway.url + "/v1", api_key=app.gateway.master_key, timeout=30)
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])


def running(qtbot: QtBot, app: AppController, arun: Run) -> None:
    qtbot.waitUntil(lambda: app.gateway.state == "stopped", timeout=ENGINE_MS)
    assert arun(app.gateway.start(), timeout_ms=60_000)


@pytest.mark.timeout(240)
def test_context_slider_apply_reaches_ollama_and_measure_times_it(
    qtbot: QtBot, controller: AppController, fake_ollama: FakeOllama, arun: Run
) -> None:
    running(qtbot, controller, arun)
    panel = controller.hardware_panel
    controller.window.show_panel("hardware")
    qtbot.waitUntil(lambda: panel.tuning.fit.estimate is not None, timeout=20_000)  # the watcher's first news
    arun(panel.select_mapping("*"))
    before = panel.tuning.fit.estimate
    assert before is not None and before.num_ctx == 32768

    panel.tuning.context.set_position(panel.tuning.context.position_of(12288))
    after = panel.tuning.fit.estimate
    assert after is not None and after.num_ctx == 12288 and after.kv_cache * 8 == before.kv_cache * 3
    assert panel.tuning.fit.breakdown.text() != "" and after.summary() == panel.tuning.fit.summary.text()

    with qtbot.waitSignal(panel.applied, timeout=30_000) as applied:
        panel.tuning.apply_button.click()
    assert "no restart" in applied.args[0]
    chat(controller, "gpt-4o")  # no exact mapping: the catch-all "*" serves it
    assert fake_ollama.bodies("/api/chat")[-1]["options"]["num_ctx"] == 12288
    assert controller.install.store.load().config.mappings[-1].options.num_ctx == 12288

    # Measure: 24 words, one streamed chunk each, 20 ms apart
    fake_ollama.set_reply(MODEL, " ".join(f"w{i}" for i in range(24)))
    fake_ollama.set_chunk_delay(0.02, "/api/chat")
    panel.speed.measure_button.click()
    qtbot.waitUntil(lambda: panel.speed.table.rowCount() == 1, timeout=60_000)
    measured = panel.speed.measurements[-1]
    assert measured.mapping == "*" and measured.options.num_ctx == 12288
    assert measured.tokens == 24
    assert measured.ttft >= 0.02, "the first chunk cannot come before the fake's first pause"
    # the fake paces chunks at 50 per second; the proxy may bunch a few, so allow a margin both ways
    assert 25 < measured.tokens_per_s < 100
    row = panel.speed.row(0)
    assert row[1] == "*" and row[2] == "12,288" and row[7] == f"{measured.tokens_per_s:.1f}"
    warmup, timed = fake_ollama.bodies("/api/chat")[-2:]
    assert warmup["options"]["num_predict"] == 1 and timed["stream"] is True
    assert timed["options"]["num_ctx"] == 12288


@pytest.mark.timeout(240)
def test_measuring_an_edit_and_auto_tune_do_not_save_and_restore_the_gateway(
    qtbot: QtBot, controller: AppController, fake_ollama: FakeOllama, arun: Run
) -> None:
    running(qtbot, controller, arun)
    panel = controller.hardware_panel
    qtbot.waitUntil(lambda: panel.tuning.fit.estimate is not None, timeout=20_000)
    arun(panel.select_mapping("claude-*sonnet*"))
    panel.tuning.threads.set_position(panel.tuning.threads.position_of(1))
    assert panel.dirty

    measured = arun(panel.measure(), timeout_ms=60_000)
    assert measured is not None and measured.requested == "claude-sonnet"
    assert fake_ollama.bodies("/api/chat")[-1]["options"]["num_thread"] == 1, "the edit was measured"
    assert panel.speed.row(0)[-1] == "edited, not applied"
    saved = controller.install.store.load().config
    assert saved.mappings[1].options.num_thread is None, "measuring does not save"
    chat(controller, "claude-sonnet-4-5")
    assert "num_thread" not in fake_ollama.bodies("/api/chat")[-1]["options"], "the gateway was restored"

    hardware = panel.hardware
    assert hardware is not None
    options = panel.current_options()
    assert options is not None
    candidates = tune_candidates(
        options, panel.estimate(options.model_copy(update={"num_gpu": None})), hardware
    )
    fake_ollama.clear_requests()
    result = arun(panel.auto_tune(), timeout_ms=120_000)
    assert result is not None and len(result.trials) == len(candidates)
    assert [t.options for t in result.trials] == candidates
    timed = [b for b in fake_ollama.bodies("/api/chat") if b.get("stream")]
    assert [b["options"].get("num_thread") for b in timed] == [c.num_thread for c in candidates]
    assert result.best is not None and result.best.result is not None
    speeds = [t.result.tokens_per_s for t in result.trials if t.result]
    assert round(result.best.result.tokens_per_s, 1) == round(max(speeds), 1)
    assert controller.install.store.load().config.mappings[1].options.num_thread is None
    chat(controller, "claude-sonnet-4-5")
    assert "num_thread" not in fake_ollama.bodies("/api/chat")[-1]["options"]
    if result.improves:
        assert panel.speed.accept_button.isVisibleTo(panel)
        assert panel.accept_proposal()
        assert panel.tuning.threads.value() == result.best.options.num_thread and panel.dirty
    else:
        assert "current settings were the fastest" in panel.speed.status.text()


@pytest.mark.timeout(240)
def test_pull_on_a_missing_mapping_model_starts_it_on_the_models_panel(
    qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, arun: Run
) -> None:
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=fake_ollama.url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
            "mappings": [*install.config.mappings, Mapping(name="gpt-4o", model="qwen3:8b")],
        }
    )
    install.store.save(config)
    install.loaded.config = config
    fake_ollama.set_pull_plan("qwen3:8b", [500_000, 1_000], steps_per_layer=5)
    app = AppController(install, use_tray=False)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.models_panel.needed_models() == ["qwen3:8b"], timeout=20_000)
        with qtbot.waitSignal(app.mappings_panel.pull_requested, timeout=5000):
            button = next(
                b
                for b in app.mappings_panel.findChildren(
                    type(app.mappings_panel.apply_button), "pullMissingModel"
                )
            )
            button.click()
        assert app.window.current_panel == "models"
        job = app.models_panel.queue.job("qwen3:8b")
        assert job is not None
        qtbot.waitUntil(lambda: job.state is JobState.DONE, timeout=30_000)
        # the watcher hears of it and the mapping's "not installed" warning goes away
        qtbot.waitUntil(
            lambda: app.mappings_panel.findChildren(type(button), "pullMissingModel") == [], timeout=20_000
        )
        qtbot.waitUntil(lambda: app.models_panel.model.row_for("qwen3:8b") is not None, timeout=20_000)
    finally:
        arun(app.quit(), timeout_ms=60_000)
