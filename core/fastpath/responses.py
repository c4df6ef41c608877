"""OpenAI Responses API (``POST /v1/responses``) ⇄ Ollama ``/api/chat``, for the direct path.

The Codex CLI speaks only this API. Covered: ``instructions``; ``input`` as a string or as
items — messages (text, ``data:`` images), ``function_call``, ``function_call_output`` and
``reasoning`` items, custom tool calls and outputs; function tools (namespaced ones too, named
``namespace.tool`` for Ollama) and custom (free-form) tools, offered as a function of one
string, ``input``, their grammar in the description;
``tool_choice``; ``reasoning.effort`` (Ollama's ``think``); ``max_output_tokens``;
temperature and ``top_p``; ``text.format`` (JSON schema or JSON mode); ``previous_response_id``
(:mod:`core.fastpath.responses_memory`). Tools may also come in ``additional_tools`` input items:
the Codex CLI's "lite" requests (what it sends for its own default model, with the header
``x-openai-internal-codex-responses-lite``) have no ``tools`` and carry them all there, the plain
ones in a ``functions`` namespace, which Ollama is offered, and calls are answered, by their own
names (code mode's ``exec``). Fields with no Ollama meaning (``store``, ``include``,
``metadata``, ``client_metadata``, ``prompt_cache_key``, ``parallel_tool_calls``,
``reasoning.context``…) are accepted and left aside. So is ``text.verbosity``: it is a setting
OpenAI's models were trained on, Codex sends its default model's own with every request while
its instructions already say how to answer, and a hint GateDeck wrote into the prompt would
change what the model reads for an effect no local model was trained to give. Hosted tools
(web search, file search…) are left out, as a local model cannot use them.
What cannot be translated (files, image URLs to fetch, item references)
raises :class:`~core.fastpath.wire.Unsupported` and goes to LiteLLM. A ``conversation`` or a
``prompt`` template (kept at OpenAI, not here) and an unknown ``previous_response_id`` are a 400
(:class:`~core.fastpath.wire.RequestError`): answering without them would be answering wrong.

One :class:`ResponsesExchange` serves one HTTP request: it keeps the request it translated so
that the answer (:mod:`core.fastpath.responses_reply`) can echo it and remember it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from core.fastpath.plan import Target
from core.fastpath.responses_memory import ResponseGone, ResponseMemory
from core.fastpath.responses_reply import (
    PLAIN_NAMESPACE,
    OfferedTool,
    ResponseReply,
    ResponseStream,
    ollama_name,
)
from core.fastpath.wire import RequestError, Unsupported, ollama_options

DIALECT = "responses"
PATHS = frozenset({"/v1/responses", "/responses"})
#: Tools the API runs on OpenAI's side; a local model cannot, so they are not offered to it.
_HOSTED_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_2025_08_26",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "image_generation",
        "computer_use_preview",
        "mcp",
    }
)
#: A custom (free-form) tool, offered to Ollama as a function of one string: its input.
CUSTOM_INPUT = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's whole input."}},
    "required": ["input"],
}
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
#: Request fields that name something kept on OpenAI's side, which GateDeck does not have:
#: answering without it would be a silent wrong answer, so they are a 400.
_KEPT_ELSEWHERE = {
    "conversation": "GateDeck does not keep conversations: send the conversation as input, or "
    "continue a recent response with previous_response_id.",
    "prompt": "GateDeck does not keep prompt templates: send the prompt's text as instructions and input.",
}


class ResponsesExchange:
    """One Responses API request: its translation for Ollama and the answer's builder.

    Args:
        memory: the gateway's recent responses, for ``previous_response_id``.
    """

    DIALECT = DIALECT

    def __init__(self, memory: ResponseMemory) -> None:
        self._memory = memory
        self._request: Mapping[str, Any] = {}
        self._turn: list[dict[str, Any]] = []  # what this request adds to the conversation
        self._offered: dict[str, OfferedTool] = {}  # the client's tool behind each function name

    def ollama_request(self, body: Mapping[str, Any], target: Target, requested: str) -> dict[str, Any]:
        """The ``/api/chat`` body; :class:`Unsupported` when LiteLLM must answer, and
        :class:`RequestError` when nobody can."""
        for field in ("conversation", "prompt"):
            if body.get(field) is not None:
                raise RequestError(_KEPT_ELSEWHERE[field], param=field)
        history = self._history(body.get("previous_response_id"))
        names = _call_names(history)
        turn = _input_messages(body.get("input"), names)
        messages = list(history) + turn
        instructions = body.get("instructions")
        if isinstance(instructions, str) and instructions:
            messages.insert(0, {"role": "system", "content": instructions})
        elif instructions is not None and not isinstance(instructions, str):
            raise Unsupported("instructions as items")
        if not messages:
            raise RequestError("The request has no input.", param="input", code="missing_required_parameter")
        sampling: dict[str, Any] = {}
        for name in ("temperature", "top_p"):
            if body.get(name) is not None:
                sampling[name] = body[name]
        if body.get("max_output_tokens") is not None:
            sampling["num_predict"] = body["max_output_tokens"]
        out: dict[str, Any] = {
            "model": target.model_for(requested),
            "messages": messages,
            "options": ollama_options(target, sampling),
            "stream": bool(body.get("stream")),
        }
        tools, offered = _tools(_request_tools(body), body.get("tool_choice"))
        if tools:
            out["tools"] = tools
        fmt = _format(body.get("text"))
        if fmt is not None:
            out["format"] = fmt
        out["think"] = _think(body.get("reasoning"), out["model"])
        if target.keep_alive is not None:
            out["keep_alive"] = target.keep_alive
        self._request, self._turn, self._offered = body, turn, offered
        return out

    def _history(self, previous: Any) -> list[dict[str, Any]]:
        if previous is None:
            return []
        if not isinstance(previous, str) or not previous:
            raise RequestError("previous_response_id must be a response id.", param="previous_response_id")
        try:
            return self._memory.conversation(previous)
        except ResponseGone:
            raise RequestError(
                f"Previous response with id '{previous}' not found. GateDeck keeps recent "
                "responses (stored with 'store' on) in memory while the gateway runs; send the "
                "whole conversation as input instead.",
                param="previous_response_id",
                code="previous_response_not_found",
            ) from None

    def _remember(self, response_id: str, output: list[dict[str, Any]]) -> None:
        """Keep this turn for ``previous_response_id`` (called when the answer is complete)."""
        if self._request.get("store") is False:
            return  # the client asked not to keep it (Codex does): continuing it is a 400
        previous = self._request.get("previous_response_id")
        self._memory.remember(
            response_id, previous if isinstance(previous, str) else None, self._turn + output
        )

    def reply(self, answer: Mapping[str, Any], requested: str) -> dict[str, Any]:
        """The ``response`` object for Ollama's non-streamed answer."""
        return ResponseReply(requested, self._request, self._remember, self._offered).whole(answer)

    def stream_reply(self, requested: str, request: Mapping[str, Any], prompt_tokens: int) -> ResponseStream:
        return ResponseStream(ResponseReply(requested, request, self._remember, self._offered))


