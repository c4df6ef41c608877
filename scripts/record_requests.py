"""Record what a client really sends: a logging proxy in front of ``gatedeck serve``.

    .venv/bin/python scripts/record_requests.py --listen 4900 --to http://127.0.0.1:4000 --out rec/

Point the client at ``http://127.0.0.1:4900`` instead of the gateway. Each request is forwarded
unchanged (answers stream back as they arrive) and saved as ``rec/NNN.json``: method, path with
its query, headers (the key headers blanked) and the body (parsed JSON when it is JSON), plus
the answer's status and ``x-gatedeck-path``. ``scripts/shape_fixture.py`` turns a recording into
a fixture the repository can hold. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

#: Headers that carry a key: kept, with the value blanked (a fixture shows they were there).
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "cookie"})
#: Hop-by-hop headers the proxy does not pass on.
_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


def saved_headers(headers: Any) -> dict[str, str]:
    return {k.lower(): ("<key>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class Recorder:
    def __init__(self, upstream: str, out: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.out = out
        self.count = 0
        self.session: ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.count += 1
        number = self.count
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record: dict[str, Any] = {
            "method": request.method,
            "path": request.path_qs,
            "headers": saved_headers(request.headers),
            "body_bytes": len(raw),
            "body": body,
        }
        assert self.session is not None
        forward = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self.session.request(
            request.method, self.upstream + request.path_qs, data=raw, headers=forward
        ) as upstream:
            record["status"] = upstream.status
            record["answered_by"] = upstream.headers.get("x-gatedeck-path", "litellm")
            response = web.StreamResponse(
                status=upstream.status,
                headers={k: v for k, v in upstream.headers.items() if k.lower() not in _HOP},
            )
            path = self.out / f"{number:03d}.json"
            path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(
                f"{number:03d} {request.method} {request.path_qs} -> {record['status']} "
                f"({record['answered_by']}, {len(raw)} bytes)",
                file=sys.stderr,
                flush=True,
            )
            await response.prepare(request)
            try:
                async for data in upstream.content.iter_any():
                    await response.write(data)
                await response.write_eof()
            except ConnectionError:  # the client stopped reading (Codex does after the last event)
                pass
        return response


async def serve(port: int, upstream: str, out: Path) -> None:
    recorder = Recorder(upstream, out)
    recorder.session = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(
        f"recording requests on http://127.0.0.1:{port} -> {upstream}, into {out}",
        file=sys.stderr,
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await recorder.session.close()
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True, help="port to listen on (127.0.0.1)")
    parser.add_argument("--to", required=True, help="the gateway, e.g. http://127.0.0.1:4000")
    parser.add_argument("--out", type=Path, required=True, help="folder for the recorded requests")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(serve(args.listen, args.to, args.out))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
