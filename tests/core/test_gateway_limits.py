"""What a hostile local program can do to the gateway, tried over real HTTP on 127.0.0.1.

One real gateway (LiteLLM in-process, the fake Ollama behind it) per way of answering: GateDeck's
fast path, LiteLLM's proxy (``direct_path`` off), and the fast path behind uvicorn's h11 parser
(where httptools is not installed). Every loop here is bounded.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from core.gateway import engine as gateway_engine
from core.gateway.allowlist import GET_PATHS, HEAD_PROBES, POST_PATHS, allowed
from core.gateway.connections import MOST_CONNECTIONS, Admission, connection_cap, raise_file_limit
from core.gateway.service import Gateway
from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store
from tests.core.gateway_support import KEY, REPO, auth, free_port, running, tier_config, wait_until
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models, nomic_embed_text

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
MESSAGE = {
    "model": "claude-3-5-haiku-20241022",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=[*default_models(), nomic_embed_text()]) as server:
        yield server


@pytest.fixture(scope="module", params=["fast path", "litellm", "h11 parser"])
def gateway(request: pytest.FixtureRequest, fake: FakeOllama) -> Iterator[Gateway]:
    config = tier_config(fake.url, free_port())
    gateway_settings = config.gateway.model_copy(
        update={"direct_path": request.param != "litellm", "receive_timeout_s": 3.0, "max_body_mb": 4}
    )
    gw = Gateway(config.model_copy(update={"gateway": gateway_settings}), master_key=KEY)
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "h11 parser":  # uvicorn's pure-Python parser, as without httptools
            patch.setenv("GATEDECK_GATEWAY_SPEEDUPS", "-httptools")
        with running(gw):
            yield gw


def _answer_ok(gateway: Gateway) -> float:
    """One valid chat request; returns its time in seconds."""
    began = time.monotonic()
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, headers=auth(), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    return time.monotonic() - began


def _port(gateway: Gateway) -> int:
    return int(gateway.url.rsplit(":", 1)[1])


# ---------------------------------------------------------------- routes
def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _installed_litellm() -> dict[str, float]:
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if "__pycache__" not in p.parts}


def test_with_the_key_only_gatedecks_routes_answer(gateway: Gateway) -> None:
    engine = gateway_engine.loaded()
    assert engine is not None
    registered = engine._proxy.routes()
    assert len(registered) > 300  # LiteLLM's whole surface, admin included
    before = _installed_litellm()
    reached = set()
    with httpx.Client(base_url=gateway.url, headers=auth(), timeout=30) as client:
        for method, path in registered:
            url = _concrete(path)
            body = b"" if method in ("GET", "HEAD", "OPTIONS", "DELETE") else json.dumps(CHAT).encode()
            response = client.request(method, url, content=body or None)
            if allowed(method, url) or (method == "HEAD" and url in HEAD_PROBES):
                reached.add((method, url))
                assert response.status_code != 404 or "GateDeck does not serve" not in response.text
                continue
            assert response.status_code == 404, (method, url, response.status_code, response.text[:200])
            if method != "HEAD":
                assert "GateDeck does not serve" in response.json()["error"]["message"]
        # the admin surface the key used to open
        for method, url in [
            ("GET", "/ui/"),
            ("GET", "/debug/asyncio-tasks"),
            ("GET", "/settings"),
            ("GET", "/model/info"),
            ("POST", "/guardrails/test_custom_code"),
            ("POST", "/upload/logo"),
            ("GET", "/mcp"),
            ("POST", "/v1/images/generations"),
        ]:
            assert client.request(method, url).status_code == 404, url
        probe = client.head("/")
        assert probe.status_code == 200
        assert client.head("/api/hello").status_code == 200  # Claude Code's early connection
        assert client.get("/api/hello").status_code == 404
    assert reached  # the model APIs LiteLLM registers are reached
    assert _installed_litellm() == before  # nothing was written into the installed package


@pytest.mark.parametrize("path", sorted(POST_PATHS | GET_PATHS))
def test_the_allowlisted_routes_still_answer(gateway: Gateway, path: str) -> None:
    headers = {**auth(), "anthropic-version": "2023-06-01"} if "messages" in path else auth()
    body = (
        MESSAGE
        if "messages" in path
        else ({"model": "gpt-4o", "input": "hi"} if "responses" in path else CHAT)
    )
    if "embeddings" in path:  # an installed model that embeds, asked for what it makes
        body = {"model": "nomic-embed-text:latest", "input": "hi"}
    if path in GET_PATHS:
        response = httpx.get(gateway.url + path, headers=headers, timeout=30)
    else:
        response = httpx.post(gateway.url + path, json=body, headers=headers, timeout=60)
    assert response.status_code == 200, (path, response.text[:300])


def test_an_unknown_route_is_404_in_the_anthropic_shape_for_anthropic_clients(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/messages/batches", headers=ANTHROPIC_HEADERS, timeout=10)
    assert response.status_code == 404
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "not_found_error"


# ---------------------------------------------------------------- bodies
def _hundred_mb(model: str) -> bytes:
    head = b'{"model": "' + model.encode() + b'", "max_tokens": 8, "messages": [{"role": "user", "content": "'
    return head + b"a" * (100 * 1024 * 1024) + b'"}]}'


def _in_chunks(body: bytes) -> Iterator[bytes]:
    """``body`` sent without Content-Length: the gateway counts it as it arrives."""
    view = memoryview(body)
    for start in range(0, len(body), 1 << 20):
        yield bytes(view[start : start + (1 << 20)])


def test_a_body_over_the_limit_is_413_in_each_api_shape(gateway: Gateway, fake: FakeOllama) -> None:
    fake.clear_requests()
    big = _hundred_mb("gpt-4o")
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=big,
        headers={**auth(), "content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert "max_body_mb" in response.json()["error"]["message"]
    response = httpx.post(
        f"{gateway.url}/v1/messages", content=_in_chunks(big), headers=ANTHROPIC_HEADERS, timeout=60
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert fake.bodies("/api/chat") == []
    _answer_ok(gateway)


def test_gatedeck_serve_keeps_nothing_of_refused_bodies(fake: FakeOllama) -> None:
    """Memory of the real ``gatedeck serve`` process (alone in it) before and after 100 MB bodies."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "--ollama-url", fake.url, "serve", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, "gatedeck serve exited"
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200
            return False

        wait_until(up, 120, "gatedeck serve")
        key = open_secret_store(AppPaths.from_env()).get(MASTER_KEY) or ""
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
        big = _hundred_mb("claude-sonnet-4-5")
        served = psutil.Process(proc.pid)

        def refuse() -> None:
            assert (
                httpx.post(f"{url}/v1/messages", content=big, headers=headers, timeout=60).status_code == 413
            )
            chunked = httpx.post(f"{url}/v1/messages", content=_in_chunks(big), headers=headers, timeout=60)
            assert chunked.status_code == 413

        # one answered request first, so what serving loads on first use (on a busy machine it
        # can still be loading seconds after start) is in before the measurement begins
        answer = httpx.post(f"{url}/v1/messages", json=MESSAGE, headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        refuse()  # the first pays for the buffers that stay
        before = served.memory_info().rss
        for _ in range(3):  # 600 MB refused
            refuse()
        after = served.memory_info().rss
        assert after - before < 16 * 1024 * 1024, (before, after)  # a kept body would be 100 MB
        again = httpx.post(f"{url}/v1/messages", json=MESSAGE, headers=headers, timeout=30)
        assert again.status_code == 200, again.text  # still serving after the refusals
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_body_under_the_limit_is_answered(gateway: Gateway) -> None:
    padded = {**CHAT, "messages": [{"role": "user", "content": "hi " + "x" * (3 * 1024 * 1024)}]}
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=padded, headers=auth(), timeout=60)
    assert response.status_code == 200, response.text[:300]


