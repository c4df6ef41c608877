"""Requests shaped like the Claude Code CLI's (2.1.x) for ``bench.gateway``, in three sizes.

- ``first turn``: the recorded first turn as it stands (``tests/fixtures/clients/claude_code/
  first_turn.json``: ~57 KB, 13 tools, adaptive thinking, ``output_config``, a ``system``
  message inside ``messages``);
- ``80 KB, 24 tools``: the same with 11 more tools (copies of its smaller ones under new
  names) and the system prompt made up to ~80 KB;
- ``1 MB conversation``: the first turn followed by as many turns of a session as make ~1 MB
  (each a prompt, an answer with a ``tool_use``, its ``tool_result`` holding a file's worth of
  text), as a long Claude Code session sends on every request.

Every text is generated (the fixture's already is). :func:`ollama_request` gives the body
GateDeck sends Ollama for one of them, the direct anchor measured beside it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from bench.codex_shaped import _text as generated_text

FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/clients/claude_code/first_turn.json"
WIDE_TOOLS = 24
WIDE_BYTES = 80_000
LONG_BYTES = 1_000_000
#: One turn of a session: a prompt, the file the model read, its short answer (~10 KB).
_PROMPT_CHARS, _FILE_CHARS, _ANSWER_CHARS = 400, 9000, 600


def _first_turn() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))["body"]
    return body


def first_turn(model: str, *, stream: bool) -> dict[str, Any]:
    """The recorded first turn for ``model``."""
    return {**_first_turn(), "model": model, "stream": stream}


def wide(model: str, *, stream: bool) -> dict[str, Any]:
    """The first turn with 24 tools, ~80 KB."""
    body = first_turn(model, stream=stream)
    tools = list(body["tools"])
    originals = sorted(tools, key=lambda tool: len(json.dumps(tool)))[: len(tools) // 2]
    while len(tools) < WIDE_TOOLS:
        tool = copy.deepcopy(originals[len(tools) % len(originals)])
        tool["name"] = f"{tool['name']}_{len(tools)}"
        tools.append(tool)
    body["tools"] = tools
    missing = WIDE_BYTES - _size(body)
    if missing > 0:
        system = list(body["system"])
        system.append({"type": "text", "text": generated_text(missing, 7)})
        body["system"] = system
    return body


def long_conversation(model: str, *, stream: bool) -> dict[str, Any]:
    """The first turn and then turns of a session, ~1 MB in all."""
    body = first_turn(model, stream=stream)
    messages = list(body["messages"])
    size = _size(body)
    turn = 0
    while size < LONG_BYTES:
        added = _turn(turn)
        messages += added
        size += len(json.dumps(added)) + 2
        turn += 1
    messages.append({"role": "user", "content": [{"type": "text", "text": generated_text(_PROMPT_CHARS, 3)}]})
    body["messages"] = messages
    return body


def _turn(number: int) -> list[dict[str, Any]]:
    call_id = f"toolu_bench{number:06d}"
    return [
        {"role": "user", "content": [{"type": "text", "text": generated_text(_PROMPT_CHARS, number)}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": generated_text(80, number + 1)},
                {
                    "type": "tool_use",
                    "id": call_id,
                    "name": "Read",
                    "input": {"file_path": f"/home/user/project/src/module_{number}.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": call_id,
                    "content": generated_text(_FILE_CHARS, number + 2),
                }
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": generated_text(_ANSWER_CHARS, number + 3)}],
        },
    ]


def _size(body: dict[str, Any]) -> int:
    return len(json.dumps(body))


def ollama_request(body: dict[str, Any], model: str, api_base: str) -> dict[str, Any]:
    """What GateDeck sends Ollama for ``body`` (the direct anchor's body), for a model that
    cannot think (the bench's fake model; GateDeck then sends no ``think``)."""
    from core.fastpath import anthropic
    from core.fastpath.plan import Target

    out = anthropic.ollama_request(body, Target(api_base, model, thinks=False), model)
    out.pop("think", None)
    return out


def has_content(line: str) -> bool:
    """Whether a streamed line is the first text delta of a Messages stream."""
    return line.startswith("data: ") and '"text_delta"' in line


#: (row label, builder) in the order printed.
SHAPES = (
    ("Claude Code first turn (57 KB, 13 tools)", first_turn),
    ("Claude Code 80 KB, 24 tools", wide),
    ("Claude Code 1 MB conversation", long_conversation),
)
