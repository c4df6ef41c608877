"""Does a mapping make real tool calls? A Claude-Code-sized conversation finds out.

Claude Code only works with a model that answers with structured tool calls, in a request as
big as Claude Code's. The probe sends :mod:`core.clients.probe_request`'s conversation (a long
system prompt, 24 tools, a workspace's context: about 20k tokens) through the gateway with the
official Anthropic SDK, so the mapping's own options (its ``num_ctx`` first) apply, and judges
three turns per run:

- **call**: the answer must be a ``read_file`` call whose input fits the tool's schema. Its
  outcome is the run's :class:`Outcome`: works, works with repair (GateDeck turned a call the
  model wrote as text into a real one; the gateway's record of the request says so), writes
  calls as text, no call, or the prompt does not fit the mapping's context (the gateway refused
  it as too long, or Ollama's prompt count filled the context, which means Ollama cut it).
- **result**: given the call's result, the answer must quote the code word the result holds.
- **plain**: asked something that needs no tool, the answer must not call one.

N runs (3 by default) give the spread. The verdict is the most common outcome, the worse one
on a tie.

Each request carries :data:`core.metrics.recorder.PROBE_HEADER`, so the gateway's records of
them say ``probe``: the Monitor's request log lists them with a "probe" note, and savings,
``gatedeck stats``, the graphs, alerts and ``/metrics`` series leave them out (the person's own
usage, not GateDeck's test of it). The header is a marker only, trusted as such: it takes the
gateway key to send it, so the only traffic it can leave out of the numbers is the key
holder's own.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from core.clients.chat import error_text, tell_platform
from core.clients.probe_request import NOTES_PATH, SYSTEM, TOOLS, call_turn, plain_turn, result_turn
from core.fastpath.tool_repair import find_calls
from core.metrics.recorder import PROBE_HEADER, RequestRecord, likely_truncated

RUNS = 3
_TOOL = "read_file"
_SCHEMAS = {t["name"]: t["input_schema"] for t in TOOLS}
_TOO_LONG = ("prompt is too long", "context_length_exceeded", "context length", "exceeds the context")
_RECORD_WAIT_S = 2.0


class Outcome(StrEnum):
    """How a mapping answers a turn that needs a tool, best first."""

    WORKS = "works"
    REPAIRED = "works with repair"
    TEXT = "writes calls as text"
    NO_CALL = "no call"
    DOES_NOT_FIT = "prompt does not fit"

    @property
    def passed(self) -> bool:
        return self in (Outcome.WORKS, Outcome.REPAIRED)


_WORSE_FIRST = [Outcome.DOES_NOT_FIT, Outcome.NO_CALL, Outcome.TEXT, Outcome.REPAIRED, Outcome.WORKS]


class RecordSource(Protocol):
    """The gateway's request records (:class:`core.metrics.recorder.MetricsRecorder`)."""

    def records(self, since_seq: int = 0) -> list[RequestRecord]: ...


@dataclass(frozen=True)
class RunResult:
    """One run's three turns.

    Attributes:
        outcome: what the call turn gave.
        used_result: the answer to the result turn quoted the tool's result (``None``: not asked,
            because the prompt did not fit).
        held_back: the plain turn was answered without a tool call (``None``: not asked).
        detail: what went wrong, in words, or what was called.
    """

    outcome: Outcome
    used_result: bool | None = None
    held_back: bool | None = None
    detail: str = ""
    tool: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class ProbeResult:
    """The probe's answer for one mapping.

    Attributes:
        mapping: the name probed.
        passed: tool calls work (with or without repair).
        verdict: one line for the user.
        outcome: the verdict as a value; ``None`` when a request failed (nothing was judged).
        runs: each run's result.
        seconds: how long the whole probe took.
        at: ``time.time()`` when it finished.
    """

    mapping: str
    passed: bool
    verdict: str
    outcome: Outcome | None = None
    runs: tuple[RunResult, ...] = ()
    seconds: float = 0.0
    at: float = 0.0

    @property
    def worked(self) -> int:
        """Runs whose call turn worked."""
        return sum(1 for r in self.runs if r.outcome.passed)

    @property
    def used_result(self) -> int:
        return sum(1 for r in self.runs if r.used_result)

    @property
    def held_back(self) -> int:
        return sum(1 for r in self.runs if r.held_back)

    @property
    def tool(self) -> str:
        return next((r.tool for r in self.runs if r.tool), "")

    @property
    def arguments(self) -> dict[str, Any]:
        return next((r.arguments for r in self.runs if r.tool), {})

    def spread(self) -> str:
        """The runs in words: '2 of 3 runs called the tool; …'."""
        n = len(self.runs)
        asked = sum(1 for r in self.runs if r.used_result is not None)
        parts = [f"{self.worked} of {n} runs made a working call"]
        if asked:
            parts.append(f"used the tool's result in {self.used_result} of {asked}")
            parts.append(f"answered without a tool when none was needed in {self.held_back} of {asked}")
        return "; ".join(parts)


