"""Talking to one Ollama server: reachability, models, loaded models, delete/copy/load/unload.

Built on the official ``ollama`` AsyncClient. Every answer is parsed into a small frozen
dataclass (:mod:`core.ollama.models`), and every failure (refused, timeout, dropped connection, HTTP error, unreadable reply)
comes out as one of GateDeck's own :class:`~core.errors.OllamaError` subclasses, whose message
says how to fix it. Pulls live in :mod:`core.ollama.pull`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from collections.abc import Awaitable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from core.config.schema import DEFAULT_OLLAMA_URL
from core.errors import (
    ModelNotFound,
    OllamaConnectionLost,
    OllamaError,
    OllamaProtocolError,
    OllamaServerError,
    OllamaTimeout,
    OllamaUnreachable,
)
from core.ollama.models import InstalledModel, LoadedModel, ModelDetails, parse_ps, parse_show, parse_tags

if TYPE_CHECKING:  # imported when first used: the window paints before these load
    import httpx
    import ollama

T = TypeVar("T")


def map_ollama_error(
    exc: BaseException, url: str, *, model: str | None = None, what: str = ""
) -> OllamaError:
    """Turn whatever the ``ollama``/``httpx`` stack raised into one of GateDeck's errors."""
    import httpx
    import ollama
    import pydantic

    if isinstance(exc, OllamaError):
        return exc
    if isinstance(exc, ollama.ResponseError):
        detail = str(exc.error).strip() or "no details"
        if exc.status_code == 404 and model is not None:
            return ModelNotFound(model, url)
        if exc.status_code == 404:
            return OllamaProtocolError(url, f"HTTP 404 for {what or 'the request'}: {detail}")
        return OllamaServerError(url, exc.status_code, detail)
    if isinstance(exc, httpx.ConnectTimeout):
        return OllamaUnreachable(url, "the connection timed out")
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return OllamaTimeout(url, what or "the request", None)
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return OllamaUnreachable(url, "connection refused")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | ConnectionResetError):
        return OllamaConnectionLost(url, str(exc) or type(exc).__name__)
    if isinstance(exc, ConnectionError):  # the ollama client's own wrapper of httpx.ConnectError
        return OllamaUnreachable(url)
    if isinstance(exc, json.JSONDecodeError | pydantic.ValidationError | httpx.DecodingError):
        return OllamaProtocolError(url, f"not valid Ollama JSON: {str(exc).splitlines()[0]}")
    if isinstance(exc, httpx.HTTPError):
        return OllamaUnreachable(url, str(exc) or type(exc).__name__)
    return OllamaError(f"Unexpected problem talking to Ollama at {url}: {exc!r}")


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """One TLS context for every HTTP client of this process.

    httpx builds a new one (loading the CA bundle) for each client it creates: ~40 ms of CPU
    each, twice per :class:`OllamaClient`, on every gateway start. Sharing it is safe (contexts
    are thread-safe) and changes nothing else; Ollama on ``http://`` never even uses it.
    """
    import httpx

    return httpx.create_ssl_context()


class OllamaClient:
    """One Ollama server, through the official ``ollama.AsyncClient``.

    Args:
        url: the server, e.g. ``http://127.0.0.1:11434``.
        timeout: seconds each request may take (load/unload get ``load_timeout``).
        connect_timeout: seconds to open a connection.
        load_timeout: seconds a model may take to load into memory.
        client: an ``ollama.AsyncClient`` to use instead of building one.
    """

    def __init__(
        self,
        url: str = DEFAULT_OLLAMA_URL,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        load_timeout: float = 600.0,
        client: ollama.AsyncClient | None = None,
    ) -> None:
        import httpx
        import ollama

        self.url = url.rstrip("/")
        self.timeout = timeout
        self.load_timeout = load_timeout
        # Reads have no httpx deadline: pulls stream for hours and the stall watchdog in
        # core.ollama.pull decides when one is stuck; every other call gets an asyncio deadline below.
        self._http_timeout = httpx.Timeout(None, connect=connect_timeout)
        self._owns_official = client is None
        self._official = client or ollama.AsyncClient(
            host=self.url, timeout=self._http_timeout, verify=shared_tls_context()
        )
        self._http: httpx.AsyncClient | None = None

    @property
    def official(self) -> ollama.AsyncClient:
        """The underlying ``ollama.AsyncClient`` (errors from it are not mapped)."""
        return self._official

    async def aclose(self) -> None:
        if self._owns_official:
            await self._official.close()  # type: ignore[no-untyped-call]  # untyped in ollama 0.6
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> OllamaClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _call(
        self, what: str, awaitable: Awaitable[T], *, model: str | None = None, seconds: float | None = None
    ) -> T:
        import httpx
        import ollama

        seconds = self.timeout if seconds is None else seconds
        try:
            async with asyncio.timeout(seconds):
                return await awaitable
        except TimeoutError:
            raise OllamaTimeout(self.url, what, seconds) from None
        except (ollama.ResponseError, httpx.HTTPError, OSError, ValueError) as exc:
            raise map_ollama_error(exc, self.url, model=model, what=what) from exc

    # ------------------------------------------------------------------ server
    async def version(self) -> str:
        """Ollama's version; raises :class:`OllamaUnreachable` when nothing answers."""
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.url, timeout=self._http_timeout, verify=shared_tls_context()
            )
        response = await self._call("/api/version", self._http.get("/api/version"))
        try:
            response.raise_for_status()
            version = response.json()["version"]
        except httpx.HTTPStatusError:
            raise OllamaProtocolError(
                self.url, f"HTTP {response.status_code} for /api/version: is this Ollama?"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise OllamaProtocolError(self.url, f"no version in the reply ({exc})") from None
        return str(version)

    async def is_reachable(self) -> bool:
        """True when an Ollama server answers at :attr:`url`."""
        try:
            await self.version()
        except OllamaError:
            return False
        return True

    # ------------------------------------------------------------------ models
    async def list_models(self) -> list[InstalledModel]:
        return parse_tags(await self._call("the model list", self._official.list()))

    async def show(self, model: str) -> ModelDetails:
        return parse_show(
            model, await self._call(f"details of {model}", self._official.show(model), model=model)
        )

    async def ps(self) -> list[LoadedModel]:
        return parse_ps(await self._call("the loaded models", self._official.ps()))

    async def delete(self, model: str) -> None:
        await self._call(f"deleting {model}", self._official.delete(model), model=model)

    async def copy(self, source: str, destination: str) -> None:
        await self._call(f"copying {source}", self._official.copy(source, destination), model=source)

    async def load(
        self, model: str, *, keep_alive: str | float = "5m", options: Mapping[str, Any] | None = None
    ) -> None:
        """Load ``model`` into memory and keep it there for ``keep_alive`` (``-1``: until unloaded)."""
        request = self._official.generate(model=model, keep_alive=keep_alive, options=options)
        await self._call(f"loading {model}", request, model=model, seconds=self.load_timeout)

    async def unload(self, model: str) -> None:
        """Free the memory ``model`` holds (``keep_alive: 0``)."""
        request = self._official.generate(model=model, keep_alive=0)
        await self._call(f"unloading {model}", request, model=model, seconds=self.load_timeout)