# ---------------------------------------------------------------- malformed input
def _malformed() -> list[tuple[str, bytes]]:
    bodies: list[bytes] = [
        b"",
        b"[]",
        b"null",
        b'"x"',
        b"1",
        b"true",
        b"{",
        b"\xff\xfe\xfd",
        b'{"model": "gpt-4o", "messages": "x"}',
        b'{"model": "gpt-4o", "messages": ["x"]}',
        b'{"model": "gpt-4o", "messages": [null]}',
        b'{"model": "gpt-4o", "messages": 5}',
        b'{"model": "gpt-4o", "messages": {}}',
        b'{"model": 5, "messages": []}',
        b'{"model": ["gpt-4o"], "messages": []}',
        b'{"messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "gpt-4o"}',
        b'{"model": "gpt-4o", "messages": [], "stream": "yes"}',
        b'{"model": "gpt-4o", "messages": [], "max_tokens": "abc"}',
        b'{"model": "gpt-4o", "messages": [], "temperature": "hot"}',
        b'{"model": "gpt-4o", "messages": [], "tools": "all"}',
        b'{"model": "gpt-4o", "input": 5}',
        b'{"model": "gpt-4o", "input": "hi", "instructions": []}',
        b'{"model": "gpt-4o", "messages": [], "max_tokens": true}',
        b'{"model": null, "messages": [{"role": "user", "content": "hi"}]}',
        b'{"model": "gpt-4o", "messages": [[]]}',
        b'{"model": "' + b"m" * 1_000_000 + b'", "messages": [{"role": "user", "content": "hi"}]}',
    ]
    paths = [
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
        "/chat/completions",
        "/responses",
    ]
    anthropic_only = [
        (path, b'{"model": "gpt-4o", "messages": [], "system": 5}') for path in paths if "messages" in path
    ]
    cases = [(path, body) for path in paths for body in bodies] + anthropic_only
    # count_tokens takes no max_tokens: LiteLLM ignores it there, rightly
    return [
        (path, body) for path, body in cases if not (path.endswith("count_tokens") and b"max_tokens" in body)
    ]


