"""Tool calls a model wrote as text, turned back into real calls.

Many local models (qwen2.5-coder, qwen3-coder, some llama builds) answer a request that offers
tools by *printing* the call — a bare JSON object, ``<tool_call>…</tool_call>``, qwen3-coder's
``<function=name><parameter=…>`` XML, or a fenced JSON block — instead of a structured call.
Ollama passes that through as text, and Claude Code then shows the JSON and does nothing.

:func:`find_calls` recognises those shapes, but only for tools the request offered and with
arguments that validate against that tool's schema; anything else stays text.
:func:`may_become_call` tells a streaming answer whether to hold its text back until the
answer is complete and can be decided.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Shape = Literal["json", "tool_call_tag", "function_xml", "fenced_json"]

_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FUNCTION = re.compile(r"<function=([^>\s]+)>\s*(.*?)\s*</function>", re.S)
_PARAMETER = re.compile(r"<parameter=([^>\s]+)>\n?(.*?)\n?</parameter>", re.S)
_FENCE = re.compile(r"```(?:json|tool_call|tool)?\s*\n(.*?)\n?```\s*$", re.S)
#: How an answer that is (or ends in) a call may start, once leading prose is set aside.
_CALL_OPENINGS = ("<tool_call>", "<function=", "```", "{", "[")


@dataclass(frozen=True)
class RepairedCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Repair:
    """What the text held: the prose before the calls, the calls, and how they were written."""

    text: str
    calls: tuple[RepairedCall, ...]
    shape: Shape


def may_become_call(text: str) -> bool:
    """Whether an answer that starts with ``text`` could still turn out to be a written call."""
    start = text.lstrip()
    if not start:
        return True
    return any(start.startswith(o) or o.startswith(start) for o in _CALL_OPENINGS)


def find_calls(text: str, tools: Mapping[str, Mapping[str, Any]]) -> Repair | None:
    """The calls written in ``text`` for the offered ``tools`` (name → JSON schema), or ``None``.

    ``None`` unless every call found names an offered tool and its arguments fit the schema;
    text after the last call (besides white space) also means it was not a call.
    """
    if not tools or not text.strip():
        return None
    for finder in (_tagged, _function_xml, _fenced, _bare):
        found = finder(text, tools)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------- shapes
def _tagged(text: str, tools: Mapping[str, Mapping[str, Any]]) -> Repair | None:
    start = text.find("<tool_call>")
    if start < 0:
        return None
    bodies = _TOOL_CALL.findall(text[start:])
    if not bodies or _TOOL_CALL.sub("", text[start:]).strip():
        return None
    calls: list[RepairedCall] = []
    for body in bodies:
        if body.lstrip().startswith("<function="):
            xml = _function_xml(body, tools)
            if xml is None:
                return None
            calls.extend(xml.calls)
            continue
        call = _json_call(body, tools)
        if call is None:
            return None
        calls.append(call)
    return Repair(text[:start].strip(), tuple(calls), "tool_call_tag")


def _function_xml(text: str, tools: Mapping[str, Mapping[str, Any]]) -> Repair | None:
    start = text.find("<function=")
    if start < 0 or _FUNCTION.sub("", text[start:]).strip():
        return None
    calls = []
    for name, body in _FUNCTION.findall(text[start:]):
        if name not in tools or _PARAMETER.sub("", body).strip():
            return None
        schema = tools[name]
        arguments = {key: _typed(value, _property(schema, key)) for key, value in _PARAMETER.findall(body)}
        if not _fits(arguments, schema):
            return None
        calls.append(RepairedCall(name, arguments))
    return Repair(text[:start].strip(), tuple(calls), "function_xml") if calls else None


def _fenced(text: str, tools: Mapping[str, Mapping[str, Any]]) -> Repair | None:
    match = _FENCE.search(text)
    if match is None:
        return None
    calls = _json_calls(match.group(1), tools)
    return Repair(text[: match.start()].strip(), calls, "fenced_json") if calls else None


def _bare(text: str, tools: Mapping[str, Mapping[str, Any]]) -> Repair | None:
    stripped = text.strip()
    if not stripped.endswith(("}", "]")):
        return None
    for opening in ("[", "{"):  # the call is the end of the text; prose may come before it
        start = stripped.find(opening)
        while start >= 0:
            calls = _json_calls(stripped[start:], tools)
            if calls:
                return Repair(stripped[:start].strip(), calls, "json")
            start = stripped.find(opening, start + 1)
    return None


# ---------------------------------------------------------------------- JSON calls
def _json_calls(raw: str, tools: Mapping[str, Mapping[str, Any]]) -> tuple[RepairedCall, ...]:
    try:
        value = json.loads(raw)
    except ValueError:
        return ()
    items = value if isinstance(value, list) else [value]
    calls = [_call_of(item, tools) for item in items]
    if not calls or any(c is None for c in calls):
        return ()
    return tuple(c for c in calls if c is not None)


def _json_call(raw: str, tools: Mapping[str, Mapping[str, Any]]) -> RepairedCall | None:
    calls = _json_calls(raw, tools)
    return calls[0] if len(calls) == 1 else None


def _call_of(item: object, tools: Mapping[str, Mapping[str, Any]]) -> RepairedCall | None:
    if not isinstance(item, dict):
        return None
    function = item.get("function")
    if isinstance(function, dict):  # OpenAI's {"type": "function", "function": {...}}
        item = function
    name = item.get("name")
    arguments = item.get("arguments", item.get("parameters", item.get("input")))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if arguments is None:
        arguments = {}
    if not isinstance(name, str) or name not in tools or not isinstance(arguments, dict):
        return None
    return RepairedCall(name, arguments) if _fits(arguments, tools[name]) else None


# ---------------------------------------------------------------------- schemas
def _property(schema: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    properties = schema.get("properties")
    found = properties.get(key) if isinstance(properties, dict) else None
    return found if isinstance(found, dict) else {}


def _typed(value: str, schema: Mapping[str, Any]) -> Any:
    """An XML parameter's text as the type its schema asks for (it is written as text)."""
    kind = schema.get("type")
    if kind == "string" or kind is None and "enum" not in schema:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _fits(arguments: dict[str, Any], schema: Mapping[str, Any]) -> bool:
    if not schema:
        return True
    from jsonschema import validators  # only when a written call is found

    plain = dict(schema)
    try:
        validator = validators.validator_for(plain)
        validator.check_schema(plain)
    except Exception:  # a tool schema the validator cannot read: judge by the names alone
        required = plain.get("required") or []
        return all(key in arguments for key in required)
    return bool(validator(plain).is_valid(arguments))


