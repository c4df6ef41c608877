"""Tool-call probe verdicts in the Mappings table, for the Mappings screenshot.

Used by ``docs/make_screenshots.py``: each row is probed through the real gateway with the
panel's own probe, while the fake Ollama plays a different kind of model for each: one that
calls tools, one that writes its calls as ``<tool_call>`` text (GateDeck repairs them), one that
writes calls GateDeck cannot read, and one whose context Ollama fills (the prompt does not fit).
The mapping on a model that is not pulled stays "not probed".
"""

from __future__ import annotations

from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama

MODEL = "qwen2.5-coder:7b"


async def probe_verdicts(controller: object, fake: FakeOllama) -> None:
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    panel = controller.mappings_panel
    plays = {
        "claude-*opus*": probe_model("calls"),
        "claude-*sonnet*": probe_model("text"),
        "claude-*haiku*": probe_model("json_noise"),
        "*": probe_model("calls", prompt_eval_count=32768),  # Ollama cut the prompt at num_ctx
    }
    for row, mapping in enumerate(controller.holder.config.mappings):
        if mapping.name in plays:
            fake.set_replier(MODEL, plays[mapping.name])
            panel.table.selectRow(row)
            await panel.probe_selected()
    fake.set_reply(MODEL, f"Hello from {MODEL}.")
    panel.table.selectRow(0)
