"""Tool calls written as text by local models, in each shape they are seen in, turned into calls."""

from __future__ import annotations

import json

import pytest

from core.fastpath.tool_repair import RepairedCall, StreamRepair, find_calls, may_become_call, offered_tools

TOOLS = {
    "Bash": {
        "type": "object",
        "properties": {"command": {"type": "string"}, "timeout": {"type": "integer"}},
        "required": ["command"],
    },
    "Read": {"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]},
}
LS = RepairedCall("Bash", {"command": "ls -la"})


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ('{"name": "Bash", "arguments": {"command": "ls -la"}}', "json"),
        ('  {"name": "Bash", "parameters": {"command": "ls -la"}}\n', "json"),
        (
            '{"type": "function", "function": {"name": "Bash", "arguments": "{\\"command\\": \\"ls -la\\"}"}}',
            "json",
        ),
        ('<tool_call>\n{"name": "Bash", "arguments": {"command": "ls -la"}}\n</tool_call>', "tool_call_tag"),
        ('<tool_call>{"name": "Bash", "arguments": {"command": "ls -la"}}', "tool_call_tag"),  # never closed
        ("<function=Bash>\n<parameter=command>\nls -la\n</parameter>\n</function>", "function_xml"),
        (
            "<tool_call>\n<function=Bash>\n<parameter=command>\nls -la\n</parameter>\n</function>\n</tool_call>",
            "tool_call_tag",
        ),
        ('```json\n{"name": "Bash", "arguments": {"command": "ls -la"}}\n```', "fenced_json"),
    ],
)
def test_each_written_shape_becomes_the_call(text: str, shape: str) -> None:
    found = find_calls(text, TOOLS)
    assert found is not None and found.calls == (LS,) and found.shape == shape and found.text == ""


def test_prose_before_the_call_is_kept_as_text() -> None:
    found = find_calls('I will list the files.\n{"name": "Bash", "arguments": {"command": "ls -la"}}', TOOLS)
    assert found is not None and found.text == "I will list the files." and found.calls == (LS,)


def test_several_calls_and_typed_xml_parameters() -> None:
    text = (
        "<function=Bash>\n<parameter=command>\nsleep 1\n</parameter>\n<parameter=timeout>\n5\n</parameter>\n</function>\n"
        "<function=Read>\n<parameter=file_path>\n/tmp/a.txt\n</parameter>\n</function>"
    )
    found = find_calls(text, TOOLS)
    assert found is not None
    assert found.calls == (
        RepairedCall("Bash", {"command": "sleep 1", "timeout": 5}),
        RepairedCall("Read", {"file_path": "/tmp/a.txt"}),
    )
    listed = json.dumps(
        [{"name": "Read", "arguments": {"file_path": "a"}}, {"name": "Bash", "arguments": {"command": "x"}}]
    )
    assert [c.name for c in find_calls(listed, TOOLS).calls] == ["Read", "Bash"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Write", "arguments": {"file_path": "a"}}',  # a tool the request did not offer
        '{"name": "Bash", "arguments": {"cmd": "ls"}}',  # misses the required argument
        '{"name": "Bash", "arguments": {"command": 42}}',  # wrong type
        '{"name": "Bash", "arguments": {"command": "ls"}}\nThen I will read the output.',  # more text after
        'Use {"name": "Bash"} style objects to call tools.',
        'Here is some JSON: {"a": 1}',
        "<function=Bash>\n<parameter=command>\nls\n</parameter>\n</function> and more words",
        "Plain answer.",
    ],
)
def test_anything_else_stays_text(text: str) -> None:
    assert find_calls(text, TOOLS) is None


def test_no_tools_offered_means_no_repair() -> None:
    assert find_calls('{"name": "Bash", "arguments": {"command": "ls"}}', {}) is None


@pytest.mark.parametrize(
    ("start", "held"),
    [
        ("", True),
        ("  {", True),
        ("<tool", True),
        ("<function=B", True),
        ("``", True),
        ("Sure, here", False),
        ("The answer", False),
    ],
)
def test_a_stream_holds_back_only_what_may_become_a_call(start: str, held: bool) -> None:
    assert may_become_call(start) is held


def chunk(
    content: str = "", *, thinking: str = "", done: bool = False, calls: list[object] | None = None
) -> dict[str, object]:
    message: dict[str, object] = {"role": "assistant", "content": content}
    if thinking:
        message["thinking"] = thinking
    if calls:
        message["tool_calls"] = calls
    out: dict[str, object] = {"message": message, "done": done}
    if done:
        out.update(done_reason="stop", prompt_eval_count=12, eval_count=5)
    return out


def fed(repair: StreamRepair, chunks: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    return [[dict(piece) for piece in repair.feed(c)] for c in chunks]


def test_a_streamed_call_written_as_text_is_held_back_then_sent_as_a_call() -> None:
    repair = StreamRepair(TOOLS)
    written = '<tool_call>\n{"name": "Bash", "arguments": {"command": "ls -la"}}\n</tool_call>'
    pieces = fed(repair, [chunk(written[:9]), chunk(written[9:30]), chunk(written[30:]), chunk(done=True)])
    assert pieces[:3] == [[], [], []], "nothing goes out while it may be a call"
    *before, end = pieces[3]
    assert [p["message"]["tool_calls"] for p in before] == [  # type: ignore[index]
        [{"function": {"index": 0, "name": "Bash", "arguments": {"command": "ls -la"}}}]
    ]
    assert end["done"] and end["done_reason"] == "stop" and end["message"]["content"] == ""  # type: ignore[index]
    assert repair.shape == "tool_call_tag"


def test_thinking_goes_on_while_text_is_held_and_text_that_is_no_call_is_released_whole() -> None:
    repair = StreamRepair(TOOLS)
    first = fed(repair, [chunk("<tool", thinking="hmm")])[0]
    assert [(p["message"]["thinking"], p["message"]["content"]) for p in first] == [("hmm", "")]  # type: ignore[index]
    (released,) = fed(repair, [chunk("s are handy")])[0]
    assert released["message"]["content"] == "<tools are handy"  # type: ignore[index]
    assert fed(repair, [chunk(" pair.")]) == [[chunk(" pair.")]], "after that, text streams as it comes"
    assert repair.shape is None


def test_held_text_that_is_no_call_in_the_end_comes_out_with_the_last_chunk() -> None:
    repair = StreamRepair(TOOLS)
    assert fed(repair, [chunk('{"name": "Nope", "arguments": {}}')]) == [[]]
    (end,) = fed(repair, [chunk(done=True)])[0]
    assert end["message"]["content"] == '{"name": "Nope", "arguments": {}}' and end["done"]  # type: ignore[index]


def test_a_real_tool_call_releases_held_text_untouched() -> None:
    repair = StreamRepair(TOOLS)
    call = {"function": {"name": "Bash", "arguments": {"command": "ls"}}}
    assert fed(repair, [chunk(" ")]) == [[]]
    (out,) = fed(repair, [chunk(calls=[call])])[0]
    assert out["message"] == {"role": "assistant", "content": " ", "tool_calls": [call]}


def test_without_offered_tools_nothing_is_held() -> None:
    repair = StreamRepair({})
    assert fed(repair, [chunk("{")]) == [[chunk("{")]]


def test_the_tools_an_ollama_request_offers_by_name() -> None:
    body = {
        "tools": [{"type": "function", "function": {"name": "Bash", "parameters": TOOLS["Bash"]}}, {"x": 1}]
    }
    assert offered_tools(body) == {"Bash": TOOLS["Bash"]}
    assert offered_tools({}) == {}