class _Refused(Exception):
    """The gateway refused the prompt as too long for the mapping's context."""


async def probe_tool_calls(
    base_url: str,
    api_key: str,
    mapping: str,
    *,
    runs: int = RUNS,
    num_ctx: int | None = None,
    records: RecordSource | None = None,
    timeout_s: float = 300.0,
    max_tokens: int = 1024,
) -> ProbeResult:
    """Probe ``mapping`` ``runs`` times; ``num_ctx`` (the mapping's) tells a cut prompt, and
    ``records`` (the gateway's recorder) tells a repaired call."""
    import anthropic  # here, not at the top: the SDK takes seconds to load

    began = time.perf_counter()
    client = anthropic.AsyncAnthropic(
        base_url=base_url,
        api_key=api_key,
        timeout=timeout_s,
        max_retries=0,
        default_headers={PROBE_HEADER: "1"},
    )
    tell_platform(client)
    turn = _Turn(client, mapping, max_tokens, num_ctx, records)
    done: list[RunResult] = []
    try:
        for _ in range(max(1, runs)):
            run = await _one_run(turn)
            done.append(run)
            if run.outcome is Outcome.DOES_NOT_FIT:
                break  # the same prompt will not fit the next time either
    except anthropic.APIError as exc:
        return ProbeResult(mapping, False, f"The request failed: {error_text(exc)}", seconds=_since(began))
    finally:
        await client.close()
    return _judged(mapping, tuple(done), _since(began))


class _Turn:
    """Sends one turn of the probe's conversation and reads the answer."""

    def __init__(
        self, client: Any, mapping: str, max_tokens: int, num_ctx: int | None, records: RecordSource | None
    ) -> None:
        self.client = client
        self.mapping = mapping
        self.max_tokens = max_tokens
        self.num_ctx = num_ctx
        self.records = records

    async def send(self, messages: list[dict[str, Any]]) -> tuple[Any, bool]:
        """The final message, and whether GateDeck repaired a call in it."""
        import anthropic

        last = self._last_seq()
        try:
            async with self.client.messages.stream(
                model=self.mapping,
                max_tokens=self.max_tokens,
                system=SYSTEM,
                tools=TOOLS,
                messages=messages,
            ) as stream:
                final = await stream.get_final_message()
        except anthropic.APIStatusError as exc:
            if exc.status_code in (400, 413) and any(m in error_text(exc).lower() for m in _TOO_LONG):
                raise _Refused(error_text(exc)) from exc
            raise
        if likely_truncated(final.usage.input_tokens, self.num_ctx):
            raise _Refused(
                f"Ollama read {final.usage.input_tokens:,} prompt tokens of a {self.num_ctx:,}-token "
                "context: it cut the prompt"
            )
        return final, await self._repaired(last)

    def _last_seq(self) -> int:
        if self.records is None:
            return 0
        held = self.records.records()
        return held[-1].seq if held else 0

    async def _repaired(self, since: int) -> bool:
        """The gateway's record of this request says it repaired a call (recorded as the answer
        ends, so waited for briefly)."""
        if self.records is None:
            return False
        deadline = time.monotonic() + _RECORD_WAIT_S
        while True:
            mine = [r for r in self.records.records(since) if r.probe and r.requested == self.mapping]
            if mine or time.monotonic() > deadline:
                return any(getattr(r, "repaired", False) for r in mine)
            await asyncio.sleep(0.02)