def _think(reasoning: Any, model: str) -> bool | str:
    """Ollama's ``think``: only when the request asks for an effort (a model that can think
    does so when ``think`` is left out; one that cannot gets no ``think`` at all, see
    :class:`~core.fastpath.plan.Target`)."""
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if effort in (None, "none", "minimal"):
        return False
    if model.startswith("gpt-oss"):  # gpt-oss takes the effort itself
        return effort if effort in ("low", "medium", "high") else "high"
    return True


def _format(text: Any) -> Any:
    fmt = text.get("format") if isinstance(text, dict) else None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return "json"
    if kind == "json_schema" and isinstance(fmt, dict) and fmt.get("schema"):
        return fmt["schema"]
    raise Unsupported("text.format")


def _request_tools(body: Mapping[str, Any]) -> list[Any]:
    """Every tool the request offers: its ``tools``, then those of its ``additional_tools``
    input items (where Codex's lite requests carry them all)."""
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise RequestError("tools must be a list.", param="tools")
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            more = item.get("tools") or []
            if not isinstance(more, list):
                raise RequestError("The tools of an additional_tools item must be a list.", param="input")
            tools = [*tools, *more]
    return tools


def _tools(tools: list[Any], choice: Any) -> tuple[list[dict[str, Any]], dict[str, OfferedTool]]:
    """The functions offered to Ollama, and the client's tool behind each function name."""
    if not tools or choice == "none":
        return [], {}
    functions: list[dict[str, Any]] = []
    offered: dict[str, OfferedTool] = {}
    for tool in tools:
        functions.extend(_functions(tool, None, offered))
    allowed = _allowed(choice)
    if allowed is not None:
        functions = [f for f in functions if f["function"]["name"] in allowed]
    return functions, offered


def _functions(tool: Any, namespace: str | None, offered: dict[str, OfferedTool]) -> list[dict[str, Any]]:
    """The Ollama functions for one tool (a namespace gives one per member); ``offered``
    learns what each name stands for."""
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind in _HOSTED_TOOLS:
        return []
    if kind == "namespace" and namespace is None and isinstance(tool, dict):
        inner = str(tool.get("name") or "")
        return [f for member in tool.get("tools") or () for f in _functions(member, inner, offered)]
    if kind not in ("function", "custom") or not isinstance(tool, dict) or not tool.get("name"):
        raise Unsupported(f"tool {kind!r}")
    name = ollama_name(str(tool["name"]), namespace)
    shown = namespace if namespace and namespace != PLAIN_NAMESPACE else None
    offered[name] = OfferedTool(custom=kind == "custom", name=str(tool["name"]), namespace=shown)
    function: dict[str, Any] = {"name": name}
    if kind == "custom":
        function["parameters"] = CUSTOM_INPUT
        description = str(tool.get("description") or "")
        fmt = tool.get("format")
        if isinstance(fmt, dict) and fmt.get("type") == "grammar" and fmt.get("definition"):
            # Ollama cannot hold a model to a grammar: the model reads it instead
            description += (
                f"\n\nThe input follows this {fmt.get('syntax') or ''} grammar:\n{fmt['definition']}"
            )
        if description:
            function["description"] = description
    else:
        function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
        if tool.get("description"):
            function["description"] = tool["description"]
    return [{"type": "function", "function": function}]


