"""Live graphs of TTFT, latency and tokens/s per mapping over the last 5 minutes or hour.

Records are kept per mapping in plain lists (trimmed to the longest window) and drawn as
pyqtgraph curves with peak downsampling and clipping to the view, so thousands of points draw
in a few milliseconds. Each plot is its own widget: :meth:`LatencyGraphs.draw_in_slices` (what
the monitor panel calls, at most ten times a second and only when something changed) updates
and repaints one plot per event-loop turn, so the window never waits for all three at once —
while the gateway streams, the GIL roughly doubles what each piece costs the UI thread.
:meth:`LatencyGraphs.redraw` draws all of them at once.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication, QPalette, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.metrics.recorder import RequestRecord
from gui.palette import Tone, css, follow_palette, mark_colour, series_colours, text_colour

if TYPE_CHECKING:  # pyqtgraph and numpy load when the graphs are first shown or drawn
    import pyqtgraph as pg

    from gui.widgets.monitor_plots import TimedPlot

WINDOWS_S = {"1 min": 60.0, "5 min": 300.0, "1 h": 3600.0}
MAX_POINTS_PER_MAPPING = 20_000
MEASURES = (
    ("ttft_s", "TTFT", "s"),
    ("latency_s", "Latency", "s"),
    ("tokens_per_s", "Tokens/s", ""),
)
#: The gap between the slices of :meth:`LatencyGraphs.draw_in_slices`: long enough for the
#: plot drawn by one slice to be painted (a low-priority event) before the next slice runs.
SLICE_MS = 8
#: Every plot's left axis is this wide, so that the three time axes line up.
LEFT_AXIS_PX = 64


@dataclass
class _Series:
    times: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m, _, _ in MEASURES})
    curves: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    #: Measures whose curve does not show the latest data yet.
    stale: set[str] = field(default_factory=lambda: {m for m, _, _ in MEASURES})


class LatencyGraphs(QWidget):
    """Three stacked plots sharing a time axis, one curve per mapping; failed requests are red
    crosses on the latency plot.

    The plots themselves (pyqtgraph, most of a second to import) are built the first time the
    graphs are shown or drawn; records are kept from the start.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("latencyGraphs")
        self.window_s = WINDOWS_S["5 min"]
        self._series: dict[str, _Series] = {}
        self._errors: list[tuple[float, float]] = []
        self._errors_changed = False
        self._update_s: dict[str, float] = {}  # how long each plot's last data update took
        self.plot_area: QWidget | None = None
        self.plot_widgets: dict[str, TimedPlot] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self._pending: list[str] = []  # plots the current draw_in_slices has yet to draw
        self._pending_now = 0.0
        self._slicer = QTimer(self)
        self._slicer.setSingleShot(True)
        self._slicer.setInterval(SLICE_MS)
        self._slicer.timeout.connect(self._on_slicer_timeout)
        self.error_marks: pg.ScatterPlotItem | None = None
        # a legend above the plots: inside them it would hide the newest points
        self.legend = QLabel()
        self.legend.setObjectName("graphLegend")
        self._legend_for: list[str] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.legend)
        self._colours = series_colours()
        follow_palette(self, self._restyle)

    def showEvent(self, event: QShowEvent) -> None:
        self._build_plots()
        super().showEvent(event)

    def _build_plots(self) -> None:
        if self.plot_area is not None:
            return
        import pyqtgraph as pg

        from gui.widgets.monitor_plots import TimedPlot

        self.plot_area = QWidget()
        column = QVBoxLayout(self.plot_area)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)  # apart, or the three left axes read as one
        last = len(MEASURES) - 1
        for row, (key, title, unit) in enumerate(MEASURES):
            widget = TimedPlot(axisItems={"bottom": pg.DateAxisItem()} if row == last else None)
            plot = widget.getPlotItem()
            plot.setLabel("left", title, units=unit)
            plot.getAxis("left").setWidth(LEFT_AXIS_PX)
            # no grid: its lines are most of the paint time
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.getViewBox().setAutoVisible(y=True)  # scale y to the points inside the window
            if row != last:
                plot.hideAxis("bottom")  # one time axis, under the last plot
            # not x-linked: each plot follows the window when its own slice is drawn
            self.plot_widgets[key] = widget
            self.plots[key] = plot
            column.addWidget(widget, 1)
        self.error_marks = pg.ScatterPlotItem(
            symbol="x", size=9, pen=pg.mkPen(mark_colour(Tone.BAD), width=2), brush=None
        )
        self._restyle()
        self.plots["latency_s"].addItem(self.error_marks)
        self._layout.addWidget(self.plot_area, 1)
        if self.isVisible():  # built while being shown: a child added now must be shown by hand
            self.plot_area.show()

    # ---------------------------------------------------------------- data
    def add(self, record: RequestRecord) -> None:
        """Remember ``record`` (drawn at the next :meth:`redraw`)."""
        if not record.ok:
            bisect.insort(self._errors, (record.at, record.latency_s))
            self._errors_changed = True
            return
        series = self._series.get(record.served_by)
        if series is None:
            series = self._series[record.served_by] = _Series()
        # records come as requests finish; one that started earlier may come later: keep time order
        at = len(series.times) if not series.times or record.at >= series.times[-1] else None
        if at is None:
            at = bisect.bisect_right(series.times, record.at)
        series.times.insert(at, record.at)
        series.stale.update(series.values)
        for key, _, _ in MEASURES:
            value = getattr(record, key)
            series.values[key].insert(at, float("nan") if value is None else float(value))
        if len(series.times) > MAX_POINTS_PER_MAPPING:
            cut = len(series.times) - MAX_POINTS_PER_MAPPING
            del series.times[:cut]
            for values in series.values.values():
                del values[:cut]

    def curve(self, mapping: str, measure: str) -> pg.PlotDataItem:
        """The curve drawn for ``mapping``'s ``measure`` (``ttft_s``, ``latency_s``, ``tokens_per_s``)."""
        return self._series[mapping].curves[measure]

    def points(self, mapping: str) -> int:
        series = self._series.get(mapping)
        return len(series.times) if series else 0

    @property
    def mappings(self) -> list[str]:
        return list(self._series)

    def set_window(self, seconds: float) -> None:
        self.window_s = seconds

    # ---------------------------------------------------------------- drawing
    def redraw(self, now: float | None = None) -> None:
        """Draw all three plots now: what arrived since the last call, in a window ending at
        ``now``."""
        self._pending.clear()
        self._slicer.stop()
        now = time.time() if now is None else now
        for key, _, _ in MEASURES:
            self._redraw_plot(key, now)

    def stop(self) -> None:
        """Drop a redraw still under way (the panel stopped)."""
        self._slicer.stop()
        self._pending.clear()

    def draw_in_slices(self, now: float | None = None) -> None:
        """Like :meth:`redraw`, one plot now and the others in the next event-loop turns (each
        painted before the next is updated). A call while slices are pending starts over."""
        self._pending_now = time.time() if now is None else now
        self._pending = [key for key, _, _ in MEASURES]
        self._on_slicer_timeout()

    @property
    def drawing(self) -> bool:
        """Whether slices of a :meth:`draw_in_slices` are still to come."""
        return bool(self._pending)

    def _on_slicer_timeout(self) -> None:
        if not self._pending:
            return
        self._redraw_plot(self._pending.pop(0), self._pending_now)
        if self._pending:
            self._slicer.start()

    def _redraw_plot(self, key: str, now: float) -> None:
        import numpy as np
        import pyqtgraph as pg

        self._build_plots()
        assert self.error_marks is not None
        began = time.perf_counter()
        oldest = now - max(WINDOWS_S.values())
        for index, series in enumerate(self._series.values()):
            if _trim(series, oldest):
                series.stale.update(series.values)
            if key not in series.stale:
                continue  # its curve keeps its data; only the window moves
            series.stale.discard(key)
            curve = series.curves.get(key)
            if curve is None:
                colour = self._colours[index % len(self._colours)]
                curve = self.plots[key].plot(
                    pen=pg.mkPen(colour, width=1),  # wider pens stroke several times slower
                    symbol="o",
                    symbolSize=4,
                    symbolPen=None,
                    symbolBrush=colour,
                    connect="finite",
                )
                curve.setDownsampling(auto=True, method="peak")
                curve.setClipToView(True)
                series.curves[key] = curve
            # symbols help a few points and cost too much for thousands (set before the data,
            # so thousands of symbols are never built)
            curve.setSymbol("o" if len(series.times) <= 300 else None)
            curve.setData(np.asarray(series.times, dtype=float), np.asarray(series.values[key], dtype=float))
        if list(self._series) != self._legend_for:
            self._show_legend()
        if key == "latency_s":
            if self._errors and self._errors[0][0] < oldest:
                self._errors = [e for e in self._errors if e[0] >= oldest]
                self._errors_changed = True
            if self._errors_changed:
                self.error_marks.setData([e[0] for e in self._errors], [e[1] for e in self._errors])
                self._errors_changed = False
        self.plots[key].setXRange(now - self.window_s, now, padding=0.01)
        # pyqtgraph applies a range change to the view's matrix only when it paints, and the
        # curves then re-clip and ask for a second full paint; applying it now saves that paint
        self.plots[key].getViewBox().updateMatrix()
        self._update_s[key] = time.perf_counter() - began

    @property
    def cost_s(self) -> float:
        """What drawing all three plots last cost the UI thread: data updates plus paints."""
        return sum(self._update_s.values()) + sum(w.paint_s for w in self.plot_widgets.values())

    def _restyle(self) -> None:
        """Colour the plots, their axes, curves and marks, and the legend from the palette in use."""
        self._colours = series_colours()
        self._show_legend()
        if not self.plots:
            return
        import pyqtgraph as pg

        palette = QGuiApplication.palette()
        axis_line, axis_text = mark_colour(Tone.MUTED, palette), text_colour(Tone.MUTED, palette)
        for widget in self.plot_widgets.values():
            widget.setBackground(palette.color(QPalette.ColorRole.Base))
        for plot in self.plots.values():
            for side in ("left", "bottom"):
                plot.getAxis(side).setPen(axis_line)
                plot.getAxis(side).setTextPen(axis_text)
        for index, series in enumerate(self._series.values()):
            colour = self._colours[index % len(self._colours)]
            for curve in series.curves.values():
                curve.setPen(pg.mkPen(colour, width=1))
                curve.setSymbolBrush(colour)
        if self.error_marks is not None:
            self.error_marks.setPen(pg.mkPen(mark_colour(Tone.BAD, palette), width=2))

    def _show_legend(self) -> None:
        self._legend_for = list(self._series)
        items = [
            f"<span style='color:{self._colours[i % len(self._colours)].name()}'>■</span>&nbsp;{name}"
            for i, name in enumerate(self._legend_for)
        ]
        items.append(f"<span style='color:{css(Tone.BAD)}'>✖</span>&nbsp;failed request")
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(items))


def _trim(series: _Series, oldest: float) -> bool:
    cut = bisect.bisect_left(series.times, oldest)  # records arrive in time order
    if cut:
        del series.times[:cut]
        for values in series.values.values():
            del values[:cut]
    return bool(cut)
