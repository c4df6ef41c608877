"""What the Monitor's request log says beside a request: a (re)load of the model and a tool
call GateDeck repaired."""

from __future__ import annotations

from core.metrics.recorder import RequestRecord
from gui.widgets.request_log_view import notes


def record(**fields: object) -> RequestRecord:
    return RequestRecord(
        at=0.0, dialect="anthropic", requested="claude-sonnet-4-5", mapping="claude-*", model="q", **fields
    )  # type: ignore[arg-type]


def test_a_request_that_waited_for_ollama_to_load_the_model_says_how_long() -> None:
    assert notes(record(load_s=4.237)) == "model loaded (4.2 s)"


def test_a_model_already_loaded_is_not_mentioned() -> None:
    assert notes(record(load_s=0.011)) == ""
    assert notes(record(load_s=None)) == ""


def test_a_repaired_tool_call_says_how_the_model_wrote_it() -> None:
    assert notes(record(repaired="tool_call_tag")) == "tool call repaired (written as <tool_call> text)"
    assert (
        notes(record(load_s=2.51, repaired="json"))
        == "model loaded (2.5 s); tool call repaired (written as JSON text)"
    )


def test_records_read_back_from_the_log_keep_both() -> None:
    written = record(load_s=3.0, repaired="function_xml")
    assert RequestRecord.from_json(written.to_json()) == written
