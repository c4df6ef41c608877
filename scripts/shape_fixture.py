"""Turn a recorded request (``scripts/record_requests.py``) into a fixture the repository can hold.

    .venv/bin/python scripts/shape_fixture.py rec/003.json tests/fixtures/clients/claude_code/tool_round_trip.json

Everything that makes the request what it is stays: every field and its order, roles, block
types, tool names and schemas' structure, ids, the headers, and the size of every string. The
client's own prose — system prompts, reminders, tool and parameter descriptions, the user's
prompt, tool output — is replaced by generated text of the same length, line for line
(deterministic: the same recording gives the same fixture). So the repository holds only text
GateDeck's authors wrote, and a test still sends a body of the real size and shape.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

#: Keys whose string values are a client's prose (replaced); every other string is kept.
PROSE_KEYS = frozenset({"text", "description", "content", "instructions", "thinking", "output", "user_id"})
#: Strings kept even under a prose key: protocol markers, not prose.
KEEP_PREFIXES = ("x-anthropic-billing-header:",)
_WORDS = [
    "gateway",
    "mapping",
    "model",
    "local",
    "tier",
    "answer",
    "request",
    "stream",
    "token",
    "window",
    "context",
    "prompt",
    "tool",
    "call",
    "result",
    "check",
    "record",
    "fixture",
    "shape",
    "length",
    "field",
    "order",
    "header",
    "route",
    "path",
    "queue",
    "backend",
    "option",
    "memory",
    "chunk",
    "event",
    "reply",
    "system",
    "user",
    "assistant",
    "thinking",
    "budget",
    "effort",
    "cache",
    "fast",
]


class Shaper:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def line(self, length: int) -> str:
        words: list[str] = []
        size = 0
        while size <= length:  # the words joined by spaces are size - 1 long
            word = self._random.choice(_WORDS)
            words.append(word)
            size += len(word) + 1
        return " ".join(words)[:length]

    def prose(self, text: str) -> str:
        if text.startswith(KEEP_PREFIXES):
            return text
        return "\n".join(self.line(len(part)) for part in text.split("\n"))

    def shape(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self.shape(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.shape(v, key) for v in value]
        if isinstance(value, str) and key in PROSE_KEYS:
            return self.prose(value)
        return value


def shape_record(record: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """The fixture for one recorded request: method, path, headers and the shaped body."""
    shaper = Shaper(seed)
    body = shaper.shape(record["body"])
    return {
        "method": record["method"],
        "path": record["path"],
        "headers": record["headers"],
        "recorded_body_bytes": record.get("body_bytes"),
        "body": body,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path, help="a file scripts/record_requests.py wrote")
    parser.add_argument("fixture", type=Path, help="where to write the fixture")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    record = json.loads(args.recording.read_text(encoding="utf-8"))
    fixture = shape_record(record, args.seed)
    args.fixture.parent.mkdir(parents=True, exist_ok=True)
    args.fixture.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    size = len(json.dumps(fixture["body"]).encode())
    print(f"{args.fixture}: body {size} bytes (recorded {record.get('body_bytes')})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
