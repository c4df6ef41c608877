"""The whole window driving the real embedded gateway, as a user would with the tray and panels."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import httpx
import openai
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.schema import GatewaySettings, Mapping, OllamaBackend
from core.config.ui_state import UiStateFile
from core.gateway.running import find_running
from gui.controller import AppController
from gui.widgets.mappings_table import COLUMNS
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import nomic_embed_text
from tests.gui.conftest import Run

ENGINE_MS = 120_000  # the first import of the gateway engine takes seconds on a busy 2-core box


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
    arun(app.quit(), timeout_ms=60_000)  # stops the gateway and closes the window
    assert not app.window.isVisible()


def chat(app: AppController, model: str) -> str:
    client = openai.OpenAI(base_url=app.gateway.url + "/v1", api_key=app.gateway.master_key, timeout=30)
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return reply.choices[0].message.content or ""


@pytest.mark.timeout(240)
def test_tray_starts_and_stops_the_real_gateway(qtbot: QtBot, controller: AppController) -> None:
    qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=ENGINE_MS)
    assert controller.tray.toggle_action.text() == "Start gateway"

    controller.tray.toggle_action.trigger()
    qtbot.waitUntil(lambda: controller.gateway.state == "running", timeout=60_000)
    assert controller.tray.toggle_action.text() == "Stop gateway"
    assert "running" in controller.tray.icon.toolTip()
    assert chat(controller, "claude-sonnet-4-5")
    assert controller.gateway.url in controller.window.gateway_status.text()
    # A terminal's `gatedeck claude-env` finds the window's gateway on its port.
    running = find_running(controller.install.paths)
    assert running is not None and running.url == controller.gateway.url and running.where == "window"

    controller.tray.toggle_action.trigger()
    qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=30_000)
    with pytest.raises(httpx.ConnectError):
        httpx.get(controller.gateway.url + "/health/liveliness", timeout=5)
    assert find_running(controller.install.paths) is None


@pytest.mark.timeout(240)
def test_once_everything_has_loaded_garbage_collection_has_little_to_walk(
    qtbot: QtBot, controller: AppController
) -> None:
    # A full collection walks every object the collector tracks with the GIL held: with the
    # gateway engine and the client SDKs left in its way it stalled the window for 0.1-1 s.
    qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=ENGINE_MS)
    warmup = controller.gateway.sdk_warmup
    assert warmup is not None
    warmup.join(timeout=120)
    assert not warmup.is_alive()
    assert gc.get_freeze_count() > 100_000
    assert len(gc.get_objects()) < 20_000


@pytest.mark.timeout(240)
def test_quitting_waits_for_the_client_sdk_warm_up(
    qtbot: QtBot, controller: AppController, arun: Run
) -> None:
    # Quitting right after the engine loaded: a process that exits while the warm-up thread is
    # half way through an import can hang at exit, so closing the bridge lets it finish first.
    qtbot.waitUntil(lambda: controller.gateway.sdk_warmup is not None, timeout=ENGINE_MS)
    arun(controller.gateway.close(), timeout_ms=120_000)
    warmup = controller.gateway.sdk_warmup
    assert warmup is not None and not warmup.is_alive()


@pytest.mark.timeout(240)
def test_apply_in_the_mappings_panel_changes_what_the_running_gateway_serves(
    qtbot: QtBot, controller: AppController, fake_ollama: FakeOllama, arun: Run
) -> None:
    qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=ENGINE_MS)
    assert arun(controller.gateway.start(), timeout_ms=60_000)
    states: list[str] = []
    controller.gateway.state_changed.connect(lambda state, _reason: states.append(state))

    chat(controller, "gpt-4o")
    assert fake_ollama.bodies("/api/chat")[-1]["model"] == "qwen2.5-coder:7b"

    panel = controller.mappings_panel
    controller.window.show_panel("mappings")
    catch_all = next(i for i, r in enumerate(panel.model.rows()) if r["name"] == "*")
    column = [key for key, _ in COLUMNS].index("model")
    panel.model.setData(panel.model.index(catch_all, column), "llama3.2:3b", Qt.ItemDataRole.EditRole)
    with qtbot.waitSignal(panel.applied, timeout=30_000) as applied:
        panel.apply_button.click()
    assert "no restart" in applied.args[0]

    chat(controller, "gpt-4o")
    body = fake_ollama.bodies("/api/chat")[-1]
    assert body["model"] == "llama3.2:3b"
    assert body["options"]["num_ctx"] == 32768
    assert "stopping" not in states, "hot-apply must not restart the gateway"
    assert controller.install.store.load().config.mappings[catch_all].model == "llama3.2:3b"


@pytest.mark.timeout(240)
def test_port_in_use_is_explained_with_a_free_port_offered(
    qtbot: QtBot, controller: AppController, arun: Run
) -> None:
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", controller.holder.config.gateway.port))
    blocker.listen()
    try:
        qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=ENGINE_MS)
        assert arun(controller.gateway.start(), timeout_ms=60_000) is False
        panel = controller.gateway_panel
        assert controller.gateway.state == "failed"
        assert str(controller.holder.config.gateway.port) in panel.banner.text.text()
        assert panel.banner.action.isVisible() or panel.banner.action.text().startswith("Use port")
        offered = controller.gateway.suggested_port
        assert offered and offered != controller.holder.config.gateway.port
    finally:
        blocker.close()


@pytest.mark.timeout(240)
def test_closing_the_window_without_a_tray_quits_cleanly(controller: AppController, qtbot: QtBot) -> None:
    qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=ENGINE_MS)
    controller.window.close()
    qtbot.waitUntil(controller.quit_finished.is_set, timeout=30_000)
    assert not controller.window.isVisible()


@pytest.mark.timeout(240)
def test_closing_the_window_with_a_tray_hides_it_and_says_so_once(
    install: Installation, fake_ollama: FakeOllama, qtbot: QtBot, arun: Run
) -> None:
    install.loaded.config = install.config.model_copy(
        update={"gateway": GatewaySettings(port=free_port(), start_on_launch=False)}
    )
    app = AppController(install, use_tray=True)
    app.start()
    try:
        app.window.close()
        assert not app.window.isVisible()
        assert not app.quit_finished.is_set(), "the gateway keeps serving from the tray"
        assert UiStateFile(install.paths.state_file).state.tray_hint_shown, "said once, also next time"
        app.tray.open_action.trigger()
        assert app.window.isVisible()
    finally:
        arun(app.quit(), timeout_ms=60_000)


@pytest.mark.timeout(240)
def test_the_fast_path_checkbox_switches_a_running_gateway_without_a_restart(
    qtbot: QtBot, controller: AppController, arun: Run
) -> None:
    qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=ENGINE_MS)
    assert arun(controller.gateway.start(), timeout_ms=60_000)
    states: list[str] = []
    controller.gateway.state_changed.connect(lambda state, _reason: states.append(state))
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {controller.gateway.master_key}"}

    def path() -> str:
        response = httpx.post(
            controller.gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=30
        )
        assert response.status_code == 200
        return response.headers.get("x-gatedeck-path", "litellm")

    panel = controller.gateway_panel
    controller.window.show_panel("gateway")
    assert panel.direct_path.isChecked() and path() == "direct"
    assert not panel.save_button.isEnabled()

    panel.direct_path.setChecked(False)
    assert panel.save_button.isEnabled()
    arun(panel.save_settings(), timeout_ms=60_000)
    assert path() == "litellm"
    assert controller.install.store.load().config.gateway.direct_path is False
    assert "stopping" not in states, "switching the fast path must not restart the gateway"

    panel.direct_path.setChecked(True)
    arun(panel.save_settings(), timeout_ms=60_000)
    assert path() == "direct"


@pytest.mark.timeout(240)
def test_the_gateway_panel_shows_the_metrics_token_that_scrapes_the_running_gateway(
    qtbot: QtBot, controller: AppController
) -> None:
    box = controller.gateway_panel.metrics_box
    token = controller.install.metrics_token
    assert token and box.token_field.text() == token
    assert box.token_field.echoMode() == QLineEdit.EchoMode.Password  # hidden until Show
    qtbot.mouseClick(box.show_token, Qt.MouseButton.LeftButton)
    assert box.token_field.echoMode() == QLineEdit.EchoMode.Normal and box.show_token.text() == "Hide"
    qtbot.mouseClick(box.copy_token, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == token
    port = controller.holder.config.gateway.port
    assert f'targets: ["127.0.0.1:{port}"]' in box.job.toPlainText()

    qtbot.waitUntil(lambda: controller.gateway.state == "stopped", timeout=ENGINE_MS)
    controller.tray.toggle_action.trigger()
    qtbot.waitUntil(lambda: controller.gateway.state == "running", timeout=60_000)
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(controller.gateway.url + "/metrics", headers=bearer, timeout=10).status_code == 200
    chat_with_token = httpx.post(
        controller.gateway.url + "/v1/chat/completions",
        headers=bearer,
        json={"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert chat_with_token.status_code == 403


@pytest.mark.timeout(240)
def test_the_window_marks_a_mapping_whose_model_only_embeds(
    qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, arun: Run
) -> None:
    fake_ollama.add_model(nomic_embed_text())
    embedder = Mapping(name="embedder", model="nomic-embed-text")
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=fake_ollama.url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
            "mappings": [embedder, *install.config.mappings],
        }
    )
    install.store.save(config)
    install.loaded.config = config
    app = AppController(install, use_tray=False)
    app.start()
    try:
        table = app.mappings_panel.model
        qtbot.waitUntil(lambda: table.only_embeds(0), timeout=60_000)  # Ollama's details, asked once
        assert (
            table.index(0, COLUMNS.index(("model", "Ollama model"))).data()
            == "nomic-embed-text  [embeddings]"
        )
        assert not any(table.only_embeds(row) for row in range(1, table.rowCount()))
    finally:
        arun(app.quit(), timeout_ms=60_000)
