"""The pyqtgraph widget under each of the monitor's graphs.

Its own module so that pyqtgraph (and numpy under it) load when the graphs are first shown or
drawn (:meth:`gui.widgets.monitor_graphs.LatencyGraphs._build_plots`), not while the window opens.
"""

from __future__ import annotations

import time

import pyqtgraph as pg
from PySide6.QtCore import QSize


class TimedPlot(pg.PlotWidget):  # type: ignore[misc]
    """One plot in its own widget, so that it repaints alone; remembers how long its last paint
    took (the monitor spaces redraws by it)."""

    paint_s = 0.0
    paints = 0

    def sizeHint(self) -> QSize:
        return QSize(400, 125)  # three of them ask for about what one layout of three did

    def paintEvent(self, event: object) -> None:
        began = time.perf_counter()
        super().paintEvent(event)
        self.paint_s = time.perf_counter() - began
        self.paints += 1
