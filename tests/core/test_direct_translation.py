"""The direct path's translations and routing table, on their own (no server).

The gateway tests (tests/core/test_direct_path.py) prove the common requests come out the same
as through LiteLLM; these cover the rest of what clients send: images, thinking, JSON mode,
errors inside tool results, several tool calls in one stream, and what must go to LiteLLM.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.config.schema import CloudModel, Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.fastpath import anthropic as direct_anthropic
from core.fastpath import openai as direct_openai
from core.fastpath.plan import DirectPlan, Target
from core.fastpath.wire import Unsupported
from core.gateway.render import render

TARGET = Target(
    api_base="http://127.0.0.1:11434",
    model="qwen3:8b",
    options={"num_ctx": 32768, "temperature": 0.7},
    keep_alive="30m",
)
PNG = "iVBORw0KGgo="


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Named SSE events as (name, data)."""
    out = []
    for block in raw.decode().split("\n\n"):
        if block.strip():
            name, data = block.split("\n", 1)
            out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def data_lines(raw: bytes) -> list[Any]:
    return [
        line.removeprefix("data: ") if line == "data: [DONE]" else json.loads(line.removeprefix("data: "))
        for line in raw.decode().split("\n\n")
        if line.strip()
    ]


# ---------------------------------------------------------------------- OpenAI requests
def test_openai_request_carries_options_images_json_mode_and_thinking() -> None:
    body = direct_openai.ollama_request(
        {
            "model": "gpt-4o",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this? "},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                },
            ],
            "temperature": 0.1,
            "max_completion_tokens": 50,
            "stop": "END",
            "response_format": {"type": "json_object"},
            "reasoning_effort": "high",
            "stream": True,
        },
        TARGET,
        "gpt-4o",
    )
    assert body["model"] == "qwen3:8b" and body["stream"] is True and body["keep_alive"] == "30m"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is this? ", "images": [PNG]},
    ]
    assert body["options"] == {"num_ctx": 32768, "temperature": 0.1, "num_predict": 50, "stop": ["END"]}
    assert body["format"] == "json" and body["think"] is True


def test_openai_json_schema_becomes_ollamas_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    body = direct_openai.ollama_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
        },
        TARGET,
        "m",
    )
    assert body["format"] == schema


@pytest.mark.parametrize(
    "extra",
    [
        {"logprobs": True},
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
            ]
        },
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        {"messages": [{"role": "function", "content": "x"}]},
        {"tools": [{"type": "web_search"}]},
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{oops"}}],
                }
            ]
        },
    ],
    ids=["logprobs", "image url", "audio", "function role", "non-function tool", "bad arguments"],
)
def test_openai_requests_the_direct_path_leaves_to_litellm(extra: dict[str, Any]) -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "x"}], **extra}
    with pytest.raises(Unsupported):
        direct_openai.ollama_request(request, TARGET, "m")


