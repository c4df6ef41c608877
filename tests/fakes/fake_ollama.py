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
- ``set_reply(model, text=, chunks=, tool_calls=, prompt_eval_count=, eval_count=, thinking=,
  split_calls=, round_trip=)``: tool calls come with Ollama's ``id`` and ``function.index``,
  all in one chunk unless ``split_calls``; ``round_trip``: only while the request offers the
  tools and holds no tool result yet (then ``text``); ``written=SHAPE``: the calls written as
  text in that shape (``<tool_call>`` tags, ``<function=…>`` XML, bare or fenced JSON). A model that can think thinks
  unless the request says ``think: false``.
- ``set_chunk_delay(seconds, path=None)``: a pause before each streamed chunk (each token of
  a ``stream: false`` answer takes as long, before the one answer).
- ``parallel = N``: at most N chat/generate answers at once, the others wait their turn (Ollama's
  ``OLLAMA_NUM_PARALLEL``; ``--parallel N`` or that variable for the process).
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
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, TextIO

from tests.fakes.ollama_catalog import (
    FakeModel,
    canonical_name,
    default_models,
    llama32_3b,
    nomic_embed_text,
    qwen3_8b,
    qwen25_coder_7b,
    tiny_model,
)
from tests.fakes.ollama_http import Handler, Server, Server6
from tests.fakes.ollama_records import (
    DEFAULT_CONTEXT_LENGTH,
    DEFAULT_VERSION,
    FOREVER,
    RUNNER_OPTIONS,
    WRITTEN_SHAPES,
    Fault,
    Loaded,
    PullSession,
    RecordedRequest,
    Reply,
    kv_bytes,
    now_utc,
)


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
        self._loaded: dict[str, Loaded] = {}
        self._vram_fraction: dict[str, float] = {}
        self._pull_done: dict[str, dict[str, int]] = {}
        self._pull_sessions: list[PullSession] = []
        self._requests: list[RecordedRequest] = []
        #: a model's reply, or a function of the request that returns one (a model that answers
        #: each turn of a conversation differently)
        self._replies: dict[str, Reply | Callable[[dict[str, Any]], Reply]] = {}
        self._faults: list[Fault] = []
        self._delays: dict[str | None, float] = {None: 0.0}
        self._release_generation = 0
        self._in_flight = 0
        self._held = 0
        #: answers generated at once, at most (``None``: no limit); others wait their turn, as
        #: with Ollama's ``OLLAMA_NUM_PARALLEL``
        self.parallel: int | None = None
        self._generating = 0
        self._connections: set[socket.socket] = set()
        self._closing = threading.Event()
        self._httpd: Server | None = None
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
        server_class = Server6 if ":" in self._host else Server
        httpd = server_class((self._host, self._port), Handler)
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
        thinking: str = "",
        split_calls: bool = False,
        round_trip: bool = False,
        written: str | None = None,
    ) -> None:
        with self._lock:
            self._replies[canonical_name(model)] = Reply(
                text,
                chunks,
                list(tool_calls or []),
                prompt_eval_count,
                eval_count,
                thinking,
                split_calls,
                round_trip,
                written,
            )

    def set_replier(self, model: str, replier: Callable[[dict[str, Any]], Reply]) -> None:
        """Answer ``model``'s chat requests with ``replier(request body)``."""
        with self._lock:
            self._replies[canonical_name(model)] = replier

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
            Fault("stall", "/api/pull", canonical_name(model), after_bytes=after_bytes, times=times)
        )

    def drop_after(self, path: str, chunks: int, times: int | None = 1) -> None:
        self._add_fault(Fault("drop", path, chunks=chunks, times=times))

    def fail(self, path: str, status: int = 500, error: str = "", times: int | None = None) -> None:
        message = error or f"fake failure on {path}"
        self._add_fault(Fault("fail", path, status=status, error=message, times=times))

    def malformed(self, path: str, times: int | None = None) -> None:
        self._add_fault(Fault("malformed", path, times=times))

    def hang(self, path: str, times: int | None = None) -> None:
        self._add_fault(Fault("hang", path, times=times))

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

    def _add_fault(self, fault: Fault) -> None:
        with self._cond:
            self._faults.append(fault)
            self._cond.notify_all()

    def _take_fault(self, kind: str, path: str, model: str | None = None) -> Fault | None:
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
        """Load (or refresh) ``model``; returns True when it was loaded for this request (it was
        not loaded, or loaded with other runner options, which makes Ollama load it again)."""
        with self._cond:
            self._expire()
            loaded = self._loaded.get(model.name)
            was_loaded = loaded is not None and loaded.serves(options)
            if keep_alive == 0:
                self._loaded.pop(model.name, None)
            else:
                ttl = FOREVER if keep_alive is None else dt.timedelta(seconds=keep_alive)
                ctx = int(options.get("num_ctx") or self.default_context_length)
                previous = self._loaded.get(model.name)
                runner = {k: options[k] for k in RUNNER_OPTIONS if k in options}
                if previous is not None and was_loaded:
                    ctx, runner = previous.context_length, {**previous.runner, **runner}
                expires = dt.datetime.now().astimezone() + ttl
                self._loaded[model.name] = Loaded(model, expires, ctx, runner)
            self._cond.notify_all()
            return not was_loaded

    def _ps_entry(self, loaded: Loaded) -> dict[str, Any]:
        model = loaded.model
        size = model.size + kv_bytes(model, loaded.context_length)
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


