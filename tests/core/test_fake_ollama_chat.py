"""The fake Ollama's /api/chat does what Ollama's source does (server/routes.go, api/types.go),
where GateDeck's fast path depends on it; tried with the official ``ollama`` client."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models, qwen3_8b

pytestmark = pytest.mark.timeout(30)
HI = [{"role": "user", "content": "hi"}]
CALLS = [
    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
    {"function": {"name": "get_time", "arguments": {"city": "Berlin"}}},
]
TOOLS = [
    {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
    for n in ("get_weather", "get_time")
]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=[*default_models(), qwen3_8b()]) as server:
        yield server


def test_a_model_that_can_think_thinks_unless_told_not_to(fake: FakeOllama) -> None:
    fake.set_reply("qwen3:8b", "Paris.", thinking="Capital of France.")
    client = ollama.Client(host=fake.url)
    assert client.chat("qwen3:8b", messages=HI).message.thinking == "Capital of France."
    assert client.chat("qwen3:8b", messages=HI, think=False).message.thinking is None
    with pytest.raises(ollama.ResponseError) as refused:  # a model without the capability
        client.chat("qwen2.5-coder:7b", messages=HI, think=True)
    assert refused.value.status_code == 400
    assert refused.value.error == '"qwen2.5-coder:7b" does not support thinking'


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stop": "END"}, 'option "stop" must be of type array'),
        ({"stop": [1]}, 'option "stop" must be of an array of strings'),
        ({"num_ctx": "8192"}, 'option "num_ctx" must be of type integer'),
        ({"temperature": "hot"}, 'option "temperature" must be of type float32'),
    ],
)
def test_an_option_of_the_wrong_type_is_ollamas_500(fake: FakeOllama, options: dict, message: str) -> None:
    response = httpx.post(
        f"{fake.url}/api/chat", json={"model": "llama3.2:3b", "messages": HI, "options": options}
    )
    assert response.status_code == 500 and response.json() == {"error": message}


def test_no_messages_loads_the_model(fake: FakeOllama) -> None:
    answer = ollama.Client(host=fake.url).chat("llama3.2:3b", messages=[])
    assert answer.done_reason == "load" and answer.message.content == ""


@pytest.mark.parametrize("split", [False, True], ids=["one chunk", "split"])
def test_tool_calls_carry_an_id_and_their_index(fake: FakeOllama, split: bool) -> None:
    fake.set_reply("llama3.2:3b", tool_calls=CALLS, split_calls=split)
    chunks = [
        c.message.tool_calls
        for c in ollama.Client(host=fake.url).chat("llama3.2:3b", messages=HI, tools=TOOLS, stream=True)
        if c.message.tool_calls
    ]
    assert [len(c) for c in chunks] == ([1, 1] if split else [2])
    calls = [call for chunk in chunks for call in chunk]
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"city": "Berlin"}),
    ]
    raw = httpx.post(
        f"{fake.url}/api/chat", json={"model": "llama3.2:3b", "messages": HI, "tools": TOOLS, "stream": False}
    ).json()["message"]["tool_calls"]
    assert [c["function"]["index"] for c in raw] == [0, 1]
    assert all(c["id"].startswith("call_") and len(c["id"]) == 13 for c in raw)


def test_a_tool_round_trip_calls_once_then_answers(fake: FakeOllama) -> None:
    fake.set_reply("llama3.2:3b", "It is sunny.", tool_calls=CALLS[:1], round_trip=True)
    client = ollama.Client(host=fake.url)
    first = client.chat("llama3.2:3b", messages=HI, tools=TOOLS).message
    assert [c.function.name for c in first.tool_calls or []] == ["get_weather"]
    followed = [
        *HI,
        {"role": "assistant", "content": "", "tool_calls": CALLS[:1]},
        {"role": "tool", "content": "sun"},
    ]
    second = client.chat("llama3.2:3b", messages=followed, tools=TOOLS).message
    assert second.content == "It is sunny." and not second.tool_calls
    assert client.chat("llama3.2:3b", messages=HI).message.content == "It is sunny."  # the tool not offered


def test_with_a_parallel_limit_later_requests_wait_their_turn_as_with_ollama_num_parallel(
    fake: FakeOllama,
) -> None:
    fake.parallel = 1
    fake.set_reply("llama3.2:3b", " ".join(f"w{i}" for i in range(400)), chunks=400)
    fake.set_chunk_delay(0.05)  # a 20-second answer holds the one slot
    answers: list[str] = []
    later = threading.Thread(
        target=lambda: answers.append(
            ollama.Client(host=fake.url).chat("qwen2.5-coder:7b", messages=HI).message.content or ""
        )
    )
    body = {"model": "llama3.2:3b", "messages": HI}
    with httpx.stream("POST", f"{fake.url}/api/chat", json=body, timeout=30) as long_answer:
        lines = long_answer.iter_lines()  # kept: a dropped iterator closes the stream
        assert next(lines)  # generating
        later.start()
        assert fake.wait_until(lambda: fake.in_flight == 2)
        assert not fake.wait_until(lambda: bool(answers), timeout=0.3), "it waits for the slot"
    # the first client left: its slot is free
    later.join(30)
    assert answers == ["Hello from qwen2.5-coder:7b."]