async def _one_run(turn: _Turn) -> RunResult:
    try:
        final, repaired = await turn.send(call_turn())
    except _Refused as exc:
        return RunResult(Outcome.DOES_NOT_FIT, detail=str(exc))
    call, text = _read(final)
    outcome, detail = _call_outcome(call, text, repaired)
    code_word = "quince-" + secrets.token_hex(3)
    call_id = call.id if call is not None and outcome.passed else "toolu_probe_" + secrets.token_hex(6)
    call_input = call.input if call is not None and outcome.passed else {"path": NOTES_PATH}
    try:
        answer, _ = await turn.send(result_turn(call_id, call_input, code_word))
        used_call, used_text = _read(answer)
        plain, _ = await turn.send(plain_turn())
        plain_call, plain_text = _read(plain)
    except _Refused as exc:
        return RunResult(Outcome.DOES_NOT_FIT, detail=str(exc))
    return RunResult(
        outcome,
        used_result=used_call is None and code_word in used_text,
        held_back=plain_call is None and _named_a_tool(plain_text) is None,
        detail=detail,
        tool=call.name if call is not None else "",
        arguments=dict(call.input) if call is not None and isinstance(call.input, dict) else {},
        text=text[:500],
    )


def _read(final: Any) -> tuple[Any, str]:
    text = "".join(block.text for block in final.content if block.type == "text").strip()
    calls = [block for block in final.content if block.type == "tool_use"]
    return (calls[0] if calls else None), text


def _call_outcome(call: Any, text: str, repaired: bool) -> tuple[Outcome, str]:
    if call is not None:
        problem = _schema_problem(call.name, call.input)
        if problem:
            return Outcome.NO_CALL, f"it called a tool, but {problem}"
        shown = ", ".join(f"{k}={v!r}" for k, v in call.input.items())
        return (Outcome.REPAIRED if repaired else Outcome.WORKS), f"{call.name}({shown})"
    written = _named_a_tool(text)
    if written is not None:
        return Outcome.TEXT, written
    return Outcome.NO_CALL, "it answered in plain text" if text else "no call and no text came back"


def _named_a_tool(text: str) -> str | None:
    """How ``text`` wrote a call, or ``None`` when it did not look like one."""
    if find_calls(text, _SCHEMAS) is not None:
        return "it wrote the call as text, in a shape GateDeck's repair reads (is repair off?)"
    lowered = text.lower()
    if "{" in text and any(f'"{name}"' in lowered for name in _SCHEMAS):
        return "it wrote the call as text, in a shape GateDeck cannot repair"
    return None


def _schema_problem(name: str, arguments: object) -> str:
    if name not in _SCHEMAS:
        return f"'{name}' is not one of the tools it was given"
    if name != _TOOL:
        return f"it chose {name}, not {_TOOL}"
    if not isinstance(arguments, dict):
        return f"its input for '{name}' is not an object"
    schema = _SCHEMAS[name]
    missing = [key for key in schema["required"] if not arguments.get(key)]
    if missing:
        return f"its input for '{name}' lacks {', '.join(missing)}"
    unknown = sorted(set(arguments) - set(schema["properties"]))
    if unknown:
        return f"its input for '{name}' has unknown fields: {', '.join(unknown)}"
    return ""


def _judged(mapping: str, runs: tuple[RunResult, ...], seconds: float) -> ProbeResult:
    counts = Counter(r.outcome for r in runs)
    top = max(counts.values())
    outcome = next(o for o in _WORSE_FIRST if counts.get(o) == top)
    example = next(r for r in runs if r.outcome is outcome)
    words = {
        Outcome.WORKS: "Tool calls work",
        Outcome.REPAIRED: "Tool calls work with GateDeck's repair",
        Outcome.TEXT: "It writes tool calls as text",
        Outcome.NO_CALL: "No tool call",
        Outcome.DOES_NOT_FIT: "The prompt does not fit the mapping's context",
    }[outcome]
    result = ProbeResult(mapping, outcome.passed, "", outcome, runs, seconds, time.time())
    verdict = f"{words}: {example.detail}. {result.spread()}."
    return ProbeResult(mapping, outcome.passed, verdict, outcome, runs, seconds, result.at)


def _since(began: float) -> float:
    return time.perf_counter() - began