def _allowed(choice: Any) -> set[str] | None:
    """The function names ``tool_choice`` limits the model to (``None``: no limit)."""
    if not isinstance(choice, dict):
        return None
    if choice.get("type") == "function" and choice.get("name"):
        return {str(choice["name"])}
    if choice.get("type") == "allowed_tools":
        return {str(t.get("name")) for t in choice.get("tools") or () if isinstance(t, dict)}
    return None


def _call_names(history: list[dict[str, Any]]) -> dict[str, str]:
    return {
        str(call.get("id")): str(call["function"]["name"])
        for message in history
        for call in message.get("tool_calls") or ()
        if call.get("id")
    }


def _input_messages(value: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    """The request's ``input`` as Ollama messages; ``names`` learns each call id's function."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise RequestError("input must be a string or a list of items.", param="input")
    out: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise RequestError("Each input item must be an object.", param="input")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            _add_message(out, item)
        elif kind in ("function_call", "custom_tool_call"):
            _add_call(out, item, names)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            text, images = _content(item.get("output"))
            call_id = str(item.get("call_id") or "")
            message: dict[str, Any] = {"role": "tool", "content": text, "tool_call_id": call_id}
            if call_id in names:
                message["tool_name"] = names[call_id]
            if images:
                message["images"] = images
            out.append(message)
        elif kind == "reasoning":
            _add_thinking(out, _reasoning_text(item))
        elif kind == "additional_tools":
            continue  # tools, not conversation: offered with the others (_request_tools)
        else:
            raise Unsupported(f"input item {kind!r}")
    return [m for m in out if not _thinking_only(m)]


def _open_assistant(out: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The assistant message the next assistant part belongs to, if the last one is."""
    return out[-1] if out and out[-1]["role"] == "assistant" else None


def _thinking_only(message: dict[str, Any]) -> bool:
    return message["role"] == "assistant" and not message["content"] and not message.get("tool_calls")


def _add_message(out: list[dict[str, Any]], item: Mapping[str, Any]) -> None:
    role = _ROLES.get(str(item.get("role")))
    if role is None:
        raise RequestError(f"Unknown message role {item.get('role')!r}.", param="input")
    text, images = _content(item.get("content"))
    last = _open_assistant(out)
    if role == "assistant" and last is not None and not last["content"]:
        # the same turn as the reasoning or calls before it (Codex may send a turn's
        # function_call ahead of its text): one assistant message, as the model gave it
        last["content"] = text
        message = last
    else:
        message = {"role": role, "content": text}
        out.append(message)
    if images:
        message["images"] = images


def _add_call(out: list[dict[str, Any]], item: Mapping[str, Any], names: dict[str, str]) -> None:
    name = ollama_name(str(item.get("name") or ""), item.get("namespace"))
    arguments = {"input": str(item.get("input") or "")} if "input" in item else item.get("arguments") or "{}"
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise RequestError(f"The arguments of call '{name}' are not JSON.", param="input") from None
    call_id = str(item.get("call_id") or f"call_{uuid.uuid4().hex[:24]}")
    names[call_id] = name
    call = {"id": call_id, "function": {"name": name, "arguments": arguments}}
    last = _open_assistant(out)
    if last is None:
        out.append({"role": "assistant", "content": "", "tool_calls": [call]})
    else:
        last.setdefault("tool_calls", []).append(call)


def _add_thinking(out: list[dict[str, Any]], text: str) -> None:
    if not text:
        return
    last = _open_assistant(out)
    if last is not None and _thinking_only(last):
        last["thinking"] = f"{last['thinking']}\n{text}" if last.get("thinking") else text
    else:
        out.append({"role": "assistant", "content": "", "thinking": text})


def _reasoning_text(item: Mapping[str, Any]) -> str:
    """The thinking a reasoning item carries: its text, else its summary (GateDeck's own
    reasoning items carry the model's thinking as their summary). Encrypted content, which
    only OpenAI can read, is left out."""
    for field in ("content", "summary"):
        parts = item.get(field)
        if isinstance(parts, list):
            text = "\n".join(str(p.get("text") or "") for p in parts if isinstance(p, dict))
            if text:
                return text
    return ""


def _content(content: Any) -> tuple[str, list[str]]:
    """Text and base64 images of a message's content (a string or a list of parts)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise RequestError("Message content must be a string or a list of parts.", param="input")
    texts: list[str] = []
    images: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            texts.append(str(part.get("text") or ""))
        elif kind == "refusal":
            texts.append(str(part.get("refusal") or ""))
        elif kind == "input_image":
            images.append(_data_url_image(part.get("image_url")))
        else:
            raise Unsupported(f"content part {kind!r}")
    return "\n".join(texts), images


def _data_url_image(url: Any) -> str:
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url:
        raise Unsupported("image to fetch")
    return url.split(";base64,", 1)[1]
