"""OpenAI chat completions ⇄ Ollama ``/api/chat``, for the direct path (:mod:`core.fastpath.route`).

Covers what OpenAI-style clients send to a local model: text and ``data:`` image parts, tools
and tool results, sampling parameters (``stop`` always a list, as Ollama requires), JSON mode,
reasoning effort (``think``; off unless asked, since a model that can think does when not
told), streaming with ``include_usage``. A request with anything else (log-probabilities,
image URLs to fetch, unknown fields…) raises :class:`Unsupported` and goes to LiteLLM, which
drops or handles it as it always did; one the API refuses (no messages, ``n`` > 1) gets its
400 (:class:`RequestError`).
The answers follow OpenAI's documented shapes (one id per stream, ``[DONE]`` at the end).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from core.fastpath.plan import Target
from core.fastpath.wire import RequestError, Unsupported, ollama_options, sse_data

DIALECT = "openai"
#: Fields the direct path understands; ``user``, ``metadata``… are accepted and unused.
_KNOWN = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "frequency_penalty",
        "presence_penalty",
        "response_format",
        "reasoning_effort",
        "user",
        "metadata",
        "store",
        "n",
    }
)
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_FINISH = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop"}


def ollama_request(body: Mapping[str, Any], target: Target, requested: str) -> dict[str, Any]:
    """The ``/api/chat`` body for an OpenAI chat request; :class:`Unsupported` when it needs LiteLLM."""
    unknown = set(body) - _KNOWN
    if unknown:
        raise Unsupported(f"fields {sorted(unknown)}")
    if body.get("n", 1) not in (1, None):
        raise RequestError("n: GateDeck answers one choice per request (n must be 1)", param="n")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("messages: at least one message is required", param="messages")
    sampling: dict[str, Any] = {}
    for name in ("temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"):
        if body.get(name) is not None:
            sampling[name] = body[name]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        sampling["num_predict"] = limit
    stop = body.get("stop")
    if stop is not None:
        sampling["stop"] = [stop] if isinstance(stop, str) else stop
    out: dict[str, Any] = {
        "model": target.model_for(requested),
        "messages": [_message(m) for m in messages],
        "options": ollama_options(target, sampling),
        "stream": bool(body.get("stream")),
    }
    tools = _tools(body.get("tools"), body.get("tool_choice"))
    if tools:
        out["tools"] = tools
    fmt = _format(body.get("response_format"))
    if fmt is not None:
        out["format"] = fmt
    # a model that can think does when ``think`` is absent: off unless the request asks
    effort = body.get("reasoning_effort")
    if out["model"].startswith("gpt-oss"):
        out["think"] = effort if effort in ("low", "medium", "high") else "low"
    else:
        out["think"] = effort in ("low", "medium", "high")
    if target.keep_alive is not None:
        out["keep_alive"] = target.keep_alive
    return out


def _tools(tools: Any, choice: Any) -> list[Any]:
    """The tools Ollama is offered: none for ``tool_choice: "none"``, only the named one for a
    named function. (``required`` cannot be enforced: Ollama has no way to require a call.)"""
    if not tools:
        return []
    if not isinstance(tools, list) or not all(
        isinstance(t, dict) and t.get("type") == "function" for t in tools
    ):
        raise Unsupported("non-function tools")
    if choice == "none":
        return []
    if isinstance(choice, dict) and choice.get("type") == "function":
        named = (choice.get("function") or {}).get("name")
        return [t for t in tools if (t.get("function") or {}).get("name") == named]
    return tools


def _format(value: Any) -> Any:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        if schema:
            return schema
    raise Unsupported("response_format")


def _message(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("role") not in _ROLES:
        raise Unsupported("message role")
    role = "system" if message["role"] == "developer" else message["role"]
    out: dict[str, Any] = {"role": role}
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = content
    elif isinstance(content, list):
        texts: list[str] = []
        images: list[str] = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(str(part.get("text", "")))
            elif kind == "image_url":
                images.append(_data_url_image(part.get("image_url")))
            else:
                raise Unsupported(f"content part {kind!r}")
        out["content"] = "".join(texts)
        if images:
            out["images"] = images
    elif content is None:
        out["content"] = ""
    else:
        raise Unsupported("content")
    if message.get("reasoning_content"):
        out["thinking"] = message["reasoning_content"]
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [_ollama_call(c) for c in calls]
    if message.get("tool_call_id") is not None:
        out["tool_call_id"] = message["tool_call_id"]
    if role == "tool" and message.get("name"):
        out["tool_name"] = message["name"]
    return out


def _data_url_image(value: Any) -> str:
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise Unsupported("image URL to fetch")
    return url.split(";base64,", 1)[1]


def _ollama_call(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict) or call.get("type", "function") != "function":
        raise Unsupported("tool call")
    function = call.get("function") or {}
    arguments = function.get("arguments") or "{}"
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise Unsupported("tool call arguments are not JSON") from None
    return {"function": {"name": function.get("name") or "", "arguments": arguments}}


def _openai_calls(calls: list[Any], *, streamed: bool) -> list[dict[str, Any]]:
    out = []
    for index, call in enumerate(calls):
        function = call.get("function") or {}
        arguments = function.get("arguments", {})
        item: dict[str, Any] = {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": function.get("name", ""),
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        }
        if streamed:
            item["index"] = index
        out.append(item)
    return out


def _usage(done: Mapping[str, Any]) -> dict[str, int]:
    prompt = int(done.get("prompt_eval_count") or 0)
    completion = int(done.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def reply(answer: Mapping[str, Any], requested: str) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` from Ollama's non-streamed answer."""
    message = answer.get("message") or {}
    calls = _openai_calls(message.get("tool_calls") or [], streamed=False)
    text = message.get("content") or ""
    out_message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if message.get("thinking"):
        out_message["reasoning_content"] = message["thinking"]
    if calls:
        out_message["tool_calls"] = calls
    finish = "tool_calls" if calls else _FINISH.get(str(answer.get("done_reason") or "stop"), "stop")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": requested,
        "choices": [{"index": 0, "message": out_message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(answer),
    }


class StreamReply:
    """Turns Ollama's streamed chunks into OpenAI ``chat.completion.chunk`` events (SSE bytes)."""

    def __init__(self, requested: str, include_usage: bool) -> None:
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._created = int(time.time())
        self._requested = requested
        self._include_usage = include_usage
        self._sent_role = False
        self._calls = 0

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        if not self._sent_role:
            delta = {"role": "assistant", **delta}
            self._sent_role = True
        return sse_data(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._requested,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
        )

    def start(self) -> bytes:
        return b""

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """The events for one Ollama chunk (``b""`` when it carries nothing)."""
        message = chunk.get("message") or {}
        out = b""
        delta: dict[str, Any] = {}
        if message.get("thinking"):
            delta["reasoning_content"] = message["thinking"]
        if message.get("content"):
            delta["content"] = message["content"]
        calls = message.get("tool_calls")
        if calls:
            converted = _openai_calls(calls, streamed=True)
            for item in converted:
                item["index"] += self._calls
            self._calls += len(converted)
            delta["tool_calls"] = converted
        if delta:
            out += self._chunk(delta)
        if chunk.get("done"):
            reason = str(chunk.get("done_reason") or "stop")
            out += self._chunk({}, "tool_calls" if self._calls else _FINISH.get(reason, "stop"))
            if self._include_usage:
                out += sse_data(
                    {
                        "id": self._id,
                        "object": "chat.completion.chunk",
                        "created": self._created,
                        "model": self._requested,
                        "choices": [],
                        "usage": _usage(chunk),
                    }
                )
            out += b"data: [DONE]\n\n"
        return out

    def error(self, message: str) -> bytes:
        """The event that tells the client the stream broke (the SDKs raise on it)."""
        return sse_data({"error": {"message": message, "type": "api_error", "param": None, "code": "502"}})


def stream_reply(requested: str, request: Mapping[str, Any], prompt_tokens: int) -> StreamReply:
    options = request.get("stream_options")
    return StreamReply(requested, bool(isinstance(options, dict) and options.get("include_usage")))
