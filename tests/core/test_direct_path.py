"""The gateway's direct path, tried through the real gateway with the official SDKs.

Every request here is sent twice: once as GateDeck serves it by default (Ollama-only mappings
answered by the direct path) and once with the direct path turned off in the config (all of it
through LiteLLM, as before). What the client gets and what reaches Ollama must be the same.
Also: which requests take which path, a client hanging up before its answer is complete
(streamed or not) stops Ollama's work, and an Ollama that goes away mid-answer is reported as
an error event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from core.config.schema import Mapping
from core.gateway.service import Gateway
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama
from tests.core.gateway_support import (
    KEY,
    PARIS_CALL,
    WEATHER_TOOL_ANTHROPIC,
    WEATHER_TOOL_OPENAI,
    auth,
)
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen3_8b, tiny_model

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"


# tinyllama is installed but not mapped: GateDeck does not ask whether it can think
fake = fake_ollama(qwen3_8b(), tiny_model())
gateway = embedded_gateway(
    Mapping(name="with-fallback", model=QWEN, fallbacks=["gpt-4o"]),
    Mapping(name="claude-thinker", model="qwen3:8b"),
)


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama, gateway: Gateway) -> Iterator[None]:
    fake.clear_requests()
    fake.clear_faults()
    fake.set_chunk_delay(0.0)
    yield
    fake.set_chunk_delay(0.0)
    fake.set_reply(QWEN, f"Hello from {QWEN}.")
    if not gateway.config.gateway.direct_path:
        set_direct(gateway, True)


def set_direct(gateway: Gateway, on: bool) -> None:
    config = gateway.config
    gateway.apply_blocking(
        config.model_copy(update={"gateway": config.gateway.model_copy(update={"direct_path": on})})
    )


def both_ways(
    gateway: Gateway, fake: FakeOllama, call: Callable[[], Any]
) -> list[tuple[Any, dict[str, Any]]]:
    """``call()``'s result and the body Ollama received: direct path first, then LiteLLM."""
    results = []
    for direct in (True, False):
        set_direct(gateway, direct)
        try:
            fake.clear_requests()
            result = call()
            bodies = fake.bodies("/api/chat")
            assert len(bodies) == 1, "one request reached Ollama"
            results.append((result, normalized(bodies[0])))
        finally:
            set_direct(gateway, True)
    return results


def normalized(body: dict[str, Any]) -> dict[str, Any]:
    """The Ollama body without what differs only in form (LiteLLM adds ``images: []``; a JSON
    object's key order)."""
    body = json.loads(json.dumps(body, sort_keys=True))
    for message in body["messages"]:
        if message.get("images") == []:
            del message["images"]
        if message.get("role") == "assistant" and message.get("content") == "" and message.get("tool_calls"):
            message.pop("content")
    return body


def openai_client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)


def anthropic_client(gateway: Gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)


# ---------------------------------------------------------------------- same answers both ways
def test_openai_text_with_sampling_options_is_the_same_both_ways(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_reply(QWEN, "one two three", chunks=3, prompt_eval_count=17, eval_count=3)

    def call() -> tuple[Any, ...]:
        reply = openai_client(gateway).chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Count."}],
            temperature=0.3,
            top_p=0.8,
            seed=7,
            max_tokens=64,
            stop=["four"],
        )
        choice = reply.choices[0]
        return (
            choice.message.content,
            choice.finish_reason,
            reply.usage.model_dump() if reply.usage else None,
            reply.model,
        )

    (direct, direct_body), (litellm, litellm_body) = both_ways(gateway, fake, call)
    assert direct == litellm
    assert direct[0] == "one two three" and direct[1] == "stop" and direct[3] == "gpt-4o"
    assert direct_body == litellm_body
    assert direct_body["options"]["num_predict"] == 64 and direct_body["options"]["num_ctx"] == 16384
    assert direct_body["keep_alive"] == "7m"


