"""OllamaClient against the fake server over real HTTP: parsing, operations, error mapping."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from core.errors import (
    ModelNotFound,
    OllamaConnectionLost,
    OllamaError,
    OllamaProtocolError,
    OllamaServerError,
    OllamaTimeout,
    OllamaUnreachable,
)
from core.ollama.client import OllamaClient
from core.ollama.models import LoadedModel, parse_parameters
from tests.fakes.fake_ollama import FakeOllama

pytestmark = pytest.mark.timeout(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_version_and_reachability(fake_ollama: FakeOllama) -> None:
    async with OllamaClient(fake_ollama.url) as client:
        assert await client.version() == fake_ollama.version
        assert await client.is_reachable()
    async with OllamaClient(f"http://127.0.0.1:{free_port()}") as nobody:
        assert not await nobody.is_reachable()


async def test_list_parses_tags(fake_ollama: FakeOllama) -> None:
    async with OllamaClient(fake_ollama.url) as client:
        models = {m.name: m for m in await client.list_models()}
    qwen = models["qwen2.5-coder:7b"]
    assert (qwen.size, qwen.family, qwen.parameter_size, qwen.quantization, qwen.format) == (
        4_683_087_332,
        "qwen2",
        "7.6B",
        "Q4_K_M",
        "gguf",
    )
    assert qwen.families == ("qwen2",)
    assert qwen.digest.startswith("dae161e27b0e")
    assert qwen.modified_at == dt.datetime(2025, 5, 2, 8, 14, 7, 517412, tzinfo=dt.UTC)


async def test_show_pulls_out_geometry_capabilities_and_defaults(fake_ollama: FakeOllama) -> None:
    async with OllamaClient(fake_ollama.url) as client:
        llama = await client.show("llama3.2:3b")
        qwen = await client.show("qwen2.5-coder:7b")
    assert (llama.architecture, llama.context_length, llama.block_count) == ("llama", 131_072, 28)
    assert (llama.embedding_length, llama.head_count, llama.head_count_kv) == (3072, 24, 8)
    assert (llama.key_length, llama.value_length, llama.parameter_count) == (128, 128, 3_212_749_888)
    assert llama.supports_tools and not llama.supports_vision
    assert llama.parameter("stop") == ['"<|start_header_id|>"', '"<|end_header_id|>"', '"<|eot_id|>"']
    # qwen2 keys are prefixed with its own architecture name, and it reports no key_length
    assert (qwen.architecture, qwen.context_length, qwen.head_count_kv, qwen.key_length) == (
        "qwen2",
        32_768,
        4,
        None,
    )
    assert qwen.capabilities == ("completion", "tools", "insert")


def test_parse_parameters_keeps_order_and_repeats() -> None:
    text = 'num_ctx                        8192\nstop                           "<|im_end|>"\nstop   "x y"\n'
    assert parse_parameters(text) == (("num_ctx", "8192"), ("stop", '"<|im_end|>"'), ("stop", '"x y"'))
    assert parse_parameters(None) == ()


async def test_ps_split_context_and_expiry(fake_ollama: FakeOllama) -> None:
    async with OllamaClient(fake_ollama.url) as client:
        await client.load("llama3.2:3b", keep_alive="10m", options={"num_ctx": 8192})
        await client.load("qwen2.5-coder:7b", keep_alive=-1)
        fake_ollama.set_vram_fraction("qwen2.5-coder:7b", 0.41)
        loaded = {m.name: m for m in await client.ps()}
    llama, qwen = loaded["llama3.2:3b"], loaded["qwen2.5-coder:7b"]
    assert llama.context_length == 8192 and llama.processor == "100% GPU" and not llama.kept_forever
    assert llama.expires_at is not None
    left = llama.expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=9) < left <= dt.timedelta(minutes=10)
    assert qwen.kept_forever
    assert (qwen.gpu_percent, qwen.cpu_percent, qwen.processor) == (41, 59, "59%/41% CPU/GPU")
    assert fake_ollama.bodies("/api/generate")[0] == {
        "model": "llama3.2:3b",
        "options": {"num_ctx": 8192},
        "keep_alive": "10m",
        "stream": False,
    }


def test_loaded_model_split_edges() -> None:
    def loaded(size: int, vram: int) -> LoadedModel:
        return LoadedModel("m", size, vram, None, None, "", "", "", "")

    assert loaded(100, 0).processor == "100% CPU"
    assert loaded(100, 100).processor == "100% GPU"
    assert loaded(0, 0).gpu_percent == 0


async def test_unload_copy_delete(fake_ollama: FakeOllama) -> None:
    async with OllamaClient(fake_ollama.url) as client:
        await client.load("llama3.2:3b")
        assert [m.name for m in await client.ps()] == ["llama3.2:3b"]
        await client.unload("llama3.2:3b")
        assert await client.ps() == []
        assert fake_ollama.bodies("/api/generate")[-1]["keep_alive"] == 0
        await client.copy("llama3.2:3b", "mine:latest")
        assert "mine:latest" in [m.name for m in await client.list_models()]
        await client.delete("mine:latest")
        assert "mine:latest" not in [m.name for m in await client.list_models()]


Call = Callable[[OllamaClient], Coroutine[Any, Any, object]]


@pytest.mark.parametrize(
    ("arrange", "call", "error", "fix_hint"),
    [
        pytest.param(
            lambda f: f.hang("/api/tags"), lambda c: c.list_models(), OllamaTimeout, "try again", id="timeout"
        ),
        pytest.param(
            lambda f: None, lambda c: c.show("nope:1b"), ModelNotFound, "gatedeck models pull", id="404-model"
        ),
        pytest.param(
            lambda f: None, lambda c: c.delete("nope:1b"), ModelNotFound, "not installed", id="404-delete"
        ),
        pytest.param(
            lambda f: None, lambda c: c.load("nope:1b"), ModelNotFound, "Pull it first", id="404-load"
        ),
        pytest.param(
            lambda f: f.fail("/api/ps", 404, "404 page not found"),
            lambda c: c.ps(),
            OllamaProtocolError,
            "Ollama server",
            id="404-no-route",
        ),
        pytest.param(
            lambda f: f.fail("/api/tags", 500, "boom"),
            lambda c: c.list_models(),
            OllamaServerError,
            "Ollama log",
            id="500",
        ),
        pytest.param(
            lambda f: f.malformed("/api/tags"),
            lambda c: c.list_models(),
            OllamaProtocolError,
            "up to date",
            id="malformed-json",
        ),
        pytest.param(
            lambda f: f.malformed("/api/version"),
            lambda c: c.version(),
            OllamaProtocolError,
            "Ollama server",
            id="malformed-version",
        ),
        pytest.param(
            lambda f: f.drop_after("/api/show", 0),
            lambda c: c.show("llama3.2:3b"),
            OllamaConnectionLost,
            "try again",
            id="dropped",
        ),
    ],
)
async def test_network_failures_map_to_our_errors(
    fake_ollama: FakeOllama,
    arrange: Callable[[FakeOllama], None],
    call: Call,
    error: type[OllamaError],
    fix_hint: str,
) -> None:
    arrange(fake_ollama)
    async with OllamaClient(fake_ollama.url, timeout=0.5) as client:
        with pytest.raises(error) as info:
            await call(client)
    assert fix_hint in str(info.value)
    assert fake_ollama.url in str(info.value)
    fake_ollama.release()


async def test_refused_maps_to_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with OllamaClient(url) as client:
        for call in (client.version(), client.list_models(), client.ps(), client.load("x")):
            with pytest.raises(OllamaUnreachable, match="ollama serve"):
                await call


async def test_server_error_keeps_ollamas_words(fake_ollama: FakeOllama) -> None:
    fake_ollama.fail("/api/generate", 500, "llama runner process has terminated: exit status 2")
    async with OllamaClient(fake_ollama.url) as client:
        with pytest.raises(OllamaServerError) as info:
            await client.load("llama3.2:3b")
    assert info.value.status == 500
    assert "llama runner process has terminated" in str(info.value)