# ---------------------------------------------------------------------- Ollama answers
def offered_tools(ollama_body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The tools an ``/api/chat`` body offers: name → parameters schema."""
    tools: dict[str, Mapping[str, Any]] = {}
    for tool in ollama_body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            parameters = function.get("parameters")
            tools[function["name"]] = parameters if isinstance(parameters, dict) else {}
    return tools


def _ollama_calls(repair: Repair) -> list[dict[str, Any]]:
    return [
        {"function": {"index": index, "name": call.name, "arguments": call.arguments}}
        for index, call in enumerate(repair.calls)
    ]


def repair_answer(
    answer: Mapping[str, Any], tools: Mapping[str, Mapping[str, Any]]
) -> tuple[Mapping[str, Any], Shape | None]:
    """Ollama's whole answer with a call written as its text made a real call (and the shape
    it was written in), or the answer as it was and ``None``."""
    message = answer.get("message")
    if not tools or not isinstance(message, dict) or message.get("tool_calls"):
        return answer, None
    repair = find_calls(str(message.get("content") or ""), tools)
    if repair is None:
        return answer, None
    fixed = {**message, "content": repair.text, "tool_calls": _ollama_calls(repair)}
    return {**answer, "message": fixed}, repair.shape


class StreamRepair:
    """Ollama's streamed chunks with calls written as text made real calls.

    Text that starts like a call (:func:`may_become_call`) is held back until the answer is
    complete, then sent as the call it was, or as the text; text that cannot be a call goes
    on at once, and so does everything after it. :attr:`shape` says how a repaired call was
    written.
    """

    def __init__(self, tools: Mapping[str, Mapping[str, Any]]) -> None:
        self._tools = tools
        self._held = ""
        self._holding = bool(tools)
        self.shape: Shape | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """The chunks to translate for Ollama's ``chunk`` (none while text is held back)."""
        if not self._holding:
            return [chunk]
        message = chunk.get("message")
        message = message if isinstance(message, dict) else {}
        text = str(message.get("content") or "")
        if message.get("tool_calls"):  # a real call: nothing to repair
            return self._release(chunk, text)
        self._held += text
        if chunk.get("done"):
            return self._decide(chunk, message)
        if may_become_call(self._held):
            if message.get("thinking"):  # thinking goes on; the text waits
                return [{**chunk, "message": {**message, "content": ""}}]
            return []
        return self._release(chunk, "")

    def _release(self, chunk: Mapping[str, Any], text: str) -> list[Mapping[str, Any]]:
        self._holding = False
        message = chunk.get("message") or {}
        held, self._held = self._held, ""
        return [{**chunk, "message": {**message, "content": held + text if held else text}}]

    def _decide(self, chunk: Mapping[str, Any], message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        self._holding = False
        held, self._held = self._held, ""
        repair = find_calls(held, self._tools)
        if repair is None:
            return [{**chunk, "message": {**message, "content": held}}]
        self.shape = repair.shape
        base = {k: v for k, v in chunk.items() if k not in ("done", "done_reason")}
        call = {**base, "done": False, "message": {"role": "assistant", "content": ""}}
        call["message"]["tool_calls"] = _ollama_calls(repair)
        out: list[Mapping[str, Any]] = []
        if repair.text:
            out.append({**base, "done": False, "message": {"role": "assistant", "content": repair.text}})
        end = {**chunk, "message": {**message, "content": ""}}
        return [*out, call, end]