_CATALOG: dict[str, Callable[[], FakeModel]] = {
    m().name: m for m in (llama32_3b, qwen25_coder_7b, qwen3_8b, tiny_model, nomic_embed_text)
}


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
    parser.add_argument(
        "--pull-delay",
        type=float,
        default=0.0,
        help="seconds before each pull progress line (a slow download)",
    )
    parser.add_argument(
        "--pull-plan",
        action="append",
        default=[],
        metavar="MODEL=BYTES[:STEPS]",
        help="make MODEL pullable, downloading BYTES in STEPS progress lines (default 100); repeatable",
    )
    parser.add_argument(
        "--reply",
        action="append",
        default=[],
        metavar="MODEL=WORDS",
        help="MODEL answers with WORDS words, one streamed chunk each (a long answer); repeatable",
    )
    parser.add_argument(
        "--chunk-delay",
        type=float,
        default=0.0,
        help="seconds before each streamed chat/generate chunk (a model generating at that pace)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=int(os.environ.get("OLLAMA_NUM_PARALLEL") or 0),
        help="answer at most this many chat/generate requests at once, queueing the rest "
        "(as OLLAMA_NUM_PARALLEL; default: from it, else no limit)",
    )
    parser.add_argument(
        "--tool-call",
        action="append",
        default=[],
        metavar="MODEL=TOOL:JSON",
        help="MODEL calls TOOL with the JSON arguments while a request offers it, and says it is "
        "done once the tool's result comes back (a tool round trip); repeatable",
    )
    parser.add_argument(
        "--write-calls",
        choices=WRITTEN_SHAPES,
        help="the --tool-call calls are written as text in this shape instead of as tool calls",
    )
    parser.add_argument(
        "--add-model",
        action="append",
        default=[],
        choices=sorted(_CATALOG),
        help="also install this model (e.g. a model that can think); repeatable",
    )
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
    fake.set_chunk_delay(args.pull_delay, "/api/pull")
    fake.set_chunk_delay(args.chunk_delay)
    fake.parallel = args.parallel or None
    for plan in args.pull_plan:
        model, _, size = plan.partition("=")
        nbytes, _, steps = size.partition(":")
        fake.set_pull_plan(model, [int(nbytes), 1_429, 487], steps_per_layer=int(steps or 100))
    for reply in args.reply:
        model, _, words = reply.partition("=")
        count = int(words)
        fake.set_reply(model, " ".join(f"w{i}" for i in range(count)), chunks=count)
    for name in args.add_model:
        fake.add_model(_CATALOG[name]())
    for spec in args.tool_call:
        model, _, call = spec.partition("=")
        tool, _, arguments = call.partition(":")
        fake.set_reply(
            model,
            f"{tool} ran.",
            tool_calls=[{"function": {"name": tool, "arguments": json.loads(arguments or "{}")}}],
            round_trip=True,
            written=args.write_calls,
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
        f'time={now_utc()} level=INFO source=routes.go msg="Listening on {host}:{fake.port} '
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
