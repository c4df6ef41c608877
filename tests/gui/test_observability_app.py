"""The whole window: requests through the real gateway show in the monitor, the request log file
and ``gatedeck stats``; the context guard's "raise context" opens the hardware panel."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator

import openai
import pytest
from pytestqt.qtbot import QtBot

from core.cli import main as cli
from core.config.first_run import Installation
from core.config.schema import GatewaySettings, OllamaBackend
from core.gateway import litellm_seam
from core.metrics.request_log import LOG_FILE, read_log
from core.metrics.savings import dollars
from gui.controller import AppController
from gui.widgets.monitor_stats_table import ALERT_COLUMN
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.gui.conftest import Run

ENGINE_MS = 120_000
pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]


@pytest.fixture
def controller(
    install: Installation, fake_ollama: FakeOllama, arun: Run, qtbot: QtBot
) -> Iterator[AppController]:
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
    qtbot.waitUntil(lambda: app.gateway.state == "stopped", timeout=ENGINE_MS)
    assert arun(app.gateway.start(), timeout_ms=60_000)
    yield app
    arun(app.quit(), timeout_ms=60_000)


def ask(app: AppController, model: str) -> None:
    """One request from a client thread, as Claude Code would send it (the Qt loop keeps running)."""
    client = openai.OpenAI(base_url=app.gateway.url + "/v1", api_key=app.gateway.master_key, max_retries=0)
    done = threading.Event()

    def run() -> None:
        try:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(60)


def test_requests_show_in_the_monitor_the_log_file_and_gatedeck_stats(
    controller: AppController, qtbot: QtBot, capsys: pytest.CaptureFixture[str]
) -> None:
    monitor = controller.observability.monitor
    controller.window.show_panel("monitor")
    for model in ("claude-sonnet-4-5-20250929", "gpt-4o", "claude-3-5-haiku-latest"):
        ask(controller, model)
    qtbot.waitUntil(lambda: monitor.request_log.model.rowCount() == 3, timeout=10_000)
    routes = [r.routing for r in monitor.request_log.visible_records()]
    assert routes[-1] == "claude-sonnet-4-5-20250929 → claude-*sonnet* → qwen2.5-coder:7b"
    assert routes[1] == "gpt-4o → * → qwen2.5-coder:7b", "the catch-all served it"
    monitor.tabs.setCurrentWidget(monitor.stats_table)  # the table is only kept current while shown
    qtbot.waitUntil(lambda: len(monitor.stats_table.rows()) == 3, timeout=5000)

    log_dir = controller.install.paths.log_dir
    logged = list(read_log(log_dir))
    assert [item["requested"] for item in logged] == [
        "claude-sonnet-4-5-20250929",
        "gpt-4o",
        "claude-3-5-haiku-latest",
    ]
    assert (log_dir / LOG_FILE).exists()
    assert cli.main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "3 requests" in out and "claude-*sonnet*" in out and "claude-*haiku*" in out

    # what answering locally saved: the requested cloud model's price for the tokens served
    gpt = next(r for r in monitor.request_log.visible_records() if r.requested == "gpt-4o")
    price = litellm_seam.prices("gpt-4o")
    assert price is not None and gpt.prompt_tokens and gpt.completion_tokens
    assert gpt.cloud_cost == pytest.approx(
        gpt.prompt_tokens * price.input + gpt.completion_tokens * price.output
    )
    today = sum(r.cloud_cost or 0.0 for r in monitor.request_log.visible_records())
    assert monitor.savings.text().startswith(f"Saved {dollars(today)} today")
    assert f"Saved {dollars(today)} today" in controller.tray.icon.toolTip()
    assert f"{dollars(today)} today" in out

    item = monitor.stats_table.item(0, ALERT_COLUMN)
    item.setText("30")
    saved = json.loads((controller.install.paths.data_dir / "alert_thresholds.json").read_text())
    assert saved == {monitor.stats_table.item(0, 0).text(): 30.0}


def test_context_guard_warns_once_and_raise_context_opens_the_hardware_panel(
    controller: AppController, fake_ollama: FakeOllama, qtbot: QtBot
) -> None:
    shown: list[str] = []
    controller.observability.notifier.notify = lambda title, _message, _critical: shown.append(title)
    monitor = controller.observability.monitor
    controller.window.show_panel("monitor")
    num_ctx = controller.holder.config.mappings[1].options.num_ctx  # claude-*sonnet*
    assert controller.holder.config.mappings[1].name == "claude-*sonnet*" and num_ctx

    fake_ollama.set_reply("qwen2.5-coder:7b", "ok", prompt_eval_count=math.ceil(0.9 * num_ctx) - 1)
    ask(controller, "claude-sonnet-4-5")
    qtbot.waitUntil(lambda: monitor.request_log.model.rowCount() == 1, timeout=10_000)
    assert shown == [] and not monitor.banner.isVisible(), "below 90%: nothing to say"

    fake_ollama.set_reply("qwen2.5-coder:7b", "ok", prompt_eval_count=math.ceil(0.9 * num_ctx))
    ask(controller, "claude-sonnet-4-5")
    ask(controller, "claude-sonnet-4-5")
    qtbot.waitUntil(lambda: monitor.request_log.model.rowCount() == 3, timeout=10_000)
    assert shown == ["'claude-*sonnet*' is probably cutting prompts"], "one notification per mapping"
    assert monitor.request_log.visible_records()[0].likely_truncated
    assert monitor.banner.isVisible()

    monitor.banner.action.click()
    assert controller.window.current_panel == "hardware"
    # ...on the mapping that needs it, not on whichever the panel showed last
    tuning = controller.hardware_panel.tuning
    qtbot.waitUntil(lambda: tuning.mapping_choice.currentData() == "claude-*sonnet*", timeout=10_000)
    assert controller.window.focusWidget() is tuning.context.slider, "on the context slider"
