"""Does a mapping make real tool calls? One Claude-Code-like request finds out.

Claude Code only works with a model that answers with structured tool calls; many small local
models print the call as JSON text instead, and Claude Code then just shows that text. The probe
sends what Claude Code would send (Anthropic ``/v1/messages``, streamed, a system prompt, its
``Bash`` and ``Read`` tools) through the gateway with the official SDK, and checks the answer:
a ``tool_use`` block naming one of the tools, whose input has the schema's required fields.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from core.clients.chat import error_text, tell_platform

SYSTEM = (
    "You are Claude Code, Anthropic's official CLI for Claude. You are an interactive CLI tool that "
    "helps users with software engineering tasks. Use the tools available to you to act; never "
    "describe a tool call in text when you can make it."
)
PROMPT = "List the files in the current directory. Use the Bash tool to do it."
TOOLS: list[dict[str, Any]] = [
    {
        "name": "Bash",
        "description": "Executes a given bash command in a persistent shell session and returns its output.",
        "input_schema": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute"},
                "description": {"type": "string", "description": "What the command does, in 5-10 words"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "name": "Read",
        "description": "Reads a file from the local filesystem.",
        "input_schema": {
            "type": "object",
            "properties": {"file_path": {"type": "string", "description": "Absolute path of the file"}},
            "required": ["file_path"],
            "additionalProperties": False,
        },
    },
]


@dataclass(frozen=True)
class ProbeResult:
    """The probe's answer for one mapping.

    Attributes:
        mapping: the name probed.
        passed: a well-formed tool call came back.
        verdict: one line for the user.
        tool: the tool it called (empty when none).
        arguments: the call's input.
        text: what the model wrote as text (the start of it).
        seconds: how long the request took.
    """

    mapping: str
    passed: bool
    verdict: str
    tool: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    seconds: float = 0.0


async def probe_tool_calls(
    base_url: str, api_key: str, mapping: str, *, timeout_s: float = 180.0, max_tokens: int = 512
) -> ProbeResult:
    """Send one Claude-Code-like request with tools to ``mapping`` and judge the reply."""
    import anthropic  # here, not at the top: the SDK takes seconds to load

    began = time.perf_counter()
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
    tell_platform(client)
    try:
        async with client.messages.stream(
            model=mapping,
            max_tokens=max_tokens,
            system=SYSTEM,
            tools=TOOLS,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": PROMPT}],
        ) as stream:
            final = await stream.get_final_message()
    except anthropic.APIError as exc:
        return ProbeResult(mapping, False, f"The request failed: {error_text(exc)}", seconds=_since(began))
    finally:
        await client.close()
    seconds = _since(began)
    text = "".join(block.text for block in final.content if block.type == "text").strip()
    calls = [block for block in final.content if block.type == "tool_use"]
    if calls:
        call = calls[0]
        arguments = call.input if isinstance(call.input, dict) else {}
        problem = _schema_problem(call.name, call.input)
        if problem:
            return ProbeResult(
                mapping, False, f"It called a tool, but {problem}.", call.name, arguments, text[:500], seconds
            )
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in arguments.items())
        return ProbeResult(
            mapping,
            True,
            f"Tool calls work: {call.name}({shown}).",
            call.name,
            arguments,
            text[:500],
            seconds,
        )
    if _looks_like_printed_call(text):
        verdict = (
            "No tool call: it printed the call as text (JSON) instead. Claude Code cannot use this "
            "model's tools; pick a model trained for tool calling."
        )
    elif text:
        verdict = "No tool call: it answered in plain text. Claude Code would not be able to act with it."
    else:
        verdict = "No tool call and no text came back."
    return ProbeResult(mapping, False, verdict, text=text[:500], seconds=seconds)


def _schema_problem(name: str, arguments: object) -> str:
    tool = next((t for t in TOOLS if t["name"] == name), None)
    if tool is None:
        return f"'{name}' is not one of the tools it was given"
    if not isinstance(arguments, dict):
        return f"its input for '{name}' is not an object"
    schema = tool["input_schema"]
    missing = [
        key for key in schema["required"] if not isinstance(arguments.get(key), str) or not arguments[key]
    ]
    if missing:
        return f"its input for '{name}' lacks {', '.join(missing)}"
    unknown = sorted(set(arguments) - set(schema["properties"]))
    if unknown:
        return f"its input for '{name}' has unknown fields: {', '.join(unknown)}"
    return ""


def _looks_like_printed_call(text: str) -> bool:
    lowered = text.lower()
    names = any(f'"{t["name"].lower()}"' in lowered or f"'{t['name'].lower()}'" in lowered for t in TOOLS)
    return "{" in text and (
        names or '"command"' in lowered or '"name"' in lowered or '"arguments"' in lowered
    )


def _since(began: float) -> float:
    return time.perf_counter() - began
