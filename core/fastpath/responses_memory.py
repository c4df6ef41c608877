"""Recent Responses API answers, kept so that ``previous_response_id`` can continue them.

A client of the Responses API may send only its new input and name the response it follows
(``previous_response_id``); the conversation so far must then come from the server. GateDeck
keeps, for each response answered with ``store`` on (the API's default), what that turn added
to the conversation — its input and its output, as the Ollama messages they became — and a link
to the turn before it. The memory lives as long as the running gateway and is bounded both in
count and in bytes; the oldest turns go first. A chain whose link is gone is reported as gone
(:class:`ResponseGone`), never answered without its history.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.fastpath.wire import dumps

#: Defaults: enough for a few long conversations, small beside a loaded model.
MAX_RESPONSES = 512
MAX_BYTES = 64 * 1024 * 1024


class ResponseGone(LookupError):
    """``previous_response_id`` names a response this gateway does not have (any more)."""

    def __init__(self, response_id: str) -> None:
        super().__init__(response_id)
        self.response_id = response_id


@dataclass(frozen=True, slots=True)
class _Turn:
    previous: str | None
    messages: tuple[dict[str, Any], ...]
    size: int


class ResponseMemory:
    """What each stored response added to its conversation, newest last.

    Thread-safe (the gateway loop writes; tests may read from elsewhere).

    Args:
        max_responses: how many responses are kept at most.
        max_bytes: how many bytes of messages (as JSON) are kept at most.
    """

    def __init__(self, max_responses: int = MAX_RESPONSES, max_bytes: int = MAX_BYTES) -> None:
        self._max_responses = max_responses
        self._max_bytes = max_bytes
        self._turns: OrderedDict[str, _Turn] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._turns)

    @property
    def size(self) -> int:
        """Bytes of messages held (as JSON)."""
        return self._bytes

    def remember(self, response_id: str, previous: str | None, messages: Sequence[dict[str, Any]]) -> None:
        """Keep what ``response_id`` added (its input and output) after ``previous``."""
        size = len(dumps(list(messages)))
        if size > self._max_bytes:
            return  # larger than the whole memory: continuing it is reported as gone
        with self._lock:
            old = self._turns.pop(response_id, None)
            if old is not None:
                self._bytes -= old.size
            self._turns[response_id] = _Turn(previous, tuple(messages), size)
            self._bytes += size
            while len(self._turns) > self._max_responses or self._bytes > self._max_bytes:
                _, dropped = self._turns.popitem(last=False)
                self._bytes -= dropped.size

    def conversation(self, response_id: str) -> list[dict[str, Any]]:
        """Every message up to and including ``response_id``'s output, oldest first.

        Raises:
            ResponseGone: ``response_id`` or a turn before it is not held.
        """
        chain: list[tuple[dict[str, Any], ...]] = []
        with self._lock:
            current: str | None = response_id
            seen: set[str] = set()
            while current is not None and current not in seen:
                seen.add(current)
                turn = self._turns.get(current)
                if turn is None:
                    raise ResponseGone(response_id)
                self._turns.move_to_end(current)  # a conversation in use stays longest
                chain.append(turn.messages)
                current = turn.previous
        return [message for messages in reversed(chain) for message in messages]
