"""A fake Ollama model that plays each tool-probe verdict: it reads the probe's conversation
and answers each turn the way a model of that kind does."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from core.clients.probe_request import NOTES_PATH
from tests.fakes.ollama_records import Reply

#: calls: makes a structured call; text: writes it as <tool_call> text; prose: writes no call;
#: json_noise: writes a call GateDeck cannot read; forgetful: calls, but ignores the result and
#: calls a tool even when asked not to.
Kind = str


def probe_model(kind: Kind, *, prompt_eval_count: int | None = None) -> Callable[[dict[str, Any]], Reply]:
    def reply(request: dict[str, Any]) -> Reply:
        messages = request.get("messages") or []
        results = [m for m in messages if m.get("role") == "tool"]
        asked = str(messages[-1].get("content") or "") if messages else ""
        call = {"function": {"name": "read_file", "arguments": {"path": NOTES_PATH}}}
        if results:
            found = re.search(r"code word: ([\w-]+)\)", str(results[-1].get("content")))
            if kind == "forgetful" or found is None:
                return Reply("I could not tell.", prompt_eval_count=prompt_eval_count)
            return Reply(
                f"The next release's code word is {found.group(1)}.", prompt_eval_count=prompt_eval_count
            )
        if "no tools needed" in asked and kind != "forgetful":
            return Reply("42", prompt_eval_count=prompt_eval_count)
        if kind in ("calls", "forgetful"):
            return Reply(tool_calls=[call], prompt_eval_count=prompt_eval_count)
        if kind == "text":
            written = json.dumps({"name": "read_file", "arguments": {"path": NOTES_PATH}})
            return Reply(f"<tool_call>\n{written}\n</tool_call>", prompt_eval_count=prompt_eval_count)
        if kind == "json_noise":
            return Reply('I would run {"read_file": "the notes"} next.', prompt_eval_count=prompt_eval_count)
        return Reply("I cannot open files, sorry.", prompt_eval_count=prompt_eval_count)

    return reply
