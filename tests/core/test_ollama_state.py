"""The shared Ollama state against the fake Ollama over real HTTP, as the window uses it: one
poll for everyone, listeners told only what changed, each model described once."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import pytest

from core.errors import ModelNotFound, OllamaUnreachable
from core.hardware.facts import CpuInfo, HardwareInfo, MemoryInfo
from core.ollama.state import OllamaState, StateChange
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import llama32_3b, tiny_model

pytestmark = pytest.mark.timeout(30)

GIB = 2**30
MACHINE = HardwareInfo(CpuInfo("Test CPU", 4, 8, "x86_64"), MemoryInfo(16 * GIB, 8 * GIB))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def asks(fake: FakeOllama, path: str) -> int:
    return sum(1 for r in fake.requests if r.path == path)


def show_asks(fake: FakeOllama, model: str) -> int:
    return sum(1 for body in fake.bodies("/api/show") if body.get("model") == model)


async def test_refresh_reads_version_and_models_and_tells_what_changed(fake_ollama: FakeOllama) -> None:
    state = OllamaState(fake_ollama.url)
    heard: list[StateChange] = []
    state.subscribe(heard.append)
    try:
        first = await state.refresh()
        assert first == StateChange(installed=True, reachable=True)
        assert state.reachable and state.version == fake_ollama.version
        assert sorted(m.name for m in state.installed) == ["llama3.2:3b", "qwen2.5-coder:7b"]
        assert heard == [first]

        again = await state.refresh()  # nothing moved: nobody is told
        assert not again and heard == [first]
        assert asks(fake_ollama, "/api/version") == 1  # asked again only after Ollama was away
        assert asks(fake_ollama, "/api/tags") == 2

        fake_ollama.add_model(tiny_model())
        assert await state.refresh() == StateChange(installed=True)
        assert heard[-1] == StateChange(installed=True) and len(heard) == 2
    finally:
        await state.aclose()


async def test_loaded_models_come_with_their_expiry(fake_ollama: FakeOllama) -> None:
    state = OllamaState(fake_ollama.url)
    heard: list[StateChange] = []
    try:
        await state.refresh()
        state.subscribe(heard.append)
        assert not await state.refresh_loaded() and state.loaded == {}
        await state.client().load("llama3.2:3b", keep_alive="5m")
        assert await state.refresh_loaded() == StateChange(loaded=True)
        loaded = state.loaded["llama3.2:3b"]
        assert loaded.expires_at is not None and not loaded.kept_forever
        assert heard == [StateChange(loaded=True)]
    finally:
        await state.aclose()


async def test_each_model_is_described_once_until_it_is_pulled_again(fake_ollama: FakeOllama) -> None:
    state = OllamaState(fake_ollama.url)
    try:
        await state.refresh()
        described = await state.describe_installed()
        assert set(described) == {"llama3.2:3b", "qwen2.5-coder:7b"}
        llama = described["llama3.2:3b"]
        assert not isinstance(llama, str) and llama.context_length == 131072
        both = await asyncio.gather(state.details("qwen2.5-coder:7b"), state.details("qwen2.5-coder:7b"))
        assert both[0] == both[1]  # two asking at once: one question
        await state.describe_installed()
        assert await state.details("llama3.2:3b") == llama
        assert show_asks(fake_ollama, "llama3.2:3b") == 1
        assert show_asks(fake_ollama, "qwen2.5-coder:7b") == 1

        # The same tag pulled again with new content: a new digest, so its details are asked again.
        fake_ollama.add_model(dataclasses.replace(llama32_3b(), digest="0" * 64))
        await state.refresh()
        await state.describe_installed()
        assert show_asks(fake_ollama, "llama3.2:3b") == 2
        assert show_asks(fake_ollama, "qwen2.5-coder:7b") == 1

        with pytest.raises(ModelNotFound):
            await state.details("no-such-model:1b")
    finally:
        await state.aclose()


async def test_ollama_going_away_is_an_error_and_listeners_hear_it_once(fake_ollama: FakeOllama) -> None:
    state = OllamaState(fake_ollama.url)
    heard: list[StateChange] = []
    state.subscribe(heard.append)
    try:
        await state.refresh()
        fake_ollama.stop()
        with pytest.raises(OllamaUnreachable):
            await state.refresh()
        assert state.reachable is False and "ollama serve" in state.problem
        assert heard[-1] == StateChange(reachable=True)
        with pytest.raises(OllamaUnreachable):
            await state.refresh_loaded()
        assert len(heard) == 2  # still away: not told twice
        assert [m.name for m in state.installed]  # the last known list stays
    finally:
        await state.aclose()


async def test_a_new_address_starts_afresh(fake_ollama: FakeOllama) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    state = OllamaState(lambda: url)
    heard: list[StateChange] = []
    state.subscribe(heard.append)
    try:
        with pytest.raises(OllamaUnreachable):
            await state.refresh()
        url = fake_ollama.url
        await state.refresh()
        assert state.url == fake_ollama.url and state.reachable
        assert heard[-1].installed and heard[-1].reachable
    finally:
        await state.aclose()


async def test_hardware_is_read_off_the_loop_and_kept_for_a_while() -> None:
    reads: list[int] = []

    def read() -> HardwareInfo:
        reads.append(1)
        return MACHINE

    state = OllamaState("http://127.0.0.1:1", read_hardware=read)
    assert await state.hardware() is MACHINE
    assert await state.hardware() is MACHINE
    assert len(reads) == 1
    await state.hardware(max_age=0)
    assert len(reads) == 2
