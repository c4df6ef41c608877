"""Live graphs of TTFT, latency and tokens/s per mapping over the last 5 minutes or hour.

Records are kept per mapping in plain lists (trimmed to the longest window) and drawn as
pyqtgraph curves with peak downsampling and clipping to the view, so thousands of points draw
in a few milliseconds. :meth:`LatencyGraphs.redraw` does the drawing; the monitor panel calls it
at most ten times a second and only when something changed.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtGui import QPalette, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.metrics import RequestRecord

if TYPE_CHECKING:  # pyqtgraph and numpy load when the graphs are first shown or drawn
    import pyqtgraph as pg

    from gui.monitor_plots import TimedLayout

WINDOWS_S = {"1 min": 60.0, "5 min": 300.0, "1 h": 3600.0}
MAX_POINTS_PER_MAPPING = 20_000
PALETTE = ("#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b")
MEASURES = (
    ("ttft_s", "TTFT", "s"),
    ("latency_s", "Latency", "s"),
    ("tokens_per_s", "Tokens/s", ""),
)


@dataclass
class _Series:
    times: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m, _, _ in MEASURES})
    curves: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    changed: bool = True


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
        self.update_s = 0.0  # how long the last redraw's data update took
        self.layout_widget: TimedLayout | None = None
        self.plots: dict[str, pg.PlotItem] = {}
        self.error_marks: pg.ScatterPlotItem | None = None
        # a legend above the plots: inside them it would hide the newest points
        self.legend = QLabel()
        self.legend.setObjectName("graphLegend")
        self._legend_for: list[str] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.legend)
        self._show_legend()

    def showEvent(self, event: QShowEvent) -> None:
        self._build_plots()
        super().showEvent(event)

    def _build_plots(self) -> None:
        if self.layout_widget is not None:
            return
        import pyqtgraph as pg

        from gui.monitor_plots import TimedLayout

        self.layout_widget = TimedLayout()
        self.layout_widget.setBackground(self.palette().color(QPalette.ColorRole.Base))
        for row, (key, title, unit) in enumerate(MEASURES):
            plot = self.layout_widget.addPlot(row=row, col=0, axisItems={"bottom": pg.DateAxisItem()})
            plot.setLabel("left", title, units=unit)
            # no grid: its lines are most of the paint time
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.getViewBox().setAutoVisible(y=True)  # scale y to the points inside the window
            if row:
                plot.setXLink(self.plots[MEASURES[0][0]])
            if row < len(MEASURES) - 1:
                plot.hideAxis("bottom")  # one time axis, under the last plot
            self.plots[key] = plot
        self.error_marks = pg.ScatterPlotItem(
            symbol="x", size=9, pen=pg.mkPen("#d23f3f", width=2), brush=None
        )
        self.plots["latency_s"].addItem(self.error_marks)
        self._layout.addWidget(self.layout_widget, 1)
        if self.isVisible():  # built while being shown: a child added now must be shown by hand
            self.layout_widget.show()

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
        series.changed = True
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
        """Draw what arrived since the last call and move the window to end at ``now``."""
        import numpy as np
        import pyqtgraph as pg

        self._build_plots()
        assert self.error_marks is not None
        began = time.perf_counter()
        now = time.time() if now is None else now
        oldest = now - max(WINDOWS_S.values())
        for index, series in enumerate(self._series.values()):
            if _trim(series, oldest):
                series.changed = True
            if not series.changed:
                continue  # its curves keep their data; only the window moves
            series.changed = False
            times = np.asarray(series.times, dtype=float)
            for key, _, _ in MEASURES:
                curve = series.curves.get(key)
                if curve is None:
                    colour = PALETTE[index % len(PALETTE)]
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
                curve.setData(times, np.asarray(series.values[key], dtype=float))
                # symbols help a few points and cost too much for thousands
                curve.setSymbol("o" if len(times) <= 300 else None)
        if list(self._series) != self._legend_for:
            self._show_legend()
        if self._errors and self._errors[0][0] < oldest:
            self._errors = [e for e in self._errors if e[0] >= oldest]
            self._errors_changed = True
        if self._errors_changed:
            self.error_marks.setData([e[0] for e in self._errors], [e[1] for e in self._errors])
            self._errors_changed = False
        self.plots["ttft_s"].setXRange(now - self.window_s, now, padding=0.01)
        self.update_s = time.perf_counter() - began

    @property
    def cost_s(self) -> float:
        """What the last redraw cost the UI thread: data update plus paint."""
        return self.update_s + (self.layout_widget.paint_s if self.layout_widget is not None else 0.0)

    def _show_legend(self) -> None:
        self._legend_for = list(self._series)
        items = [
            f"<span style='color:{PALETTE[i % len(PALETTE)]}'>■</span>&nbsp;{name}"
            for i, name in enumerate(self._legend_for)
        ]
        items.append("<span style='color:#d23f3f'>✖</span>&nbsp;failed request")
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(items))


def _trim(series: _Series, oldest: float) -> bool:
    cut = bisect.bisect_left(series.times, oldest)  # records arrive in time order
    if cut:
        del series.times[:cut]
        for values in series.values.values():
            del values[:cut]
    return bool(cut)
