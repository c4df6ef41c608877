"""Anthropic messages ⇄ Ollama ``/api/chat``, for the direct path (:mod:`core.fastpath.route`).

Covers what Claude Code sends (recorded from the real CLI: tests/fixtures/clients/claude_code):
system blocks, ``system`` messages anywhere in the conversation (kept where they stand), text
and base64 images, tool use and tool results (``is_error`` kept), thinking (adaptive or
enabled → Ollama's ``think``; otherwise ``think: false``, since a model that can think does so
when not told), ``tool_choice``, structured output (``output_config.format``), deferred tools,
streaming. Fields with no Ollama meaning (``output_config.effort``, ``context_management``,
``metadata``, ``service_tier``, ``container``, ``mcp_servers``…) are accepted and left out; an
unknown field is never a reason to leave the fast path. Server tools, documents and image URLs
raise :class:`~core.fastpath.wire.Unsupported` and go to LiteLLM. A request the API itself
refuses (no ``max_tokens``, no messages) gets its 400 (:class:`~core.fastpath.wire.RequestError`).
Answers follow Anthropic's documented message and event shapes (``message_start`` …
``message_stop``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from core.fastpath.plan import Target
from core.fastpath.wire import RequestError, Unsupported, ollama_options, sse_event

DIALECT = "anthropic"
_STOP = {"stop": "end_turn", "length": "max_tokens", "load": "end_turn", "unload": "end_turn"}
_THINKS = ("enabled", "adaptive")
#: Ollama's think levels (gpt-oss takes a level, not true/false)
_LEVELS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def ollama_request(body: Mapping[str, Any], target: Target, requested: str) -> dict[str, Any]:
    """The ``/api/chat`` body for an Anthropic messages request; :class:`Unsupported` when it
    needs LiteLLM, :class:`RequestError` when the API would refuse it."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: at least one message is required", param="messages")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise RequestError("max_tokens: Field required", param="max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError("max_tokens: must be a positive integer", param="max_tokens")
    out_messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        out_messages.append({"role": "system", "content": system})
    loaded: set[str] = set()  # deferred tools the conversation loaded (tool_reference blocks)
    for message in messages:
        out_messages.extend(_messages(message, loaded))
    sampling: dict[str, Any] = {"num_predict": max_tokens}
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            sampling[name] = body[name]
    if body.get("stop_sequences"):
        sampling["stop"] = list(body["stop_sequences"])
    model = target.model_for(requested)
    out: dict[str, Any] = {
        "model": model,
        "messages": out_messages,
        "options": ollama_options(target, sampling),
        "stream": bool(body.get("stream")),
    }
    tools = _tools(body.get("tools"), body.get("tool_choice"), loaded)
    if tools:
        out["tools"] = tools
    fmt = _format(body.get("output_config"), body.get("output_format"))
    if fmt is not None:
        out["format"] = fmt
    out["think"] = _think(body, model)
    if target.keep_alive is not None:
        out["keep_alive"] = target.keep_alive
    return out


def _think(body: Mapping[str, Any], model: str) -> bool | str:
    """Ollama's ``think``: on when the request asked for thinking, else off (a model that can
    think does when ``think`` is absent)."""
    thinking = body.get("thinking")
    wanted = isinstance(thinking, dict) and thinking.get("type") in _THINKS
    if not model.startswith("gpt-oss"):
        return wanted
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    return _LEVELS.get(str(effort), "medium") if wanted else "low"  # gpt-oss always thinks


def _format(config: Any, legacy: Any) -> Any:
    """Ollama's ``format`` for structured output (``output_config.format``, or the older
    top-level ``output_format``): the JSON schema."""
    fmt = config.get("format") if isinstance(config, dict) else None
    fmt = fmt if fmt is not None else legacy
    if fmt is None:
        return None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    raise Unsupported("output format")


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if isinstance(system, list):
        texts = []
        for block in system:
            if not isinstance(block, dict) or block.get("type") != "text":
                raise Unsupported("system block")
            texts.append(str(block.get("text", "")))
        return "\n\n".join(t for t in texts if t)
    raise Unsupported("system")


def _tools(tools: Any, choice: Any, loaded: set[str]) -> list[dict[str, Any]]:
    """The tools Ollama is offered: none for ``tool_choice: none``, only the named one for
    ``{"type": "tool"}``; deferred tools only once the conversation loaded them. (``any``
    cannot be enforced: Ollama has no way to require a call.)"""
    if not tools:
        return []
    if not isinstance(tools, list):
        raise Unsupported("tools")
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "none":
        return []
    named = choice.get("name") if kind == "tool" and isinstance(choice, dict) else None
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type", "custom") != "custom" or "name" not in tool:
            raise Unsupported("server tool")
        if named is not None and tool["name"] != named:
            continue
        if tool.get("defer_loading") and tool["name"] not in loaded and tool["name"] != named:
            continue
        function: dict[str, Any] = {"name": tool["name"], "parameters": tool.get("input_schema") or {}}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _image(block: Mapping[str, Any]) -> str:
    source = block.get("source") or {}
    if source.get("type") != "base64":
        raise Unsupported("image source")
    return str(source.get("data", ""))


def _messages(message: Any, loaded: set[str]) -> list[dict[str, Any]]:
    """One Anthropic message as Ollama messages (tool results become ``tool`` messages)."""
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
        raise Unsupported("message role")
    role = message["role"]
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise Unsupported("content")
    out: list[dict[str, Any]] = []
    texts: list[str] = []
    images: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "image" and role != "system":
            images.append(_image(block))
        elif kind == "tool_result" and role == "user":
            out.append(_tool_result(block, loaded))
        elif kind == "tool_use" and role == "assistant":
            calls.append({"function": {"name": block.get("name", ""), "arguments": block.get("input") or {}}})
        elif kind == "thinking" and role == "assistant":
            thinking.append(str(block.get("thinking", "")))
        elif kind == "redacted_thinking" and role == "assistant":
            continue
        else:
            raise Unsupported(f"content block {kind!r}")
    if texts or images or calls or thinking or not out:
        merged: dict[str, Any] = {"role": role, "content": "\n".join(texts)}
        if images:
            merged["images"] = images
        if thinking:
            merged["thinking"] = "\n".join(thinking)
        if calls:
            merged["tool_calls"] = calls
        out.append(merged)
    return out


def _tool_result(block: Mapping[str, Any], loaded: set[str]) -> dict[str, Any]:
    content = block.get("content")
    images: list[str] = []
    if isinstance(content, list):
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(str(part.get("text", "")))
            elif kind == "image":
                images.append(_image(part))
            elif kind == "tool_reference":  # a deferred tool the client loaded (tool search)
                name = str(part.get("tool_name", ""))
                loaded.add(name)
                texts.append(f"Tool {name} is now available.")
            else:
                raise Unsupported(f"tool result part {kind!r}")
        text = "\n".join(texts)
    elif content is None or isinstance(content, str):
        text = content or ""
    else:
        raise Unsupported("tool result")
    if block.get("is_error"):
        text = f"Error: {text}"
    out: dict[str, Any] = {"role": "tool", "content": text, "tool_call_id": str(block.get("tool_use_id", ""))}
    if images:
        out["images"] = images
    return out


def _tool_use(call: Mapping[str, Any]) -> tuple[str, str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            arguments = {"arguments": arguments}
    return f"toolu_{uuid.uuid4().hex[:24]}", str(function.get("name", "")), arguments


def _usage(done: Mapping[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": int(done.get("prompt_eval_count") or 0),
        "output_tokens": int(done.get("eval_count") or 0),
    }


def reply(answer: Mapping[str, Any], requested: str) -> dict[str, Any]:
    """An Anthropic ``message`` from Ollama's non-streamed answer."""
    message = answer.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("thinking"):
        content.append({"type": "thinking", "thinking": message["thinking"], "signature": ""})
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    calls = message.get("tool_calls") or []
    for call in calls:
        call_id, name, arguments = _tool_use(call)
        content.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
    if not content:
        content.append({"type": "text", "text": ""})
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": requested,
        "content": content,
        "stop_reason": "tool_use"
        if calls
        else _STOP.get(str(answer.get("done_reason") or "stop"), "end_turn"),
        "stop_sequence": None,
        "usage": _usage(answer),
    }


class StreamReply:
    """Turns Ollama's streamed chunks into Anthropic stream events (SSE bytes)."""

    def __init__(self, requested: str, prompt_tokens: int = 0) -> None:
        self._requested = requested
        self._prompt_tokens = prompt_tokens  # estimated: Ollama counts them later
        self._index = -1
        self._open: str | None = None  # the kind of the content block being streamed
        self._calls = 0

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": self._requested,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._prompt_tokens, "output_tokens": 0},
        }
        return sse_event(b"message_start", {"type": "message_start", "message": message})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return sse_event(b"content_block_stop", {"type": "content_block_stop", "index": self._index})

    def _block(self, kind: str, start: dict[str, Any]) -> bytes:
        out = self._close()
        self._index += 1
        self._open = kind
        return out + sse_event(
            b"content_block_start",
            {"type": "content_block_start", "index": self._index, "content_block": start},
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return sse_event(
            b"content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta}
        )

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """The events for one Ollama chunk (``b""`` when it carries nothing)."""
        message = chunk.get("message") or {}
        out = b""
        thinking = message.get("thinking")
        if thinking:
            if self._open != "thinking":
                out += self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta({"type": "thinking_delta", "thinking": thinking})
        text = message.get("content")
        if text:
            if self._open != "text":
                out += self._block("text", {"type": "text", "text": ""})
            out += self._delta({"type": "text_delta", "text": text})
        for call in message.get("tool_calls") or ():
            call_id, name, arguments = _tool_use(call)
            out += self._block("tool_use", {"type": "tool_use", "id": call_id, "name": name, "input": {}})
            out += self._delta({"type": "input_json_delta", "partial_json": json.dumps(arguments)})
            out += self._close()
            self._calls += 1
        if chunk.get("done"):
            out += self._close()
            reason = (
                "tool_use" if self._calls else _STOP.get(str(chunk.get("done_reason") or "stop"), "end_turn")
            )
            out += sse_event(
                b"message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": None},
                    "usage": _usage(chunk),
                },
            )
            out += sse_event(b"message_stop", {"type": "message_stop"})
        return out

    def error(self, message: str) -> bytes:
        """The ``error`` event; the stream ends without ``message_stop`` (not a complete answer)."""
        return sse_event(b"error", {"type": "error", "error": {"type": "api_error", "message": message}})


def stream_reply(requested: str, request: Mapping[str, Any], prompt_tokens: int) -> StreamReply:
    return StreamReply(requested, prompt_tokens)
