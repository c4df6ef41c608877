"""A stand-in for a cloud model: OpenAI's ``/v1/chat/completions`` and ``/v1/responses`` on
127.0.0.1.

A cloud entry with ``provider: openai`` and this server's ``url`` as its ``api_base`` is
served by LiteLLM as it would serve the real API (LiteLLM sends an Anthropic Messages request
for an OpenAI model to ``/v1/responses``); the server answers every request with
:attr:`FakeCloud.reply` (a whole completion, a stream of two chunks, or a whole response) and
keeps each request body, so a test sees what reached "the cloud".
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class FakeCloud:
    """Serves OpenAI chat completions until :meth:`stop` (or the ``with`` block ends)."""

    def __init__(self, reply: str = "Hello from the cloud.") -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                with cloud._lock:
                    cloud.bodies.append(body)
                if self.path.endswith("/responses") and not body.get("stream"):
                    payload = json.dumps(_response(body.get("model", ""), cloud.reply)).encode()
                    self._send(200, payload, "application/json")
                    return
                if not self.path.endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "no such route"}}', "application/json")
                    return
                if body.get("stream"):
                    self._send(200, _stream(body.get("model", ""), cloud.reply), "text/event-stream")
                else:
                    payload = json.dumps(_completion(body.get("model", ""), cloud.reply)).encode()
                    self._send(200, payload, "application/json")

            def _send(self, status: int, payload: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeCloud:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-cloud",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
    }


def _response(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "resp_cloud",
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": model,
        "output": [
            {
                "type": "message",
                "id": "msg_cloud",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {"input_tokens": 7, "output_tokens": 4, "total_tokens": 11},
    }


def _stream(model: str, text: str) -> bytes:
    base = {
        "id": "chatcmpl-cloud",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    chunks = [
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}],
        },
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks]
    return ("".join(lines) + "data: [DONE]\n\n").encode()
