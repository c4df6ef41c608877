"""The OpenAI Responses API (``POST /v1/responses``, what the Codex CLI speaks) on the fast path.

Tried as a user of the official ``openai`` SDK would, over HTTP against the real gateway and the
fake Ollama: plain text (whole and streamed, through the SDK's stream helper), a tool round trip,
parallel tool calls (in one Ollama chunk and in several), thinking, ``previous_response_id``
chains and the 400 for a response the gateway does not have, a failure mid-answer. Then the
Codex CLI's own requests (tests/fixtures/clients/codex: recorded from Codex 0.171, its prose
replaced by generated text of the same length) replayed with their headers. Every answer must
come from GateDeck's fast path (``x-gatedeck-path: direct``), never from LiteLLM.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from core.config.schema import Mapping, ModelOptions
from core.fastpath.responses_memory import ResponseGone, ResponseMemory
from core.gateway.service import Gateway
from core.metrics.recorder import MetricsRecorder
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama, metrics_recorder
from tests.core.gateway_support import KEY, PARIS_CALL, REPO
from tests.core.metrics_support import Collector
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen3_8b

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
THINKER = "qwen3:8b"
LLAMA = "llama3.2:3b"  # the catch-all mapping's, which the Codex fixtures were recorded with
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
TIME_TOOL = {
    "type": "function",
    "name": "get_time",
    "description": "Local time in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
TWO_CALLS = [
    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
    {"function": {"name": "get_time", "arguments": {"city": "Berlin", "n": 2}}},
]


fake = fake_ollama(qwen3_8b())
recorder = metrics_recorder()
gateway = embedded_gateway(
    Mapping(name="codex-thinker", model=THINKER),
    # Codex's own default model (its lite requests ask for it) gets a context they fit in
    Mapping(name="gpt-6*", model=LLAMA, options=ModelOptions(num_ctx=32768)),
    metrics=True,
)


@pytest.fixture
def seen(recorder: MetricsRecorder) -> Iterator[Collector]:
    collector = Collector(recorder)
    yield collector
    collector.remove()


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> Iterator[None]:
    fake.clear_requests()
    fake.clear_faults()
    yield
    for model in (QWEN, THINKER, LLAMA):
        fake.set_reply(model, f"Hello from {model}.")


class Paths:
    """The ``x-gatedeck-path`` of every answer a client got."""

    def __init__(self) -> None:
        self.seen: list[str | None] = []

    def __call__(self, response: httpx.Response) -> None:
        self.seen.append(response.headers.get("x-gatedeck-path"))


@pytest.fixture
def paths() -> Paths:
    return Paths()


@pytest.fixture
def client(gateway: Gateway, paths: Paths) -> Iterator[openai.OpenAI]:
    http = httpx.Client(event_hooks={"response": [paths]}, timeout=60)
    yield openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, http_client=http)
    http.close()


def all_direct(paths: Paths, count: int) -> None:
    assert paths.seen == ["direct"] * count, "every answer came from the fast path"


def chat_body(fake: FakeOllama, number: int = -1) -> dict[str, Any]:
    bodies = fake.bodies("/api/chat")
    assert bodies, "the request reached Ollama"
    body = bodies[number]
    assert isinstance(body, dict)
    return body


# ---------------------------------------------------------------------- plain text
def test_a_plain_question_gets_the_models_answer_as_a_response_object(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths, seen: Collector
) -> None:
    fake.set_reply(QWEN, "one two three", prompt_eval_count=21, eval_count=3)
    response = client.responses.create(
        model="gpt-4o",
        instructions="Be brief.",
        input="Count to three.",
        max_output_tokens=64,
        temperature=0.2,
        metadata={"ticket": "7"},
        store=True,
        include=["reasoning.encrypted_content"],
        prompt_cache_key="session-1",
    )
    assert response.output_text == "one two three"
    assert response.status == "completed" and response.model == "gpt-4o"
    assert response.id.startswith("resp_") and response.object == "response"
    assert [item.type for item in response.output] == ["message"]
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (
        21,
        3,
        24,
    )
    assert response.instructions == "Be brief." and response.metadata == {"ticket": "7"}
    body = chat_body(fake)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Count to three."},
    ]
    assert body["options"]["num_predict"] == 64 and body["options"]["temperature"] == 0.2
    assert body["options"]["num_ctx"] == 16384 and body["keep_alive"] == "7m"  # the mapping's
    assert body["stream"] is False
    all_direct(paths, 1)
    (record,) = seen.wait(1)
    assert (record.dialect, record.requested, record.mapping, record.model) == (
        "responses",
        "gpt-4o",
        "gpt-4o",
        QWEN,
    )
    assert record.ok and not record.stream and record.prompt_tokens == 21 and record.completion_tokens == 3


def test_a_streamed_answer_is_assembled_by_the_sdks_stream_helper(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths, seen: Collector
) -> None:
    fake.set_reply(QWEN, "Hello there, friend.", chunks=3, prompt_eval_count=9, eval_count=3)
    with client.responses.stream(model="gpt-4o", input=[{"role": "user", "content": "Greet me."}]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 3,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    assert deltas[-1].snapshot == "Hello there, friend."  # the helper's running text
    message = final.output[0]
    assert message.type == "message" and message.status == "completed"
    assert {event.item_id for event in deltas} == {message.id}
    assert final.output_text == "Hello there, friend." and final.status == "completed"
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (9, 3)
    assert events[0].response.id == final.id
    assert chat_body(fake)["stream"] is True
    all_direct(paths, 1)
    (record,) = seen.wait(1)
    assert record.dialect == "responses" and record.stream and record.ok and record.ttft_s is not None


def test_an_answer_cut_by_max_output_tokens_is_incomplete(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    fake.set_reply(QWEN, "one two three four five")
    whole = client.responses.create(model="gpt-4o", input="Count.", max_output_tokens=2)
    assert whole.status == "incomplete" and whole.incomplete_details is not None
    assert whole.incomplete_details.reason == "max_output_tokens" and whole.output_text == "one two "
    events = list(client.responses.create(model="gpt-4o", input="Count.", max_output_tokens=2, stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"
    all_direct(paths, 2)


def test_json_schema_output_and_an_image_reach_ollama(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fake.set_reply(QWEN, '{"city": "Paris"}')
    response = client.responses.create(
        model="gpt-4o",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Which city is this?"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,iVBORw0KGgo=",
                        "detail": "auto",
                    },
                ],
            }
        ],
        text={"format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text) == {"city": "Paris"}
    body = chat_body(fake)
    assert body["format"] == schema
    assert body["messages"] == [
        {"role": "user", "content": "Which city is this?", "images": ["iVBORw0KGgo="]}
    ]
    all_direct(paths, 1)


# ---------------------------------------------------------------------- tools
def test_a_function_call_round_trip_with_its_output(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    fake.set_reply(QWEN, "", tool_calls=PARIS_CALL)
    conversation: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.responses.create(model="gpt-4o", input=conversation, tools=[WEATHER_TOOL], stream=True)
    done = [event for event in first if event.type == "response.completed"]
    assert len(done) == 1
    (call,) = done[0].response.output
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"} and call.call_id
    assert chat_body(fake)["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER_TOOL["parameters"],
                "description": "Weather for a city",
            },
        }
    ]

    fake.set_reply(QWEN, "It is 18 degrees in Paris.")
    conversation += [
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "18 C, sunny"},
    ]
    second = client.responses.create(model="gpt-4o", input=conversation, tools=[WEATHER_TOOL])
    assert second.output_text == "It is 18 degrees in Paris."
    messages = chat_body(fake)["messages"]
    assert messages[1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": call.call_id, "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
            ],
        },
        {"role": "tool", "content": "18 C, sunny", "tool_call_id": call.call_id, "tool_name": "get_weather"},
    ]
    all_direct(paths, 2)


@pytest.mark.parametrize("split", [False, True], ids=["one-chunk", "split-chunks"])
def test_two_parallel_calls_stay_two_calls(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths, split: bool
) -> None:
    fake.set_reply(QWEN, "", tool_calls=TWO_CALLS, split_calls=split)
    with client.responses.stream(
        model="gpt-4o", input="Weather in Paris and time in Berlin?", tools=[WEATHER_TOOL, TIME_TOOL]
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    calls = final.output
    assert [(c.type, c.name) for c in calls] == [
        ("function_call", "get_weather"),
        ("function_call", "get_time"),
    ]
    assert [json.loads(c.arguments) for c in calls] == [{"city": "Paris"}, {"city": "Berlin", "n": 2}]
    assert len({c.call_id for c in calls}) == 2 and len({c.id for c in calls}) == 2
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == [0, 1]
    done_args = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [(e.output_index, e.name) for e in done_args] == [(0, "get_weather"), (1, "get_time")]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    all_direct(paths, 1)


def test_a_custom_tool_round_trip_keeps_its_free_form_input(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch"
    tool = {
        "type": "custom",
        "name": "apply_patch",
        "description": "Edit files with a patch.",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"},
    }
    fake.set_reply(
        QWEN, "", tool_calls=[{"function": {"name": "apply_patch", "arguments": {"input": patch}}}]
    )
    with client.responses.stream(model="gpt-4o", input="Add hello.txt.", tools=[tool]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    (call,) = final.output
    assert (call.type, call.name, call.input) == ("custom_tool_call", "apply_patch", patch)
    kinds = [event.type for event in events]
    assert (
        "response.custom_tool_call_input.delta" in kinds and "response.custom_tool_call_input.done" in kinds
    )
    (offered,) = chat_body(fake)["tools"]
    assert offered["function"]["name"] == "apply_patch"
    assert offered["function"]["parameters"]["required"] == ["input"]
    assert "start: /.+/s" in offered["function"]["description"]  # the grammar, for the model to read

    fake.set_reply(QWEN, "Added hello.txt.")
    answer = client.responses.create(
        model="gpt-4o",
        input=[
            {"role": "user", "content": "Add hello.txt."},
            call.model_dump(exclude_none=True),
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Success."},
        ],
        tools=[tool],
    )
    assert answer.output_text == "Added hello.txt."
    assert chat_body(fake)["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": call.call_id, "function": {"name": "apply_patch", "arguments": {"input": patch}}}
            ],
        },
        {"role": "tool", "content": "Success.", "tool_call_id": call.call_id, "tool_name": "apply_patch"},
    ]
    all_direct(paths, 2)


def test_tool_choice_none_offers_no_tools_and_a_named_function_offers_only_it(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    client.responses.create(model="gpt-4o", input="hi", tools=[WEATHER_TOOL, TIME_TOOL], tool_choice="none")
    assert "tools" not in chat_body(fake)
    client.responses.create(
        model="gpt-4o",
        input="hi",
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "name": "get_time"},
    )
    assert [t["function"]["name"] for t in chat_body(fake)["tools"]] == ["get_time"]
    all_direct(paths, 2)


# ---------------------------------------------------------------------- thinking
def test_reasoning_effort_makes_a_thinking_model_think_and_its_thoughts_come_back(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    fake.set_reply(THINKER, "Forty-two.", thinking="Let me work it out carefully.", eval_count=10)
    with client.responses.stream(
        model="codex-thinker", input="The answer?", reasoning={"effort": "medium", "summary": "auto"}
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert chat_body(fake)["think"] is True
    kinds = [event.type for event in events]
    assert kinds[2:4] == ["response.output_item.added", "response.reasoning_summary_part.added"]
    assert (
        "response.reasoning_summary_text.delta" in kinds and "response.reasoning_summary_text.done" in kinds
    )
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert [part.text for part in reasoning.summary] == ["Let me work it out carefully."]
    assert final.output_text == "Forty-two."
    assert final.usage is not None and 0 < final.usage.output_tokens_details.reasoning_tokens < 10

    whole = client.responses.create(model="codex-thinker", input="Again?", reasoning={"effort": "high"})
    assert [item.type for item in whole.output] == ["reasoning", "message"]
    # not asked to think (Codex sends only a summary setting): the model answers without it
    unasked = client.responses.create(model="codex-thinker", input="Quick?", reasoning={"summary": "auto"})
    assert chat_body(fake)["think"] is False and [item.type for item in unasked.output] == ["message"]
    # the thinking goes back to Ollama as the assistant's thinking when the turn is replayed
    client.responses.create(
        model="codex-thinker",
        input=[
            {"role": "user", "content": "The answer?"},
            *[i.model_dump(exclude_none=True) for i in final.output],
            {"role": "user", "content": "Sure?"},
        ],
        reasoning={"effort": "none"},
    )
    body = chat_body(fake)
    assert body["think"] is False
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "Forty-two.",
        "thinking": "Let me work it out carefully.",
    }
    all_direct(paths, 4)


# ---------------------------------------------------------------------- previous_response_id
def test_previous_response_id_continues_the_conversation(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    fake.set_reply(QWEN, "Nice to meet you, Ada.")
    first = client.responses.create(model="gpt-4o", instructions="Be kind.", input="My name is Ada.")
    fake.set_reply(QWEN, "Your name is Ada.")
    with client.responses.stream(
        model="gpt-4o", previous_response_id=first.id, input="What is my name?", instructions="Be short."
    ) as stream:
        second = stream.get_final_response()
    assert second.previous_response_id == first.id
    assert chat_body(fake)["messages"] == [
        {"role": "system", "content": "Be short."},  # instructions are not carried over
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you, Ada."},
        {"role": "user", "content": "What is my name?"},
    ]
    client.responses.create(model="gpt-4o", previous_response_id=second.id, input="Thanks.")
    assert [m["content"] for m in chat_body(fake)["messages"]] == [
        "My name is Ada.",
        "Nice to meet you, Ada.",
        "What is my name?",
        "Your name is Ada.",
        "Thanks.",
    ]
    all_direct(paths, 3)


def test_an_unknown_previous_response_is_a_clear_400_and_reaches_no_model(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-4o", previous_response_id="resp_gone", input="And then?")
    error = caught.value
    assert error.status_code == 400 and error.code == "previous_response_not_found"
    assert error.param == "previous_response_id" and "resp_gone" in error.message
    unstored = client.responses.create(model="gpt-4o", input="Keep nothing.", store=False)
    with pytest.raises(openai.BadRequestError, match=unstored.id):
        client.responses.create(
            model="gpt-4o", previous_response_id=unstored.id, input="And then?", stream=True
        )
    assert len(fake.bodies("/api/chat")) == 1  # only the unstored request reached Ollama
    all_direct(paths, 3)


def test_no_input_or_a_conversation_or_prompt_template_kept_at_openai_is_a_400(
    client: openai.OpenAI, fake: FakeOllama
) -> None:
    with pytest.raises(openai.BadRequestError, match="does not keep conversations") as caught:
        client.responses.create(model="gpt-4o", conversation="conv_123", input="And then?")
    assert caught.value.param == "conversation"
    with pytest.raises(openai.BadRequestError, match="prompt templates"):
        client.responses.create(model="gpt-4o", prompt={"id": "pmpt_1"}, input="Hi")
    with pytest.raises(openai.BadRequestError, match="no input") as empty:
        client.responses.create(model="gpt-4o", input=[])
    assert empty.value.param == "input"
    assert fake.bodies("/api/chat") == []


def test_the_memory_of_responses_is_bounded_in_count_and_bytes() -> None:
    memory = ResponseMemory(max_responses=3, max_bytes=400)
    for number in range(4):
        memory.remember(
            f"r{number}", f"r{number - 1}" if number else None, [{"role": "user", "content": "x"}]
        )
    assert len(memory) == 3
    with pytest.raises(ResponseGone):
        memory.conversation("r3")  # its first turn was dropped: the chain is gone, not shortened
    memory.remember("big", None, [{"role": "user", "content": "y" * 300}])
    assert memory.size <= 400 and memory.conversation("big")[0]["content"] == "y" * 300
    memory.remember("huge", None, [{"role": "user", "content": "z" * 500}])
    with pytest.raises(ResponseGone):
        memory.conversation("huge")


# ---------------------------------------------------------------------- failures
def test_ollama_failing_mid_answer_ends_the_stream_with_an_error_and_response_failed(
    client: openai.OpenAI, fake: FakeOllama, paths: Paths, seen: Collector
) -> None:
    fake.set_reply(QWEN, "one two three four five six")
    fake.drop_after("/api/chat", chunks=2)
    events = list(client.responses.create(model="gpt-4o", input="Count.", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-2:] == ["error", "response.failed"]
    error, failed = events[-2:]
    assert "Ollama" in error.message
    assert failed.response.status == "failed"
    assert failed.response.error is not None and failed.response.error.code == "server_error"
    all_direct(paths, 1)
    (record,) = seen.wait(1)
    assert not record.ok and record.dialect == "responses"


# ---------------------------------------------------------------------- the Codex CLI's requests
CODEX_FIXTURES = REPO / "tests" / "fixtures" / "clients" / "codex"


def codex_request(name: str) -> tuple[dict[str, str], dict[str, Any]]:
    """A recorded Codex request: its headers (with this gateway's key) and its body."""
    record = json.loads((CODEX_FIXTURES / f"{name}.json").read_text())
    hop = {"host", "content-length", "authorization", "accept-encoding"}
    headers = {k: v for k, v in record["headers"].items() if k not in hop}
    headers["authorization"] = f"Bearer {KEY}"
    body = record["body"]
    assert (
        abs(len(json.dumps(body).encode()) - record["recorded_body_bytes"])
        < 0.05 * record["recorded_body_bytes"]
    )
    return headers, body


def replay(
    gateway: Gateway, headers: dict[str, str], body: dict[str, Any]
) -> tuple[str | None, list[dict[str, Any]]]:
    """Send a request as Codex does; the answer's path and its stream events, in order."""
    events: list[dict[str, Any]] = []
    with httpx.stream(
        "POST", f"{gateway.url}/v1/responses", content=json.dumps(body), headers=headers, timeout=60
    ) as answer:
        assert answer.status_code == 200, answer.read()
        name = None
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                assert event["type"] == name  # the SSE event name is the event's type
                events.append(event)
        return answer.headers.get("x-gatedeck-path"), events


def completed(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    response = events[-1]["response"]
    assert isinstance(response, dict) and response["status"] == "completed"
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done == response["output"]  # what Codex collects is the whole answer
    return response


def test_codex_first_turn_is_answered_directly(gateway: Gateway, fake: FakeOllama) -> None:
    headers, body = codex_request("first_turn")
    fake.set_reply(LLAMA, "Ready when you are.", prompt_eval_count=9000, eval_count=5)
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    response = completed(events)
    (message,) = response["output"]
    assert message["content"][0]["text"] == "Ready when you are."
    assert response["usage"]["input_tokens"] == 9000 and response["usage"]["total_tokens"] == 9005
    sent = chat_body(fake)
    assert [m["role"] for m in sent["messages"]] == ["system", "system", "user", "user"]
    assert sent["messages"][3]["content"] == body["input"][3]["content"][0]["text"]
    names = [t["function"]["name"] for t in sent["tools"]]
    assert "exec_command" in names and "multi_agent_v1.spawn_agent" in names  # namespaced tools
    assert len(names) == 12  # every function tool; the hosted web search is left out
    assert sent["think"] is False  # Codex asked for no reasoning effort


@pytest.mark.parametrize("split", [False, True], ids=["one-chunk", "split-chunks"])
def test_codex_gets_two_parallel_shell_calls(gateway: Gateway, fake: FakeOllama, split: bool) -> None:
    headers, body = codex_request("first_turn")
    calls = [
        {"function": {"name": "exec_command", "arguments": {"cmd": "ls"}}},
        {"function": {"name": "exec_command", "arguments": {"cmd": "pwd"}}},
    ]
    fake.set_reply(LLAMA, "", tool_calls=calls, split_calls=split)
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    output = completed(events)["output"]
    assert [(item["type"], item["name"], json.loads(item["arguments"])) for item in output] == [
        ("function_call", "exec_command", {"cmd": "ls"}),
        ("function_call", "exec_command", {"cmd": "pwd"}),
    ]
    assert len({item["call_id"] for item in output}) == 2


def test_codex_gets_a_namespaced_tool_call_back_in_its_namespace(gateway: Gateway, fake: FakeOllama) -> None:
    headers, body = codex_request("first_turn")
    fake.set_reply(
        LLAMA, "", tool_calls=[{"function": {"name": "multi_agent_v1.wait_agent", "arguments": {}}}]
    )
    path, events = replay(gateway, headers, body)
    (call,) = completed(events)["output"]
    assert path == "direct" and (call["name"], call["namespace"]) == ("wait_agent", "multi_agent_v1")


def test_codex_tool_result_turn_sends_the_output_back_with_its_call(
    gateway: Gateway, fake: FakeOllama
) -> None:
    headers, body = codex_request("tool_result_turn")
    call, said, result = body["input"][-3:]
    fake.set_reply(LLAMA, "The command printed the marker.")
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    (message,) = completed(events)["output"]
    assert message["content"][0]["text"] == "The command printed the marker."
    assert chat_body(fake)["messages"][-2:] == [
        {
            "role": "assistant",
            "content": said["content"][0]["text"],
            "tool_calls": [
                {
                    "id": call["call_id"],
                    "function": {"name": "exec_command", "arguments": json.loads(call["arguments"])},
                }
            ],
        },
        {
            "role": "tool",
            "content": result["output"],
            "tool_call_id": call["call_id"],
            "tool_name": "exec_command",
        },
    ]


@pytest.mark.parametrize("model", ["codex-thinker", LLAMA], ids=["can-think", "cannot-think"])
def test_codex_asking_for_reasoning(gateway: Gateway, fake: FakeOllama, model: str) -> None:
    headers, body = codex_request("tool_result_turn")
    body = {**body, "model": model, "reasoning": {"effort": "medium", "summary": "auto"}}
    fake.set_reply(model if model == LLAMA else THINKER, "Done.", thinking="The output shows the marker.")
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    output = completed(events)["output"]
    if model == LLAMA:  # Ollama would refuse 'think' for it: asked without, answered without
        assert "think" not in chat_body(fake) and [item["type"] for item in output] == ["message"]
        return
    assert chat_body(fake)["think"] is True
    reasoning, message = output
    assert reasoning["summary"] == [{"type": "summary_text", "text": "The output shows the marker."}]
    assert message["content"][0]["text"] == "Done."
    kinds = [e["type"] for e in events]
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.output_text.delta")


# ------------------------------------------- the Codex CLI's "lite" requests (no model named)
#: What Ollama is offered for Codex's lite requests: the tools of their ``additional_tools``
#: item, those of the plain ``functions`` namespace by their own names (code mode's ``exec``
#: first), the others as ``namespace.tool``.
LITE_TOOLS = [
    "exec",
    "wait",
    "request_user_input",
    "request_user_input_async",
    "send_message_to_user_async",
    "clock.sleep",
    "collaboration.followup_task",
    "collaboration.interrupt_agent",
    "collaboration.list_agents",
    "collaboration.send_message",
    "collaboration.spawn_agent",
    "collaboration.wait_agent",
]
EXEC_SOURCE = 'const r = await tools.exec_command({cmd: "ls"}); text(r);'


@pytest.mark.parametrize(
    "name", ["first_turn", "tool_result_turn", "lite_first_turn", "lite_exec_result_turn"]
)
def test_every_recorded_codex_request_is_answered_directly(
    gateway: Gateway, fake: FakeOllama, name: str
) -> None:
    headers, body = codex_request(name)
    fake.set_reply(LLAMA, "Ready when you are.")
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    (message,) = completed(events)["output"]
    assert message["content"][0]["text"] == "Ready when you are."
    assert chat_body(fake)["tools"], "Codex's tools reached the model"


def test_codex_lite_request_offers_the_tools_of_its_additional_tools_item(
    gateway: Gateway, fake: FakeOllama
) -> None:
    headers, body = codex_request("lite_first_turn")
    assert headers["x-openai-internal-codex-responses-lite"] == "true" and "tools" not in body
    fake.set_reply(LLAMA, "Ready when you are.")
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    sent = chat_body(fake)
    assert [t["function"]["name"] for t in sent["tools"]] == LITE_TOOLS
    exec_tool = sent["tools"][0]["function"]
    assert exec_tool["parameters"]["required"] == ["input"]  # a custom tool: one string, its input
    assert "lark grammar" in exec_tool["description"]
    # the four developer messages, then the user's: the additional_tools item is no message
    assert [m["role"] for m in sent["messages"]] == ["system"] * 4 + ["user"] * 2
    assert sent["messages"][-1]["content"] == body["input"][-1]["content"][0]["text"]


def test_codex_lite_fields_with_no_ollama_meaning_change_nothing(gateway: Gateway, fake: FakeOllama) -> None:
    """``text.verbosity``, ``reasoning.context`` and ``client_metadata`` are left aside: the
    same request without them reaches Ollama the same."""
    headers, body = codex_request("lite_first_turn")
    assert body["text"] == {"verbosity": "low"} and body["reasoning"]["context"] == "all_turns"
    fake.set_reply(LLAMA, "Ready when you are.")
    replay(gateway, headers, body)
    plain = {k: v for k, v in body.items() if k not in ("text", "client_metadata")}
    plain["reasoning"] = {"effort": body["reasoning"]["effort"]}
    replay(gateway, headers, plain)
    assert chat_body(fake, -2) == chat_body(fake, -1)


@pytest.mark.parametrize(
    ("called", "expected"),
    [
        (
            {"name": "exec", "arguments": {"input": EXEC_SOURCE}},
            {"type": "custom_tool_call", "name": "exec", "input": EXEC_SOURCE},
        ),
        (
            {"name": "clock.sleep", "arguments": {"duration_ms": 10}},
            {
                "type": "function_call",
                "name": "sleep",
                "namespace": "clock",
                "arguments": '{"duration_ms": 10}',
            },
        ),
    ],
    ids=["code-mode-exec", "namespaced"],
)
def test_codex_lite_gets_its_calls_back_as_it_offered_the_tools(
    gateway: Gateway, fake: FakeOllama, called: dict[str, Any], expected: dict[str, Any]
) -> None:
    headers, body = codex_request("lite_first_turn")
    fake.set_reply(LLAMA, "", tool_calls=[{"function": called}])
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    (call,) = completed(events)["output"]
    assert {k: call.get(k) for k in expected} == expected
    assert "namespace" in call or expected["type"] == "custom_tool_call" and "namespace" not in call
    if expected["type"] == "custom_tool_call":
        deltas = [e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta"]
        assert "".join(deltas) == EXEC_SOURCE


def test_codex_lite_exec_output_goes_back_with_its_call(gateway: Gateway, fake: FakeOllama) -> None:
    headers, body = codex_request("lite_exec_result_turn")
    said, call, result = body["input"][-3:]
    assert (call["type"], result["type"]) == ("custom_tool_call", "custom_tool_call_output")
    fake.set_reply(LLAMA, "The command printed the marker.")
    path, events = replay(gateway, headers, body)
    assert path == "direct"
    (message,) = completed(events)["output"]
    assert message["content"][0]["text"] == "The command printed the marker."
    assert chat_body(fake)["messages"][-2:] == [
        {
            "role": "assistant",
            "content": said["content"][0]["text"],
            "tool_calls": [
                {"id": call["call_id"], "function": {"name": "exec", "arguments": {"input": call["input"]}}}
            ],
        },
        {
            "role": "tool",
            "content": "\n".join(part["text"] for part in result["output"]),
            "tool_call_id": call["call_id"],
            "tool_name": "exec",
        },
    ]
