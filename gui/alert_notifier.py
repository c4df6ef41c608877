"""Tray notifications for the gateway's alerts (context guard, slow mapping, backend down).

Follows the metrics recorder on the Qt loop, asks :class:`core.metrics.alerts.AlertPolicy` what deserves
a notification and shows it. Clicking a context-guard notification asks for the hardware panel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from core.metrics.alerts import RAISE_CONTEXT, Alert, AlertPolicy
from core.metrics.recorder import MetricsRecorder, RequestRecord

Notify = Callable[[str, str, bool], None]
#: A click on the tray message counts for the last alert only while its message can be on screen.
CLICK_WINDOW_S = 10.0


class AlertNotifier(QObject):
    """Turns request records into notifications.

    Signals:
        alerted(object): an :class:`core.metrics.alerts.Alert` was raised.
        raise_context_requested(str): a context-guard notification was clicked; the mapping.
    """

    alerted = Signal(object)
    raise_context_requested = Signal(str)

    def __init__(
        self,
        recorder: MetricsRecorder,
        policy: AlertPolicy,
        notify: Notify | None = None,
        parent: QObject | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.recorder = recorder
        self.policy = policy
        self.notify = notify
        self._clock = clock
        self._unsubscribe: Callable[[], None] | None = None
        self._last: tuple[Alert, float] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.recorder.add_listener(self.handle, asyncio.get_event_loop())

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def handle(self, record: RequestRecord) -> None:
        for alert in self.policy.check(record):
            self._last = (alert, self._clock())
            if self.notify is not None:
                self.notify(alert.title, alert.message, alert.critical)
            self.alerted.emit(alert)

    def on_message_clicked(self) -> None:
        """The tray's message was clicked: act on the last alert if it is still showing."""
        if self._last is None:
            return
        alert, shown_at = self._last
        if alert.action == RAISE_CONTEXT and self._clock() - shown_at <= CLICK_WINDOW_S:
            self._last = None
            self.raise_context_requested.emit(alert.key)
