"""What the Monitor's request log says beside a request: a (re)load of the model, a tool
call GateDeck repaired, and why the fast path passed a request on to LiteLLM."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.metrics.recorder import RequestRecord
from gui.widgets.request_log_view import COLUMNS, RequestLogView, notes


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


def test_a_request_the_fast_path_passed_on_says_why_and_can_be_found_by_it(qtbot: QtBot) -> None:
    declined = record(route="litellm", declined="input item 'item_reference'")
    assert notes(declined) == "answered by LiteLLM: fast path declined: input item 'item_reference'"
    answered = record(route="fastpath")
    assert notes(answered) == ""
    view = RequestLogView()
    qtbot.addWidget(view)
    view.model.add([declined, answered])
    shown = [view.model.item(row, COLUMNS.index("Notes")).text() for row in range(view.model.rowCount())]
    assert shown == ["", "answered by LiteLLM: fast path declined: input item 'item_reference'"]
    view.filter_edit.setText("declined item_reference")
    assert view.visible_records() == [declined]
