"""Which conversation a chat request belongs to: a short key from how the conversation began.

Each turn of a conversation resends everything before it, so the system prompt and the first
user turn are the same in every request of one conversation and differ between conversations.
A hash of them is the conversation's key; :class:`core.fastpath.hosts.HostChooser` keeps a
conversation on the Ollama host that holds its prompt in cache (a host that never saw it
processes the whole prompt again: ~20k tokens for Claude Code's).

Read from the request as the client sent it (already parsed), per API:

- Anthropic Messages: ``system`` and the first ``user`` message;
- OpenAI chat completions: the leading ``system``/``developer`` messages and the first ``user``
  message;
- Responses (Codex): ``instructions``, the leading ``system``/``developer`` items of ``input``
  and its first ``user`` item (``input`` may be a plain string).

Anthropic's ``cache_control`` markers are left out: Claude Code moves them to the newest
message each turn. A ``prompt_cache_key`` (OpenAI's own name for "requests that share a prompt", which Codex sends
once per session) is the key itself when a request carries one. Only those few parts are
serialised, once; the growing history after them is never touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from core.fastpath.wire import dumps

_LEADING_ROLES = frozenset({"system", "developer"})


def conversation_key(dialect: str, request: Mapping[str, Any]) -> bytes | None:
    """The key of the conversation ``request`` continues (16 bytes), or ``None`` when it names
    none (no user turn; an embeddings request)."""
    cache_key = request.get("prompt_cache_key")
    if isinstance(cache_key, str) and cache_key:
        return _digest(b"k", cache_key.encode())
    if dialect == "anthropic":
        start = [_unmarked(request.get("system")), _unmarked(_first_user(request.get("messages")))]
    elif dialect == "openai":
        start = _opening(request.get("messages"))
    elif dialect == "responses":
        given = request.get("input")
        items = [{"role": "user", "content": given}] if isinstance(given, str) else given
        start = [request.get("instructions"), *_opening(items)]
    else:
        return None
    if start[-1] is None:
        return None
    try:
        return _digest(dialect.encode(), dumps(start))
    except TypeError:  # not JSON: the dialect refuses such a request anyway
        return None


def _first_user(messages: object) -> object:
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and message.get("role") == "user":
                return message.get("content")
    return None


def _unmarked(content: object) -> object:
    """``content`` without the ``cache_control`` markers of its blocks."""
    if not isinstance(content, list):
        return content
    return [
        {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        for block in content
    ]


def _opening(items: object) -> list[object]:
    """The leading system/developer turns and the first user turn (``None`` if there is none)."""
    lead: list[object] = []
    if isinstance(items, list):
        for item in items:
            if not isinstance(item, dict):
                continue
            role = item.get("role")
            if role in _LEADING_ROLES:
                lead.append(item.get("content"))
            elif role == "user":
                return [*lead, item.get("content")]
    return [*lead, None]


def _digest(kind: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16, person=kind[:16].ljust(16, b"\0")).digest()
