"""The test chat's client through the real gateway to the fake Ollama (the probe: test_tool_probe.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from core.clients.chat import ChatClient, ChatTurn, ReplyDone, TextDelta
from core.gateway.service import Gateway
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama
from tests.core.gateway_support import KEY
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"
LLAMA = "llama3.2:3b"


fake = fake_ollama()
gateway = embedded_gateway()


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> Iterator[None]:
    fake.clear_requests()
    fake.clear_faults()
    fake.set_chunk_delay(0.0)
    yield
    fake.set_chunk_delay(0.0)
    fake.set_reply(QWEN, f"Hello from {QWEN}.")
    fake.set_reply(LLAMA, f"Hello from {LLAMA}.")


async def collect(
    client: ChatClient, model: str, turns: list[ChatTurn], **kw: object
) -> tuple[str, ReplyDone]:
    pieces: list[str] = []
    done: ReplyDone | None = None
    async for event in client.stream(model, turns, **kw):  # type: ignore[arg-type]
        if isinstance(event, TextDelta):
            pieces.append(event.text)
        else:
            done = event
    assert done is not None
    return "".join(pieces), done


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
async def test_a_reply_streams_in_pieces_with_its_stats(
    gateway: Gateway, fake: FakeOllama, dialect: str
) -> None:
    fake.set_reply(QWEN, "red green blue", chunks=3, prompt_eval_count=77, eval_count=3)
    fake.set_chunk_delay(0.05)
    turns = [ChatTurn("user", "colours?"), ChatTurn("assistant", "Which ones?"), ChatTurn("user", "three")]
    async with ChatClient(gateway.url, KEY) as client:
        text, done = await collect(client, "gpt-4o", turns, system="Be brief.", dialect=dialect)
    assert text == done.text == "red green blue"
    assert (done.stats.prompt_tokens, done.stats.completion_tokens) == (77, 3)
    assert done.stats.ttft_s is not None and 0.05 <= done.stats.ttft_s < done.stats.seconds
    assert "TTFT" in done.stats.summary() and "77 → 3 tokens" in done.stats.summary()
    sent = [(m["role"], m["content"]) for m in fake.bodies("/api/chat")[-1]["messages"]]
    assert sent[0] == ("system", "Be brief.")
    assert sent[1:] == [("user", "colours?"), ("assistant", "Which ones?"), ("user", "three")], (
        "the conversation"
    )


async def test_cancelling_the_reader_stops_the_stream(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_reply(QWEN, " ".join(f"w{i}" for i in range(100)))
    fake.set_chunk_delay(0.1)  # 10 s if nobody stopped it
    got_text = asyncio.Event()
    pieces: list[str] = []

    async def read() -> None:
        async with ChatClient(gateway.url, KEY) as client:
            async for event in client.stream("gpt-4o", [ChatTurn("user", "count")]):
                if isinstance(event, TextDelta):
                    pieces.append(event.text)
                    got_text.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(got_text.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert 1 <= len(pieces) < 100
    # the gateway lets go of Ollama's stream too, well before the 10 s the reply would take
    assert await asyncio.to_thread(fake.wait_until, lambda: fake.in_flight == 0, 5.0)
