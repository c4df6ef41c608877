"""The quick-stopping gateway server still lets answers finish (its copy of uvicorn's shutdown
is pinned and checked in tests/core/test_seams.py)."""

from __future__ import annotations

import threading

import httpx
import pytest

from core.gateway.service import Gateway, GatewayState
from tests.core.gateway_support import KEY, auth, free_port, tier_config
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models


@pytest.mark.timeout(120)
def test_a_stop_lets_an_answer_in_progress_finish_within_the_grace_period() -> None:
    with FakeOllama(models=default_models()) as fake:
        fake.set_reply("qwen2.5-coder:7b", "a b c d e f g h i j", chunks=10)
        fake.set_chunk_delay(0.05)
        gateway = Gateway(tier_config(fake.url, free_port()), master_key=KEY)
        gateway.start_blocking()
        stopper = threading.Thread(target=gateway.stop_blocking, kwargs={"grace_s": 10.0})
        body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "go"}]}
        text = []
        try:
            with httpx.stream(
                "POST", f"{gateway.url}/v1/chat/completions", json=body, headers=auth(), timeout=30
            ) as response:
                for line in response.iter_lines():
                    if '"content"' in line:
                        text.append(line)
                        if not stopper.is_alive() and len(text) == 1:
                            stopper.start()  # stop while the answer is still coming
        finally:
            stopper.join(30) if stopper.ident else gateway.stop_blocking()
        assert len(text) == 10, "every chunk of the answer arrived"
        assert gateway.state is GatewayState.STOPPED
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=auth(), timeout=5)