def test_openai_tool_calls_are_the_same_both_ways_and_their_ids_round_trip(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_reply(QWEN, tool_calls=PARIS_CALL)

    def call() -> tuple[Any, ...]:
        reply = openai_client(gateway).chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
        )
        tool_call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert tool_call.id
        return (
            tool_call.function.name,
            json.loads(tool_call.function.arguments),
            reply.choices[0].finish_reason,
        )  # type: ignore[union-attr]

    (direct, direct_body), (litellm, litellm_body) = both_ways(gateway, fake, call)
    assert direct == litellm == ("get_weather", {"city": "Paris"}, "tool_calls")
    assert direct_body == litellm_body

    fake.set_reply(QWEN, "Sunny.")
    history: list[Any] = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]

    def follow_up() -> str | None:
        reply = openai_client(gateway).chat.completions.create(
            model="gpt-4o",
            messages=history,
            tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
        )
        return reply.choices[0].message.content

    (direct_text, direct_body), (litellm_text, litellm_body) = both_ways(gateway, fake, follow_up)
    assert direct_text == litellm_text == "Sunny."
    assert direct_body == litellm_body
    assert direct_body["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}


def test_openai_streams_are_the_same_both_ways(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_reply(QWEN, "alpha beta gamma delta", chunks=4, prompt_eval_count=9, eval_count=4)

    def call() -> tuple[Any, ...]:
        chunks = list(
            openai_client(gateway).chat.completions.create(
                model="claude-opus-4-1",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        usage = [(c.usage.prompt_tokens, c.usage.completion_tokens) for c in chunks if c.usage]
        return text, finish, usage

    (direct, direct_body), (litellm, litellm_body) = both_ways(gateway, fake, call)
    assert direct == litellm == ("alpha beta gamma delta", ["stop"], [(9, 4)])
    assert direct_body == litellm_body


def test_anthropic_tool_use_with_system_blocks_is_the_same_both_ways(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_reply(QWEN, tool_calls=PARIS_CALL, prompt_eval_count=30, eval_count=5)
    system: Any = [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
    ]

    def call() -> tuple[Any, ...]:
        reply = anthropic_client(gateway).messages.create(
            model="claude-sonnet-4-5-20250929",
            max_tokens=32000,
            system=system,
            tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            extra_body={"temperature": 0.2, "top_k": 20},  # sampling Claude Code may send
        )
        uses = [(b.name, b.input) for b in reply.content if b.type == "tool_use"]
        texts = [b.text for b in reply.content if b.type == "text" and b.text]
        assert all(b.id for b in reply.content if b.type == "tool_use")
        return uses, texts, reply.stop_reason, (reply.usage.input_tokens, reply.usage.output_tokens)

    (direct, direct_body), (litellm, litellm_body) = both_ways(gateway, fake, call)
    assert direct == litellm == ([("get_weather", {"city": "Paris"})], [], "tool_use", (30, 5))
    # one system message with the blocks apart; LiteLLM glues them ("…Code.Be brief.")
    direct_system = [m["content"] for m in direct_body["messages"] if m["role"] == "system"]
    litellm_system = [m["content"] for m in litellm_body["messages"] if m["role"] == "system"]
    assert direct_system == ["You are Claude Code.\n\nBe brief."]
    assert "".join(litellm_system) == "You are Claude Code.Be brief."
    rest = [m for m in direct_body["messages"] if m["role"] != "system"]
    assert rest == [m for m in litellm_body["messages"] if m["role"] != "system"]
    assert {k: v for k, v in direct_body.items() if k != "messages"} == {
        k: v for k, v in litellm_body.items() if k != "messages"
    }
    assert direct_body["options"]["num_predict"] == 32000 and direct_body["options"]["top_k"] == 20


def test_anthropic_tool_results_and_streams_are_the_same_both_ways(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_reply(QWEN, "It is sunny in Paris.", chunks=5, prompt_eval_count=44, eval_count=6)
    messages: Any = [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 24 C"}],
        },
    ]

    def call() -> tuple[Any, ...]:
        events: list[str] = []
        with anthropic_client(gateway).messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=4096,
            tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
            messages=messages,
        ) as stream:
            events = [event.type for event in stream]
            final = stream.get_final_message()
        text = "".join(b.text for b in final.content if b.type == "text")
        return text, final.stop_reason, final.usage.output_tokens, events[0], events[-1]

    (direct, direct_body), (litellm, litellm_body) = both_ways(gateway, fake, call)
    assert direct == litellm
    assert direct[:3] == ("It is sunny in Paris.", "end_turn", 6)
    assert direct_body == litellm_body
    assert direct_body["messages"][2] == {"role": "tool", "content": "sunny, 24 C", "tool_call_id": "toolu_1"}


# ---------------------------------------------------------------------- thinking
def test_claude_code_thinking_streams_as_thinking_blocks_from_a_thinking_model(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_reply("qwen3:8b", "Paris.", thinking="The capital of France is Paris.")
    with anthropic_client(gateway).messages.stream(
        model="claude-thinker",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Capital of France?"}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "The capital of France is Paris."  # type: ignore[union-attr]
    assert final.content[1].text == "Paris."  # type: ignore[union-attr]
    assert "thinking" in kinds
    assert fake.bodies("/api/chat")[-1]["think"] is True

    reply = openai_client(gateway).chat.completions.create(
        model="claude-thinker", reasoning_effort="high", messages=[{"role": "user", "content": "Capital?"}]
    )
    message = reply.choices[0].message
    assert message.content == "Paris."
    assert (message.model_extra or {}).get("reasoning_content") == "The capital of France is Paris."


def test_thinking_asked_of_a_mapped_model_that_cannot_think_is_answered_without_it_both_ways(
    gateway: Gateway, fake: FakeOllama
) -> None:
    # Claude Code sends thinking whatever the model; Ollama refuses the whole request for a
    # model without the capability (HTTP 400). GateDeck asked Ollama at start which mapped
    # models can think, so the request goes without it, once, on either path.
    fake.set_reply(QWEN, "Paris.")
    (direct, direct_body), (litellm, litellm_body) = both_ways(
        gateway, fake, lambda: ask_thinking(gateway, "claude-sonnet-4-5", "Capital of France?")
    )
    assert direct == litellm == [("text", "Paris.")]
    assert "think" not in direct_body and direct_body == litellm_body


def test_thinking_asked_of_a_model_with_fallbacks_that_cannot_think_does_not_fall_back(
    gateway: Gateway, fake: FakeOllama
) -> None:
    # Ollama's refusal to think is not a failure: taken as one, every thinking request would
    # go to the fallback (a cloud model, for many users).
    fake.set_reply(QWEN, "Paris.")
    reply = openai_client(gateway).chat.completions.create(
        model="with-fallback", reasoning_effort="high", messages=[{"role": "user", "content": "Capital?"}]
    )
    assert reply.choices[0].message.content == "Paris."
    (body,) = fake.bodies("/api/chat")
    assert body["model"] == QWEN and "think" not in body


def test_a_model_newly_mapped_while_serving_is_asked_about_too(gateway: Gateway, fake: FakeOllama) -> None:
    before = gateway.config
    guarded = Mapping(name="tiny-guarded", model="tinyllama:1.1b", fallbacks=["gpt-4o"])
    gateway.apply_blocking(before.model_copy(update={"mappings": [guarded, *before.mappings]}))
    try:
        fake.set_reply("tinyllama:1.1b", "Paris.")
        reply = openai_client(gateway).chat.completions.create(
            model="tiny-guarded", reasoning_effort="high", messages=[{"role": "user", "content": "Capital?"}]
        )
        assert reply.choices[0].message.content == "Paris."
        (body,) = fake.bodies("/api/chat")
        assert body["model"] == "tinyllama:1.1b" and "think" not in body, "no refusal, no fallback"
    finally:
        gateway.apply_blocking(before)


def test_thinking_asked_of_a_model_gatedeck_knows_nothing_about_is_retried_without_it(
    gateway: Gateway, fake: FakeOllama
) -> None:
    # An installed model asked for by its own name: not mapped, so not asked about at start.
    fake.set_reply("tinyllama:1.1b", "Paris.")
    assert ask_thinking(gateway, "tinyllama:1.1b", "Capital of France?") == [("text", "Paris.")]
    refused, answered = fake.bodies("/api/chat")
    assert refused["think"] is True and "think" not in answered
    assert answered["messages"] == refused["messages"] and answered["options"] == refused["options"]

    fake.clear_requests()  # asked again: the refusal is remembered
    assert ask_thinking(gateway, "tinyllama:1.1b", "And of Italy?") == [("text", "Paris.")]
    (body,) = fake.bodies("/api/chat")
    assert "think" not in body


# ---------------------------------------------------------------------- which path answers
def ask_thinking(gateway: Gateway, model: str, question: str) -> list[tuple[str, str | None]]:
    """Ask as Claude Code does, thinking on; the answer's blocks as (type, text)."""
    reply = anthropic_client(gateway).messages.create(
        model=model,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": question}],
    )
    return [(b.type, getattr(b, "text", None)) for b in reply.content]


def give_qwen_a_long_answer(fake: FakeOllama) -> None:
    """2,000 words, 20 ms apart: 40 s for the whole answer, streamed or not."""
    fake.set_reply(QWEN, " ".join(f"w{i}" for i in range(2000)), chunks=2000)
    fake.set_chunk_delay(0.02)


def path_of(response: httpx.Response) -> str:
    return response.headers.get("x-gatedeck-path", "litellm")


def test_requests_take_the_direct_path_only_where_it_can_answer(gateway: Gateway) -> None:
    url = gateway.url
    plain = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    assert (
        path_of(httpx.post(f"{url}/v1/chat/completions", json=plain, headers=auth(), timeout=30)) == "direct"
    )
    # an installed model by its own name, ollama/<name>, and a mapping with fallbacks
    for name in (QWEN, f"ollama/{QWEN}", "with-fallback"):
        response = httpx.post(
            f"{url}/v1/chat/completions", json={**plain, "model": name}, headers=auth(), timeout=30
        )
        assert response.status_code == 200 and path_of(response) == "direct", name
    # a request the direct path does not translate (logprobs) goes to LiteLLM
    body = {**plain, "logprobs": True}
    response = httpx.post(f"{url}/v1/chat/completions", json=body, headers=auth(), timeout=30)
    assert response.status_code == 200 and path_of(response) == "litellm", body
    anthropic_body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = httpx.post(f"{url}/v1/messages", json=anthropic_body, headers=auth(), timeout=30)
    assert response.status_code == 200 and path_of(response) == "direct"
    server_tool = {**anthropic_body, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    response = httpx.post(f"{url}/v1/messages", json=server_tool, headers=auth(), timeout=30)
    assert path_of(response) == "litellm"

    set_direct(gateway, False)
    try:
        response = httpx.post(f"{url}/v1/chat/completions", json=plain, headers=auth(), timeout=30)
        assert response.status_code == 200 and path_of(response) == "litellm"
    finally:
        set_direct(gateway, True)


def test_a_wrong_key_is_refused_before_the_direct_path(gateway: Gateway, fake: FakeOllama) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions", json=body, headers=auth("sk-wrong"), timeout=30
    )
    assert response.status_code == 401
    assert fake.bodies("/api/chat") == []


# ---------------------------------------------------------------------- streams cut short
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_a_client_that_hangs_up_mid_stream_stops_the_request_to_ollama(
    gateway: Gateway, fake: FakeOllama, direct: bool
) -> None:
    set_direct(gateway, direct)
    give_qwen_a_long_answer(fake)
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "stream": True,
        "messages": [{"role": "user", "content": "go"}],
    }
    deltas = 0
    with httpx.stream(
        "POST", f"{gateway.url}/v1/messages", json=body, headers=auth(), timeout=30
    ) as response:
        assert path_of(response) == ("direct" if direct else "litellm")
        for line in response.iter_lines():
            deltas += line == "event: content_block_delta"
            if deltas == 3:
                break  # closing the response closes the connection
    assert fake.wait_until(lambda: fake.in_flight == 0, timeout=15.0), (
        "Ollama kept generating for a client that was gone"
    )


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "litellm"])
def test_a_client_that_gives_up_on_a_whole_answer_stops_the_request_to_ollama(
    gateway: Gateway, fake: FakeOllama, direct: bool
) -> None:
    set_direct(gateway, direct)
    give_qwen_a_long_answer(fake)  # not streamed: Ollama generates all of it, then answers
    client = openai_client(gateway).with_options(timeout=2.0)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "go"}])
    assert len(fake.bodies("/api/chat")) == 1, "the request reached Ollama before the client gave up"
    assert fake.wait_until(lambda: fake.in_flight == 0, timeout=15.0), (
        "Ollama kept generating a whole answer for a client that was gone"
    )


