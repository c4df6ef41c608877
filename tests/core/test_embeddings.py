"""Embeddings through the gateway, as a RAG tool or an editor asks for them: the official
``openai`` SDK's ``embeddings.create`` over HTTP, answered from Ollama's ``/api/embed``.

The fake Ollama embeds as Ollama's EmbedHandler does (a string or a list of strings, vectors
normalised and cut to ``dimensions``); ``nomic-embed-text`` only embeds, as Ollama lists it.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys

import anthropic
import httpx
import ollama
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.cli.main import main
from core.config.schema import Mapping, ModelOptions
from core.config.store import ConfigStore
from core.gateway.service import Gateway
from core.metrics.request_log import RequestLog
from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from tests.core.gateway_fixtures import embedded_gateway, fake_ollama
from tests.core.gateway_support import KEY, REPO, Lines, auth, free_port, tier_config, wait_until
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import nomic_embed_text

pytestmark = [pytest.mark.timeout(180)]
EMBED = "nomic-embed-text:latest"


fake = fake_ollama(nomic_embed_text())
gateway = embedded_gateway(
    Mapping(
        name="embedder",
        model="nomic-embed-text",
        options=ModelOptions(num_ctx=1024, num_gpu=99, num_thread=3, keep_alive="9m"),
    )
)


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> None:
    fake.clear_requests()
    fake.clear_faults()


def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0)


def direct(fake: FakeOllama, texts: list[str], **extra: int) -> list[list[float]]:
    """What Ollama itself answers for ``texts``."""
    return [list(v) for v in ollama.Client(host=fake.url).embed(EMBED, texts, **extra).embeddings]


def test_a_string_is_embedded_as_ollama_embeds_it_and_the_mappings_options_reach_ollama(
    gateway: Gateway, fake: FakeOllama
) -> None:
    raw = client(gateway).embeddings.with_raw_response.create(
        model="embedder", input="The cat sat on the mat.", encoding_format="float"
    )
    assert raw.headers["x-gatedeck-path"] == "direct"
    answer = raw.parse()
    (sent,) = fake.bodies("/api/embed")
    assert sent["model"] == "nomic-embed-text" and sent["input"] == "The cat sat on the mat."
    assert sent["options"] == {"num_ctx": 1024, "num_gpu": 99, "num_thread": 3}
    assert sent["keep_alive"] == "9m"
    assert "stream" not in sent and "dimensions" not in sent
    (item,) = answer.data
    assert item.index == 0 and len(item.embedding) == 768
    assert item.embedding == pytest.approx(direct(fake, ["The cat sat on the mat."])[0], abs=1e-9)
    assert answer.model == "embedder"
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == len("The cat sat on the mat.") // 4


def test_a_list_comes_back_in_order_with_ollamas_token_count(gateway: Gateway, fake: FakeOllama) -> None:
    texts = ["first document", "a second, longer document about embeddings", "third"]
    answer = client(gateway).embeddings.create(model="embedder", input=texts, encoding_format="float")
    assert [item.index for item in answer.data] == [0, 1, 2]
    expected = direct(fake, texts)
    for item, vector in zip(answer.data, expected, strict=True):
        assert item.embedding == pytest.approx(vector, abs=1e-9)
    assert answer.data[0].embedding != answer.data[1].embedding
    assert answer.usage.prompt_tokens == sum(max(1, len(t) // 4) for t in texts)


def test_base64_is_little_endian_float32_as_openai_sends_it(gateway: Gateway, fake: FakeOllama) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/embeddings",
        json={"model": "embedder", "input": ["alpha", "beta"], "encoding_format": "base64"},
        headers=auth(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    expected = direct(fake, ["alpha", "beta"])
    for item, vector in zip(data, expected, strict=True):
        raw = base64.b64decode(item["embedding"])
        assert len(raw) == 4 * 768
        assert list(struct.unpack(f"<{768}f", raw)) == pytest.approx(vector, abs=1e-6)
    # the SDK asks for base64 when the caller does not say, and decodes it itself
    decoded = client(gateway).embeddings.create(model="embedder", input="alpha")
    assert decoded.data[0].embedding == pytest.approx(expected[0], abs=1e-6)


def test_dimensions_reach_ollama_which_cuts_the_vector(gateway: Gateway, fake: FakeOllama) -> None:
    answer = client(gateway).embeddings.create(
        model="embedder", input="short", dimensions=64, encoding_format="float"
    )
    assert fake.bodies("/api/embed")[-1]["dimensions"] == 64
    assert len(answer.data[0].embedding) == 64
    assert answer.data[0].embedding == pytest.approx(direct(fake, ["short"], dimensions=64)[0], abs=1e-9)
    assert sum(v * v for v in answer.data[0].embedding) == pytest.approx(1.0)


def test_an_installed_embedding_model_is_served_under_its_own_name(
    gateway: Gateway, fake: FakeOllama
) -> None:
    answer = client(gateway).embeddings.create(model=EMBED, input=["hello", "world"], encoding_format="float")
    assert len(answer.data) == 2
    assert fake.bodies("/api/embed")[-1]["model"] == EMBED


def test_an_embedding_request_to_a_chat_model_is_a_400_that_never_reaches_ollama(
    gateway: Gateway, fake: FakeOllama
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client(gateway).embeddings.create(model="gpt-4o", input="hello")
    assert refused.value.status_code == 400
    assert "does not make embeddings" in refused.value.message
    assert refused.value.response.headers["x-gatedeck-path"] == "direct"
    assert fake.bodies("/api/embed") == []


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_chat_request_to_a_model_that_only_embeds_is_a_400_that_never_reaches_ollama(
    gateway: Gateway, fake: FakeOllama, api: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        if api == "chat":
            client(gateway).chat.completions.create(
                model="embedder", messages=[{"role": "user", "content": "hi"}]
            )
        else:
            client(gateway).responses.create(model="embedder", input="hi")
    assert "only makes embeddings" in refused.value.message
    assert fake.bodies("/api/chat") == []


def test_a_chat_request_in_anthropics_api_to_a_model_that_only_embeds_is_its_400(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "embedder", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("name", [EMBED, "nomic-embed-text", f"ollama/{EMBED}"])
def test_a_chat_request_to_an_installed_embedding_model_by_its_own_name_is_the_same_400(
    gateway: Gateway, fake: FakeOllama, name: str
) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client(gateway).chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}])
    assert refused.value.body == {
        "message": f"'{EMBED}' only makes embeddings: ask /v1/embeddings, not a chat API",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_supported",
    }
    assert refused.value.code == "model_not_supported" and refused.value.param == "model"
    assert refused.value.response.headers["x-gatedeck-path"] == "direct"
    claude = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as refused_too:
        claude.messages.create(
            model=name,
            max_tokens=16,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "hi"}],
        )
    assert refused_too.value.status_code == 400
    assert "only makes embeddings" in refused_too.value.message
    assert fake.bodies("/api/chat") == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": [[101, 2023]]}, "input"),
        ({"input": []}, "input"),
        ({"input": ["ok", ""]}, "input"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "x", "dimensions": 0}, "dimensions"),
        ({"input": 7}, "input"),
        ({}, "input"),
    ],
)
def test_input_ollama_cannot_embed_is_a_clear_400(
    gateway: Gateway, fake: FakeOllama, body: dict[str, object], param: str
) -> None:
    response = httpx.post(
        f"{gateway.url}/embeddings", json={"model": "embedder", **body}, headers=auth(), timeout=30
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"]
    assert fake.bodies("/api/embed") == []


def test_embeddings_are_recorded_for_the_monitor(gateway: Gateway) -> None:
    earlier = gateway.metrics.records()
    since = earlier[-1].seq if earlier else 0
    embedded = _embedded_inputs(gateway)
    client(gateway).embeddings.create(model="embedder", input=["one", "two"])
    wait_until(lambda: bool(gateway.metrics.records(since)), what="the request's record")
    assert _embedded_inputs(gateway) == embedded + 2  # on /metrics too
    (record,) = gateway.metrics.records(since)
    assert record.dialect == "embeddings" and record.ok
    assert (record.requested, record.mapping, record.model) == ("embedder", "embedder", "nomic-embed-text")
    assert record.prompt_tokens == 2 and record.completion_tokens is None and record.inputs == 2
    assert record.num_ctx == 1024 and record.latency_s > 0


def _embedded_inputs(gateway: Gateway) -> float:
    """``gatedeck_embedded_inputs_total`` for the mapping ``embedder``, scraped from /metrics."""
    scraped = httpx.get(f"{gateway.url}/metrics", headers=auth(), timeout=10)
    return sum(
        sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        if sample.name == "gatedeck_embedded_inputs_total" and sample.labels["mapping"] == "embedder"
    )


def test_gatedeck_stats_counts_each_mappings_embedded_texts_tokens_and_latency(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    earlier = gateway.metrics.records()
    since = earlier[-1].seq if earlier else 0
    rag = client(gateway)
    rag.embeddings.create(model="embedder", input=["one document", "two", "a third one"])
    rag.embeddings.create(model="embedder", input="a single text")
    rag.embeddings.create(model=EMBED, input=["by", "its own name"])
    rag.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    wait_until(lambda: len(gateway.metrics.records(since)) == 4, what="the four records")
    records = gateway.metrics.records(since)
    assert [r.inputs for r in records] == [3, 1, 2, None]
    log = RequestLog(AppPaths.from_env().log_dir)  # what the gateway's own log holds
    for record in records:
        log.append(record.to_json())
    log.close()

    assert main(["stats"]) == 0
    printed = capsys.readouterr().out
    section = printed.split("\nEmbeddings:\n")[1].splitlines()
    assert section[0].split() == [
        "MAPPING",
        "REQUESTS",
        "ERRORS",
        "INPUTS",
        "TOKENS",
        "LATENCY",
        "p50",
        "LATENCY",
        "p95",
    ]
    embedder = records[:2]
    tokens = sum(r.prompt_tokens or 0 for r in embedder)
    assert section[1].split()[:5] == ["embedder", "2", "0", "4", str(tokens)]
    assert section[2].split()[:5] == [EMBED, "1", "0", "2", str(records[2].prompt_tokens)]
    assert len(section) == 3  # the chat request is not an embeddings one

    assert main(["stats", "--embeddings", "--json"]) == 0
    (first, second) = json.loads(capsys.readouterr().out)
    assert (first["mapping"], first["requests"], first["inputs"], first["tokens"]) == (
        "embedder",
        2,
        4,
        tokens,
    )
    latencies = sorted(r.latency_s for r in embedder)
    assert first["latency_s"]["p50"] == pytest.approx(sum(latencies) / 2)
    assert second["mapping"] == EMBED and second["inputs"] == 2


def test_gatedeck_serve_answers_embeddings_for_a_mapping_and_refuses_the_wrong_kind(fake: FakeOllama) -> None:
    port = free_port()
    config = tier_config(fake.url, port)
    embedder = Mapping(
        name="embedder", model="nomic-embed-text", options=ModelOptions(num_ctx=512, keep_alive="2m")
    )
    ConfigStore.from_env().save(config.model_copy(update={"mappings": [embedder, *config.mappings]}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "serve", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        Lines(proc).wait_for("GateDeck gateway running at", 90)
        key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY)
        assert key
        served = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        one = served.embeddings.create(model="embedder", input="hello", encoding_format="float")
        many = served.embeddings.create(model="embedder", input=["hello", "world"])
        assert len(one.data) == 1 and len(many.data) == 2
        assert many.data[0].embedding == pytest.approx(one.data[0].embedding, abs=1e-6)
        sent = fake.bodies("/api/embed")[-1]
        assert sent["options"] == {"num_ctx": 512} and sent["keep_alive"] == "2m"
        with pytest.raises(openai.BadRequestError):
            served.embeddings.create(model="gpt-4o", input="hello")
        with pytest.raises(openai.BadRequestError):
            served.chat.completions.create(model="embedder", messages=[{"role": "user", "content": "hi"}])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
