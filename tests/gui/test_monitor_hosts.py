"""The monitor's per-host tab: how a mapping's Ollama hosts shared its requests (no gateway needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from core.metrics.recorder import MetricsRecorder, RequestRecord
from gui.panels.monitor import MonitorPanel
from gui.widgets.host_stats_table import HEADERS

NOW = 1_800_000_000.0


def rec(backend: str, latency_s: float, **changes: object) -> RequestRecord:
    values: dict[str, object] = {
        "at": NOW,
        "dialect": "anthropic",
        "requested": "claude-sonnet-4-5",
        "mapping": "claude-*",
        "model": "qwen2.5-coder:7b",
        "backend": backend,
        "stream": True,
        "ttft_s": latency_s / 3,
        "latency_s": latency_s,
        "prompt_tokens": 120,
        "completion_tokens": 60,
        "tokens_per_s": 60 / latency_s,
    }
    values.update(changes)
    return RequestRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def panel(qtbot: QtBot, loop: object) -> Iterator[MonitorPanel]:
    monitor = MonitorPanel(MetricsRecorder(), clock=lambda: NOW + 1)
    qtbot.addWidget(monitor)
    monitor.resize(1000, 700)
    monitor.show()
    monitor.start()
    yield monitor
    monitor.stop()


def test_the_hosts_tab_shows_each_hosts_share_speed_and_errors(panel: MonitorPanel) -> None:
    panel.add_records(
        [
            rec("gpu-box", 1.0),
            rec("gpu-box", 2.0),
            rec("gpu-box", 3.0, mapping="gpt-*"),
            rec("laptop", 6.0),
            rec("laptop", 6.0, ok=False, status=502, error="Ollama at laptop stopped", ttft_s=None),
        ]
    )
    panel.tabs.setCurrentWidget(panel.host_table)
    panel.refresh()
    column = {title: i for i, title in enumerate(HEADERS)}
    rows = {row[0]: row for row in panel.host_table.rows()}
    assert list(rows) == ["gpu-box", "laptop"], "busiest first"
    gpu, laptop = rows["gpu-box"], rows["laptop"]
    assert (gpu[column["Requests"]], gpu[column["Errors"]]) == ("3", "0")
    assert (laptop[column["Requests"]], laptop[column["Errors"]]) == ("2", "1")
    assert gpu[column["Latency p50"]] == "2.00 s" and laptop[column["Latency p50"]] == "6.00 s"
    assert gpu[column["Mappings"]] == "claude-*, gpt-*" and laptop[column["Mappings"]] == "claude-*"
