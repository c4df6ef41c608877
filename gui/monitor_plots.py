"""The pyqtgraph widget under the monitor's graphs.

Its own module so that pyqtgraph (and numpy under it) load when the graphs are first shown or
drawn (:meth:`gui.monitor_graphs.LatencyGraphs._build_plots`), not while the window opens.
"""

from __future__ import annotations

import time

import pyqtgraph as pg


class TimedLayout(pg.GraphicsLayoutWidget):  # type: ignore[misc]
    """Remembers how long its last paint took (the monitor spaces redraws by it)."""

    paint_s = 0.0

    def paintEvent(self, event: object) -> None:
        began = time.perf_counter()
        super().paintEvent(event)
        self.paint_s = time.perf_counter() - began
