"""The test chat's client: one streamed reply through the gateway with the official SDKs.

``openai`` (``/v1/chat/completions``) or ``anthropic`` (``/v1/messages``) dialect, the SDK's own
async client and stream parsing, the gateway's URL and key. A reply is an async iterator of
:class:`TextDelta` then one :class:`ReplyDone` with its timings and token counts. Cancelling
the task that iterates closes the HTTP stream (the SDK stream is used as a context manager),
so Stop really stops the request.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the SDKs take seconds to load: imported by the code that uses them
    import anthropic
    import openai

Dialect = Literal["openai", "anthropic"]
DIALECTS: tuple[Dialect, ...] = ("openai", "anthropic")


@dataclass(frozen=True)
class ChatTurn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class ReplyStats:
    """How one reply went.

    Attributes:
        ttft_s: time from sending to the first text (``None``: no text came).
        seconds: time from sending to the end of the reply.
        prompt_tokens: the prompt's tokens as the gateway reported them.
        completion_tokens: tokens generated.
    """

    ttft_s: float | None
    seconds: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def tokens_per_s(self) -> float | None:
        """Generation speed after the first token (over the whole reply when that is all there is)."""
        if not self.completion_tokens:
            return None
        after_first = self.seconds - (self.ttft_s or 0.0)
        if self.completion_tokens > 1 and after_first > 0:
            return (self.completion_tokens - 1) / after_first
        return self.completion_tokens / self.seconds if self.seconds > 0 else None

    def summary(self) -> str:
        """``TTFT 120 ms · 42.0 tok/s · 310 → 85 tokens · 2.1 s``."""
        parts = [f"TTFT {self.ttft_s * 1000:.0f} ms" if self.ttft_s is not None else "no text"]
        speed = self.tokens_per_s
        if speed is not None:
            parts.append(f"{speed:.1f} tok/s")
        if self.prompt_tokens is not None or self.completion_tokens is not None:
            parts.append(f"{self.prompt_tokens or 0} → {self.completion_tokens or 0} tokens")
        parts.append(f"{self.seconds:.1f} s")
        return " · ".join(parts)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReplyDone:
    text: str
    stats: ReplyStats
    stop_reason: str = ""


ChatEvent = TextDelta | ReplyDone


class ChatClient:
    """Streams replies from the gateway. Use ``async with`` so its connections are closed.

    Args:
        base_url: the gateway (``http://127.0.0.1:4000``).
        api_key: the gateway key.
        timeout_s: how long one request may take.
        max_tokens: the Anthropic dialect's required reply limit.
    """

    def __init__(
        self, base_url: str, api_key: str, *, timeout_s: float = 600.0, max_tokens: int = 2048
    ) -> None:
        import anthropic
        import openai

        self.base_url = base_url.rstrip("/")
        self.max_tokens = max_tokens
        self._openai = openai.AsyncOpenAI(
            base_url=self.base_url + "/v1", api_key=api_key, timeout=timeout_s, max_retries=0
        )
        self._anthropic = anthropic.AsyncAnthropic(
            base_url=self.base_url, api_key=api_key, timeout=timeout_s, max_retries=0
        )
        tell_platform(self._openai)
        tell_platform(self._anthropic)

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._openai.close()
        await self._anthropic.close()

    def stream(
        self, model: str, turns: Sequence[ChatTurn], *, system: str = "", dialect: Dialect = "openai"
    ) -> AsyncIterator[ChatEvent]:
        """Send the conversation to ``model`` and stream the reply."""
        if dialect == "anthropic":
            return self._anthropic_stream(model, turns, system)
        return self._openai_stream(model, turns, system)

    async def _openai_stream(
        self, model: str, turns: Sequence[ChatTurn], system: str
    ) -> AsyncIterator[ChatEvent]:
        messages: list[Any] = [{"role": "system", "content": system}] if system.strip() else []
        messages += [{"role": t.role, "content": t.content} for t in turns]
        began = time.perf_counter()
        ttft: float | None = None
        text: list[str] = []
        prompt = completion = None
        reason = ""
        stream = await self._openai.chat.completions.create(
            model=model, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    prompt, completion = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                for choice in chunk.choices:
                    piece = choice.delta.content if choice.delta else None
                    if piece:
                        if ttft is None:
                            ttft = time.perf_counter() - began
                        text.append(piece)
                        yield TextDelta(piece)
                    if choice.finish_reason:
                        reason = choice.finish_reason
        stats = ReplyStats(ttft, time.perf_counter() - began, prompt, completion)
        yield ReplyDone("".join(text), stats, reason)

    async def _anthropic_stream(
        self, model: str, turns: Sequence[ChatTurn], system: str
    ) -> AsyncIterator[ChatEvent]:
        messages: list[Any] = [{"role": t.role, "content": t.content} for t in turns]
        extra: dict[str, Any] = {"system": system} if system.strip() else {}
        began = time.perf_counter()
        ttft: float | None = None
        text: list[str] = []
        async with self._anthropic.messages.stream(
            model=model, max_tokens=self.max_tokens, messages=messages, **extra
        ) as stream:
            async for event in stream:
                if event.type == "text" and event.text:
                    if ttft is None:
                        ttft = time.perf_counter() - began
                    text.append(event.text)
                    yield TextDelta(event.text)
            final = await stream.get_final_message()
        usage = final.usage
        stats = ReplyStats(ttft, time.perf_counter() - began, usage.input_tokens, usage.output_tokens)
        yield ReplyDone("".join(text), stats, str(final.stop_reason or ""))


@functools.cache
def _platforms() -> tuple[object, object]:
    from anthropic._base_client import get_platform as anthropic_platform
    from openai._base_client import get_platform as openai_platform

    return openai_platform(), anthropic_platform()


def tell_platform(client: openai.AsyncOpenAI | anthropic.AsyncAnthropic) -> None:
    """Tell an SDK client the platform it would look up in a worker thread on its first request.

    The SDKs run that lookup (a few ms, once per process) with ``asyncio.to_thread``; on a
    Qt-driven loop (qasync) that starts a pool of threads that outlives the window. Looked up
    here once instead; a client without the attribute (another SDK version) just does its own.
    """
    import openai

    if hasattr(client, "_platform"):
        openai_platform, anthropic_platform = _platforms()
        client._platform = openai_platform if isinstance(client, openai.AsyncOpenAI) else anthropic_platform  # type: ignore[assignment]


def error_text(error: BaseException) -> str:
    """An SDK error as one line for the chat (status and the gateway's message)."""
    import anthropic
    import openai

    if isinstance(error, openai.APIStatusError | anthropic.APIStatusError):
        body = error.body
        message = ""
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = str(inner.get("message", "") if isinstance(inner, dict) else inner)
        return f"HTTP {error.status_code}: {(message or str(error)).splitlines()[0][:300]}"
    if isinstance(error, openai.APIConnectionError | anthropic.APIConnectionError):
        return "Cannot reach the gateway: is it running? (Gateway panel)"
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