# ---------------------------------------------------------------------- OpenAI answers
def test_openai_reply_with_thinking_and_a_cut_answer() -> None:
    reply = direct_openai.reply(
        {
            "message": {"role": "assistant", "content": "42", "thinking": "six times seven"},
            "done": True,
            "done_reason": "length",
            "prompt_eval_count": 10,
            "eval_count": 3,
        },
        "gpt-4o",
    )
    choice = reply["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "42", "reasoning_content": "six times seven"}
    assert choice["finish_reason"] == "length"
    assert reply["usage"] == {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
    assert reply["model"] == "gpt-4o" and reply["id"].startswith("chatcmpl-")


def test_openai_stream_numbers_tool_calls_across_chunks_and_keeps_one_id() -> None:
    stream = direct_openai.stream_reply("gpt-4o", {"stream_options": {"include_usage": True}}, 0)
    call = {"function": {"name": "f", "arguments": {"x": 1}}}
    raw = stream.feed({"message": {"content": "Let me check."}, "done": False})
    raw += stream.feed({"message": {"content": "", "tool_calls": [call]}, "done": False})
    raw += stream.feed({"message": {"content": "", "tool_calls": [call, call]}, "done": False})
    raw += stream.feed(
        {
            "message": {"content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 5,
            "eval_count": 7,
        }
    )
    chunks = data_lines(raw)
    assert chunks[-1] == "[DONE]"
    objects = chunks[:-1]
    assert len({c["id"] for c in objects}) == 1, "one id for the whole stream"
    assert objects[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Let me check."}
    indexes = [
        tc["index"] for c in objects if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert indexes == [0, 1, 2]
    assert objects[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert objects[-1]["choices"] == [] and objects[-1]["usage"]["total_tokens"] == 12


# ---------------------------------------------------------------------- Anthropic requests
def test_anthropic_request_with_images_errors_in_tool_results_and_past_thinking() -> None:
    body = direct_anthropic.ollama_request(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1000,
            "system": "You are helpful.",
            "thinking": {"type": "enabled", "budget_tokens": 2000},
            "stop_sequences": ["\n\nHuman:"],
            "metadata": {"user_id": "u1"},
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {"type": "text", "text": "Run it."},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "I should run it.", "signature": "s"},
                        {"type": "redacted_thinking", "data": "x"},
                        {"type": "tool_use", "id": "toolu_9", "name": "bash", "input": {"cmd": "ls"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_9",
                            "is_error": True,
                            "content": [{"type": "text", "text": "permission denied"}],
                        }
                    ],
                },
            ],
        },
        TARGET,
        "claude-sonnet-4-5",
    )
    assert body["think"] is True
    assert body["options"] == {
        "num_ctx": 32768,
        "temperature": 0.7,
        "num_predict": 1000,
        "stop": ["\n\nHuman:"],
    }
    assert body["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Run it.", "images": [PNG]},
        {
            "role": "assistant",
            "content": "",
            "thinking": "I should run it.",
            "tool_calls": [{"function": {"name": "bash", "arguments": {"cmd": "ls"}}}],
        },
        {"role": "tool", "content": "Error: permission denied", "tool_call_id": "toolu_9"},
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "url", "url": "https://x"}}],
                }
            ]
        },
        {"system": [{"type": "image"}]},
    ],
    ids=["server tool", "document", "image url", "odd system block"],
)
def test_anthropic_requests_the_direct_path_leaves_to_litellm(extra: dict[str, Any]) -> None:
    request = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], **extra}
    with pytest.raises(Unsupported):
        direct_anthropic.ollama_request(request, TARGET, "m")


# ---------------------------------------------------------------------- Anthropic answers
def test_anthropic_reply_orders_thinking_text_and_tool_use() -> None:
    reply = direct_anthropic.reply(
        {
            "message": {
                "content": "Checking.",
                "thinking": "hmm",
                "tool_calls": [{"function": {"name": "bash", "arguments": {"cmd": "ls"}}}],
            },
            "done_reason": "stop",
            "prompt_eval_count": 8,
            "eval_count": 4,
        },
        "claude-sonnet-4-5",
    )
    assert [b["type"] for b in reply["content"]] == ["thinking", "text", "tool_use"]
    assert reply["content"][2]["input"] == {"cmd": "ls"} and reply["content"][2]["id"].startswith("toolu_")
    assert reply["stop_reason"] == "tool_use" and reply["usage"] == {"input_tokens": 8, "output_tokens": 4}
    cut = direct_anthropic.reply({"message": {"content": "abc"}, "done_reason": "length"}, "m")
    assert cut["stop_reason"] == "max_tokens"


