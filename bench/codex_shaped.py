"""A request shaped like the Codex CLI's (0.171, recorded 2026-12) for ``bench.gateway``.

Codex sends every turn to ``POST /v1/responses``, streamed, with its whole conversation as
``input`` (``store: false``): two developer messages (its instructions and skills, ~17 KB and
~2.5 KB), the environment context, the prompt, then each tool call and its output; 7 function
tools, a namespace of 5 more and a hosted web search (~20 KB of schemas). This builds a request
with those fields, roles, order and sizes, the text generated (none of Codex's own), at the
second model request of a turn: after one ``exec_command`` call and its output.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

#: (name, description length, parameter count, schema size) of each function tool, as recorded.
_TOOLS = [
    ("exec_command", 82, 10, 1422),
    ("write_stdin", 80, 4, 644),
    ("request_user_input", 120, 1, 1203),
    ("view_image", 124, 1, 173),
    ("get_goal", 122, 0, 83),
    ("create_goal", 265, 2, 424),
    ("update_goal", 1541, 1, 551),
]
_NAMESPACE = [
    ("close_agent", 298, 1, 175),
    ("resume_agent", 89, 1, 149),
    ("send_input", 215, 4, 1356),
    ("spawn_agent", 5989, 5, 1518),
    ("wait_agent", 252, 2, 418),
]
_WORDS = [
    "local",
    "model",
    "gateway",
    "answer",
    "stream",
    "token",
    "context",
    "window",
    "tool",
    "call",
    "output",
    "shell",
    "file",
]


def _text(length: int, seed: int = 0) -> str:
    """Generated words, exactly ``length`` characters."""
    words = itertools.cycle(_WORDS[seed % len(_WORDS) :] + _WORDS[: seed % len(_WORDS)])
    out = ""
    while len(out) < length:
        out += next(words) + " "
    return out[:length]


def _tool(name: str, described: int, params: int, schema: int) -> dict[str, Any]:
    names = [f"{name}_arg{i}" for i in range(params)]
    each = max(8, (schema - 40) // max(params, 1) - 40 - len(name))
    properties = {n: {"type": "string", "description": _text(each, i)} for i, n in enumerate(names)}
    return {
        "type": "function",
        "name": name,
        "description": _text(described, len(name)),
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": names[:1],
            "additionalProperties": False,
        },
    }


def _message(role: str, *texts: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": t} for t in texts]}


def request(model: str, *, stream: bool) -> dict[str, Any]:
    """A Codex-shaped Responses request for ``model`` (~41 KB)."""
    tools: list[dict[str, Any]] = [_tool(*spec) for spec in _TOOLS[:4]]
    tools.append(
        {
            "type": "namespace",
            "name": "multi_agent_v1",
            "description": _text(43),
            "tools": [_tool(*spec) for spec in _NAMESPACE],
        }
    )
    tools += [_tool(*spec) for spec in _TOOLS[4:]]
    tools.append({"type": "web_search", "external_web_access": False})
    call_id = "call_bench0001"
    return {
        "model": model,
        "input": [
            _message("developer", _text(16979, 1)),
            _message("developer", _text(2115, 2), _text(341, 3)),
            _message("user", _text(397, 4)),
            _message("user", "List the files."),
            {
                "type": "function_call",
                "name": "exec_command",
                "arguments": json.dumps({"cmd": "ls -la", "workdir": "/home/user/project"}),
                "call_id": call_id,
            },
            {"type": "function_call_output", "call_id": call_id, "output": _text(900, 5)},
        ],
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": stream,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0b5d1c2e-bench-4000-8000-codexshaped01",
        "client_metadata": {"root_turn_id": "0b5d1c2e-bench-turn"},
    }


def ollama_request(model: str, api_base: str, *, stream: bool) -> dict[str, Any]:
    """What GateDeck sends Ollama for :func:`request` (the direct anchor's body)."""
    from core.fastpath.plan import Target
    from core.fastpath.responses import ResponsesExchange
    from core.fastpath.responses_memory import ResponseMemory

    body = request(model, stream=stream)
    return ResponsesExchange(ResponseMemory()).ollama_request(body, Target(api_base, model), model)


def has_content(line: str) -> bool:
    """Whether a streamed line is the first text delta of a Responses stream."""
    return line.startswith("data: ") and '"response.output_text.delta"' in line
