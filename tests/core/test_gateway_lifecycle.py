"""Start, stop, restart, hot-apply and crash handling of the real embedded gateway."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest

from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.errors import GatewayBusy, GatewayStartError, PortInUse
from core.gateway.net import bind_listener
from core.gateway.service import ApplyMode, Gateway, GatewayState, GatewayStatus
from tests.core.gateway_support import KEY, chat, free_port, open_fds, running, tcp_sockets, wait_until
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models

pytestmark = [
    pytest.mark.timeout(240),
    # litellm's own TypedDicts trip a pydantic notice on its error path
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=default_models()) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> None:
    fake.clear_requests()
    fake.clear_faults()
    fake.set_chunk_delay(0.0)


def one_mapping(
    fake: FakeOllama, port: int, name: str, num_ctx: int, model: str = "qwen2.5-coder:7b"
) -> Config:
    return Config(
        gateway=GatewaySettings(port=port),
        backends=[OllamaBackend(name="local", url=fake.url)],
        mappings=[Mapping(name=name, model=model, options=ModelOptions(num_ctx=num_ctx))],
    )


def gateway_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("gatedeck-gateway")]


def test_states_are_reported_in_order(fake: FakeOllama) -> None:
    gateway = Gateway(one_mapping(fake, free_port(), "m", 2048), master_key=KEY, installed={})
    seen: list[GatewayStatus] = []
    gateway.add_listener(seen.append)
    assert gateway.state is GatewayState.STOPPED
    gateway.start_blocking()
    gateway.stop_blocking()
    states = [s.state for s in seen]
    # "starting" may repeat with a progress note ("loading gateway engine") on the first start
    assert [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]] == [
        GatewayState.STARTING,
        GatewayState.RUNNING,
        GatewayState.STOPPING,
        GatewayState.STOPPED,
    ]
    assert all(s.url == gateway.url for s in seen)


async def test_watch_yields_changes_on_the_callers_loop(fake: FakeOllama) -> None:
    gateway = Gateway(one_mapping(fake, free_port(), "m", 2048), master_key=KEY, installed={})
    loop_thread = threading.current_thread()
    threads: set[threading.Thread] = set()
    seen: list[GatewayState] = []

    updates = gateway.watch()
    seen.append((await anext(updates)).state)  # subscribed now: the current status comes first

    async def collect() -> None:
        async for status in updates:
            threads.add(threading.current_thread())
            seen.append(status.state)
            if status.state is GatewayState.STOPPED:
                return

    watcher = asyncio.create_task(collect())
    await gateway.start()
    await gateway.stop()
    await asyncio.wait_for(watcher, 30)
    await updates.aclose()
    assert seen[0] is GatewayState.STOPPED and seen[-1] is GatewayState.STOPPED
    assert GatewayState.RUNNING in seen and GatewayState.STOPPING in seen
    assert threads == {loop_thread}


@pytest.mark.timeout(300)
def test_twenty_stop_start_cycles_serve_the_new_mapping_and_leak_nothing(fake: FakeOllama) -> None:
    port = free_port()
    gateway = Gateway(one_mapping(fake, port, "cycle-0", 1024), master_key=KEY, installed={})
    with running(gateway):  # warm-up: imports and LiteLLM's once-per-process logging pool
        assert chat(gateway.url, "cycle-0").status_code == 200
        assert chat(gateway.url, "not-mapped").status_code >= 400
    wait_until(lambda: fake.in_flight == 0, what="the fake to finish")
    threads_before = {t.name for t in threading.enumerate()}
    fds_before, sockets_before = open_fds(), tcp_sockets()

    for cycle in range(1, 21):
        result = gateway.apply_blocking(one_mapping(fake, port, f"cycle-{cycle}", 1024 + cycle))
        assert result.mode is ApplyMode.STORED
        gateway.start_blocking()
        # the restart trap: without GracefulShutdownManager.reset() this answers 503
        assert httpx.get(f"{gateway.url}/health/liveliness", timeout=10).status_code == 200
        response = chat(gateway.url, f"cycle-{cycle}")
        assert response.status_code == 200, response.text
        assert fake.bodies("/api/chat")[-1]["options"]["num_ctx"] == 1024 + cycle
        assert chat(gateway.url, f"cycle-{cycle - 1}").status_code >= 400  # the old mapping is gone
        gateway.stop_blocking()
        assert gateway.state is GatewayState.STOPPED

    assert gateway_threads() == []
    wait_until(lambda: fake.in_flight == 0, what="the fake to finish")

    def new_threads() -> list[str]:
        return sorted({t.name for t in threading.enumerate()} - threads_before)

    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not new_threads(), what="threads to end")
    assert new_threads() == []
    # the socket trap: LiteLLM's pooled clients leak one connection per restart unless closed
    wait_until(lambda: tcp_sockets() <= sockets_before, what=f"sockets back to {sockets_before}")
    wait_until(lambda: open_fds() <= fds_before, what=f"file descriptors back to {fds_before}")


@pytest.mark.timeout(120)
async def test_hot_apply_during_twenty_streams_fails_none(fake: FakeOllama) -> None:
    port = free_port()
    before = one_mapping(fake, port, "coder", 2048)
    gateway = Gateway(before, master_key=KEY, installed={})
    await gateway.start()
    try:
        words = [f"w{i}" for i in range(40)]
        fake.set_reply("qwen2.5-coder:7b", " ".join(words), chunks=40)
        fake.set_chunk_delay(0.1, "/api/chat")  # each stream takes about four seconds
        client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=KEY, max_retries=0, timeout=60)

        async def stream() -> str:
            parts = []
            response = await client.chat.completions.create(
                model="coder", messages=[{"role": "user", "content": "go"}], stream=True
            )
            async for chunk in response:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
            return "".join(parts)

        streams = [asyncio.create_task(stream()) for _ in range(20)]
        await asyncio.to_thread(fake.wait_until, lambda: fake.in_flight == 20, 30)

        after = before.model_copy(
            update={
                "mappings": [Mapping(name="coder", model="llama3.2:3b", options=ModelOptions(num_ctx=8192))]
            }
        )
        result = await gateway.apply(after)
        print(f"hot-apply with 20 streams in flight took {result.seconds * 1000:.1f} ms")
        assert fake.in_flight > 0  # the streams were still running when the swap happened
        texts = await asyncio.gather(*streams, return_exceptions=True)

        assert result.mode is ApplyMode.HOT
        failures = [t for t in texts if not isinstance(t, str) or t.split() != words]
        assert failures == []
        fake.set_chunk_delay(0.0)
        fake.clear_requests()
        answer = await client.chat.completions.create(
            model="coder", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == "Hello from llama3.2:3b."
        body = fake.bodies("/api/chat")[-1]
        assert body["model"] == "llama3.2:3b" and body["options"]["num_ctx"] == 8192
    finally:
        fake.set_reply("qwen2.5-coder:7b", "Hello from qwen2.5-coder:7b.")
        await gateway.stop()


def test_hot_apply_drops_removed_patterns_and_routes_new_ones(fake: FakeOllama) -> None:
    port = free_port()
    config = one_mapping(fake, port, "claude-*sonnet*", 4096)
    with running(Gateway(config, master_key=KEY, installed={})) as gateway:
        assert chat(gateway.url, "claude-sonnet-4-5").status_code == 200
        moved = config.model_copy(
            update={
                "mappings": [
                    Mapping(name="claude-*haiku*", model="llama3.2:3b", options=ModelOptions(num_ctx=2048))
                ]
            }
        )
        assert gateway.apply_blocking(moved).mode is ApplyMode.HOT
        # LiteLLM's set_model_list keeps old wildcard patterns; GateDeck must not serve them
        assert chat(gateway.url, "claude-sonnet-4-5").status_code >= 400
        assert chat(gateway.url, "claude-3-5-haiku-latest").status_code == 200
        assert fake.bodies("/api/chat")[-1]["options"]["num_ctx"] == 2048


def test_mapping_another_installed_model_does_not_ask_ollama_about_every_model_again(
    fake: FakeOllama,
) -> None:
    config = one_mapping(fake, free_port(), "m", 2048)
    with running(Gateway(config, master_key=KEY)) as gateway:  # learns what Ollama has
        asked = sorted(body["model"] for body in fake.bodies("/api/show"))
        assert asked == ["llama3.2:3b", "qwen2.5-coder:7b"]  # each installed model, at start
        fake.clear_requests()
        moved = one_mapping(fake, config.gateway.port, "m", 2048, model="llama3.2:3b")
        assert gateway.apply_blocking(moved).mode is ApplyMode.HOT
        assert fake.bodies("/api/show") == []  # both were asked about already
        assert chat(gateway.url, "m").status_code == 200
        assert fake.bodies("/api/chat")[-1]["model"] == "llama3.2:3b"
        asyncio.run(gateway.refresh_installed())  # the models listed again: asked again
        assert sorted(body["model"] for body in fake.bodies("/api/show")) == asked


def test_port_in_use_names_port_holder_and_a_free_port(fake: FakeOllama) -> None:
    port = free_port()
    with contextlib.closing(bind_listener("127.0.0.1", port)):
        gateway = Gateway(one_mapping(fake, port, "m", 2048), master_key=KEY, installed={})
        with pytest.raises(PortInUse) as caught:
            gateway.start_blocking()
    error = caught.value
    assert error.port == port
    assert "this GateDeck" in error.holder  # this test process holds it
    assert error.suggestion is not None and error.suggestion != port
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", error.suggestion))  # the suggestion really is free
    assert gateway.state is GatewayState.FAILED
    assert str(port) in gateway.status.reason and str(error.suggestion) in gateway.status.reason
    assert gateway_threads() == []


def test_unbindable_host_is_a_start_error(fake: FakeOllama) -> None:
    config = one_mapping(fake, free_port(), "m", 2048)
    config.gateway.host = "203.0.113.9"  # TEST-NET-3: never an address of this machine
    gateway = Gateway(config, master_key=KEY, installed={})
    assert gateway.warnings  # listening beyond localhost is warned about
    with pytest.raises(GatewayStartError, match="cannot listen on 203.0.113.9"):
        gateway.start_blocking()
    assert gateway.state is GatewayState.FAILED


def test_only_one_gateway_per_process(fake: FakeOllama) -> None:
    with running(Gateway(one_mapping(fake, free_port(), "a", 2048), master_key=KEY, installed={})):
        other = Gateway(one_mapping(fake, free_port(), "b", 2048), master_key=KEY, installed={})
        with pytest.raises(GatewayBusy):
            other.start_blocking()


def test_crash_is_noticed_and_restarted(fake: FakeOllama) -> None:
    gateway = Gateway(
        one_mapping(fake, free_port(), "m", 2048), master_key=KEY, installed={}, restart_backoff=(0.05, 0.05)
    )
    seen: list[GatewayStatus] = []
    gateway.add_listener(seen.append)
    with running(gateway):
        thread = gateway._thread
        assert thread is not None
        seen.clear()
        thread.simulate_crash()  # uvicorn exits as if on its own
        wait_until(lambda: gateway.status.restarts == 1 and gateway.state is GatewayState.RUNNING)
        assert gateway._thread is not thread
        assert chat(gateway.url, "m").status_code == 200
    failed = [s for s in seen if s.state is GatewayState.FAILED]
    assert failed and failed[0].retrying
    assert "stopped unexpectedly" in failed[0].reason and "restarting in 0.05 s" in failed[0].reason


def test_crash_loop_stops_after_the_last_try_and_says_so(fake: FakeOllama) -> None:
    port = free_port()
    gateway = Gateway(
        one_mapping(fake, port, "m", 2048), master_key=KEY, installed={}, restart_backoff=(0.05, 0.05, 0.05)
    )
    squatter: list[socket.socket] = []

    def take_port(status: GatewayStatus) -> None:
        # runs on the dying gateway thread, after it closed its socket and before any restart
        if status.retrying and not squatter:
            squatter.append(bind_listener("127.0.0.1", port))

    gateway.add_listener(take_port)
    gateway.start_blocking()
    try:
        thread = gateway._thread
        assert thread is not None
        thread.simulate_crash()
        wait_until(lambda: gateway.state is GatewayState.FAILED and not gateway.status.retrying)
        status = gateway.status
        assert "3 restarts in a row failed" in status.reason and "gave up" in status.reason
        assert f"Port {port}" in status.reason  # the last error says what is wrong
        assert status.restarts == 3
        assert gateway_threads() == []
        squatter.pop().close()
        gateway.start_blocking()  # a start by hand works once the cause is gone
        assert chat(gateway.url, "m").status_code == 200
    finally:
        for sock in squatter:
            sock.close()
        gateway.stop_blocking()


def test_stop_cancels_a_pending_restart(fake: FakeOllama) -> None:
    gateway = Gateway(
        one_mapping(fake, free_port(), "m", 2048), master_key=KEY, installed={}, restart_backoff=(30.0,)
    )
    gateway.start_blocking()
    thread = gateway._thread
    assert thread is not None
    thread.simulate_crash()
    wait_until(lambda: gateway.status.retrying)
    gateway.stop_blocking()
    assert gateway.state is GatewayState.STOPPED
    assert [t for t in threading.enumerate() if t.name == "gatedeck-gateway-restart"] == []


def test_a_new_port_restarts_and_a_new_key_replaces_the_old(fake: FakeOllama) -> None:
    old_port, new_port = free_port(), free_port()
    config = one_mapping(fake, old_port, "m", 2048)
    with running(Gateway(config, master_key=KEY, installed={})) as gateway:
        moved = config.model_copy(deep=True)
        moved.gateway.port = new_port
        result = gateway.apply_blocking(moved)
        assert result.mode is ApplyMode.RESTART
        assert gateway.url == f"http://127.0.0.1:{new_port}" and gateway.status.url == gateway.url
        assert chat(gateway.url, "m").status_code == 200
        with pytest.raises(httpx.ConnectError):
            chat(f"http://127.0.0.1:{old_port}", "m")

        gateway.set_master_key_blocking("sk-a-brand-new-key-0123456789")
        assert chat(gateway.url, "m").status_code == 401
        assert chat(gateway.url, "m", key="sk-a-brand-new-key-0123456789").status_code == 200
