"""Choosing among a mapping's Ollama hosts: conversation keys from what real clients send, and the
chooser's rules (affinity, load, health checks) on their own."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from core.fastpath.conversation import conversation_key
from core.fastpath.hosts import HostChooser
from core.gateway.deployments import OllamaDeployment

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
A, B, C = "http://10.0.0.1:11434", "http://10.0.0.2:11434", "http://10.0.0.3:11434"


def fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text())
    return data.get("body", data)  # type: ignore[no-any-return]


def targets(*bases: str) -> tuple[OllamaDeployment, ...]:
    return tuple(OllamaDeployment(api_base=base, model="qwen3:8b", group="coder") for base in bases)


def first(chooser: HostChooser, key: bytes | None, *bases: str) -> str:
    return chooser.order("coder", key, targets(*bases))[0].api_base


async def never(_base: str) -> bool:
    return False


# ---------------------------------------------------------------------- conversation keys
def test_claude_codes_turns_of_one_session_share_a_key_and_other_sessions_do_not() -> None:
    first_turn = fixture("claude_code/first_turn.json")
    key = conversation_key("anthropic", first_turn)
    assert key is not None and len(key) == 16
    # its next turn: the answer and a tool result appended, the cache marker moved to the newest
    later_turn = copy.deepcopy(first_turn)
    answer = fixture("claude_code/tool_result_turn.json")["messages"][2:]
    later_turn["messages"] = [later_turn["messages"][0], *answer]
    assert conversation_key("anthropic", later_turn) == key, "same system prompt and first prompt"
    alone = {"system": first_turn["system"], "messages": copy.deepcopy(first_turn["messages"][:1])}
    alone_key = conversation_key("anthropic", alone)
    alone["messages"][0]["content"][-1]["cache_control"] = {"type": "ephemeral"}  # `claude -p`'s one turn
    assert conversation_key("anthropic", alone) == alone_key == key
    other = copy.deepcopy(first_turn)
    other["messages"][0]["content"] = "A different task"
    assert conversation_key("anthropic", other) != key
    assert conversation_key("anthropic", fixture("claude_code/title.json")) != key


def test_codex_turns_share_a_key_through_its_prompt_cache_key_or_its_opening() -> None:
    first_turn, later_turn = fixture("codex/first_turn.json"), fixture("codex/tool_result_turn.json")
    key = conversation_key("responses", first_turn)
    assert key is not None and conversation_key("responses", later_turn) == key
    for body in (first_turn, later_turn):  # without the cache key: the developer and user opening
        body.pop("prompt_cache_key")
    opening = conversation_key("responses", first_turn)
    assert opening is not None and opening != key
    assert conversation_key("responses", later_turn) == opening
    text_input = {"instructions": "Be brief.", "input": "List the files."}
    as_items = {"instructions": "Be brief.", "input": [{"role": "user", "content": "List the files."}]}
    assert conversation_key("responses", text_input) == conversation_key("responses", as_items)


def test_openai_chat_keys_on_the_system_messages_and_first_user_message() -> None:
    opening = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    later = {
        "messages": [*opening, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More"}]
    }
    key = conversation_key("openai", {"messages": opening})
    assert key is not None and conversation_key("openai", later) == key
    assert conversation_key("openai", {"messages": [opening[1]]}) != key, "the system prompt counts"
    assert conversation_key("anthropic", {"system": "Be brief.", "messages": [opening[1]]}) != key
    assert conversation_key("openai", {"messages": [opening[0]]}) is None, "no user turn: no conversation"
    assert conversation_key("embeddings", {"input": "text"}) is None


# ---------------------------------------------------------------------- the chooser
def test_new_conversations_take_turns_and_then_stick_to_their_host() -> None:
    chooser = HostChooser(never)
    keys = [bytes([n]) * 16 for n in range(6)]
    chosen = [first(chooser, key, A, B, C) for key in keys]
    assert sorted(chosen) == sorted([A, B, C] * 2), "taken in turn"
    for key, base in zip(keys, chosen, strict=True):
        chooser.served("coder", key, base)
    for _ in range(3):
        assert [first(chooser, key, A, B, C) for key in keys] == chosen
    assert chooser.host_of("other-mapping", keys[0]) is None, "per mapping"


def test_the_least_busy_host_takes_a_new_conversation() -> None:
    chooser = HostChooser(never)
    chooser.begin(A)
    chooser.begin(A)
    chooser.begin(B)
    assert [first(chooser, None, A, B, C) for _ in range(3)] == [C, C, C]
    chooser.end(A)
    chooser.end(A)
    chooser.begin(C)
    assert first(chooser, None, A, B, C) == A
    order = chooser.order("coder", None, targets(A, B, C))
    assert order[0].api_base == A and order[-1].api_base in (B, C)


def test_a_conversation_stays_on_its_busy_host() -> None:
    chooser = HostChooser(never)
    key = b"k" * 16
    chooser.served("coder", key, B)
    for _ in range(5):
        chooser.begin(B)
    assert first(chooser, key, A, B) == B, "its prompt is in that host's cache"


def test_conversations_are_remembered_up_to_a_bound_oldest_unused_first() -> None:
    chooser = HostChooser(never, remembered=3)
    for n in range(3):
        chooser.served("coder", bytes([n]) * 16, A)
    chooser.order("coder", bytes([0]) * 16, targets(A, B))  # used again: kept
    chooser.served("coder", bytes([3]) * 16, B)
    assert chooser.host_of("coder", bytes([0]) * 16) == A
    assert chooser.host_of("coder", bytes([1]) * 16) is None, "the oldest unused one went"
    assert chooser.host_of("coder", bytes([3]) * 16) == B


async def test_a_failed_host_is_skipped_until_its_health_check_passes() -> None:
    answering = asyncio.Event()
    probed: list[str] = []
    each_probe = asyncio.Condition()

    async def probe(base: str) -> bool:
        probed.append(base)
        async with each_probe:
            each_probe.notify_all()
        if base == A and answering.is_set():
            return True
        raise OSError("connection refused")

    chooser = HostChooser(probe, check_every_s=0.01)
    key = b"c" * 16
    chooser.served("coder", key, A)
    chooser.failed(A)
    assert chooser.is_down(A)
    order = chooser.order("coder", key, targets(A, B))
    assert [t.api_base for t in order] == [B, A], "down hosts last, the conversation moves"
    chooser.served("coder", key, B)
    async with asyncio.timeout(5), each_probe:
        await each_probe.wait_for(lambda: len(probed) >= 3)  # probed again and again while down
        assert chooser.is_down(A)
        answering.set()
        await each_probe.wait_for(lambda: not chooser.is_down(A))
    assert probed == [A] * len(probed)
    assert first(chooser, key, A, B) == B, "the moved conversation stays moved"
    assert {first(chooser, None, A, B) for _ in range(2)} == {A, B}, "and A takes new ones again"
    await chooser.close()


async def test_every_host_down_means_each_is_still_tried_in_config_order() -> None:
    chooser = HostChooser(never, check_every_s=60)
    chooser.failed(A)
    chooser.failed(B)
    assert [t.api_base for t in chooser.order("coder", None, targets(A, B))] == [A, B]
    await chooser.close()
    assert chooser.is_down(A), "closing stops the checks, it does not forget"
    chooser.keep_only({B})  # the config no longer uses A
    assert not chooser.is_down(A) and chooser.is_down(B)
