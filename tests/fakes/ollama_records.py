"""Records and small helpers shared by the fake Ollama server's state and its HTTP handler."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.ollama_catalog import FakeModel

DEFAULT_VERSION = "0.12.6"
DEFAULT_CONTEXT_LENGTH = 4096
FOREVER = dt.timedelta(days=365 * 290)  # Ollama reports "keep loaded" as an expiry centuries away
UNKNOWN_MANIFEST = "pull model manifest: file does not exist"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, the raw text when it was not JSON, or None when empty


@dataclass
class Reply:
    """What a model answers on /api/chat and /api/generate."""

    text: str = ""
    chunks: int | None = None  # streamed pieces; None → one piece per word
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_eval_count: int | None = None
    eval_count: int | None = None
    thinking: str = ""  # sent as message.thinking when the model thinks
    #: each tool call in its own streamed chunk (else all of them in one chunk)
    split_calls: bool = False
    #: a tool round trip: the calls only while the request offers those tools and holds no
    #: tool result yet (then ``text``), as a model that ran its tool once would
    round_trip: bool = False
    #: the tool calls written as text in this shape (:data:`WRITTEN_SHAPES`) instead of Ollama's
    #: structured ``tool_calls``, as models whose template Ollama cannot parse write them
    written: str | None = None

    def calls_for(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """The tool calls to answer ``request`` with, each carrying an ``id`` and
        ``function.index`` as Ollama's parsers give them."""
        if not self.tool_calls:
            return []
        if self.round_trip:
            offered = {(t.get("function") or {}).get("name") for t in request.get("tools") or ()}
            answered = any(m.get("role") == "tool" for m in request.get("messages") or ())
            wanted = {(c.get("function") or {}).get("name") for c in self.tool_calls}
            if not wanted <= offered or answered:
                return []
        out = []
        for index, call in enumerate(self.tool_calls):
            function = {"index": index, **(call.get("function") or {})}
            out.append({"id": call.get("id") or tool_call_id(), **call, "function": function})
        return out


@dataclass(frozen=True)
class PullSession:
    """One /api/pull as the fake served it: bytes done when it began and ended, and how it ended.

    ``outcome`` is one of ``success``, ``error`` (unknown model), ``client-gone`` (the client
    closed the connection), ``dropped`` (the fake cut it on purpose), ``stopped`` (server stop).
    """

    model: str
    started_at: int
    ended_at: int
    outcome: str


@dataclass
class Fault:
    kind: str  # fail | malformed | hang | drop | stall
    path: str
    model: str | None = None
    status: int = 500
    error: str = ""
    chunks: int = 0
    after_bytes: int = 0
    times: int | None = None


#: Ollama's runner options (``api/types.go``, ``type Runner``): a request naming other values
#: than the loaded copy's makes the scheduler load the model again (``server/sched.go``,
#: ``needsReload``).
RUNNER_OPTIONS = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread")


@dataclass
class Loaded:
    model: FakeModel
    expires_at: dt.datetime
    context_length: int
    #: the runner options it was loaded with (those the loading request named)
    runner: dict[str, Any] = field(default_factory=dict)

    def serves(self, options: dict[str, Any]) -> bool:
        """Whether this copy serves a request with ``options`` (else Ollama reloads)."""
        for name in RUNNER_OPTIONS:
            if name not in options:
                continue
            wanted = options[name]
            if name == "num_ctx" and wanted == self.context_length:
                continue
            if name == "num_gpu" and isinstance(wanted, int) and wanted < 0:
                continue  # Ollama's default: any loaded copy will do
            if self.runner.get(name) != wanted:
                return False
        return True


class ClientGone(Exception):
    """The client closed its end (or the fake dropped it); stop serving this request."""

    def __init__(self, outcome: str = "client-gone") -> None:
        super().__init__(outcome)
        self.outcome = outcome


