"""Requests shaped exactly like the real Claude Code CLI's, answered by the fast path.

The bodies in tests/fixtures/clients/claude_code were recorded from Claude Code 2.1.332 through
``gatedeck serve`` (scripts/record_requests.py) and shaped (scripts/shape_fixture.py): every field,
role, block, header and size as Claude Code sent them, its prose replaced by text of the same
length. Each one is sent here with the official ``anthropic`` SDK, the way Claude Code sends it
(``client.beta.messages``, its headers), to the real gateway in front of the fake Ollama, and must
be answered by the fast path (``x-gatedeck-path: direct``) with a correct answer: plain, a tool
round trip, parallel tool calls in one chunk or split, thinking on a model that can and one
that cannot.
"""

from __future__ import annotations

import copy
import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.gateway.service import Gateway
from tests.core.gateway_fixtures import embedded_gateway, fake_ollama
from tests.core.gateway_support import KEY
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen3_8b

pytestmark = [pytest.mark.timeout(180)]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients" / "claude_code"
QWEN = "qwen2.5-coder:7b"  # cannot think
THINKER = "qwen3:8b"
#: Headers the SDK and the HTTP client set themselves.
_TRANSPORT = {
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "authorization",
    "content-type",
    "accept",
}
BASH_CALL = {"function": {"name": "Bash", "arguments": {"command": "ls", "description": "List files"}}}
READ_CALL = {"function": {"name": "Read", "arguments": {"file_path": "/tmp/notes.txt"}}}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


fake = fake_ollama(qwen3_8b())


def claude_tiers(ollama_url: str, port: int) -> Config:
    """Opus on a model that cannot think, haiku on one that can, everything else on llama."""
    return Config(
        gateway=GatewaySettings(port=port),
        backends=[OllamaBackend(name="local", url=ollama_url)],
        mappings=[
            Mapping(name="claude-*opus*", model=QWEN, options=ModelOptions(num_ctx=65536)),
            Mapping(name="claude-*haiku*", model=THINKER, options=ModelOptions(num_ctx=32768)),
            Mapping(name="*", model="llama3.2:3b", options=ModelOptions(num_ctx=4096)),
        ],
    )


gateway = embedded_gateway(base=claude_tiers)


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> Iterator[None]:
    fake.clear_requests()
    yield
    fake.set_reply(QWEN, f"Hello from {QWEN}.")
    fake.set_reply(THINKER, f"Hello from {THINKER}.")


def replay(gateway: Gateway, recorded: dict[str, Any], **changes: Any) -> tuple[Any, str, list[str]]:
    """Send a recorded body as Claude Code does; (final message, path header, event types)."""
    final, headers, kinds = send_as_claude_code(gateway.url, KEY, recorded, **changes)
    return final, headers.get("x-gatedeck-path", "litellm"), kinds


def send_as_claude_code(
    base_url: str, key: str, recorded: dict[str, Any], **changes: Any
) -> tuple[Any, Any, list[str]]:
    """A recorded body sent to ``base_url`` as Claude Code sends it (the official SDK, its
    headers, streamed; a change set to ``None`` leaves the field out): (final message, the
    answer's headers, event types)."""
    body = {**copy.deepcopy(recorded["body"]), **changes}
    body = {k: v for k, v in body.items() if v is not None}
    assert recorded["path"] == "/v1/messages?beta=true"
    client = anthropic.Anthropic(base_url=base_url, auth_token=key, max_retries=0, timeout=60)
    known = set(inspect.signature(client.beta.messages.stream).parameters)
    kwargs = {k: v for k, v in body.items() if k in known and k != "stream"}
    extra = {k: v for k, v in body.items() if k not in known and k != "stream"}
    headers = {
        k: v
        for k, v in recorded["headers"].items()
        if k not in _TRANSPORT and not k.startswith("x-stainless")
    }
    assert body["stream"] is True
    with client.beta.messages.stream(**kwargs, extra_body=extra, extra_headers=headers) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    return final, stream.response.headers, kinds


def sent_to_ollama(fake: FakeOllama) -> dict[str, Any]:
    (body,) = fake.bodies("/api/chat")
    return body


@pytest.mark.parametrize(
    "name", ["first_turn", "tool_result_turn", "title", "print_first_turn", "haiku_tool_result_turn"]
)
def test_every_recorded_claude_code_request_is_answered_directly(
    gateway: Gateway, fake: FakeOllama, name: str
) -> None:
    recorded = fixture(name)
    final, path, kinds = replay(gateway, recorded)
    assert path == "direct"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.stop_reason == "end_turn"
    text = [b.text for b in final.content if b.type == "text"]
    assert text and text[-1].startswith("Hello from")

    body = sent_to_ollama(fake)
    request = recorded["body"]
    # the system blocks first, then every message where it stood (system-role ones included)
    roles = [m["role"] for m in body["messages"]]
    expected = ["system"] + [
        "tool"
        if isinstance(m["content"], list) and m["content"][0].get("type") == "tool_result"
        else m["role"]
        for m in request["messages"]
    ]
    assert roles == expected
    offered = [t["name"] for t in request["tools"] if not t.get("defer_loading")]
    assert [t["function"]["name"] for t in body.get("tools", [])] == offered
    assert body["options"]["num_predict"] == request["max_tokens"]
    if "format" in (request.get("output_config") or {}):  # the title request: structured output
        assert body["format"] == request["output_config"]["format"]["schema"]


