"""How fast a mapping answers, as a client sees it: time to first token and tokens per second.

A measurement is one short streamed chat completion through the running gateway with the
official ``openai`` client, so it includes everything a real client pays for (the proxy, the
model's chat template, the options the mapping sends to Ollama). A one-token warm-up request
goes first: Ollama reloads a model whenever ``num_ctx``/``num_gpu``/``num_thread`` change, and
that load time is not the speed of the settings.

    rate = (tokens - 1) / (time of last token - time of first token)

The first token is excluded from the rate because its time is the time to first token.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.config.schema import Config, ModelOptions
from core.errors import GateDeckError

if TYPE_CHECKING:  # imported by measure() itself: the SDK takes a second to load
    import openai

PROMPT = (
    "Write a short paragraph (about 80 words) explaining what a hash map is and when to use one. "
    "Plain text, no lists."
)


class MeasureError(GateDeckError):
    """A measurement could not be taken; the message says why and what to do."""


@dataclass(frozen=True)
class Measurement:
    """One timed generation.

    Attributes:
        mapping: the mapping measured (its name in the config).
        requested: the model name sent to the gateway (a name that lands on ``mapping``).
        model: the Ollama model behind the mapping.
        options: the mapping's options in effect during the measurement.
        ttft: seconds from sending the request to the first piece of text.
        tokens: completion tokens (the usage the server reported, else text chunks counted).
        generation_s: seconds from the first to the last piece of text.
        total_s: seconds for the whole request.
        at: when it was taken (UTC).
    """

    mapping: str
    requested: str
    model: str
    options: ModelOptions
    ttft: float
    tokens: int
    generation_s: float
    total_s: float
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def tokens_per_s(self) -> float:
        """Decode speed; 0.0 when fewer than two tokens came back."""
        if self.tokens < 2 or self.generation_s <= 0:
            return 0.0
        return (self.tokens - 1) / self.generation_s


def sample_name(config: Config, mapping: str) -> str:
    """A model name a client could ask for that the gateway routes to ``mapping``.

    An exact mapping is its own name; for a pattern (``claude-*sonnet*``, ``*``) the wildcards are
    filled in until :meth:`Config.mapping_for` lands on that mapping (and not on an earlier one).
    """
    target = next((m for m in config.mappings if m.name == mapping), None)
    if target is None:
        raise MeasureError(f"There is no mapping named '{mapping}' in the configuration.")
    if not target.is_pattern:
        return target.name
    for fill in ("", "x", "gatedeck-measure"):
        candidate = re.sub(r"\[!?([^\]]*)\]", lambda m: m.group(1)[:1] or "x", target.name)
        candidate = candidate.replace("*", fill).replace("?", "x")
        if candidate and fnmatch.fnmatchcase(candidate, target.name):
            landed = config.mapping_for(candidate)
            if landed is not None and landed.name == target.name:
                return candidate
    raise MeasureError(
        f"No client name reaches the pattern '{mapping}': an earlier mapping catches every name it "
        "matches. Move it up on the Mappings panel to measure it."
    )


async def measure(
    base_url: str,
    api_key: str,
    config: Config,
    mapping: str,
    *,
    prompt: str = PROMPT,
    max_tokens: int = 96,
    warmup: bool = True,
    request_timeout: float = 300.0,
) -> Measurement:
    """Time one streamed completion for ``mapping`` through the gateway at ``base_url``.

    ``config`` is the config the gateway serves right now (it says which options are in effect).
    Raises :class:`MeasureError` when the gateway or Ollama refuses.
    """
    import openai

    target = next((m for m in config.mappings if m.name == mapping), None)
    if target is None:
        raise MeasureError(f"There is no mapping named '{mapping}' in the configuration.")
    requested = sample_name(config, mapping)
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": prompt}]
    async with openai.AsyncOpenAI(
        base_url=base_url.rstrip("/") + "/v1", api_key=api_key, timeout=request_timeout, max_retries=0
    ) as client:
        try:
            if warmup:
                await client.chat.completions.create(
                    model=requested, messages=[{"role": "user", "content": "Hi"}], max_tokens=1
                )
            began = time.perf_counter()
            stream = await client.chat.completions.create(
                model=requested,
                messages=messages,
                max_tokens=max_tokens,
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
            )
            first: float | None = None
            last: float | None = None
            pieces = 0
            usage_tokens: int | None = None
            async for chunk in stream:
                if chunk.usage is not None and chunk.usage.completion_tokens:
                    usage_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.delta.content:
                        now = time.perf_counter()
                        first = now if first is None else first
                        last = now
                        pieces += 1
            ended = time.perf_counter()
        except openai.APIStatusError as exc:
            raise MeasureError(
                f"The gateway refused the measurement of '{mapping}' (HTTP {exc.status_code}): "
                f"{_message(exc)}"
            ) from None
        except openai.APIConnectionError as exc:
            raise MeasureError(
                f"The gateway at {base_url} did not answer ({exc}). Is it running? Start it on the "
                "Gateway panel."
            ) from None
    if first is None or last is None:
        raise MeasureError(f"'{mapping}' answered without any text, so its speed cannot be measured.")
    return Measurement(
        mapping=mapping,
        requested=requested,
        model=target.model,
        options=target.options.model_copy(),
        ttft=first - began,
        tokens=usage_tokens or pieces,
        generation_s=last - first,
        total_s=ended - began,
    )


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
    return str(exc.message)[:300]
