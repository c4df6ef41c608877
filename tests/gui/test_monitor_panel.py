"""The monitor panel and alert notifications, fed by a recorder (no gateway needed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.metrics.alerts import AlertPolicy
from core.metrics.recorder import MetricsRecorder, RequestRecord
from core.metrics.request_log import RequestLog
from core.metrics.savings import day_start, week_start
from gui.alert_notifier import AlertNotifier
from gui.palette import background as tinted
from gui.panels.monitor import MonitorPanel
from gui.widgets.monitor_graphs import MEASURES, LatencyGraphs
from gui.widgets.monitor_stats_table import ALERT_COLUMN, HEADERS
from gui.widgets.request_log_view import COLUMNS, ERROR_BG, FALLBACK_BG, MAX_ROWS, PROBE_NOTE, TRUNCATED_BG
from tests.gui.conftest import Run

NOW = 1_800_000_000.0


def rec(mapping: str = "gpt-4o", **changes: object) -> RequestRecord:
    values: dict[str, object] = {
        "at": NOW,
        "dialect": "openai",
        "requested": mapping,
        "mapping": mapping,
        "model": "qwen2.5-coder:7b",
        "backend": "local",
        "stream": True,
        "ttft_s": 0.2,
        "latency_s": 1.5,
        "prompt_tokens": 120,
        "completion_tokens": 60,
        "tokens_per_s": 40.0,
    }
    values.update(changes)
    return RequestRecord(**values)  # type: ignore[arg-type]


def logged(folder: Path, *records: RequestRecord) -> None:
    """Write ``records`` to the request log in ``folder``, as an earlier run of GateDeck did."""
    log = RequestLog(folder)
    for record in records:
        log.append(record.to_json())
    log.close()


@pytest.fixture
def recorder() -> MetricsRecorder:
    return MetricsRecorder()


@pytest.fixture
def panel(qtbot: QtBot, loop: object, recorder: MetricsRecorder) -> Iterator[MonitorPanel]:
    monitor = MonitorPanel(recorder, clock=lambda: NOW + 1)
    qtbot.addWidget(monitor)
    monitor.resize(1000, 700)
    monitor.show()
    monitor.start()
    yield monitor
    monitor.stop()


def background(panel: MonitorPanel, row: int) -> str:
    brush = panel.request_log.proxy.index(row, 0).data(Qt.ItemDataRole.BackgroundRole)
    return "" if brush is None else brush.color().name()


def test_records_show_in_the_log_graphs_and_table_with_problems_highlighted(panel: MonitorPanel) -> None:
    panel.add_records(
        [
            rec("claude-*sonnet*", requested="claude-sonnet-4-5-20250929"),
            rec(ok=False, status=500, error="boom", ttft_s=None, tokens_per_s=None),
            rec("flaky", fallback="gpt-4o", backend="gpu-box"),
            rec(prompt_tokens=15000, num_ctx=16384, likely_truncated=True),
        ]
    )
    panel.refresh()
    log = panel.request_log
    assert log.proxy.rowCount() == 4
    newest = log.visible_records()[0]
    assert newest.likely_truncated, "newest first"
    assert log.proxy.index(3, 2).data() == "claude-sonnet-4-5-20250929 → claude-*sonnet* → qwen2.5-coder:7b"
    tints = [tinted(tone).name() for tone in (TRUNCATED_BG, FALLBACK_BG, ERROR_BG)]
    assert [background(panel, r) for r in range(4)] == [*tints, ""]
    assert "15000 of 16384" in log.proxy.index(0, COLUMNS.index("Notes")).data()
    assert log.proxy.index(2, COLUMNS.index("Status")).data() == "Error 500"
    host = COLUMNS.index("Host")  # the Ollama host that answered each request
    assert [log.proxy.index(r, host).data() for r in range(4)] == ["local", "gpu-box", "local", "local"]

    assert panel.graphs.points("gpt-4o") == 2, "the fallback's answer counts for the mapping that answered"
    assert panel.graphs.points("claude-*sonnet*") == 1
    rows = {r[0]: r for r in panel.stats_table.rows()}
    assert rows["gpt-4o"][1:5] == ["2", "1", "0", "1"]
    assert rows["flaky"][3] == "1"
    assert "4 requests" in panel.summary.text() and "1 failed" in panel.summary.text()


def test_the_probes_requests_are_listed_with_a_note_but_not_counted(
    qtbot: QtBot, arun: Run, tmp_path: Path
) -> None:
    now = time.time()
    earlier = max(day_start(now), now - 600)
    logged(
        tmp_path,
        rec(cloud_cost=0.5, at=earlier),  # before the window opened: the person's
        rec(cloud_cost=5.0, at=earlier, probe=True),  # and the probe's
    )
    recorder = MetricsRecorder(RequestLog(tmp_path))
    recorder.record(rec(at=now, cloud_cost=0.25))  # the person's own request
    for _ in range(3):  # the tool-call probe's: slow, priced, one overflowing its context
        recorder.record(rec(at=now, latency_s=40.0, cloud_cost=2.0, probe=True))
    recorder.record(rec(at=now, probe=True, prompt_tokens=16000, num_ctx=16384, likely_truncated=True))
    monitor = MonitorPanel(recorder, clock=lambda: now + 1)
    qtbot.addWidget(monitor)
    monitor.resize(1000, 700)
    monitor.show()
    monitor.start()
    try:
        qtbot.waitUntil(lambda: monitor.request_log.proxy.rowCount() == 5, timeout=5000)
        monitor.refresh()
        notes = [monitor.request_log.proxy.index(r, COLUMNS.index("Notes")).data() for r in range(5)]
        assert [PROBE_NOTE in n for n in notes] == [True, True, True, True, False], notes
        assert monitor.graphs.points("gpt-4o") == 1, "the graphs draw the person's request only"
        rows = {r[0]: r for r in monitor.stats_table.rows()}
        assert rows["gpt-4o"][1] == "1" and rows["gpt-4o"][4] == "0", "one request, nothing truncated"
        assert monitor.summary.text().startswith("1 requests")
        qtbot.waitUntil(lambda: monitor.saved(now)[1] >= 0.75, timeout=10_000)  # the log was read too
        assert monitor.saved(now) == (0.75, 0.75)
        assert monitor.savings.text() == "Saved $0.75 today · $0.75 this week"
        assert all(monitor.policy.check(r) == [] for r in recorder.records() if r.probe)
    finally:
        arun(monitor.shutdown())
        recorder.close()


def test_graphs_kept_while_hidden_are_drawn_when_first_shown(
    qtbot: QtBot, loop: object, recorder: MetricsRecorder
) -> None:
    monitor = MonitorPanel(recorder, clock=lambda: NOW + 1)
    qtbot.addWidget(monitor)
    monitor.start()
    recorder.record(rec())
    recorder.record(rec(ok=False, status=500, error="boom", ttft_s=None, tokens_per_s=None))
    qtbot.waitUntil(lambda: monitor.graphs.points("gpt-4o") == 1)
    assert monitor.graphs.plot_area is None, "no plots are built for a monitor never shown"

    monitor.show()
    assert monitor.graphs.plot_area is not None and monitor.graphs.plot_area.isVisible()
    monitor.refresh()
    assert list(monitor.graphs.curve("gpt-4o", "ttft_s").getData()[1]) == [0.2]
    assert monitor.graphs.error_marks is not None and len(monitor.graphs.error_marks.data) == 1
    monitor.stop()


def test_the_log_filters_by_text_and_by_problems(panel: MonitorPanel, qtbot: QtBot) -> None:
    panel.add_records([rec("gpt-4o"), rec("claude-*haiku*", model="llama3.2:3b"), rec(ok=False, error="x")])
    panel.refresh()
    log = panel.request_log
    qtbot.keyClicks(log.filter_edit, "llama")
    assert [r.mapping for r in log.visible_records()] == ["claude-*haiku*"]
    log.filter_edit.clear()
    log.problems.setChecked(True)
    assert [r.ok for r in log.visible_records()] == [False]


def test_a_request_that_finishes_late_is_drawn_in_time_order(panel: MonitorPanel) -> None:
    # records arrive as requests finish: a long one that started first comes last
    panel.add_records([rec(at=NOW - 10), rec(at=NOW - 5), rec(at=NOW - 20, latency_s=15.0)])
    panel.refresh()
    curve = panel.graphs.curve("gpt-4o", "latency_s")
    xs, ys = curve.getData()
    assert list(xs) == [NOW - 20, NOW - 10, NOW - 5]
    assert list(ys) == [15.0, 1.5, 1.5]


def test_the_window_choice_changes_what_counts(panel: MonitorPanel) -> None:
    panel.add_records([rec(at=NOW - 1200), rec(at=NOW)])  # 20 minutes ago, and now
    panel.refresh()
    assert len(panel.records_in_window()) == 1
    panel.window_choice.setCurrentText("1 h")
    panel.refresh()
    assert len(panel.records_in_window()) == 2
    assert panel.stats_table.rows()[0][1] == "2"


@pytest.mark.timeout(60)
def test_a_burst_of_records_from_the_gateway_thread_redraws_at_most_ten_times_a_second(
    panel: MonitorPanel, recorder: MetricsRecorder, qtbot: QtBot
) -> None:
    began = time.monotonic()
    redraws_before = panel.redraws
    writer = threading.Thread(
        target=lambda: [recorder.record(rec(at=NOW - 300 + i * 0.1)) for i in range(3000)]
    )
    writer.start()
    qtbot.waitUntil(lambda: panel.graphs.points("gpt-4o") == 3000, timeout=30_000)
    writer.join()
    elapsed = time.monotonic() - began
    redraws = panel.redraws - redraws_before
    assert 1 <= redraws <= elapsed * 10 + 2, f"{redraws} redraws in {elapsed:.2f} s"
    assert panel.request_log.model.rowCount() == MAX_ROWS, "the log view keeps the newest rows only"
    assert panel.request_log.model.record(0).at == pytest.approx(NOW - 300 + 299.9), "newest first"


def test_context_guard_notifies_once_and_raise_context_asks_for_the_hardware_panel(
    panel: MonitorPanel, recorder: MetricsRecorder, qtbot: QtBot
) -> None:
    shown: list[tuple[str, str, bool]] = []
    notifier = AlertNotifier(recorder, panel.policy, notify=lambda t, m, c: shown.append((t, m, c)))
    notifier.alerted.connect(panel.show_alert)
    notifier.start()
    try:
        below = rec(prompt_tokens=14745, num_ctx=16384, likely_truncated=False)
        at = rec(prompt_tokens=14746, num_ctx=16384, likely_truncated=True)
        with qtbot.waitSignal(notifier.alerted, timeout=5000) as alerted:
            for record in (below, at, at, at):
                threading.Thread(target=recorder.record, args=(record,)).start()
        qtbot.waitUntil(lambda: len(panel.recorder.records()) == 4, timeout=5000)
        qtbot.waitUntil(lambda: panel.request_log.model.rowCount() == 4, timeout=5000)
        assert alerted.args[0].key == "gpt-4o"
        assert len(shown) == 1, "one notification per mapping"
        assert "'gpt-4o'" in shown[0][0] and "14746 of its 16384" in shown[0][1]
        assert panel.banner.isVisible() and panel.banner.action.text() == "Raise context…"

        with qtbot.waitSignal(panel.raise_context_requested, timeout=2000) as clicked:
            panel.banner.action.click()
        assert clicked.args == ["gpt-4o"]
        with qtbot.waitSignal(notifier.raise_context_requested, timeout=2000) as tray_click:
            notifier.on_message_clicked()  # what a click on the tray message does
        assert tray_click.args == ["gpt-4o"]
    finally:
        notifier.stop()


def test_latency_thresholds_are_edited_in_the_table(panel: MonitorPanel) -> None:
    panel.add_records([rec(latency_s=3.0)])
    panel.refresh()
    item = panel.stats_table.item(0, ALERT_COLUMN)
    item.setText("2.5")
    assert panel.policy.thresholds == {"gpt-4o": 2.5}
    assert [a.kind for a in panel.policy.check(rec(latency_s=3.0))] == ["latency"]
    item.setText("soon")
    assert panel.policy.thresholds == {} and item.text() == ""


def test_the_monitor_shows_what_answering_locally_saved(panel: MonitorPanel, qtbot: QtBot) -> None:
    from gui.tray import GatewayTray

    tray = GatewayTray()
    panel.saved_today_changed.connect(tray.set_saved_today)
    yesterday = day_start(NOW) - 3600
    with qtbot.waitSignal(panel.saved_today_changed) as heard:
        panel.add_records(
            [
                rec("claude-*sonnet*", cloud_cost=0.25),
                rec("claude-*sonnet*", cloud_cost=0.5),
                rec(cloud_cost=1.0),
                rec("local", cloud_cost=None),
                rec(cloud_cost=9.0, ok=False),  # not answered: nothing saved
                rec(cloud_cost=2.0, at=yesterday),
            ]
        )
        panel.refresh()
    assert heard.args == [pytest.approx(1.75)]
    this_week = 3.75 if yesterday >= week_start(NOW) else 1.75
    assert panel.savings.text() == f"Saved $1.75 today · ${this_week:.2f} this week"
    assert "Saved $1.75 today" in tray.icon.toolTip()
    saved_column = list(HEADERS).index("Saved")
    saved = {row[0]: row[saved_column] for row in panel.stats_table.rows()}
    assert saved == {"claude-*sonnet*": "$0.75", "gpt-4o": "$1.00", "local": "–"}


def test_this_weeks_savings_include_requests_from_before_the_window_opened(
    qtbot: QtBot, arun: Run, tmp_path: Path
) -> None:
    now = time.time()
    earlier_today = max(day_start(now), now - 600)
    logged(
        tmp_path,
        rec(cloud_cost=0.5, at=earlier_today),
        rec(cloud_cost=9.0, at=earlier_today, ok=False),  # not answered
        rec(cloud_cost=100.0, at=week_start(now) - 60),  # last week
    )
    recorder = MetricsRecorder(RequestLog(tmp_path))
    recorder.record(rec(cloud_cost=0.25, at=now))  # served since: in the log and in the recorder
    monitor = MonitorPanel(recorder)
    qtbot.addWidget(monitor)
    monitor.start()
    try:
        qtbot.waitUntil(lambda: monitor.saved(now) == (0.75, 0.75), timeout=10_000)
        assert monitor.savings.text() == "Saved $0.75 today · $0.75 this week"
    finally:
        arun(monitor.shutdown())
        recorder.close()


def test_saved_today_starts_again_at_midnight_without_waiting_for_a_request(
    qtbot: QtBot, loop: object, recorder: MetricsRecorder
) -> None:
    midnight = day_start(NOW + 86_400)  # the next local midnight
    clock = [midnight - 2.0]
    monitor = MonitorPanel(recorder, clock=lambda: clock[0])
    qtbot.addWidget(monitor)
    monitor.start()
    try:
        recorder.record(rec(cloud_cost=1.25, at=midnight - 60))
        qtbot.waitUntil(lambda: monitor.savings.text().startswith("Saved $1.25 today"), timeout=5000)
        clock[0] = midnight + 1.0  # the window stays open past midnight; nobody sends a request
        with qtbot.waitSignal(monitor.saved_today_changed, timeout=5000) as heard:
            pass
        assert heard.args == [0.0], "the tray's tooltip hears of the new day too"
        week = "$0.00" if day_start(midnight) == week_start(midnight) else "$1.25"  # Monday: a new week
        assert monitor.savings.text() == f"Saved $0.00 today · {week} this week"
        assert monitor.saved() == (0.0, 0.0 if week == "$0.00" else 1.25)
    finally:
        monitor.stop()


def test_alerts_for_a_slow_mapping_are_rate_limited(recorder: MetricsRecorder, arun: Run) -> None:
    shown: list[str] = []
    now = [0.0]
    notifier = AlertNotifier(
        recorder,
        AlertPolicy({"gpt-4o": 1.0}, min_interval_s=60, clock=lambda: now[0]),
        lambda t, m, c: shown.append(t),
    )
    for _ in range(3):
        notifier.handle(rec(latency_s=5.0))
    now[0] = 61
    notifier.handle(rec(latency_s=5.0))
    assert shown == ["'gpt-4o' is slow", "'gpt-4o' is slow"]


def test_the_graphs_draw_one_plot_per_turn_of_the_event_loop(qtbot: QtBot, loop: object) -> None:
    # so the window never waits for all three plots at once while the gateway is busy
    graphs = LatencyGraphs()
    qtbot.addWidget(graphs)
    graphs.resize(800, 500)
    graphs.show()
    graphs.add(rec(at=NOW - 30))
    graphs.add(rec(at=NOW - 10, latency_s=4.0))

    def drawn() -> list[str]:
        return [
            key for key, _, _ in MEASURES if graphs.curve("gpt-4o", key).getOriginalDataset()[0] is not None
        ]

    graphs.redraw(NOW - 60)  # every curve exists, drawn from the data it had then
    graphs.add(rec(at=NOW - 5, latency_s=9.0))
    graphs.draw_in_slices(NOW)
    assert graphs.drawing
    assert len(graphs.curve("gpt-4o", "ttft_s").getOriginalDataset()[0]) == 3, "the first plot now"
    assert len(graphs.curve("gpt-4o", "latency_s").getOriginalDataset()[0]) == 2, "the others later"
    qtbot.waitUntil(lambda: not graphs.drawing, timeout=5_000)
    assert drawn() == [key for key, _, _ in MEASURES]
    assert list(graphs.curve("gpt-4o", "latency_s").getOriginalDataset()[1]) == [1.5, 4.0, 9.0]
    ranges = {key: tuple(plot.getViewBox().viewRange()[0]) for key, plot in graphs.plots.items()}
    assert len(set(ranges.values())) == 1, f"the three time axes line up: {ranges}"
    assert ranges["ttft_s"][1] >= NOW


def test_drawing_new_points_paints_each_plot_once(qtbot: QtBot, loop: object) -> None:
    # pyqtgraph moves the view only when it paints, and the curves then asked for a second paint
    graphs = LatencyGraphs()
    qtbot.addWidget(graphs)
    graphs.resize(800, 500)
    graphs.show()
    for i in range(50):
        graphs.add(rec(at=NOW - 100 + i, latency_s=1.0 + i % 5))
    graphs.redraw(NOW)
    settle()
    before = {key: widget.paints for key, widget in graphs.plot_widgets.items()}
    graphs.add(rec(at=NOW + 1))
    graphs.redraw(NOW + 1)
    settle()
    assert {key: widget.paints - before[key] for key, widget in graphs.plot_widgets.items()} == {
        key: 1 for key, _, _ in MEASURES
    }


def settle() -> None:
    """Handle every event posted so far, and those their handlers post (a few rounds)."""
    for _ in range(5):
        QApplication.processEvents()


def test_the_log_names_each_api_a_request_used() -> None:
    from gui.widgets.request_log_view import cells

    assert cells(rec(dialect="responses", stream=False))[1] == "Responses"  # Codex
    assert cells(rec(dialect="anthropic"))[1] == "Anthropic ⇶"
    assert cells(rec(dialect="openai", stream=False))[1] == "OpenAI"
    assert cells(rec(dialect="embeddings", stream=False))[1] == "Embeddings"  # a RAG tool's
    assert cells(rec(dialect="embeddings", stream=False, inputs=16))[1] == "Embeddings ×16"  # its texts