def test_ollama_cutting_a_stream_short_is_an_error_event_not_a_complete_answer(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_reply(QWEN, "one two three four five six", chunks=6)
    fake.drop_after("/api/chat", chunks=3)
    with pytest.raises(openai.APIError) as caught:
        for _ in openai_client(gateway).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "go"}], stream=True
        ):
            pass
    assert "closed in the middle of an answer" in str(caught.value)

    fake.drop_after("/api/chat", chunks=3)
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 99,
        "stream": True,
        "messages": [{"role": "user", "content": "go"}],
    }
    with httpx.stream(
        "POST", f"{gateway.url}/v1/messages", json=body, headers=auth(), timeout=30
    ) as response:
        events = [
            line.removeprefix("event: ") for line in response.iter_lines() if line.startswith("event: ")
        ]
    assert events[0] == "message_start" and events[-1] == "error" and "message_stop" not in events


def test_an_ollama_that_goes_silent_is_a_timeout_answer_not_a_hang(
    gateway: Gateway, fake: FakeOllama
) -> None:
    # The module's gateway with a short request timeout (one gateway per program, so it is
    # re-applied rather than a second one started), restored afterwards.
    before = gateway.config
    gateway.apply_blocking(
        before.model_copy(update={"gateway": before.gateway.model_copy(update={"request_timeout_s": 1.0})})
    )
    fake.hang("/api/chat", times=1)
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            openai_client(gateway).chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.status_code == 504
        assert "did not answer" in caught.value.message and "'gpt-4o'" in caught.value.message
    finally:
        fake.release()
        gateway.apply_blocking(before)
