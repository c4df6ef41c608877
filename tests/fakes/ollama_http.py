"""The HTTP side of the fake Ollama server: one handler thread per connection, chunked NDJSON
streams, and the endpoints of Ollama's ``docs/api.md``. State lives in
:class:`tests.fakes.fake_ollama.FakeOllama`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import select
import socket
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.fakes.ollama_catalog import FakeModel, canonical_name
from tests.fakes.ollama_records import (
    UNKNOWN_MANIFEST,
    ClientGone,
    PullSession,
    RecordedRequest,
    Reply,
    now_utc,
    option_error,
    parse_keep_alive,
    split_reply,
    written_calls,
)

if TYPE_CHECKING:
    from tests.fakes.fake_ollama import FakeOllama


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeOllama

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished mid-request is normal traffic for this fake, not a failure.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class Server6(Server):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Ollama's Go server sets TCP_NODELAY on every connection (Go's default); with Nagle on,
    # each small streamed line would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: Server
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
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
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
                    raise ClientGone("stopped")
                if self._client_gone():
                    raise ClientGone("client-gone")
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
            except ClientGone:
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
        """Ollama's EmbedHandler: a string or a list of strings; each text cut to the context
        unless ``truncate`` is false (then a longer one is a 400); vectors normalised, and cut
        to ``dimensions`` (normalised again). Like Ollama, it does not check the model's
        capabilities: a chat model embeds too."""
        fake = self.fake
        inputs = req.get("input")
        if isinstance(inputs, str):
            texts = [inputs] if inputs else []
        elif isinstance(inputs, list) and all(isinstance(t, str) for t in inputs):
            texts = list(inputs)
        elif inputs is None:
            texts = []
        else:
            self._send_json(400, {"error": "invalid input type"})
            return
        model = self._model_or_404(req.get("model"))
        if model is None:
            return
        options = req.get("options") or {}
        if (problem := option_error(options)) is not None:
            self._send_json(500, {"error": problem})
            return
        if (kept := self._keep_alive(req)) is None:
            return
        fresh = fake._load(model, kept[0], options)
        if not texts:
            self._send_json(200, {"model": req.get("model"), "embeddings": []})
            return
        with fake._lock:
            copy = fake._loaded.get(model.name)
        context = copy.context_length if copy is not None else fake.default_context_length
        arch = model.architecture
        context = min(context, int(model.model_info.get(f"{arch}.context_length") or context))
        width = int(model.model_info.get(f"{arch}.embedding_length") or 8)
        dimensions = req.get("dimensions") or 0
        embeddings: list[list[float]] = []
        counted = 0
        for text in texts:
            tokens = max(1, len(text) // 4)
            if tokens > context:
                if req.get("truncate") is False:
                    self._send_json(400, {"error": "the input length exceeds the context length"})
                    return
                text, tokens = text[: context * 4], context
            counted += tokens
            vector = _unit(fake_vector(text, width))
            if 0 < dimensions < len(vector):
                vector = _unit(vector[:dimensions])
            embeddings.append(vector)
        self._send_json(
            200,
            {
                "model": req.get("model"),
                "embeddings": embeddings,
                "total_duration": 14_143_917,
                "load_duration": 1_019_500 if not fresh else 812_000_000,
                "prompt_eval_count": counted,
            },
        )

    def _keep_alive(self, req: dict[str, Any]) -> tuple[float | None] | None:
        """The request's ``keep_alive`` in seconds (in a 1-tuple), or ``None`` once Ollama's 400
        for a value it cannot read was sent."""
        try:
            return (parse_keep_alive(req.get("keep_alive"), self.fake.default_keep_alive),)
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})
            return None

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
        if (kept := self._keep_alive(req)) is None:
            return
        keep_alive = kept[0]
        options = req.get("options") or {}
        stream = req.get("stream", True) is not False
        can_think = "thinking" in model.capabilities
        think = req.get("think") not in (None, False)
        if think and not can_think:
            # what Ollama answers (HTTP 400) when asked to think with a model that cannot
            self._send_json(400, {"error": f'"{model.name}" does not support thinking'})
            return
        if can_think and req.get("think") is None:
            think = True  # Ollama: a model that can think does when the request does not say
        if "completion" not in model.capabilities:
            # Ollama's scheduler checks the capability first (a model that only embeds)
            verb = "chat" if chat else "generate"
            self._send_json(400, {"error": f'"{name}" does not support {verb}'})
            return
        if (problem := option_error(options)) is not None:
            self._send_json(500, {"error": problem})  # Ollama's scheduler, reading the options
            return
        prompt_chars = (
            # the chat template writes the tools into the prompt too
            sum(len(str(m.get("content") or "")) for m in req.get("messages") or [])
            + (len(json.dumps(req["tools"])) if req.get("tools") else 0)
            if chat
            else len(str(req.get("prompt") or "")) + len(str(req.get("system") or ""))
        )
        empty = not (req.get("messages") if chat else req.get("prompt"))
        if empty:
            fake._load(model, keep_alive, options)
            reason = "unload" if keep_alive == 0 else "load"
            payload: dict[str, Any] = {"model": model.name, "created_at": now_utc()}
            payload.update({"message": {"role": "assistant", "content": ""}} if chat else {"response": ""})
            payload.update({"done_reason": reason, "done": True})
            self._send_json(200, payload)
            return

        fresh = fake._load(model, keep_alive if keep_alive != 0 else 300.0, options)
        with fake._lock:
            answer = fake._replies.get(model.name) or Reply(text=f"Hello from {model.name}.")
        reply = answer(req) if callable(answer) else answer
        calls = reply.calls_for(req) if chat else []
        text = reply.text
        if calls and reply.written:  # the model wrote its calls as text
            text, calls = written_calls(reply.written, calls), []
        pieces = split_reply(text, reply.chunks)
        done_reason = "stop"
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces, done_reason = pieces[:limit], "length"
        prompt_tokens = reply.prompt_eval_count or max(1, prompt_chars // 4)
        with fake._lock:
            copy = fake._loaded.get(model.name)
        if copy is not None and reply.prompt_eval_count is None:
            # Ollama cuts a longer prompt to the context, silently (a count a test set stands)
            prompt_tokens = min(prompt_tokens, copy.context_length)
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

        thoughts = split_reply(reply.thinking, None) if think else []

        def chunk(
            content: str, done: bool, tool_calls: list[dict[str, Any]] | None = None, thinking: str = ""
        ) -> dict[str, Any]:
            out: dict[str, Any] = {"model": model.name, "created_at": now_utc()}
            if chat:
                message: dict[str, Any] = {"role": "assistant", "content": content}
                if thinking:
                    message["thinking"] = thinking
                if tool_calls:
                    message["tool_calls"] = tool_calls
                out["message"] = message
            else:
                out["response"] = content
            out["done"] = done
            return out

        self._take_slot()  # Ollama answers OLLAMA_NUM_PARALLEL requests at once; the rest queue
        try:
            delay = fake._delay_for(path)
            if not stream:
                # Ollama generates every token before it answers, and stops when the client
                # leaves (Go cancels the request's context when the connection closes).
                tokens = len(pieces) + (len(thoughts) if chat else 0)
                for _ in range(tokens if delay > 0 else 0):
                    self._pause(delay)
                final = chunk("".join(pieces), True, calls, "".join(thoughts))
                final["done_reason"] = done_reason
                if not chat and not req.get("raw"):
                    final["context"] = list(range(1, prompt_tokens + eval_tokens + 1))[:64]
                final.update(stats)
                self._send_json(200, final)
                return
            out = _Stream(self, path)
            out.start()
            for thought in thoughts if chat else ():
                self._pause(delay)
                out.send(chunk("", False, thinking=thought))
            for piece in pieces:
                self._pause(delay)
                out.send(chunk(piece, False))
            for group in [[call] for call in calls] if reply.split_calls else [calls] if calls else []:
                out.send(chunk("", False, group))
            final = chunk("", True)
            final["done_reason"] = done_reason
            if not chat and not req.get("raw"):
                final["context"] = list(range(1, prompt_tokens + eval_tokens + 1))[:64]
            final.update(stats)
            out.send(final)
            out.finish()
        finally:
            with fake._cond:
                fake._generating -= 1
                fake._cond.notify_all()
            if keep_alive == 0:
                fake._load(model, 0, options)

    def _take_slot(self) -> None:
        """Wait until fewer than ``fake.parallel`` answers are being generated (a client that
        leaves, or the server stopping, ends the wait)."""
        fake = self.fake
        with fake._cond:
            while fake.parallel and fake._generating >= fake.parallel:
                if fake._closing.is_set():
                    raise ClientGone("stopped")
                fake._cond.wait(0.02)
                if self._client_gone():
                    raise ClientGone("client-gone")
            fake._generating += 1

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
            for status in ("verifying sha256 digest", "writing manifest"):
                out.send({"status": status})
                stall_at = fake._stall_point(name)
                if status.startswith("verifying") and stall_at is not None and stall_at >= sum(model.layers):
                    # a stall at the full size: Ollama hashing every layer, saying nothing meanwhile
                    fake._take_fault("stall", "/api/pull", name)
                    self._pause(0, until_released=True)
            # the manifest is written before "success" is said: a client that heard it finds
            # the model in /api/tags at once, as with Ollama
            with fake._cond:
                installed = model.copy_as(name)
                installed.modified_at = dt.datetime.now().astimezone().isoformat()
                fake._installed[name] = installed
                fake._pull_done.pop(name, None)
                fake._cond.notify_all()
            out.send({"status": "success"})
            if stream:
                out.finish()
            else:
                self._send_json(200, {"status": "success"})
            outcome = "success"
        except ClientGone as gone:
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


def fake_vector(text: str, width: int) -> list[float]:
    """A made-up embedding of ``text``: the same text always gives the same vector."""
    seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(text[:256])) + len(text)
    return [math.sin(seed + i * 0.7) for i in range(width)]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class _Stream:
    """A chunked NDJSON response that can be cut on purpose (``drop_after``)."""

    def __init__(self, handler: Handler, path: str, silent: bool = False) -> None:
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
            raise ClientGone("dropped")
        self.sent += 1
        if not self.silent:
            self.write_raw(json.dumps(obj).encode() + b"\n")

    def write_raw(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as exc:
            raise ClientGone("client-gone") from exc

    def finish(self) -> None:
        try:
            self.handler.wfile.write(b"0\r\n\r\n")
        except OSError as exc:
            raise ClientGone("client-gone") from exc
