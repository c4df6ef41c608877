"""The tool-call probe through the real gateway and the official Anthropic SDK, against fake
Ollama models that play each verdict; and the verdicts kept per mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.clients.probe_verdicts import SavedVerdict, load_verdicts, save_verdicts
from core.clients.tool_probe import Outcome, probe_tool_calls
from core.config.schema import Config, GatewaySettings, Mapping, ModelOptions, OllamaBackend
from core.gateway.service import Gateway
from tests.core.gateway_fixtures import SDK_WARNINGS, embedded_gateway, fake_ollama
from tests.core.gateway_support import KEY
from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama

pytestmark = [pytest.mark.timeout(300), *SDK_WARNINGS]
QWEN = "qwen2.5-coder:7b"


fake = fake_ollama()


def coders(ollama_url: str, port: int) -> Config:
    """One model behind four mappings that differ in context, overflow and tool-call repair."""
    return Config(
        gateway=GatewaySettings(port=port),
        backends=[OllamaBackend(name="local", url=ollama_url)],
        mappings=[
            Mapping(name="coder", model=QWEN, options=ModelOptions(num_ctx=32768)),
            Mapping(
                name="coder-as-is", model=QWEN, options=ModelOptions(num_ctx=32768), repair_tool_calls=False
            ),
            Mapping(
                name="coder-small", model=QWEN, options=ModelOptions(num_ctx=8192), on_overflow="truncate"
            ),
            Mapping(
                name="coder-refusing", model=QWEN, options=ModelOptions(num_ctx=8192), on_overflow="refuse"
            ),
        ],
    )


gateway = embedded_gateway(base=coders)


@pytest.fixture(autouse=True)
def clean(fake: FakeOllama) -> Iterator[None]:
    fake.clear_requests()
    fake.clear_faults()
    yield
    fake.set_reply(QWEN, f"Hello from {QWEN}.")


async def test_a_model_that_calls_tools_works_in_every_run_and_uses_the_result(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_replier(QWEN, probe_model("calls"))
    result = await probe_tool_calls(gateway.url, KEY, "coder", num_ctx=32768, records=gateway.metrics)
    assert result.outcome is Outcome.WORKS and result.passed, result.verdict
    assert (len(result.runs), result.worked, result.used_result, result.held_back) == (3, 3, 3, 3)
    assert result.verdict.startswith("Tool calls work: read_file(path=")
    assert "3 of 3 runs made a working call" in result.verdict
    first = fake.bodies("/api/chat")[0]
    assert len(first["tools"]) == 24 and first["options"]["num_ctx"] == 32768, "the mapping's options apply"
    assert len(json.dumps(first)) > 55_000, "as big as Claude Code's first request"
    assert len(fake.bodies("/api/chat")) == 9, "three turns in each of three runs"


async def test_a_call_written_as_text_works_with_repair_and_says_so(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_replier(QWEN, probe_model("text"))
    result = await probe_tool_calls(gateway.url, KEY, "coder", runs=2, num_ctx=32768, records=gateway.metrics)
    assert result.outcome is Outcome.REPAIRED and result.passed, result.verdict
    assert (result.worked, result.used_result) == (2, 2)
    assert result.verdict.startswith("Tool calls work with GateDeck's repair: read_file(")


async def test_without_repair_the_same_model_writes_calls_as_text(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_replier(QWEN, probe_model("text"))
    result = await probe_tool_calls(gateway.url, KEY, "coder-as-is", runs=1, records=gateway.metrics)
    assert result.outcome is Outcome.TEXT and not result.passed, result.verdict
    assert "is repair off?" in result.verdict


@pytest.mark.parametrize("kind", ["prose", "json_noise"])
async def test_a_model_that_does_not_call_gets_no_call_or_text(
    gateway: Gateway, fake: FakeOllama, kind: str
) -> None:
    fake.set_replier(QWEN, probe_model(kind))
    result = await probe_tool_calls(gateway.url, KEY, "coder", runs=1, records=gateway.metrics)
    expected = Outcome.NO_CALL if kind == "prose" else Outcome.TEXT
    assert result.outcome is expected and not result.passed, result.verdict
    assert result.worked == 0


async def test_ignoring_the_result_and_calling_when_told_not_to_show_in_the_spread(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_replier(QWEN, probe_model("forgetful"))
    result = await probe_tool_calls(gateway.url, KEY, "coder", runs=2)
    assert result.outcome is Outcome.WORKS
    assert (result.worked, result.used_result, result.held_back) == (2, 0, 0)
    assert "used the tool's result in 0 of 2" in result.verdict
    assert "answered without a tool when none was needed in 0 of 2" in result.verdict


async def test_a_prompt_ollama_cut_does_not_fit_and_is_asked_once(gateway: Gateway, fake: FakeOllama) -> None:
    fake.set_replier(QWEN, probe_model("calls", prompt_eval_count=8192))  # Ollama cut it at num_ctx
    result = await probe_tool_calls(gateway.url, KEY, "coder-small", num_ctx=8192)
    assert result.outcome is Outcome.DOES_NOT_FIT and not result.passed, result.verdict
    assert "8,192-token context" in result.verdict
    assert len(result.runs) == 1 and len(fake.bodies("/api/chat")) == 1


async def test_a_prompt_the_gateway_refuses_as_too_long_does_not_fit(
    gateway: Gateway, fake: FakeOllama
) -> None:
    fake.set_replier(QWEN, probe_model("calls"))
    result = await probe_tool_calls(gateway.url, KEY, "coder-refusing", num_ctx=8192)
    assert result.outcome is Outcome.DOES_NOT_FIT and not result.passed, result.verdict
    assert "HTTP 400: prompt is too long" in result.verdict and "maximum" in result.verdict
    assert fake.bodies("/api/chat") == [], "refused before Ollama"


async def test_a_failed_request_is_no_verdict(gateway: Gateway, fake: FakeOllama) -> None:
    fake.fail("/api/chat", status=500, error="out of memory", times=1)
    result = await probe_tool_calls(gateway.url, KEY, "coder")
    assert result.outcome is None and not result.passed
    assert result.verdict.startswith("The request failed: HTTP 500") and "out of memory" in result.verdict


def test_verdicts_are_kept_per_mapping_and_bad_entries_skipped(tmp_path: Path) -> None:
    saved = SavedVerdict(Outcome.REPAIRED, 3, 2, 3, 3, 1_700_000_000.0, QWEN, 32768, "Tool calls work…")
    save_verdicts(tmp_path, {"coder": saved})
    assert load_verdicts(tmp_path) == {"coder": saved}
    assert saved.applies_to(QWEN, 32768) and not saved.applies_to(QWEN, 8192)
    data = json.loads((tmp_path / "tool_probe_verdicts.json").read_text())
    data["broken"] = {"outcome": "maybe"}
    (tmp_path / "tool_probe_verdicts.json").write_text(json.dumps(data))
    assert load_verdicts(tmp_path) == {"coder": saved}
    (tmp_path / "tool_probe_verdicts.json").write_text("not json")
    assert load_verdicts(tmp_path) == {}
