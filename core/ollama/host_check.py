"""One look at an Ollama host: does it answer, which version, what is loaded, how fast it replied.

The Gateway panel shows this for every host, and its *Test* button runs it on a host being added
before it is saved. The latency is the round trip of ``/api/version``, Ollama's cheapest answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.errors import OllamaError
from core.ollama.client import OllamaClient


@dataclass(frozen=True)
class HostCheck:
    """What one check of an Ollama host found.

    Attributes:
        url: the address checked.
        version: Ollama's version (empty when it did not answer).
        loaded: the models in memory, by name.
        latency_ms: the round trip of ``/api/version`` in milliseconds (``None``: no answer).
        problem: why the host did not answer (it says how to fix it); empty when it did.
    """

    url: str
    version: str = ""
    loaded: tuple[str, ...] = ()
    latency_ms: float | None = None
    problem: str = ""

    @property
    def up(self) -> bool:
        return not self.problem

    def summary(self) -> str:
        """One line for a status label: ``Ollama 0.14.2, 12 ms, 1 model loaded``."""
        if not self.up:
            return self.problem
        loaded = f"{len(self.loaded)} model{'s' if len(self.loaded) != 1 else ''} loaded"
        return f"Ollama {self.version}, {self.latency_ms:.0f} ms, {loaded}"


async def check_host(client: OllamaClient) -> HostCheck:
    """Ask the host behind ``client`` for its version (timed) and its loaded models.

    Never raises for an Ollama failure: a host that does not answer is a :class:`HostCheck`
    whose ``problem`` says why.
    """
    try:
        started = time.perf_counter()
        version = await client.version()
        latency_ms = (time.perf_counter() - started) * 1000
        loaded = tuple(m.name for m in await client.ps())
    except OllamaError as exc:
        return HostCheck(client.url, problem=str(exc))
    return HostCheck(client.url, version=version, loaded=loaded, latency_ms=latency_ms)


async def check_url(url: str) -> HostCheck:
    """:func:`check_host` on an address not in use yet (a host being added): a client of its own."""
    async with OllamaClient(url, timeout=10.0) as client:
        return await check_host(client)
