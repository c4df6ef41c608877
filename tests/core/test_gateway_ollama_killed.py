"""Ollama dies in the middle of an answer: the client gets an error event, the gateway lives on.

The fake Ollama runs as a separate process here so the test can kill it (SIGKILL, no goodbye)
while a streamed answer is half sent.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.gateway.service import Gateway, GatewayState
from tests.core.gateway_fixtures import SDK_WARNINGS
from tests.core.gateway_support import KEY, REPO, auth, free_port, running

pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]

SLOW_FAKE = """
import threading
from tests.fakes.fake_ollama import FakeOllama
fake = FakeOllama(port={port}).start()
fake.set_reply("qwen2.5-coder:7b", " ".join(f"w{{i}}" for i in range(400)), chunks=400)
fake.set_chunk_delay(0.05, "/api/chat")  # a 20-second answer: plenty of time to kill it
print("ready", flush=True)
threading.Event().wait()
"""


class OllamaProcess:
    """The fake Ollama in its own process, on a fixed port, that can be killed and relaunched."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SLOW_FAKE.format(port=self.port)], cwd=REPO, stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"  # blocks until it listens

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def ollama() -> Iterator[OllamaProcess]:
    process = OllamaProcess(free_port())
    process.launch()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def gateway(ollama: OllamaProcess) -> Iterator[Gateway]:
    config = Config(
        gateway=GatewaySettings(port=free_port()),
        backends=[OllamaBackend(name="local", url=f"http://127.0.0.1:{ollama.port}")],
        mappings=[Mapping(name="claude-*", model="qwen2.5-coder:7b", options=ModelOptions(num_ctx=8192))],
    )
    with running(Gateway(config, master_key=KEY)) as gw:
        yield gw


@pytest.fixture(autouse=True)
def ollama_up(ollama: OllamaProcess) -> None:
    if ollama.proc is None or ollama.proc.poll() is not None:
        ollama.launch()


def still_serves(gateway: Gateway, ollama: OllamaProcess) -> None:
    assert gateway.state is GatewayState.RUNNING
    ollama.launch()  # Ollama comes back on the same address
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)
    stream = client.chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "again"}], stream=True
    )
    first = next(chunk for chunk in stream if chunk.choices and chunk.choices[0].delta.content)
    assert first.choices[0].delta.content
    stream.close()


def test_openai_stream_gets_an_error_when_ollama_dies(gateway: Gateway, ollama: OllamaProcess) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)
    received = []
    with pytest.raises(openai.APIError) as caught:  # the SDK raises on the stream's error event
        for chunk in client.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "go"}], stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
                if len(received) == 3:
                    ollama.kill()
    assert 3 <= len(received) < 400
    assert "Ollama" in str(caught.value)
    still_serves(gateway, ollama)


def test_anthropic_stream_gets_an_error_event_when_ollama_dies(
    gateway: Gateway, ollama: OllamaProcess
) -> None:
    # Raw SSE first, to see the event Claude Code receives.
    events: list[str] = []
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/messages?beta=true",
        json={
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 4096,
            "stream": True,
            "messages": [{"role": "user", "content": "go"}],
        },
        headers=auth(),
        timeout=60,
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
                if events.count("content_block_delta") == 3:
                    ollama.kill()
    assert events[0] == "message_start"
    assert events[-1] == "error"
    assert "message_stop" not in events  # not passed off as a complete answer

    ollama.launch()
    client = anthropic.Anthropic(base_url=gateway.url, auth_token=KEY, max_retries=0, timeout=60)
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=4096, messages=[{"role": "user", "content": "go"}]
        ) as stream,
    ):
        for count, _ in enumerate(stream.text_stream, 1):
            if count == 3:
                ollama.kill()
    assert "Ollama" in str(caught.value)
    still_serves(gateway, ollama)


def test_ollama_down_is_an_error_answer_not_a_hang(gateway: Gateway, ollama: OllamaProcess) -> None:
    ollama.kill()
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]},
        headers=auth(),
        timeout=30,
    )
    assert response.status_code == 503
    assert "Ollama is not answering" in response.json()["error"]["message"]
    still_serves(gateway, ollama)