def parse_keep_alive(value: Any, default: Any = "5m") -> float | None:
    """Seconds to stay loaded; ``None`` means forever (negative), ``0`` means unload now.

    Accepts what Ollama accepts: a number of seconds or a Go-style duration string ("5m",
    "1h30m", "300ms", "0", "-1").
    """
    if value is None:
        value = default
    if isinstance(value, bool):
        raise ValueError("keep_alive must be a number or a duration")
    if isinstance(value, int | float):
        return None if value < 0 else float(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        number = float(text)
        return None if number < 0 else number
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    sign = -1.0 if text.startswith("-") else 1.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text.lstrip("+-"))
    if not parts or "".join(n + u for n, u in parts) != text.lstrip("+-"):
        raise ValueError(f"time: invalid duration {text!r}")
    seconds = sign * sum(float(n) * units[u] for n, u in parts)
    return None if seconds < 0 else seconds


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def kv_bytes(model: FakeModel, ctx: int) -> int:
    info, arch = model.model_info, model.architecture
    layers = int(info.get(f"{arch}.block_count", 0))
    heads = int(info.get(f"{arch}.attention.head_count", 1)) or 1
    kv_heads = int(info.get(f"{arch}.attention.head_count_kv", heads))
    head_dim = int(
        info.get(f"{arch}.attention.key_length", int(info.get(f"{arch}.embedding_length", 0)) // heads)
    )
    return layers * ctx * kv_heads * head_dim * 2 * 2


def tool_call_id() -> str:
    """Eight lowercase letters and digits, like Ollama's ``toolCallId``."""
    return "call_" + "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))


#: Ollama's option types (``api/types.go``: ``Options`` and ``Runner``); what is not here
#: Ollama ignores with a warning.
_INT_OPTIONS = frozenset(
    {
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "draft_num_predict",
        "num_keep",
        "seed",
        "num_predict",
        "top_k",
        "repeat_last_n",
    }
)
_FLOAT_OPTIONS = frozenset(
    {"top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty", "frequency_penalty"}
)


def option_error(options: dict[str, Any]) -> str | None:
    """Ollama's message for an option of the wrong type (it answers 500 with it), else None."""
    for key, value in options.items():
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in _INT_OPTIONS and not number:
            return f'option "{key}" must be of type integer'
        if key in _FLOAT_OPTIONS and not number:
            return f'option "{key}" must be of type float32'
        if key == "use_mmap" and not isinstance(value, bool):
            return f'option "{key}" must be of type boolean'
        if key == "stop":
            if not isinstance(value, list):
                return f'option "{key}" must be of type array'
            if not all(isinstance(item, str) for item in value):
                return f'option "{key}" must be of an array of strings'
    return None


#: The ways local models write a tool call as text (qwen2.5-coder, qwen3-coder, llama builds).
WRITTEN_SHAPES = ("tool_call_tag", "function_xml", "json", "fenced_json")


def written_calls(shape: str, calls: list[dict[str, Any]]) -> str:
    """``calls`` (Ollama's ``tool_calls``) as a model writes them in its text, in ``shape``."""
    plain = [
        {
            "name": (c.get("function") or {}).get("name"),
            "arguments": (c.get("function") or {}).get("arguments"),
        }
        for c in calls
    ]
    if shape == "tool_call_tag":
        return "\n".join(f"<tool_call>\n{json.dumps(call)}\n</tool_call>" for call in plain)
    if shape == "function_xml":
        out = []
        for call in plain:
            parameters = "".join(
                f"<parameter={key}>\n{value if isinstance(value, str) else json.dumps(value)}\n</parameter>\n"
                for key, value in (call["arguments"] or {}).items()
            )
            out.append(f"<function={call['name']}>\n{parameters}</function>")
        return "\n".join(out)
    body = json.dumps(plain[0] if len(plain) == 1 else plain)
    if shape == "json":
        return body
    if shape == "fenced_json":
        return f"```json\n{body}\n```"
    raise ValueError(f"unknown shape {shape!r}; one of {', '.join(WRITTEN_SHAPES)}")


def split_reply(text: str, chunks: int | None) -> list[str]:
    if not text:
        return []
    if chunks is None:
        words = re.findall(r"\S+\s*|\s+", text)
        return words or [text]
    chunks = max(1, min(chunks, len(text)))
    size = math.ceil(len(text) / chunks)
    return [text[i : i + size] for i in range(0, len(text), size)]