def test_malformed_requests_are_4xx_without_a_traceback(gateway: Gateway) -> None:
    cases = _malformed()
    assert len(cases) >= 150
    bad: list[str] = []
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for path, body in cases:
            headers = {**ANTHROPIC_HEADERS, "content-type": "application/json"}
            response = client.post(path, content=body, headers=headers)
            text = response.text
            if (
                not 400 <= response.status_code < 500
                or "Traceback" in text
                or re.search(r"\.py\b|/site-packages/", text)
            ):
                bad.append(f"{path} {body[:60]!r} -> {response.status_code} {text[:160]}")
    assert not bad, "\n".join(bad)


def test_a_malformed_body_gets_the_api_error_shape(gateway: Gateway) -> None:
    openai_answer = httpx.post(
        f"{gateway.url}/v1/chat/completions", content=b"[]", headers=auth(), timeout=10
    )
    assert openai_answer.status_code == 400
    assert "JSON object" in openai_answer.json()["error"]["message"]
    anthropic_answer = httpx.post(
        f"{gateway.url}/v1/messages",
        json={"model": "claude-3-5-haiku-20241022", "max_tokens": 5, "messages": "x"},
        headers=ANTHROPIC_HEADERS,
        timeout=10,
    )
    assert anthropic_answer.status_code == 400
    assert anthropic_answer.json()["type"] == "error"
    assert "'messages' must be a list" in anthropic_answer.json()["error"]["message"]


# ---------------------------------------------------------------- connections
def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setblocking(True)
    return sock


def test_a_connection_that_sends_nothing_or_trickles_is_closed_after_the_deadline(gateway: Gateway) -> None:
    port = _port(gateway)
    silent = _connect(port)
    trickle = _connect(port)
    began = time.monotonic()
    trickle.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    closed = {"silent": False, "trickle": False}
    deadline = began + 10
    silent.settimeout(0.2)
    trickle.settimeout(0.2)
    while time.monotonic() < deadline and not all(closed.values()):
        for name, sock in (("silent", silent), ("trickle", trickle)):
            if closed[name]:
                continue
            with contextlib.suppress(OSError):
                if name == "trickle":
                    sock.sendall(b"X")  # one header byte at a time, never the end
            try:
                closed[name] = sock.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                closed[name] = True
    elapsed = time.monotonic() - began
    silent.close()
    trickle.close()
    assert all(closed.values()), closed
    assert 2.5 < elapsed < 8, elapsed  # the configured 3 s, not forever


