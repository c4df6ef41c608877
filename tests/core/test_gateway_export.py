"""The exported config, served by the stock ``litellm --config`` proxy, answers requests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.cli.main import main
from core.config.schema import CloudModel, Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.config.store import ConfigStore
from tests.core.gateway_support import free_port, wait_until
from tests.fakes.fake_ollama import FakeOllama

STOCK_KEY = "sk-stock-litellm-0123456789"


@pytest.mark.timeout(180)
def test_stock_litellm_serves_the_exported_config(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    ConfigStore.from_env().save(
        Config(
            gateway=GatewaySettings(port=free_port()),
            backends=[OllamaBackend(name="local", url=fake_ollama.url)],
            mappings=[
                Mapping(
                    name="gpt-4o",
                    model="qwen2.5-coder:7b",
                    options=ModelOptions(num_ctx=16384, keep_alive="9m"),
                ),
                Mapping(name="claude-*sonnet*", model="llama3.2:3b", options=ModelOptions(num_ctx=32768)),
            ],
            cloud=[CloudModel(name="cloud-sonnet", provider="anthropic", model="claude-sonnet-4-5")],
        )
    )
    exported = tmp_path / "litellm.yaml"
    assert main(["export-litellm-config", str(exported), "--direct-ollama"]) == 0

    port = free_port()
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": STOCK_KEY,
        "ANTHROPIC_API_KEY": "sk-ant-not-used-here",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    stock = Path(sys.executable).with_name("litellm")
    proc = subprocess.Popen(
        [str(stock), "--config", str(exported), "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def live() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"litellm exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                return httpx.get(f"{base}/health/liveliness", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(live, 120, "the stock LiteLLM proxy")
        headers = {"Authorization": f"Bearer {STOCK_KEY}"}
        chat = httpx.post(
            f"{base}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
            timeout=60,
        )
        assert chat.status_code == 200, chat.text
        assert chat.json()["choices"][0]["message"]["content"] == "Hello from qwen2.5-coder:7b."
        body = fake_ollama.bodies("/api/chat")[-1]
        assert body["options"]["num_ctx"] == 16384 and body["keep_alive"] == "9m"

        messages = httpx.post(
            f"{base}/v1/messages",
            json={
                "model": "claude-sonnet-4-5-20250929",
                "max_tokens": 64,
                "messages": [{"role": "user", "content": "hi"}],
            },
            headers=headers,
            timeout=60,
        )
        assert messages.status_code == 200, messages.text
        assert fake_ollama.bodies("/api/chat")[-1]["model"] == "llama3.2:3b"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
