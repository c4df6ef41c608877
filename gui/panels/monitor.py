"""Monitor panel: live latency graphs, p50/p95 per mapping and the request log.

Records come from the :class:`core.metrics.recorder.MetricsRecorder` on the Qt thread's loop (the
recorder delivers them with ``call_soon_threadsafe``). They are queued and drawn by a 100 ms
timer, so however fast requests arrive the panel redraws at most ten times a second, in one
batch (each plot in its own event-loop turn), and not at all while it is hidden. The requests of
GateDeck's own tool-call probe are listed in the request log, with a "probe" note, and left out
of the graphs, the p50/p95 table and the savings.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from core.metrics.alerts import RAISE_CONTEXT, Alert, AlertPolicy
from core.metrics.recorder import MetricsRecorder, RequestRecord
from core.metrics.savings import counts_as_saved, day_start, dollars, saved_by_day, week_start
from core.metrics.stats import summarize, summarize_hosts
from gui.ops import BackgroundOps
from gui.palette import Tone, css, follow_palette
from gui.widgets.banner import Banner
from gui.widgets.host_stats_table import HostStatsTable
from gui.widgets.monitor_graphs import WINDOWS_S, LatencyGraphs
from gui.widgets.monitor_stats_table import MappingStatsTable
from gui.widgets.request_log_view import RequestLogView

HISTORY = 50_000
TICK_MS = 100  # at most 10 redraws a second
#: The graphs may take at most this share of the UI thread: a redraw that cost 40 ms (which
#: happens while the gateway's thread holds the GIL) waits 200 ms before the next one.
GRAPH_DUTY = 0.2
TABLE_EVERY_S = 1.0
#: Slide the time axis along by about a pixel's worth of the window even when nothing arrives.
SLIDE_FRACTION = 1 / 300


class MonitorPanel(QWidget):
    """What the gateway is doing, live.

    Signals:
        raise_context_requested(str): "Raise context" was clicked for this mapping.
        saved_today_changed(float): US dollars saved today by answering locally changed.
    """

    raise_context_requested = Signal(str)
    saved_today_changed = Signal(float)

    def __init__(
        self,
        recorder: MetricsRecorder,
        policy: AlertPolicy | None = None,
        parent: QWidget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("monitorPanel")
        self.recorder = recorder
        self.policy = policy or AlertPolicy()
        self._clock = clock
        self._history: deque[RequestRecord] = deque(maxlen=HISTORY)
        self._queued: list[RequestRecord] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._graphs_dirty = False
        self._table_dirty = False
        self._graphs_due = 0.0
        self._table_due = 0.0
        self._slid_at = 0.0
        self._context_mapping = ""
        #: US dollars saved per local day (its midnight's time stamp), from each record's cloud_cost
        self._saved_by_day: dict[float, float] = {}
        #: The local day the savings figure speaks of (its midnight): a new day shows it again.
        self._savings_day = day_start(clock())
        self.ops = BackgroundOps(owner="monitor")  # a failed read of the request log is logged
        self.redraws = 0

        title = QLabel("<h2>Monitor</h2>")
        self.window_choice = QComboBox()
        self.window_choice.setObjectName("monitorWindow")
        self.window_choice.addItems(list(WINDOWS_S))
        self.window_choice.setCurrentText("5 min")
        self.summary = QLabel("No requests yet.")
        self.summary.setObjectName("monitorSummary")
        self.savings = QLabel("")
        self.savings.setObjectName("monitorSavings")
        self.savings.setToolTip(
            "What the cloud models your clients asked for would have charged for the tokens your "
            "local models served (LiteLLM's price list)"
        )
        top = QHBoxLayout()
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(self.summary)
        top.addSpacing(12)
        top.addWidget(self.savings)
        top.addSpacing(12)
        top.addWidget(QLabel("Window:"))
        top.addWidget(self.window_choice)

        self.banner = Banner()
        self.banner.setObjectName("monitorBanner")
        self.graphs = LatencyGraphs()
        self.stats_table = MappingStatsTable()
        self.host_table = HostStatsTable()
        self.request_log = RequestLogView()
        tabs = QTabWidget()
        tabs.setObjectName("monitorTabs")
        tabs.addTab(self.request_log, "Requests")
        tabs.addTab(self.stats_table, "p50 / p95 per mapping")
        tabs.addTab(self.host_table, "per Ollama host")
        self.tabs = tabs
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("monitorSplitter")  # named: the window keeps its position
        splitter.addWidget(self.graphs)
        splitter.addWidget(tabs)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 4)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.window_choice.currentTextChanged.connect(self._on_window_choice_current_text_changed)
        self.banner.action.clicked.connect(self._on_banner_action_clicked)
        self.stats_table.threshold_changed.connect(self._on_stats_table_threshold_changed)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        follow_palette(self, self._on_palette_changed)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Show what the recorder already has, then follow it."""
        if self._unsubscribe is not None:
            return
        self._unsubscribe = self.recorder.add_listener(self._queue, asyncio.get_event_loop())
        held = self.recorder.records()
        self.add_records(held)
        self.timer.start()
        request_log = self.recorder.request_log
        if request_log is not None:  # this week's savings from before the records held here
            before = min((r.at for r in held), default=self._clock())
            earlier = self.ops.in_thread(saved_by_day, request_log.folder, week_start(self._clock()), before)
            self.ops.run(earlier, on_success=self._add_earlier_savings)

    async def shutdown(self) -> None:
        """Stop, and wait for the request log's read to end."""
        self.stop()
        await self.ops.shutdown()

    def stop(self) -> None:
        self.timer.stop()
        self.graphs.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ---------------------------------------------------------------- data
    def add_records(self, records: Sequence[RequestRecord]) -> None:
        """Take ``records`` in (drawn at the next tick)."""
        self._queued.extend(records)

    def show_alert(self, alert: Alert) -> None:
        """Show a context-guard warning in place, with its "Raise context" button."""
        if alert.action == RAISE_CONTEXT:
            self._context_mapping = alert.key
            self.banner.show_message(f"<b>{alert.title}</b><br>{alert.message}", "warning", "Raise context…")

    def records_in_window(self, now: float | None = None) -> list[RequestRecord]:
        now = self._clock() if now is None else now
        oldest = now - self.graphs.window_s
        return [r for r in self._history if r.at >= oldest]

    def refresh(self) -> None:
        """Draw everything queued now (the timer does this; tests call it to skip waiting)."""
        self._flush()
        self._draw(self._clock(), force=True)

    # ---------------------------------------------------------------- internals
    def _queue(self, record: RequestRecord) -> None:
        self._queued.append(record)

    def _flush(self) -> None:
        if not self._queued:
            return
        batch, self._queued = self._queued, []
        usage = [r for r in batch if not r.probe]  # the probe's rows: in the log only
        self._history.extend(usage)
        for record in usage:
            self.graphs.add(record)
        self.request_log.model.add(batch)
        self._graphs_dirty = self._table_dirty = True
        self._count_savings(batch)

    def saved(self, now: float | None = None) -> tuple[float, float]:
        """US dollars saved today and this week (since Monday), from the records the panel holds."""
        now = self._clock() if now is None else now
        today, monday = day_start(now), week_start(now)
        week = sum(amount for day, amount in self._saved_by_day.items() if day >= monday)
        return self._saved_by_day.get(today, 0.0), week

    def _count_savings(self, batch: Sequence[RequestRecord]) -> None:
        priced = [r for r in batch if counts_as_saved(r)]
        if not priced:
            return
        for record in priced:
            day = day_start(record.at)
            self._saved_by_day[day] = self._saved_by_day.get(day, 0.0) + (record.cloud_cost or 0.0)
        self._show_savings()

    def _add_earlier_savings(self, days: dict[float, float]) -> None:
        for day, amount in days.items():
            self._saved_by_day[day] = self._saved_by_day.get(day, 0.0) + amount
        if days:
            self._show_savings()

    def _show_savings(self) -> None:
        self._savings_day = day_start(self._clock())
        today, week = self.saved()
        self.savings.setText(f"Saved {dollars(today)} today · {dollars(week)} this week")
        self.saved_today_changed.emit(today)

    def _draw(self, now: float, force: bool = False) -> None:
        mono = time.monotonic()
        slide = max(TICK_MS / 1000, self.graphs.window_s * SLIDE_FRACTION)
        if force or (mono >= self._graphs_due and (self._graphs_dirty or now - self._slid_at >= slide)):
            if force:
                self.graphs.redraw(now)
            else:
                self.graphs.draw_in_slices(now)  # one plot per event-loop turn
            self._slid_at = now
            self._graphs_dirty = False
            self.redraws += 1
            self._graphs_due = mono + max(TICK_MS / 1000, self.graphs.cost_s / GRAPH_DUTY)
        if force or (self._table_dirty and mono >= self._table_due):
            in_window = self.records_in_window(now)
            if force or self.tabs.currentWidget() is self.stats_table:
                self.stats_table.show_stats(summarize(in_window), self.policy.thresholds)
            if force or self.tabs.currentWidget() is self.host_table:
                self.host_table.show_stats(summarize_hosts(in_window))
            errors = sum(1 for r in in_window if not r.ok)
            self.summary.setText(
                f"{len(in_window)} requests in the last {self.window_choice.currentText()}"
                + (f", <span style='color:{css(Tone.BAD)}'>{errors} failed</span>" if errors else "")
            )
            self._table_due = mono + TABLE_EVERY_S
            self._table_dirty = False

    def _on_timer_timeout(self) -> None:
        self._flush()
        if self._saved_by_day and day_start(self._clock()) != self._savings_day:
            self._show_savings()  # past midnight: today starts at nothing (a new week on Monday)
        if self.isVisible():  # hidden: keep the data, draw when shown again
            self._draw(self._clock())

    def _on_window_choice_current_text_changed(self, text: str) -> None:
        self.graphs.set_window(WINDOWS_S[text])
        self._graphs_dirty = self._table_dirty = True
        self._graphs_due = self._table_due = 0.0

    def _on_palette_changed(self) -> None:
        self._table_dirty = True  # the summary's colour: at the next tick
        self._table_due = 0.0

    def _on_tabs_current_changed(self, _index: int) -> None:
        self._table_dirty = True
        self._table_due = 0.0

    def _on_banner_action_clicked(self) -> None:
        self.banner.clear()
        self.raise_context_requested.emit(self._context_mapping)

    def _on_stats_table_threshold_changed(self, mapping: str, seconds: float) -> None:
        self.policy.set_threshold(mapping, seconds or None)