def _hold(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    held = []
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if first_bytes:
                sock.sendall(first_bytes)
            held.append(sock)
        except OSError:
            break
    return held


@pytest.mark.parametrize(
    "first_bytes", [b"", b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127"], ids=["idle", "half-sent"]
)
def test_valid_requests_are_answered_while_1100_connections_are_held(
    gateway: Gateway, first_bytes: bytes
) -> None:
    port = _port(gateway)
    held = _hold(port, 1100, first_bytes)
    try:
        assert len(held) == 1100
        times = [_answer_ok(gateway) for _ in range(5)]
        assert max(times) < 5, times
        closed = 0
        for sock in held:  # the ones that waited longest were closed to make room
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                closed += sock.recv(1) == b""
        assert closed >= 1100 - MOST_CONNECTIONS
    finally:
        for sock in held:
            sock.close()
    _answer_ok(gateway)


# ---------------------------------------------------------------- a malformed stream from Ollama
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_a_malformed_line_in_ollamas_stream_ends_in_an_error_not_a_finished_answer(
    gateway: Gateway, fake: FakeOllama, path: str
) -> None:
    fake.malformed("/api/chat", times=1)
    body = {**(MESSAGE if path == "/v1/messages" else CHAT), "stream": True}
    with httpx.stream(
        "POST", gateway.url + path, json=body, headers=ANTHROPIC_HEADERS, timeout=30
    ) as response:
        text = "".join(response.iter_text()) if response.status_code == 200 else response.read().decode()
    assert "end_turn" not in text and "[DONE]" not in text and '"finish_reason":"stop"' not in text
    if path == "/v1/messages":
        assert response.status_code == 200 and "event: error" in text  # after message_start
    else:
        assert response.status_code in (200, 502) and '"error"' in text
    assert "Traceback" not in text


def test_an_idle_keep_alive_connection_is_closed(gateway: Gateway) -> None:
    sock = socket.create_connection(("127.0.0.1", _port(gateway)), timeout=10)
    try:
        sock.sendall(b"GET /health/liveliness HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        began = time.monotonic()
        sock.settimeout(10)
        assert sock.recv(1) == b""  # closed by the gateway, not by the timeout here
        assert time.monotonic() - began < 6
    finally:
        sock.close()


# ---------------------------------------------------------------- the cap, on its own
class _Connection:
    def __init__(self, since: float | None) -> None:
        self.since = since
        self.dropped = False

    def waiting_since(self) -> float | None:
        return self.since

    def drop(self) -> None:
        self.dropped = True


def test_past_the_cap_the_longest_waiting_connection_makes_room() -> None:
    admission = Admission(cap=3)
    busy, old, young, new = _Connection(None), _Connection(1.0), _Connection(2.0), _Connection(3.0)
    for connection in (busy, old, young):
        admission.opened(connection)
    admission.waiting(old)  # answered, waiting again: now the youngest wait
    admission.opened(new)
    assert young.dropped and not (busy.dropped or old.dropped or new.dropped)
    assert admission.evicted == 1 and len(admission) == 3


def test_past_the_cap_with_every_connection_answering_the_new_one_is_closed() -> None:
    admission = Admission(cap=2)
    first, second, new = _Connection(None), _Connection(None), _Connection(5.0)
    for connection in (first, second, new):
        admission.opened(connection)
    assert new.dropped and not (first.dropped or second.dropped)
    assert admission.refused == 1 and len(admission) == 2
    admission.closed(first)
    assert len(admission) == 1


@pytest.mark.parametrize(("limit", "cap"), [(256, 128), (1024, 768), (4096, 1024), (1_048_576, 1024)])
def test_the_cap_leaves_room_under_the_file_limit(limit: int, cap: int) -> None:
    assert connection_cap(limit) == cap


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no open-file limit to raise")
def test_the_soft_file_limit_is_raised_to_the_hard_one() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))
        assert raise_file_limit() == (hard if hard != resource.RLIM_INFINITY else 65536)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == raise_file_limit()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_endless_headers_are_cut_off_before_the_deadline(gateway: Gateway) -> None:
    sock = socket.create_connection(("127.0.0.1", _port(gateway)), timeout=10)
    try:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ")
        began = time.monotonic()
        sent = 0
        with contextlib.suppress(OSError):  # the gateway closes the connection mid-send
            while sent < 8 * 1024 * 1024 and time.monotonic() - began < 2:
                sock.sendall(b"a" * 65536)
                sent += 65536
        assert sent < 8 * 1024 * 1024
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            while sock.recv(65536):  # a 400 from the HTTP parser, or nothing; then the end
                pass
        assert time.monotonic() - began < 2.5  # well before the 3 s receive deadline
    finally:
        sock.close()


def test_a_huge_model_name_is_refused_before_it_reaches_a_log(gateway: Gateway) -> None:
    body = {"model": "m" * 1_000_000, "messages": [{"role": "user", "content": "hi"}]}
    before = len(gateway.metrics.records())
    answer = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=auth(), timeout=30)
    assert answer.status_code == 400 and "1,000,000 characters" in answer.json()["error"]["message"]
    assert len(gateway.metrics.records()) == before, "nothing recorded (the request log would hold it)"