def test_a_system_message_in_the_middle_stays_where_claude_code_put_it(
    gateway: Gateway, fake: FakeOllama
) -> None:
    recorded = fixture("first_turn")
    reminder = recorded["body"]["messages"][1]
    assert reminder["role"] == "system"  # as Claude Code sends it: after the user's prompt
    replay(gateway, recorded)
    body = sent_to_ollama(fake)
    assert body["messages"][2] == {"role": "system", "content": reminder["content"][0]["text"]}
    assert body["messages"][0]["content"].startswith("x-anthropic-billing-header")


def test_a_bash_tool_round_trip(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_reply(QWEN, "I will list them.", tool_calls=[BASH_CALL])
    final, path, _ = replay(gateway, fixture("first_turn"))
    assert path == "direct" and final.stop_reason == "tool_use"
    (call,) = [b for b in final.content if b.type == "tool_use"]
    assert call.name == "Bash" and call.input == BASH_CALL["function"]["arguments"]

    fake.clear_requests()
    fake.set_reply(QWEN, "There are two files.")
    recorded = fixture("tool_result_turn")
    final, path, _ = replay(gateway, recorded)
    assert path == "direct" and [b.text for b in final.content if b.type == "text"] == [
        "There are two files."
    ]
    result = recorded["body"]["messages"][-1]["content"][0]
    assert sent_to_ollama(fake)["messages"][-1] == {
        "role": "tool",
        "content": result["content"],
        "tool_call_id": result["tool_use_id"],
    }


@pytest.mark.parametrize("split", [False, True], ids=["one chunk", "split"])
def test_parallel_tool_calls_stay_two_calls(gateway: Gateway, fake: FakeOllama, split: bool) -> None:
    fake.set_reply(QWEN, tool_calls=[BASH_CALL, READ_CALL], split_calls=split)
    final, path, _ = replay(gateway, fixture("first_turn"))
    assert path == "direct" and final.stop_reason == "tool_use"
    calls = [(b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert calls == [
        ("Bash", BASH_CALL["function"]["arguments"]),
        ("Read", READ_CALL["function"]["arguments"]),
    ]
    ids = [b.id for b in final.content if b.type == "tool_use"]
    assert len(set(ids)) == 2


def test_adaptive_thinking_on_a_model_that_thinks(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_reply(THINKER, "Done.", thinking="First I look at the request.")
    final, path, kinds = replay(gateway, fixture("first_turn"), model="claude-haiku-5-5")
    assert path == "direct"
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "First I look at the request."  # type: ignore[union-attr]
    assert sent_to_ollama(fake)["think"] is True

    fake.clear_requests()  # the same request without thinking: the model must not think
    final, path, _ = replay(gateway, fixture("first_turn"), model="claude-haiku-5-5", thinking=None)
    assert path == "direct" and [b.type for b in final.content] == ["text"]
    assert sent_to_ollama(fake)["think"] is False


def test_adaptive_thinking_on_a_model_that_cannot_think(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_reply(QWEN, "Done.", thinking="never shown")
    final, path, _ = replay(gateway, fixture("first_turn"))
    assert path == "direct" and [b.type for b in final.content] == ["text"]
    (body,) = fake.bodies("/api/chat")  # asked once: GateDeck knew the model cannot think
    assert "think" not in body


def test_message_start_announces_an_estimate_of_the_prompt_tokens(gateway: Gateway, fake: FakeOllama) -> None:
    recorded = fixture("first_turn")
    client = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
    body = {k: v for k, v in recorded["body"].items() if k not in ("stream", "safeguards")}
    fake.set_reply(QWEN, "ok", prompt_eval_count=20_000)
    with client.beta.messages.stream(**body) as stream:
        first = next(iter(stream))
        stream.until_done()
        final = stream.get_final_message()
    assert first.type == "message_start"
    estimate = first.message.usage.input_tokens
    assert 56_000 / 8 <= estimate <= 56_000  # from the ~56 KB body, before Ollama counted
    assert final.usage.input_tokens == 20_000  # the final usage is Ollama's own count

    with client.beta.messages.stream(**body) as stream:  # now calibrated on that count
        again = next(iter(stream)).message.usage.input_tokens  # type: ignore[union-attr]
        stream.until_done()
    assert abs(again - 20_000) < abs(estimate - 20_000)
