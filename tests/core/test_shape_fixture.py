"""scripts/shape_fixture.py keeps a recorded request's shape and size and replaces the client's
prose, so the fixtures in tests/fixtures/clients hold only text GateDeck's authors wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.core.gateway_support import REPO

RECORDED = {
    "method": "POST",
    "path": "/v1/messages?beta=true",
    "headers": {"anthropic-version": "2023-06-01", "authorization": "<key>"},
    "body_bytes": 0,
    "body": {
        "model": "claude-opus-5-5",
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
            {"type": "text", "text": "A client's own system prompt,\nwith two lines."},
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Please list the files."}]},
            {"role": "system", "content": "A reminder in the middle."},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}
                ],
            },
        ],
        "tools": [
            {
                "name": "Bash",
                "description": "Runs a command.",
                "input_schema": {
                    "type": "object",
                    "properties": {"command": {"type": "string", "description": "What"}},
                },
            }
        ],
        "max_tokens": 32000,
    },
}


def shape(tmp_path: Path) -> dict:
    source, target = tmp_path / "001.json", tmp_path / "fixture.json"
    source.write_text(json.dumps(RECORDED))
    subprocess.run(
        [sys.executable, "scripts/shape_fixture.py", str(source), str(target)], cwd=REPO, check=True
    )
    return json.loads(target.read_text())


def strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def test_prose_is_replaced_line_for_line_and_everything_else_is_kept(tmp_path: Path) -> None:
    shaped = shape(tmp_path)
    body, original = shaped["body"], RECORDED["body"]
    assert shaped["headers"] == RECORDED["headers"] and shaped["path"] == RECORDED["path"]
    assert json.dumps(body).count(":") == json.dumps(original).count(":")  # same fields
    assert list(body) == list(original)
    assert [len(s) for s in strings(body)] == [len(s) for s in strings(original)]
    prompt = body["system"][1]["text"]
    assert prompt != original["system"][1]["text"] and prompt.count("\n") == 1
    assert body["system"][0] == original["system"][0]  # a protocol marker, not prose
    assert (
        body["messages"][1]["role"] == "system"
        and body["messages"][1]["content"] != "A reminder in the middle."
    )
    assert body["messages"][2] == original["messages"][2]  # ids, names, the call's input
    assert body["tools"][0]["name"] == "Bash" and body["tools"][0]["description"] != "Runs a command."
    assert body["tools"][0]["input_schema"]["properties"]["command"]["type"] == "string"
    assert shape(tmp_path) == shaped  # the same recording gives the same fixture