def test_anthropic_stream_opens_one_block_per_kind_in_order() -> None:
    stream = direct_anthropic.stream_reply("claude-sonnet-4-5", {}, 12)
    raw = stream.start()
    assert events(raw)[0][1]["message"]["usage"]["input_tokens"] == 12  # the gateway's estimate
    raw += stream.feed({"message": {"thinking": "Let me "}, "done": False})
    raw += stream.feed({"message": {"thinking": "think."}, "done": False})
    raw += stream.feed({"message": {"content": "Done"}, "done": False})
    raw += stream.feed({"message": {"content": "."}, "done": False})
    raw += stream.feed(
        {
            "message": {"tool_calls": [{"function": {"name": "bash", "arguments": {"cmd": "ls"}}}]},
            "done": False,
        }
    )
    raw += stream.feed(
        {"message": {}, "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 9}
    )
    seen = events(raw)
    assert [name for name, _ in seen] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    starts = [data for name, data in seen if name == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [
        (0, "thinking"),
        (1, "text"),
        (2, "tool_use"),
    ]
    deltas = [data["delta"] for name, data in seen if name == "content_block_delta"]
    assert deltas[0] == {"type": "thinking_delta", "thinking": "Let me "}
    assert json.loads(deltas[-1]["partial_json"]) == {"cmd": "ls"}
    final = seen[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"] == {
        "input_tokens": 3,
        "output_tokens": 9,
    }


# ---------------------------------------------------------------------- the routing table
def test_the_plan_serves_mappings_with_fallbacks_and_leaves_cloud_models_to_litellm() -> None:
    config = Config(
        gateway=GatewaySettings(),
        backends=[OllamaBackend(name="local"), OllamaBackend(name="box", url="http://10.0.0.2:11434")],
        mappings=[
            Mapping(name="claude-*", model="qwen3:8b", options=ModelOptions(num_ctx=32768, keep_alive="-1")),
            Mapping(name="guarded", model="qwen3:8b", fallbacks=["cloud"]),
            Mapping(name="pair", model="qwen3:8b", backends=["local", "box"]),
        ],
        cloud=[CloudModel(name="cloud", provider="anthropic", model="claude-sonnet-4-5")],
    )
    plan = DirectPlan.from_rendered(
        render(config, master_key="sk-test", installed={"local": ["llama3.2:3b"]})
    )
    route = plan.route("claude-sonnet-4-5-20250929")
    assert route is not None and route.group == "claude-*"
    (target,) = route.targets
    assert target.model == "qwen3:8b" and target.options == {"num_ctx": 32768} and target.keep_alive == -1
    assert target.backend == "local"
    guarded = plan.route("guarded")
    assert guarded is not None and guarded.fallbacks == ("cloud",), "its fallbacks come with it"
    assert route.fallbacks == ()
    assert plan.route("cloud") is None, "cloud models stay with LiteLLM"
    assert plan.route("nothing-matches") is None
    installed = plan.route("llama3.2:3b")
    assert installed is not None and installed.targets[0].model == "llama3.2:3b"
    wildcard = plan.route("ollama/phi3:mini")
    assert wildcard is not None and wildcard.targets[0].model_for("ollama/phi3:mini") == "phi3:mini"
    pair = plan.route("pair")
    assert pair is not None and [t.backend for t in pair.targets] == ["local", "box"], "config order"


def test_a_mapping_on_several_backends_stays_with_litellm_under_another_routing_strategy() -> None:
    def plan_for(strategy: str) -> DirectPlan:
        config = Config(
            gateway=GatewaySettings(routing_strategy=strategy),  # type: ignore[arg-type]
            backends=[OllamaBackend(name="local"), OllamaBackend(name="box", url="http://10.0.0.2:11434")],
            mappings=[
                Mapping(name="solo", model="qwen3:8b"),
                Mapping(name="pair", model="qwen3:8b", backends=["local", "box"]),
            ],
        )
        return DirectPlan.from_rendered(render(config, master_key="sk-test", installed={}))

    shuffled = plan_for("simple-shuffle").route("pair")
    assert shuffled is not None and len(shuffled.targets) == 2
    for strategy in ("least-busy", "latency-based-routing", "usage-based-routing-v2"):
        plan = plan_for(strategy)
        assert plan.route("pair") is None, f"{strategy}: LiteLLM chooses the backend"
        solo = plan.route("solo")
        assert solo is not None and solo.targets[0].backend == "local", "one backend: nothing to choose"
