"""The fake Ollama server speaks the API the official ``ollama`` client expects, over real HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import ollama
import pytest

from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import nomic_embed_text, tiny_model
from tests.fakes.ollama_records import parse_keep_alive

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(30)


def test_root_version_and_tags(fake_ollama: FakeOllama) -> None:
    assert httpx.get(fake_ollama.url).text == "Ollama is running"
    assert httpx.head(fake_ollama.url).status_code == 200
    assert httpx.get(f"{fake_ollama.url}/api/version").json() == {"version": fake_ollama.version}
    listed = ollama.Client(host=fake_ollama.url).list()
    by_name = {m.model: m for m in listed.models}
    assert set(by_name) == {"qwen2.5-coder:7b", "llama3.2:3b"}
    llama = by_name["llama3.2:3b"]
    assert llama.size == 2_019_393_189
    assert llama.details is not None and llama.details.quantization_level == "Q4_K_M"
    assert llama.modified_at is not None and llama.modified_at.year == 2025


def test_show_has_model_info_and_capabilities(fake_ollama: FakeOllama) -> None:
    shown = ollama.Client(host=fake_ollama.url).show("qwen2.5-coder:7b")
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == "qwen2"
    assert shown.modelinfo["qwen2.block_count"] == 28
    assert shown.modelinfo["qwen2.attention.head_count_kv"] == 4
    assert shown.capabilities == ["completion", "tools", "insert"]
    assert shown.modelfile is not None and shown.modelfile.startswith("# Modelfile generated")


def test_unknown_model_is_404_with_ollamas_message(fake_ollama: FakeOllama) -> None:
    client = ollama.Client(host=fake_ollama.url)
    for call in (
        lambda: client.chat("missing:1b", messages=[{"role": "user", "content": "hi"}]),
        lambda: client.generate("missing:1b", prompt="hi"),
        lambda: client.show("missing:1b"),
        lambda: client.delete("missing:1b"),
        lambda: client.copy("missing:1b", "other"),
    ):
        with pytest.raises(ollama.ResponseError) as info:
            call()
        assert info.value.status_code == 404
        assert info.value.error == "model 'missing:1b' not found"


async def test_async_streaming_chat_records_options(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_reply("llama3.2:3b", "The sky is blue.", chunks=4, prompt_eval_count=26, eval_count=7)
    client = ollama.AsyncClient(host=fake_ollama.url)
    parts = [
        part
        async for part in await client.chat(
            "llama3.2:3b",
            messages=[{"role": "user", "content": "why?"}],
            stream=True,
            options={"num_ctx": 8192, "temperature": 0},
            keep_alive="10m",
        )
    ]
    assert "".join(p.message.content or "" for p in parts) == "The sky is blue."
    assert [p.done for p in parts] == [False] * 4 + [True]
    last = parts[-1]
    assert (last.done_reason, last.prompt_eval_count, last.eval_count) == ("stop", 26, 7)
    assert last.total_duration and last.eval_duration and last.load_duration and last.prompt_eval_duration
    body = fake_ollama.bodies("/api/chat")[0]
    assert body["options"] == {"num_ctx": 8192, "temperature": 0}
    assert body["keep_alive"] == "10m"
    ps = (await client.ps()).models
    assert [(m.model, m.context_length) for m in ps] == [("llama3.2:3b", 8192)]


def test_tool_calls_come_back_in_message(fake_ollama: FakeOllama) -> None:
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    fake_ollama.set_reply("qwen2.5-coder:7b", "", tool_calls=[call])
    client = ollama.Client(host=fake_ollama.url)
    reply = client.chat("qwen2.5-coder:7b", messages=[{"role": "user", "content": "weather?"}])
    assert reply.message.tool_calls is not None
    assert reply.message.tool_calls[0].function.name == "get_weather"
    assert reply.message.tool_calls[0].function.arguments == {"city": "Paris"}
    streamed = list(client.chat("qwen2.5-coder:7b", messages=[{"role": "user", "content": "w"}], stream=True))
    assert any(p.message.tool_calls for p in streamed)


def test_generate_streams_by_default_and_num_predict_limits(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_reply("llama3.2:3b", "one two three four")
    raw = httpx.post(f"{fake_ollama.url}/api/generate", json={"model": "llama3.2:3b", "prompt": "count"})
    assert raw.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in raw.text.splitlines()]
    assert "".join(line["response"] for line in lines) == "one two three four"
    assert lines[-1]["done"] is True and "context" in lines[-1]
    short = ollama.Client(host=fake_ollama.url).generate("llama3.2:3b", "count", options={"num_predict": 2})
    assert (short.response, short.done_reason) == ("one two ", "length")


def test_load_unload_and_keep_alive(fake_ollama: FakeOllama) -> None:
    client = ollama.Client(host=fake_ollama.url)
    loaded = client.generate("llama3.2:3b")
    assert loaded.done_reason == "load"
    forever = client.chat("qwen2.5-coder:7b", messages=[], keep_alive=-1)
    assert forever.done_reason == "load"
    models = {m.model: m for m in client.ps().models}
    assert set(models) == {"llama3.2:3b", "qwen2.5-coder:7b"}
    assert (
        models["qwen2.5-coder:7b"].expires_at is not None
        and models["qwen2.5-coder:7b"].expires_at.year > 2200
    )
    assert models["llama3.2:3b"].size_vram == models["llama3.2:3b"].size
    unloaded = client.chat("qwen2.5-coder:7b", messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert [m.model for m in client.ps().models] == ["llama3.2:3b"]
    fake_ollama.set_vram_fraction("llama3.2:3b", 0.5)
    (entry,) = client.ps().models
    assert entry.size is not None and entry.size_vram == entry.size // 2


def test_keep_alive_parsing() -> None:
    assert parse_keep_alive("5m") == 300
    assert parse_keep_alive("1h30m") == 5400
    assert parse_keep_alive(0) == 0
    assert parse_keep_alive("-1") is None
    assert parse_keep_alive(-1) is None
    assert parse_keep_alive(None, "10s") == 10
    with pytest.raises(ValueError):
        parse_keep_alive("soon")


def test_pull_multi_layer_installs_model(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_pull_plan("tinyllama:1.1b", [1000, 30, 7], steps_per_layer=3)
    parts = list(ollama.Client(host=fake_ollama.url).pull("tinyllama:1.1b", stream=True))
    statuses = [p.status for p in parts]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = {p.digest: p.total for p in parts if p.digest}
    assert sorted(layers.values()) == [7, 30, 1000]
    assert all(p.status == f"pulling {p.digest[7:19]}" for p in parts if p.digest)
    first_of_layer = [p for p in parts if p.digest and p.completed is None]
    assert len(first_of_layer) == 3  # "completed" is absent until bytes arrive, as in Ollama's docs
    assert "tinyllama:1.1b" in [m.model for m in ollama.Client(host=fake_ollama.url).list().models]
    assert ollama.Client(host=fake_ollama.url).pull("tinyllama:1.1b").status == "success"


def test_pull_unknown_streams_error_and_non_stream_is_500(fake_ollama: FakeOllama) -> None:
    client = ollama.Client(host=fake_ollama.url)
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        list(client.pull("no-such-model:9b", stream=True))
    with pytest.raises(ollama.ResponseError) as info:
        client.pull("no-such-model:9b")
    assert info.value.status_code == 500


def test_pull_stalled_then_client_leaves_then_resumes(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_pull_plan("tinyllama:1.1b", [1000, 100], steps_per_layer=10)
    fake_ollama.stall_pull("tinyllama:1.1b", after_bytes=500)
    seen: list[int] = []
    with (
        httpx.Client(base_url=fake_ollama.url, timeout=10) as http,
        http.stream("POST", "/api/pull", json={"model": "tinyllama:1.1b"}) as response,
    ):
        for line in response.iter_lines():
            seen.append(json.loads(line).get("completed") or 0)
            if seen[-1] >= 500:
                break  # the fake now holds the stream open with no more lines
    assert fake_ollama.wait_until(lambda: len(fake_ollama.pull_sessions()) == 1)
    (session,) = fake_ollama.pull_sessions()
    assert (session.outcome, session.ended_at) == ("client-gone", 500)
    assert fake_ollama.in_flight == 0
    parts = list(ollama.Client(host=fake_ollama.url).pull("tinyllama:1.1b", stream=True))
    assert parts[1].completed == 500  # resumed where it stopped
    assert parts[-1].status == "success"
    # the handler records its session a moment after the client has read the last line
    assert fake_ollama.wait_for_pull_sessions("tinyllama:1.1b", 2)[-1].started_at == 500


def test_stall_released_goes_on(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_pull_plan("tinyllama:1.1b", [400], steps_per_layer=4)
    fake_ollama.stall_pull("tinyllama:1.1b", after_bytes=200)
    result: list[str] = []

    def pull() -> None:
        result.extend(
            p.status or "" for p in ollama.Client(host=fake_ollama.url).pull("tinyllama:1.1b", stream=True)
        )

    worker = threading.Thread(target=pull)
    worker.start()
    assert fake_ollama.wait_until(lambda: fake_ollama.pull_completed_bytes("tinyllama:1.1b") == 200)
    fake_ollama.release()
    worker.join(10)
    assert result[-1] == "success"


def test_drop_after_cuts_stream_and_pull_resumes(fake_ollama: FakeOllama) -> None:
    fake_ollama.set_pull_plan("tinyllama:1.1b", [800], steps_per_layer=8)
    fake_ollama.drop_after("/api/pull", chunks=4)
    client = ollama.Client(host=fake_ollama.url)
    with pytest.raises(httpx.RemoteProtocolError):
        list(client.pull("tinyllama:1.1b", stream=True))
    (dropped,) = fake_ollama.wait_for_pull_sessions("tinyllama:1.1b", 1)  # recorded as the handler ends
    assert dropped.outcome == "dropped" and 0 < dropped.ended_at < 800
    parts = list(client.pull("tinyllama:1.1b", stream=True))
    assert parts[1].completed == dropped.ended_at and parts[-1].status == "success"


def test_chat_drop_fail_malformed_and_hang(fake_ollama: FakeOllama) -> None:
    client = ollama.Client(host=fake_ollama.url, timeout=httpx.Timeout(10, read=0.5))
    messages = [{"role": "user", "content": "hi"}]
    fake_ollama.drop_after("/api/chat", chunks=1)
    with pytest.raises(httpx.RemoteProtocolError):
        list(client.chat("llama3.2:3b", messages=messages, stream=True))
    fake_ollama.fail("/api/tags", status=500, error="boom", times=1)
    with pytest.raises(ollama.ResponseError) as info:
        client.list()
    assert (info.value.status_code, info.value.error) == (500, "boom")
    assert client.list().models  # times=1: the next call succeeds
    fake_ollama.malformed("/api/ps", times=1)
    with pytest.raises(json.JSONDecodeError):
        client.ps()
    fake_ollama.malformed("/api/pull", times=1)
    with pytest.raises(json.JSONDecodeError):
        list(client.pull("tinyllama:1.1b", stream=True))
    fake_ollama.hang("/api/version", times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fake_ollama.url}/api/version", timeout=httpx.Timeout(10, read=0.3))
    assert fake_ollama.wait_until(lambda: fake_ollama.in_flight == 0)


def test_delete_copy_embed(fake_ollama: FakeOllama) -> None:
    client = ollama.Client(host=fake_ollama.url)
    client.copy("llama3.2:3b", "my-llama:latest")
    assert "my-llama:latest" in fake_ollama.installed()
    client.delete("my-llama")
    assert "my-llama:latest" not in fake_ollama.installed()
    embedded = client.embed("llama3.2:3b", ["a", "bb"])
    assert len(embedded.embeddings) == 2 and len(embedded.embeddings[0]) == 3_072  # the model's width


def test_embed_answers_as_ollamas_embed_handler() -> None:
    with FakeOllama(models=[nomic_embed_text()]) as fake:
        client = ollama.Client(host=fake.url)
        assert client.show("nomic-embed-text").capabilities == ["embedding"]
        one = client.embed("nomic-embed-text", "hello")
        again = client.embed("nomic-embed-text", ["hello", "other"])
        assert (
            one.embeddings[0] == again.embeddings[0] != again.embeddings[1]
        )  # the same text, the same vector
        assert sum(v * v for v in one.embeddings[0]) == pytest.approx(1.0)
        cut = client.embed("nomic-embed-text", "hello", dimensions=16).embeddings[0]
        assert len(cut) == 16 and sum(v * v for v in cut) == pytest.approx(1.0)
        # a text longer than the context is cut to it, unless the request says not to
        long = "word " * 400  # 500 tokens by the fake's count
        cut_short = client.embed("nomic-embed-text", long, options={"num_ctx": 128})
        assert cut_short.prompt_eval_count == 128
        with pytest.raises(ollama.ResponseError) as refused:
            client.embed("nomic-embed-text", long, truncate=False, options={"num_ctx": 128})
        assert refused.value.status_code == 400 and "exceeds the context length" in refused.value.error
        bad = httpx.post(f"{fake.url}/api/embed", json={"model": "nomic-embed-text", "input": [[1, 2]]})
        assert bad.status_code == 400 and bad.json() == {"error": "invalid input type"}
        empty = httpx.post(f"{fake.url}/api/embed", json={"model": "nomic-embed-text", "input": ""})
        assert empty.json() == {"model": "nomic-embed-text", "embeddings": []}
        # a model that only embeds refuses chat and generate, as Ollama's scheduler does
        with pytest.raises(ollama.ResponseError) as no_chat:
            client.chat("nomic-embed-text", messages=[{"role": "user", "content": "hi"}])
        assert (
            no_chat.value.status_code == 400
            and no_chat.value.error == '"nomic-embed-text" does not support chat'
        )
        with pytest.raises(ollama.ResponseError) as no_generate:
            client.generate("nomic-embed-text", prompt="hi")
        assert no_generate.value.error == '"nomic-embed-text" does not support generate'
        missing = httpx.post(f"{fake.url}/api/embed", json={"model": "absent", "input": "x"})
        assert missing.status_code == 404 and missing.json() == {"error": "model 'absent' not found"}


def test_stop_releases_a_stalled_stream() -> None:
    fake = FakeOllama(models=[], library=[tiny_model()]).start()
    fake.set_pull_plan("tinyllama:1.1b", [100], steps_per_layer=2)
    fake.stall_pull("tinyllama:1.1b", after_bytes=0)
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            list(ollama.Client(host=fake.url).pull("tinyllama:1.1b", stream=True))
        except Exception as exc:  # the stop cuts the stream; any transport error is fine here
            errors.append(exc)

    worker = threading.Thread(target=pull)
    worker.start()
    assert fake.wait_until(lambda: fake.held == 1)
    fake.stop()
    worker.join(10)
    assert not worker.is_alive() and errors
    assert fake.pull_sessions()[0].outcome == "stopped"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(30)
def test_runs_as_a_process_reading_ollama_host() -> None:
    port = _free_port()
    env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_CONTEXT_LENGTH": "16384"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.fake_ollama", "serve"],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        assert f"Listening on 127.0.0.1:{port}" in banner
        client = ollama.Client(host=f"http://127.0.0.1:{port}")
        client.generate("llama3.2:3b")
        assert [m.context_length for m in client.ps().models] == [16384]
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
