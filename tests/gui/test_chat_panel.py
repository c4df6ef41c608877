"""The test chat panel against the real gateway and the fake Ollama: A/B, Stop, the probe."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from core.clients.chat import ChatClient
from core.clients.tool_probe import ProbeResult, probe_tool_calls
from core.gateway.service import Gateway
from gui.panels.chat import ChatPanel
from tests.core.gateway_support import KEY, free_port, running, tier_config
from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models
from tests.gui.conftest import Run

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]
QWEN, LLAMA = "qwen2.5-coder:7b", "llama3.2:3b"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=default_models()) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(fake: FakeOllama) -> Iterator[Gateway]:
    with running(Gateway(tier_config(fake.url, free_port()), master_key=KEY)) as gw:
        yield gw


@pytest.fixture
def panel(qtbot: QtBot, loop: object, gateway: Gateway, fake: FakeOllama) -> Iterator[ChatPanel]:
    fake.clear_requests()
    fake.clear_faults()
    fake.set_chunk_delay(0.0)

    async def probe(mapping: str) -> ProbeResult:
        return await probe_tool_calls(gateway.url, KEY, mapping)

    chat = ChatPanel(lambda: ChatClient(gateway.url, KEY), probe, lambda: ["gpt-4o", "claude-*haiku*"])
    qtbot.addWidget(chat)
    chat.resize(1000, 700)
    chat.show()
    yield chat
    chat.stop()
    qtbot.waitUntil(lambda: not chat.busy, timeout=10_000)
    fake.set_chunk_delay(0.0)
    fake.set_reply(QWEN, f"Hello from {QWEN}.")
    fake.set_reply(LLAMA, f"Hello from {LLAMA}.")


def test_ab_streams_the_same_prompt_to_both_mappings_at_once(
    panel: ChatPanel, fake: FakeOllama, qtbot: QtBot, arun: Run
) -> None:
    fake.set_reply(QWEN, "qwen " * 8, prompt_eval_count=20, eval_count=8)
    fake.set_reply(LLAMA, "llama " * 8, prompt_eval_count=21, eval_count=8)
    fake.set_chunk_delay(0.1)  # each reply takes ~0.8 s, so the two must overlap
    panel.ab.setChecked(True)
    assert panel.side_b.isVisible()
    assert (panel.side_a.model, panel.side_b.model) == ("gpt-4o", "claude-*haiku*")
    first_text: dict[str, float] = {}
    finished: dict[str, float] = {}
    for side in (panel.side_a, panel.side_b):
        side.transcript.textChanged.connect(
            lambda label=side.label: (
                first_text.setdefault(label, time.monotonic())
                if "llama" in panel.side_b.text() or "qwen" in panel.side_a.text()
                else None
            )
        )
    panel.reply_finished.connect(lambda label, _done: finished.setdefault(label, time.monotonic()))
    panel.prompt.setPlainText("Who are you?")
    panel.send_button.click()
    qtbot.waitUntil(lambda: panel.stop_button.isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: not panel.busy and len(finished) == 2, timeout=30_000)

    assert panel.side_a.text().rstrip().endswith("qwen " * 7 + "qwen")
    assert panel.side_b.text().rstrip().endswith("llama " * 7 + "llama")
    assert "You: Who are you?" in panel.side_a.text() and "You: Who are you?" in panel.side_b.text()
    assert "20 → 8 tokens" in panel.side_a.stats.text() and "TTFT" in panel.side_a.stats.text()
    assert "21 → 8 tokens" in panel.side_b.stats.text()
    assert max(first_text.values()) < min(finished.values()), "both sides streamed at the same time"
    models = sorted(body["model"] for body in fake.bodies("/api/chat"))
    assert models == [LLAMA, QWEN]
    assert panel.send_button.isEnabled() and not panel.stop_button.isEnabled()


def test_switching_mapping_keeps_the_conversation_and_the_system_prompt_is_sent(
    panel: ChatPanel, fake: FakeOllama, arun: Run
) -> None:
    panel.set_dialect("anthropic")
    panel.system.setPlainText("Answer in one word.")
    fake.set_reply(QWEN, "Blue.")
    arun(panel.send("Favourite colour?"))
    panel.side_a.mapping.setCurrentText("claude-*haiku*")
    fake.set_reply(LLAMA, "Because.")
    arun(panel.send("Why?"))

    body = fake.bodies("/api/chat")[-1]
    assert body["model"] == LLAMA, "the second reply came from the newly picked mapping"
    sent = [(m["role"], m["content"]) for m in body["messages"]]
    assert sent == [
        ("system", "Answer in one word."),
        ("user", "Favourite colour?"),
        ("assistant", "Blue."),
        ("user", "Why?"),
    ]
    assert [t.content for t in panel.side_a.turns] == ["Favourite colour?", "Blue.", "Why?", "Because."]

    panel.copy_button.click()
    assert "Blue." in QGuiApplication.clipboard().text() and "Because." in QGuiApplication.clipboard().text()
    panel.clear_button.click()
    assert panel.side_a.turns == [] and panel.side_a.text() == ""


def test_stop_cancels_the_stream_and_keeps_what_arrived(
    panel: ChatPanel, fake: FakeOllama, qtbot: QtBot
) -> None:
    fake.set_reply(QWEN, " ".join(f"w{i}" for i in range(100)))
    fake.set_chunk_delay(0.1)  # 10 s if nobody stops it
    panel.prompt.setPlainText("count")
    panel.send_button.click()
    qtbot.waitUntil(lambda: "w2" in panel.side_a.text(), timeout=20_000)
    began = time.monotonic()
    panel.stop_button.click()
    qtbot.waitUntil(lambda: not panel.busy, timeout=5000)
    assert time.monotonic() - began < 5
    text = panel.side_a.text()
    assert text.endswith("[stopped]") and "w99" not in text
    assert panel.side_a.stats.text() == "stopped"
    assert panel.side_a.turns[-1].role == "assistant" and panel.side_a.turns[-1].content.startswith(
        "w0 w1 w2"
    )
    assert fake.wait_until(lambda: fake.in_flight == 0, 5.0), "the gateway let go of Ollama's stream"
    assert panel.send_button.isEnabled()


def test_an_error_is_shown_in_place_and_the_prompt_can_be_sent_again(
    panel: ChatPanel, fake: FakeOllama, arun: Run
) -> None:
    fake.fail("/api/chat", status=500, error="model ran out of memory", times=1)
    arun(panel.send("hi"))
    assert "out of memory" in panel.side_a.stats.text() and "HTTP 500" in panel.side_a.stats.text()
    assert panel.side_a.turns == [], "the unanswered prompt is not kept"
    arun(panel.send("hi again"))
    assert [t.role for t in panel.side_a.turns] == ["user", "assistant"]


def test_the_probe_button_reports_pass_and_fail(panel: ChatPanel, fake: FakeOllama, qtbot: QtBot) -> None:
    fake.set_replier(QWEN, probe_model("calls"))
    panel.side_a.probe_button.click()
    qtbot.waitUntil(lambda: panel.side_a.probe_result.text().startswith("✔"), timeout=60_000)
    assert "Tool calls work: read_file" in panel.side_a.probe_result.text()

    fake.set_replier(QWEN, probe_model("prose"))
    panel.side_a.probe_button.click()
    qtbot.waitUntil(lambda: panel.side_a.probe_result.text().startswith("✘"), timeout=60_000)
    assert "No tool call: it answered in plain text" in panel.side_a.probe_result.text()
    assert panel.side_a.probe_button.isEnabled()
