"""A fake Ollama server speaking Ollama's documented HTTP API over real HTTP on 127.0.0.1.

It is a server, not a mock: clients (the official ``ollama`` package, LiteLLM, GateDeck's core)
talk to it through real sockets, HTTP/1.1 keep-alive and chunked NDJSON streams, exactly as they
would talk to ``ollama serve``. Shapes follow Ollama's ``docs/api.md``.

In-process::

    with FakeOllama(models=[llama32_3b()]) as fake:
        client = ollama.Client(host=fake.url)
        fake.set_reply("llama3.2:3b", text="Hi there", chunks=2)
        ...
        assert fake.bodies("/api/chat")[0]["options"]["num_ctx"] == 8192

As a separate process (killable, or started by a fake ``ollama`` executable)::

    python -m tests.fakes.fake_ollama --host 127.0.0.1 --port 11555
    OLLAMA_HOST=127.0.0.1:11555 python -m tests.fakes.fake_ollama serve

Test controls (all thread-safe, all usable while a request is in flight):

- ``requests`` / ``bodies(path)`` / ``wait_for_requests(path, count)``: what clients sent.
- ``set_reply(model, text=, chunks=, tool_calls=, prompt_eval_count=, eval_count=)``.
- ``set_chunk_delay(seconds, path=None)``: a pause before each streamed chunk.
- ``set_pull_plan(model, layer_sizes, steps_per_layer)``: layers a pull downloads.
- ``stall_pull(model, after_bytes, times=1)``: stop sending once the model's downloaded bytes
  reach ``after_bytes`` and hold the connection open until ``release()`` or the client leaves
  (``after_bytes`` ≥ the model's size: silent after "verifying sha256 digest", as Ollama is
  while it hashes the layers).
- ``drop_after(path, chunks, times=1)``: cut the connection after ``chunks`` streamed lines
  (``chunks=0``: close it without answering, on any path).
- ``fail(path, status=500, error=..., times=None)``: answer an HTTP error.
- ``malformed(path, times=None)``: answer a body that is not valid JSON / NDJSON.
- ``hang(path, times=None)``: answer nothing until ``release()`` or the client leaves.
- ``pull_sessions(model)``: each pull's starting and ending byte count and how it ended; a
  pull resumes from the bytes already downloaded, as Ollama does after a cancel.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import re
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import urlsplit

from tests.fakes.ollama_catalog import FakeModel, canonical_name, default_models, tiny_model

DEFAULT_VERSION = "0.12.6"
DEFAULT_CONTEXT_LENGTH = 4096
FOREVER = dt.timedelta(days=365 * 290)  # Ollama reports "keep loaded" as an expiry centuries away
UNKNOWN_MANIFEST = "pull model manifest: file does not exist"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, the raw text when it was not JSON, or None when empty


@dataclass
class Reply:
    """What a model answers on /api/chat and /api/generate."""

    text: str = ""
    chunks: int | None = None  # streamed pieces; None → one piece per word
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_eval_count: int | None = None
    eval_count: int | None = None


@dataclass(frozen=True)
class PullSession:
    """One /api/pull as the fake served it: bytes done when it began and ended, and how it ended.

    ``outcome`` is one of ``success``, ``error`` (unknown model), ``client-gone`` (the client
    closed the connection), ``dropped`` (the fake cut it on purpose), ``stopped`` (server stop).
    """

    model: str
    started_at: int
    ended_at: int
    outcome: str


@dataclass
class _Fault:
    kind: str  # fail | malformed | hang | drop | stall
    path: str
    model: str | None = None
    status: int = 500
    error: str = ""
    chunks: int = 0
    after_bytes: int = 0
    times: int | None = None


@dataclass
class _Loaded:
    model: FakeModel
    expires_at: dt.datetime
    context_length: int


class _ClientGone(Exception):
    """The client closed its end (or the fake dropped it); stop serving this request."""

    def __init__(self, outcome: str = "client-gone") -> None:
        super().__init__(outcome)
        self.outcome = outcome


def parse_keep_alive(value: Any, default: Any = "5m") -> float | None:
    """Seconds to stay loaded; ``None`` means forever (negative), ``0`` means unload now.

    Accepts what Ollama accepts: a number of seconds or a Go-style duration string ("5m",
    "1h30m", "300ms", "0", "-1").
    """
    if value is None:
        value = default
    if isinstance(value, bool):
        raise ValueError("keep_alive must be a number or a duration")
    if isinstance(value, int | float):
        return None if value < 0 else float(value)
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        number = float(text)
        return None if number < 0 else number
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    sign = -1.0 if text.startswith("-") else 1.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text.lstrip("+-"))
    if not parts or "".join(n + u for n, u in parts) != text.lstrip("+-"):
        raise ValueError(f"time: invalid duration {text!r}")
    seconds = sign * sum(float(n) * units[u] for n, u in parts)
    return None if seconds < 0 else seconds


def _now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _kv_bytes(model: FakeModel, ctx: int) -> int:
    info, arch = model.model_info, model.architecture
    layers = int(info.get(f"{arch}.block_count", 0))
    heads = int(info.get(f"{arch}.attention.head_count", 1)) or 1
    kv_heads = int(info.get(f"{arch}.attention.head_count_kv", heads))
    head_dim = int(
        info.get(f"{arch}.attention.key_length", int(info.get(f"{arch}.embedding_length", 0)) // heads)
    )
    return layers * ctx * kv_heads * head_dim * 2 * 2


class FakeOllama:
    """The fake server. Start with ``start()`` or a ``with`` block; ``url`` is where it listens."""

    def __init__(
        self,
        models: list[FakeModel] | None = None,
        *,
        library: list[FakeModel] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        version: str = DEFAULT_VERSION,
        default_keep_alive: str | float = "5m",
        default_context_length: int = DEFAULT_CONTEXT_LENGTH,
        log: TextIO | None = None,
    ) -> None:
        installed = default_models() if models is None else models
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._installed: dict[str, FakeModel] = {m.name: m for m in installed}
        pullable = library if library is not None else [*installed, tiny_model()]
        self._library: dict[str, FakeModel] = {m.name: m.copy_as(m.name) for m in pullable}
        self._steps: dict[str, int] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._vram_fraction: dict[str, float] = {}
        self._pull_done: dict[str, dict[str, int]] = {}
        self._pull_sessions: list[PullSession] = []
        self._requests: list[RecordedRequest] = []
        self._replies: dict[str, Reply] = {}
        self._faults: list[_Fault] = []
        self._delays: dict[str | None, float] = {None: 0.0}
        self._release_generation = 0
        self._in_flight = 0
        self._held = 0
        self._connections: set[socket.socket] = set()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._host, self._port = host, port
        self.version = version
        self.default_keep_alive = default_keep_alive
        self.default_context_length = default_context_length
        self.log = log

    # ------------------------------------------------------------------ lifecycle
    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    def start(self) -> FakeOllama:
        server_class = _Server6 if ":" in self._host else _Server
        httpd = server_class((self._host, self._port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._closing.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, release stalled streams and close every open connection."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.wait_until(lambda: not self._connections, timeout=5.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ observation
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def bodies(self, path: str) -> list[Any]:
        """The parsed JSON bodies received on ``path``, oldest first."""
        return [r.body for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for_requests(self, path: str, count: int = 1, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until ``count`` requests reached ``path``; raise ``TimeoutError`` otherwise."""
        if not self.wait_until(lambda: len([r for r in self._requests if r.path == path]) >= count, timeout):
            raise TimeoutError(f"fewer than {count} request(s) reached {path} within {timeout} s")
        return [r for r in self.requests if r.path == path]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait (on the server's condition, not a sleep) until ``predicate()`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    @property
    def in_flight(self) -> int:
        """Requests being answered right now (streams included)."""
        with self._lock:
            return self._in_flight

    @property
    def held(self) -> int:
        """Streams or requests held open right now by ``stall_pull`` or ``hang``."""
        with self._lock:
            return self._held

    def installed(self) -> list[str]:
        with self._lock:
            return list(self._installed)

    def loaded(self) -> list[str]:
        with self._lock:
            self._expire()
            return list(self._loaded)

    def pull_sessions(self, model: str | None = None) -> list[PullSession]:
        with self._lock:
            sessions = list(self._pull_sessions)
        return sessions if model is None else [s for s in sessions if s.model == canonical_name(model)]

    def wait_for_pull_sessions(self, model: str, count: int, timeout: float = 10.0) -> list[PullSession]:
        """Block until ``count`` pulls of ``model`` have ended (a session is recorded when the
        handler finishes, which can be a moment after the client saw the last line)."""
        if not self.wait_until(lambda: len(self.pull_sessions(model)) >= count, timeout):
            raise TimeoutError(f"fewer than {count} pull(s) of {model} ended within {timeout} s")
        return self.pull_sessions(model)

    def pull_completed_bytes(self, model: str) -> int:
        """Bytes of ``model`` downloaded so far by unfinished pulls (what a new pull resumes from)."""
        with self._lock:
            return sum(self._pull_done.get(canonical_name(model), {}).values())

    # ------------------------------------------------------------------ programming
    def add_model(self, model: FakeModel, *, installed: bool = True) -> None:
        with self._cond:
            self._library[model.name] = model.copy_as(model.name)
            if installed:
                self._installed[model.name] = model
            self._cond.notify_all()

    def set_reply(
        self,
        model: str,
        text: str = "",
        *,
        chunks: int | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        prompt_eval_count: int | None = None,
        eval_count: int | None = None,
    ) -> None:
        with self._lock:
            self._replies[canonical_name(model)] = Reply(
                text, chunks, list(tool_calls or []), prompt_eval_count, eval_count
            )

    def set_chunk_delay(self, seconds: float, path: str | None = None) -> None:
        with self._lock:
            self._delays[path] = seconds

    def set_pull_plan(self, model: str, layer_sizes: list[int], steps_per_layer: int = 4) -> None:
        """Make a pull of ``model`` download these layers, each in ``steps_per_layer`` progress lines."""
        name = canonical_name(model)
        with self._lock:
            base = self._library.get(name) or self._installed.get(name) or tiny_model(name)
            plan = base.copy_as(name)
            plan.layers = list(layer_sizes)
            plan.size = sum(layer_sizes)
            self._library[name] = plan
            self._steps[name] = max(1, steps_per_layer)
            self._pull_done.pop(name, None)

    def set_vram_fraction(self, model: str, fraction: float) -> None:
        """Share of a loaded model's memory that /api/ps reports in VRAM (1.0 → 100% GPU)."""
        with self._lock:
            self._vram_fraction[canonical_name(model)] = fraction

    def stall_pull(self, model: str, after_bytes: int, times: int | None = 1) -> None:
        self._add_fault(
            _Fault("stall", "/api/pull", canonical_name(model), after_bytes=after_bytes, times=times)
        )

    def drop_after(self, path: str, chunks: int, times: int | None = 1) -> None:
        self._add_fault(_Fault("drop", path, chunks=chunks, times=times))

    def fail(self, path: str, status: int = 500, error: str = "", times: int | None = None) -> None:
        message = error or f"fake failure on {path}"
        self._add_fault(_Fault("fail", path, status=status, error=message, times=times))

    def malformed(self, path: str, times: int | None = None) -> None:
        self._add_fault(_Fault("malformed", path, times=times))

    def hang(self, path: str, times: int | None = None) -> None:
        self._add_fault(_Fault("hang", path, times=times))

    def release(self) -> None:
        """Let stalled pulls and hung requests go on."""
        with self._cond:
            self._faults = [f for f in self._faults if f.kind not in ("stall", "hang")]
            self._release_generation += 1
            self._cond.notify_all()

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()
            self._release_generation += 1
            self._cond.notify_all()

    def _add_fault(self, fault: _Fault) -> None:
        with self._cond:
            self._faults.append(fault)
            self._cond.notify_all()

    def _take_fault(self, kind: str, path: str, model: str | None = None) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.path == path and (fault.model in (None, model)):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _peek_drop(self, path: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == "drop" and fault.path == path:
                    return fault.chunks
        return None

    def _stall_point(self, model: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind == "stall" and fault.model == model:
                    return fault.after_bytes
        return None

    # ------------------------------------------------------------------ state used by the handler
    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    @contextlib.contextmanager
    def _serving(self) -> Iterator[None]:
        with self._cond:
            self._in_flight += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def _delay_for(self, path: str) -> float:
        with self._lock:
            return self._delays.get(path, self._delays[None])

    def _expire(self) -> None:
        now = dt.datetime.now().astimezone()
        for name in [n for n, m in self._loaded.items() if m.expires_at <= now]:
            del self._loaded[name]

    def _load(self, model: FakeModel, keep_alive: float | None, options: dict[str, Any]) -> bool:
        """Load (or refresh) ``model``; returns True when it was not loaded before."""
        with self._cond:
            self._expire()
            was_loaded = model.name in self._loaded
            if keep_alive == 0:
                self._loaded.pop(model.name, None)
            else:
                ttl = FOREVER if keep_alive is None else dt.timedelta(seconds=keep_alive)
                ctx = int(options.get("num_ctx") or self.default_context_length)
                previous = self._loaded.get(model.name)
                if previous is not None and "num_ctx" not in options:
                    ctx = previous.context_length
                self._loaded[model.name] = _Loaded(model, dt.datetime.now().astimezone() + ttl, ctx)
            self._cond.notify_all()
            return not was_loaded

    def _ps_entry(self, loaded: _Loaded) -> dict[str, Any]:
        model = loaded.model
        size = model.size + _kv_bytes(model, loaded.context_length)
        fraction = self._vram_fraction.get(model.name, 1.0)
        return {
            "name": model.name,
            "model": model.name,
            "size": size,
            "digest": model.digest,
            "details": model.details(),
            "expires_at": loaded.expires_at.isoformat(),
            "size_vram": int(size * fraction),
            "context_length": loaded.context_length,
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeOllama

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished mid-request is normal traffic for this fake, not a failure.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    server_version = "FakeOllama"
    sys_version = ""

    # ------------------------------------------------------------------ plumbing
    @property
    def fake(self) -> FakeOllama:
        return self.server.fake

    def setup(self) -> None:
        super().setup()
        with self.fake._cond:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.fake._cond:
            self.fake._connections.discard(self.connection)
            self.fake._cond.notify_all()

    def log_message(self, format: str, *args: Any) -> None:
        if self.fake.log is not None:
            stamp = time.strftime("%Y/%m/%d - %H:%M:%S")
            print(
                f"[GIN] {stamp} | {self.address_string()} | {format % args}", file=self.fake.log, flush=True
            )

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _pause(self, seconds: float, until_released: bool = False) -> None:
        """Wait ``seconds`` (or, with ``until_released``, until ``release()``) unless the client leaves."""
        fake = self.fake
        deadline = time.monotonic() + seconds
        with fake._cond:
            generation = fake._release_generation
            if until_released:
                fake._held += 1
                fake._cond.notify_all()
        try:
            while True:
                if fake._closing.is_set():
                    raise _ClientGone("stopped")
                if self._client_gone():
                    raise _ClientGone("client-gone")
                with fake._cond:
                    if until_released and fake._release_generation != generation:
                        return
                    remaining = deadline - time.monotonic()
                    if not until_released and remaining <= 0:
                        return
                    fake._cond.wait(0.02 if until_released else min(remaining, 0.02))
        finally:
            if until_released:
                with fake._cond:
                    fake._held -= 1
                    fake._cond.notify_all()

    def _send_json(self, status: int, payload: Any) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_text(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # ------------------------------------------------------------------ dispatch
    def _handle(self) -> None:
        path = urlsplit(self.path).path
        raw = self._read_body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.fake._record(RecordedRequest(self.command, path, headers, body))
        with self.fake._serving():
            try:
                self._dispatch(path, body)
            except _ClientGone:
                self.close_connection = True
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def _dispatch(self, path: str, body: Any) -> None:
        fake = self.fake
        if (fault := fake._take_fault("fail", path)) is not None:
            self._send_json(fault.status, {"error": fault.error})
            return
        if fake._take_fault("hang", path) is not None:
            self._pause(0, until_released=True)
        if fake._take_fault("malformed", path) is not None:
            self._send_malformed(path)
            return
        if fake._peek_drop(path) == 0:  # drop_after(path, 0): close without any answer
            fake._take_fault("drop", path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if body is not None and not isinstance(body, dict):
            self._send_json(400, {"error": "invalid character in request body"})
            return
        req: dict[str, Any] = body or {}
        routes: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
            ("GET", "/"): lambda _: self._send_text(200, "Ollama is running"),
            ("HEAD", "/"): lambda _: self._send_text(200, "Ollama is running"),
            ("GET", "/api/version"): lambda _: self._send_json(200, {"version": fake.version}),
            ("HEAD", "/api/version"): lambda _: self._send_json(200, {"version": fake.version}),
            ("GET", "/api/tags"): self._tags,
            ("GET", "/api/ps"): self._ps,
            ("POST", "/api/show"): self._show,
            ("POST", "/api/chat"): self._chat,
            ("POST", "/api/generate"): self._generate,
            ("POST", "/api/pull"): self._pull,
            ("DELETE", "/api/delete"): self._delete,
            ("POST", "/api/copy"): self._copy,
            ("POST", "/api/embed"): self._embed,
        }
        route = routes.get((self.command, path))
        if route is None:
            self._send_text(404, "404 page not found")
            return
        route(req)

    def _send_malformed(self, path: str) -> None:
        if path in ("/api/pull", "/api/chat", "/api/generate"):
            stream = _Stream(self, path)
            stream.start()
            stream.write_raw(
                b'{"status":"pulling manifest"}\n' if path == "/api/pull" else b'{"model":"x","do'
            )
            stream.write_raw(b'{"status": "pulling 6a0746a1ec1a", "digest": sha256\n')
            stream.finish()
        else:
            data = b'{"models": [{"name": "llama3.2:3b", "size": '
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def _model_or_404(self, name: Any) -> FakeModel | None:
        with self.fake._lock:
            model = self.fake._installed.get(canonical_name(str(name or "")))
        if model is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
        return model

    # ------------------------------------------------------------------ endpoints
    def _tags(self, _: dict[str, Any]) -> None:
        with self.fake._lock:
            models = list(self.fake._installed.values())
        self._send_json(
            200,
            {
                "models": [
                    {
                        "name": m.name,
                        "model": m.name,
                        "modified_at": m.modified_at,
                        "size": m.size,
                        "digest": m.digest,
                        "details": m.details(),
                    }
                    for m in models
                ]
            },
        )

    def _ps(self, _: dict[str, Any]) -> None:
        fake = self.fake
        with fake._lock:
            fake._expire()
            entries = [fake._ps_entry(loaded) for loaded in fake._loaded.values()]
        self._send_json(200, {"models": entries})

    def _show(self, req: dict[str, Any]) -> None:
        model = self._model_or_404(req.get("model") or req.get("name"))
        if model is None:
            return
        params = "".join(
            f"\nPARAMETER {line.split(None, 1)[0]} {line.split(None, 1)[1].strip()}"
            for line in model.parameters.splitlines()
            if line.strip()
        )
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this one, replace the FROM line with:\n"
            f"# FROM {model.name}\n\n"
            f"FROM /root/.ollama/models/blobs/sha256-{model.layer_digests()[0][7:]}\n"
            f'TEMPLATE """{model.template}"""{params}\n'
        )
        self._send_json(
            200,
            {
                "license": "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT"
                if model.family == "llama"
                else "Apache License",
                "modelfile": modelfile,
                "parameters": model.parameters,
                "template": model.template,
                "details": model.details(),
                "model_info": model.model_info,
                "capabilities": list(model.capabilities),
                "modified_at": model.modified_at,
            },
        )

    def _delete(self, req: dict[str, Any]) -> None:
        name = req.get("model") or req.get("name")
        model = self._model_or_404(name)
        if model is None:
            return
        with self.fake._cond:
            self.fake._installed.pop(model.name, None)
            self.fake._loaded.pop(model.name, None)
            self.fake._cond.notify_all()
        self._send_json(200, None)

    def _copy(self, req: dict[str, Any]) -> None:
        source = self._model_or_404(req.get("source"))
        if source is None:
            return
        destination = str(req.get("destination") or "")
        if not destination:
            self._send_json(400, {"error": "destination name is required"})
            return
        copy = source.copy_as(destination)
        with self.fake._cond:
            self.fake._installed[copy.name] = copy
            self.fake._cond.notify_all()
        self._send_json(200, None)

    def _embed(self, req: dict[str, Any]) -> None:
        model = self._model_or_404(req.get("model"))
        if model is None:
            return
        inputs = req.get("input", "")
        texts = inputs if isinstance(inputs, list) else [inputs]
        fresh = self.fake._load(
            model, parse_keep_alive(req.get("keep_alive"), self.fake.default_keep_alive), {}
        )
        embeddings = [[round(math.sin(len(t) + i) / 2, 6) for i in range(8)] for t in texts]
        self._send_json(
            200,
            {
                "model": model.name,
                "embeddings": embeddings,
                "total_duration": 14_143_917,
                "load_duration": 1_019_500 if not fresh else 812_000_000,
                "prompt_eval_count": sum(max(1, len(str(t)) // 4) for t in texts),
            },
        )

    def _chat(self, req: dict[str, Any]) -> None:
        self._complete(req, chat=True)

    def _generate(self, req: dict[str, Any]) -> None:
        self._complete(req, chat=False)

    def _complete(self, req: dict[str, Any], *, chat: bool) -> None:
        fake = self.fake
        path = "/api/chat" if chat else "/api/generate"
        name = req.get("model")
        model = self._model_or_404(name)
        if model is None:
            return
        try:
            keep_alive = parse_keep_alive(req.get("keep_alive"), fake.default_keep_alive)
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})
            return
        options = req.get("options") or {}
        stream = req.get("stream", True) is not False
        prompt_chars = (
            sum(len(str(m.get("content") or "")) for m in req.get("messages") or [])
            if chat
            else len(str(req.get("prompt") or "")) + len(str(req.get("system") or ""))
        )
        empty = not (req.get("messages") if chat else req.get("prompt"))
        if empty:
            fake._load(model, keep_alive, options)
            reason = "unload" if keep_alive == 0 else "load"
            payload: dict[str, Any] = {"model": model.name, "created_at": _now_utc()}
            payload.update({"message": {"role": "assistant", "content": ""}} if chat else {"response": ""})
            payload.update({"done_reason": reason, "done": True})
            self._send_json(200, payload)
            return

        fresh = fake._load(model, keep_alive if keep_alive != 0 else 300.0, options)
        with fake._lock:
            reply = fake._replies.get(model.name) or Reply(text=f"Hello from {model.name}.")
        pieces = _split(reply.text, reply.chunks)
        done_reason = "stop"
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces, done_reason = pieces[:limit], "length"
        prompt_tokens = reply.prompt_eval_count or max(1, prompt_chars // 4)
        eval_tokens = reply.eval_count or max(1, len(pieces))
        load_ns = 2_512_345_678 if fresh else 11_234_567
        stats = {
            "total_duration": load_ns + prompt_tokens * 400_000 + eval_tokens * 20_000_000 + 3_000_000,
            "load_duration": load_ns,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": prompt_tokens * 400_000,
            "eval_count": eval_tokens,
            "eval_duration": eval_tokens * 20_000_000,
        }

        def chunk(content: str, done: bool, tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {"model": model.name, "created_at": _now_utc()}
            if chat:
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if tool_calls:
                    message["tool_calls"] = tool_calls
                out["message"] = message
            else:
                out["response"] = content
            out["done"] = done
            return out

        try:
            if not stream:
                final = chunk("".join(pieces), True, reply.tool_calls)
                final["done_reason"] = done_reason
                if not chat and not req.get("raw"):
                    final["context"] = list(range(1, prompt_tokens + eval_tokens + 1))[:64]
                final.update(stats)
                self._send_json(200, final)
                return
            out = _Stream(self, path)
            out.start()
            delay = fake._delay_for(path)
            for piece in pieces:
                self._pause(delay)
                out.send(chunk(piece, False))
            if reply.tool_calls:
                out.send(chunk("", False, reply.tool_calls))
            final = chunk("", True)
            final["done_reason"] = done_reason
            if not chat and not req.get("raw"):
                final["context"] = list(range(1, prompt_tokens + eval_tokens + 1))[:64]
            final.update(stats)
            out.send(final)
            out.finish()
        finally:
            if keep_alive == 0:
                fake._load(model, 0, options)

    def _pull(self, req: dict[str, Any]) -> None:
        fake = self.fake
        name = canonical_name(str(req.get("model") or req.get("name") or ""))
        stream = req.get("stream", True) is not False
        with fake._lock:
            model = fake._library.get(name) or fake._installed.get(name)
            steps = fake._steps.get(name, 4)
            done_map = fake._pull_done.setdefault(name, {}) if model is not None else {}
            started_at = sum(done_map.values())
        out = _Stream(self, "/api/pull", silent=not stream)
        outcome = "error"
        reached = started_at  # bytes done as of this pull's last step (others may go on after it)
        try:
            out.start()
            out.send({"status": "pulling manifest"})
            if model is None:
                if stream:
                    out.send({"error": UNKNOWN_MANIFEST})
                    out.finish()
                else:
                    self._send_json(500, {"error": UNKNOWN_MANIFEST})
                return
            delay = fake._delay_for("/api/pull")
            for digest, size in zip(model.layer_digests(), model.layers, strict=True):
                status = f"pulling {digest[7:19]}"
                with fake._lock:
                    completed = done_map.get(digest, 0)
                first: dict[str, Any] = {"status": status, "digest": digest, "total": size}
                if completed:
                    first["completed"] = completed
                out.send(first)
                step = max(1, math.ceil(size / steps))
                while completed < size:
                    stall_at = fake._stall_point(name)
                    with fake._lock:
                        position = sum(done_map.values())
                    if stall_at is not None and position >= stall_at:
                        fake._take_fault("stall", "/api/pull", name)
                        self._pause(0, until_released=True)
                    self._pause(delay)
                    completed = min(size, completed + step)
                    with fake._cond:
                        done_map[digest] = completed
                        reached = sum(done_map.values())
                        fake._cond.notify_all()
                    out.send({"status": status, "digest": digest, "total": size, "completed": completed})
            for status in ("verifying sha256 digest", "writing manifest", "success"):
                out.send({"status": status})
                stall_at = fake._stall_point(name)
                if status.startswith("verifying") and stall_at is not None and stall_at >= sum(model.layers):
                    # a stall at the full size: Ollama hashing every layer, saying nothing meanwhile
                    fake._take_fault("stall", "/api/pull", name)
                    self._pause(0, until_released=True)
            with fake._cond:
                installed = model.copy_as(name)
                installed.modified_at = dt.datetime.now().astimezone().isoformat()
                fake._installed[name] = installed
                fake._pull_done.pop(name, None)
                fake._cond.notify_all()
            if stream:
                out.finish()
            else:
                self._send_json(200, {"status": "success"})
            outcome = "success"
        except _ClientGone as gone:
            outcome = "stopped" if fake._closing.is_set() else gone.outcome
            raise
        except (BrokenPipeError, ConnectionResetError):
            outcome = "stopped" if fake._closing.is_set() else "client-gone"
            raise
        finally:
            with fake._cond:
                ended_at = model.size if outcome == "success" and model else reached
                fake._pull_sessions.append(PullSession(name, started_at, ended_at, outcome))
                fake._cond.notify_all()


class _Stream:
    """A chunked NDJSON response that can be cut on purpose (``drop_after``)."""

    def __init__(self, handler: _Handler, path: str, silent: bool = False) -> None:
        self.handler = handler
        self.silent = silent  # stream=false: work through the steps, answer once at the end
        fault = handler.fake._take_fault("drop", path)
        self.drop_after = fault.chunks if fault is not None else None
        self.sent = 0

    def start(self) -> None:
        if self.silent:
            return
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", "application/x-ndjson")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

    def send(self, obj: dict[str, Any]) -> None:
        if self.drop_after is not None and self.sent >= self.drop_after:
            self.handler.close_connection = True
            with contextlib.suppress(OSError):
                self.handler.connection.shutdown(socket.SHUT_RDWR)
            raise _ClientGone("dropped")
        self.sent += 1
        if not self.silent:
            self.write_raw(json.dumps(obj).encode() + b"\n")

    def write_raw(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as exc:
            raise _ClientGone("client-gone") from exc

    def finish(self) -> None:
        try:
            self.handler.wfile.write(b"0\r\n\r\n")
        except OSError as exc:
            raise _ClientGone("client-gone") from exc


def _split(text: str, chunks: int | None) -> list[str]:
    if not text:
        return []
    if chunks is None:
        words = re.findall(r"\S+\s*|\s+", text)
        return words or [text]
    chunks = max(1, min(chunks, len(text)))
    size = math.ceil(len(text) / chunks)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _host_port_from_env(value: str | None) -> tuple[str, int]:
    """Parse ``OLLAMA_HOST`` the way ``ollama serve`` does: ``host``, ``host:port``, ``:port``, a URL."""
    if not value:
        return "127.0.0.1", 11434
    text = value.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 11434)
    host, sep, port = text.rpartition(":")
    if not sep:
        return text or "127.0.0.1", 11434
    return host or "127.0.0.1", int(port or 11434)


def main(argv: list[str] | None = None) -> int:
    """Run the fake as a process until SIGTERM/SIGINT (``ollama serve`` stand-in)."""
    parser = argparse.ArgumentParser(prog="fake_ollama", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve"])
    parser.add_argument("--host", help="address to listen on (default: from OLLAMA_HOST, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: from OLLAMA_HOST, else 11434)")
    parser.add_argument("--version", dest="server_version", default=DEFAULT_VERSION)
    parser.add_argument("--empty", action="store_true", help="start with no installed models")
    args = parser.parse_args(argv)
    env_host, env_port = _host_port_from_env(os.environ.get("OLLAMA_HOST"))
    host = args.host or env_host
    port = args.port if args.port is not None else env_port
    keep_alive = os.environ.get("OLLAMA_KEEP_ALIVE") or "5m"
    context = int(os.environ.get("OLLAMA_CONTEXT_LENGTH") or DEFAULT_CONTEXT_LENGTH)
    fake = FakeOllama(
        [] if args.empty else None,
        host=host,
        port=port,
        version=args.server_version,
        default_keep_alive=keep_alive,
        default_context_length=context,
        log=sys.stderr,
    )
    try:
        fake.start()
    except OSError as exc:
        print(f"Error: listen tcp {host}:{port}: {exc.strerror or exc}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(
        f'time={_now_utc()} level=INFO source=routes.go msg="Listening on {host}:{fake.port} '
        f'(version {fake.version})"',
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.2):
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
