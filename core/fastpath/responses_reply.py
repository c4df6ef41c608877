"""Ollama's answers as OpenAI Responses API objects and stream events (for
:mod:`core.fastpath.responses`).

Output items follow the order the model produced them: its thinking as a ``reasoning`` item
(the text as the item's summary, which is what the Codex CLI shows), its text as a ``message``,
each tool call as a ``function_call`` (a ``custom_tool_call`` for a custom tool). A stream is the event sequence the official SDK and the
Codex CLI read: ``response.created`` and ``response.in_progress``; per item
``response.output_item.added``, its parts and deltas, ``response.output_item.done``; then
``response.completed`` (``response.incomplete`` when the token limit cut it) with usage, or
``error`` and ``response.failed`` when Ollama fails mid-answer. Every event carries the next
``sequence_number``; ``output_index`` counts the items, ``content_index`` and ``summary_index``
the one part each item has.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.fastpath.wire import sse_event

#: Called with the response id and the answer as Ollama messages once it is complete.
Remember = Callable[[str, list[dict[str, Any]]], None]
_CALLS = frozenset({"function_call", "custom_tool_call"})

#: The namespace of the Responses API's plain functions (Codex's lite requests name it): its
#: tools are called by their own names.
PLAIN_NAMESPACE = "functions"


def ollama_name(name: str, namespace: str | None) -> str:
    """The function name Ollama knows a tool by: ``namespace.name`` for one in a namespace."""
    return f"{namespace}.{name}" if namespace and namespace != PLAIN_NAMESPACE else name


@dataclass(frozen=True)
class OfferedTool:
    """The client's tool behind one function offered to Ollama: how a call of it is answered.

    Attributes:
        custom: a custom (free-form) tool, answered as a ``custom_tool_call``.
        name: the tool's own name.
        namespace: the namespace it was offered in, if any (echoed on the call).
    """

    custom: bool
    name: str
    namespace: str | None = None


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [_text_part(text)]
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def _reasoning_item(item_id: str, text: str | None) -> dict[str, Any]:
    summary = [] if text is None else [{"type": "summary_text", "text": text}]
    return {"id": item_id, "type": "reasoning", "summary": summary}


class ResponseReply:
    """What one response's objects share: its id, the request it echoes, its calls.

    Args:
        requested: the model name the client asked for (the answer's ``model``).
        request: the client's request body.
        remember: called once the answer is complete (``previous_response_id``).
        offered: the client's tool behind each function name Ollama was offered.
    """

    def __init__(
        self,
        requested: str,
        request: Mapping[str, Any],
        remember: Remember,
        offered: Mapping[str, OfferedTool],
    ) -> None:
        self.id = _new_id("resp")
        self.created_at = int(time.time())
        self._requested = requested
        self._request = request
        self._remember = remember
        self._offered = offered

    def envelope(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``response`` object in ``status`` with ``output`` so far."""
        request = self._request
        reasoning = request.get("reasoning") if isinstance(request.get("reasoning"), dict) else {}
        assert isinstance(reasoning, dict)
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "max_tool_calls": request.get("max_tool_calls"),
            "model": self._requested,
            "output": output,
            "parallel_tool_calls": request.get("parallel_tool_calls", True),
            "previous_response_id": request.get("previous_response_id"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": request.get("store", True),
            "temperature": request.get("temperature", 1.0),
            "text": request.get("text") or {"format": {"type": "text"}},
            "tool_choice": request.get("tool_choice", "auto"),
            "tools": request.get("tools") or [],
            "top_p": request.get("top_p", 1.0),
            "truncation": request.get("truncation") or "disabled",
            "usage": usage,
            "user": request.get("user"),
            "metadata": request.get("metadata") or {},
            "prompt_cache_key": request.get("prompt_cache_key"),
            "background": False,
            "service_tier": "default",
        }

    def call_item(self, call: Mapping[str, Any], status: str) -> dict[str, Any]:
        """The item for one of Ollama's tool calls: a ``function_call``, or a
        ``custom_tool_call`` for a custom tool (its ``input`` the call's one argument)."""
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        call_id = str(call.get("id") or _new_id("call"))
        tool = self._offered.get(name) or OfferedTool(custom=False, name=name)  # a name it made up
        item: dict[str, Any] = {"id": _new_id("ctc" if tool.custom else "fc")}
        if tool.custom:
            item |= {"type": "custom_tool_call", "status": status, "call_id": call_id, "name": tool.name}
            item["input"] = _custom_input(function.get("arguments"))
        else:
            item |= {"type": "function_call", "status": status, "call_id": call_id, "name": tool.name}
            item["arguments"] = _arguments(function.get("arguments"))
        if tool.namespace:
            item["namespace"] = tool.namespace
        return item

    def finish(
        self, done: Mapping[str, Any], output: list[dict[str, Any]], thinking: str, text: str
    ) -> dict[str, Any]:
        """The complete response: remembered, and returned with its usage."""
        status = "incomplete" if done.get("done_reason") == "length" else "completed"
        calls = [item for item in output if item["type"] in _CALLS]
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        if calls:
            message["tool_calls"] = [_ollama_call(item) for item in calls]
        self._remember(self.id, [message])
        return self.envelope(status, output, _usage(done, thinking, text, calls))

    def whole(self, answer: Mapping[str, Any]) -> dict[str, Any]:
        """The ``response`` object for Ollama's non-streamed answer."""
        message = answer.get("message") or {}
        thinking = str(message.get("thinking") or "")
        text = str(message.get("content") or "")
        calls = message.get("tool_calls") or []
        output: list[dict[str, Any]] = []
        if thinking:
            output.append(_reasoning_item(_new_id("rs"), thinking))
        if text or not calls:
            status = "incomplete" if answer.get("done_reason") == "length" else "completed"
            output.append(_message_item(_new_id("msg"), text, status))
        output.extend(self.call_item(call, "completed") for call in calls)
        return self.finish(answer, output, thinking, text)


class ResponseStream:
    """Turns Ollama's streamed chunks into Responses API stream events (SSE bytes)."""

    def __init__(self, reply: ResponseReply) -> None:
        self._reply = reply
        self._sequence = 0
        self._output: list[dict[str, Any]] = []  # finished items
        self._open: dict[str, Any] | None = None  # the reasoning or message item being streamed
        self._part = ""  # its text so far
        self._thinking = ""
        self._text = ""

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        data = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return sse_event(kind.encode(), data)

    def _where(self) -> dict[str, Any]:
        assert self._open is not None
        return {"item_id": self._open["id"], "output_index": len(self._output)}

    def start(self) -> bytes:
        response = self._reply.envelope("in_progress", [])
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def _begin(self, kind: str) -> bytes:
        out = self._end()
        index = len(self._output)
        self._part = ""
        if kind == "reasoning":
            self._open = _reasoning_item(_new_id("rs"), None)
            out += self._event("response.output_item.added", {"output_index": index, "item": self._open})
            return out + self._event(
                "response.reasoning_summary_part.added",
                {**self._where(), "summary_index": 0, "part": {"type": "summary_text", "text": ""}},
            )
        self._open = _message_item(_new_id("msg"), None, "in_progress")
        out += self._event("response.output_item.added", {"output_index": index, "item": self._open})
        return out + self._event(
            "response.content_part.added", {**self._where(), "content_index": 0, "part": _text_part("")}
        )

    def _end(self, status: str = "completed") -> bytes:
        if self._open is None:
            return b""
        where, text = self._where(), self._part
        if self._open["type"] == "reasoning":
            item = _reasoning_item(self._open["id"], text)
            out = self._event(
                "response.reasoning_summary_text.done", {**where, "summary_index": 0, "text": text}
            )
            out += self._event(
                "response.reasoning_summary_part.done",
                {**where, "summary_index": 0, "part": {"type": "summary_text", "text": text}},
            )
        else:
            item = _message_item(self._open["id"], text, status)
            out = self._event(
                "response.output_text.done", {**where, "content_index": 0, "text": text, "logprobs": []}
            )
            out += self._event(
                "response.content_part.done", {**where, "content_index": 0, "part": _text_part(text)}
            )
        out += self._event("response.output_item.done", {"output_index": where["output_index"], "item": item})
        self._output.append(item)
        self._open = None
        return out

    def _delta(self, kind: str, delta: str) -> bytes:
        out = b"" if self._open is not None and self._open["type"] == kind else self._begin(kind)
        self._part += delta
        if kind == "reasoning":
            self._thinking += delta
            return out + self._event(
                "response.reasoning_summary_text.delta", {**self._where(), "summary_index": 0, "delta": delta}
            )
        self._text += delta
        return out + self._event(
            "response.output_text.delta",
            {**self._where(), "content_index": 0, "delta": delta, "logprobs": []},
        )

    def _call(self, call: Mapping[str, Any]) -> bytes:
        out = self._end()
        index = len(self._output)
        item = self._reply.call_item(call, "completed")
        where = {"item_id": item["id"], "output_index": index}
        field = "input" if item["type"] == "custom_tool_call" else "arguments"
        value = item[field]
        out += self._event(
            "response.output_item.added",
            {"output_index": index, "item": {**item, "status": "in_progress", field: ""}},
        )
        if field == "input":
            out += self._event("response.custom_tool_call_input.delta", {**where, "delta": value})
            out += self._event("response.custom_tool_call_input.done", {**where, "input": value})
        else:
            out += self._event("response.function_call_arguments.delta", {**where, "delta": value})
            out += self._event(
                "response.function_call_arguments.done", {**where, "name": item["name"], "arguments": value}
            )
        out += self._event("response.output_item.done", {"output_index": index, "item": item})
        self._output.append(item)
        return out

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """The events for one Ollama chunk (``b""`` when it carries nothing)."""
        message = chunk.get("message") or {}
        out = b""
        if message.get("thinking"):
            out += self._delta("reasoning", str(message["thinking"]))
        if message.get("content"):
            out += self._delta("message", str(message["content"]))
        for call in message.get("tool_calls") or ():
            out += self._call(call)
        if chunk.get("done"):
            cut = chunk.get("done_reason") == "length"
            out += self._end("incomplete" if cut else "completed")
            response = self._reply.finish(chunk, self._output, self._thinking, self._text)
            kind = "response.incomplete" if cut else "response.completed"
            out += self._event(kind, {"response": response})
        return out

    def error(self, message: str) -> bytes:
        """The events that tell the client the answer broke off: ``error``, then
        ``response.failed`` (the SDKs and the Codex CLI end the turn with the message)."""
        out = self._event("error", {"code": "server_error", "message": message, "param": None})
        failed = self._reply.envelope(
            "failed", self._output, error={"code": "server_error", "message": message}
        )
        return out + self._event("response.failed", {"response": failed})


def _arguments(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value if value is not None else {})


def _custom_input(arguments: Any) -> str:
    """A custom tool's input from the function call Ollama made of it (``{"input": ...}``)."""
    if isinstance(arguments, dict) and isinstance(arguments.get("input"), str):
        return str(arguments["input"])
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _ollama_call(item: Mapping[str, Any]) -> dict[str, Any]:
    name = ollama_name(item["name"], item.get("namespace"))
    if item["type"] == "custom_tool_call":
        return {"id": item["call_id"], "function": {"name": name, "arguments": {"input": item["input"]}}}
    try:
        arguments = json.loads(item["arguments"] or "{}")
    except ValueError:
        arguments = {}
    return {"id": item["call_id"], "function": {"name": name, "arguments": arguments}}


def _usage(done: Mapping[str, Any], thinking: str, text: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = int(done.get("prompt_eval_count") or 0)
    completion = int(done.get("eval_count") or 0)
    # Ollama counts thinking and answer together; the thinking's share of the characters
    # generated is the estimate of its tokens
    visible = len(text) + sum(len(c.get("arguments") or c.get("input") or "") for c in calls)
    reasoning = round(completion * len(thinking) / (len(thinking) + visible)) if thinking else 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }
