"""Real traffic for the monitor screenshot and an A/B exchange for the chat screenshot.

Used by ``docs/make_screenshots.py`` once the gateway runs: everything shown went through the
embedded gateway to the fake Ollama (streams from OpenAI and Anthropic clients, a mapping whose
model is not pulled, two prompts that fill the context window), nothing is drawn from made-up
records.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx

from tests.fakes.fake_ollama import FakeOllama

QWEN, LLAMA = "qwen2.5-coder:7b", "llama3.2:3b"
# (API, requested name): what Claude Code and an OpenAI client would ask for
REQUESTS = [
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-3-5-haiku-latest"),
    ("openai", "claude-sonnet-4-5"),
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("openai", "llama3.2:3b"),
    ("anthropic", "claude-opus-4-1"),
]


async def monitor_traffic(controller: object, fake: FakeOllama, seconds: float = 40.0) -> None:
    from gui.controller import AppController

    assert isinstance(controller, AppController)
    fake.set_reply(QWEN, " ".join(f"token{i}" for i in range(48)), prompt_eval_count=2400)
    fake.set_reply(LLAMA, " ".join(f"word{i}" for i in range(16)), prompt_eval_count=900)
    url, key = controller.gateway.url, controller.gateway.master_key
    deadline = time.monotonic() + seconds
    order = itertools.cycle(REQUESTS)
    sent = itertools.count()

    async def one(client: httpx.AsyncClient) -> None:
        dialect, model = next(order)
        n = next(sent)
        fake.set_chunk_delay((0.008, 0.02, 0.035)[n // 18 % 3])  # the model slows down and recovers
        if n in (60, 61):  # Claude Code's ~30k-token first request on a 32k context
            fake.set_reply(QWEN, "ok", prompt_eval_count=30_500)
        elif n == 62:
            fake.set_reply(QWEN, " ".join(f"token{i}" for i in range(48)), prompt_eval_count=2400)
        if n % 23 == 11:
            model = "gpt-4o"  # mapped to qwen3:8b, which is not pulled: an error in the log
        path, body = (
            ("/v1/messages", {"model": model, "max_tokens": 256, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
            if dialect == "anthropic"
            else ("/v1/chat/completions", {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        )  # fmt: skip
        try:
            async with client.stream("POST", url + path, json=body) as reply:
                async for _ in reply.aiter_lines():
                    pass
        except httpx.HTTPError:
            pass

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            await one(client)
            await asyncio.sleep(0.15)

    headers = {"Authorization": f"Bearer {key}", "x-api-key": key}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(3)))
    fake.set_chunk_delay(0.0)
    monitor = controller.observability.monitor
    monitor.window_choice.setCurrentText("1 min")
    monitor.refresh()


async def chat_ab(controller: object, fake: FakeOllama) -> None:
    from gui.controller import AppController
    from tests.core.probe_model import probe_model

    assert isinstance(controller, AppController)
    fake.set_reply(
        QWEN,
        "Weights on local disk,\nno tokens leave the machine —\nthe fan hums along.",
        prompt_eval_count=31,
        eval_count=21,
    )
    fake.set_reply(
        LLAMA,
        "Small model, quick mind,\nanswers before you blink twice,\nthen forgets your name.",
        eval_count=19,
    )
    fake.set_chunk_delay(0.03)
    chat = controller.observability.chat
    controller.window.show_panel("chat")
    chat.set_dialect("anthropic")
    chat.ab.setChecked(True)
    chat.system.setPlainText("You are a concise assistant.")
    chat.side_a.mapping.setCurrentText("claude-*sonnet*")
    chat.side_b.mapping.setCurrentText(LLAMA)  # an installed model, served under its own name
    await chat.send("Write a haiku about running models locally.")
    fake.set_chunk_delay(0.0)
    fake.set_replier(QWEN, probe_model("calls"))  # a model that calls tools properly
    fake.set_replier(LLAMA, probe_model("text"))  # one that writes its calls as text
    await chat.probe(chat.side_a)
    await chat.probe(chat.side_b)
