"""Plot the series of the Grafana dashboard from real scrapes of GateDeck's ``/metrics``.

Starts the gateway against a fake Ollama, sends a mix of requests for about a minute (through
the fast path and, for a while, with it switched off; some too long for their mapping, some
falling back from a backend that is down), scrapes ``/metrics`` once a second with the gateway
key and draws what the dashboard's panels show into docs/screenshots/metrics.png
(pyqtgraph, offscreen).

    .venv/bin/python -m docs.plot_metrics
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

import httpx
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from core.gateway.service import Gateway
    from tests.fakes.fake_ollama import FakeOllama

OUT = Path(__file__).resolve().parent / "screenshots" / "metrics.png"
KEY = "sk-gatedeck-plot-0123456789abcdef"
Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Scrape:
    reply = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    reply.raise_for_status()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def by(
    scrape: Scrape, name: str, label: str, keep: Callable[[dict[str, str]], bool] = lambda _: True
) -> dict[str, float]:
    """``sum by (label) (name)``."""
    out: dict[str, float] = {}
    for (sample, labels), value in scrape.items():
        have = dict(labels)
        if sample == name and keep(have):
            out[have.get(label, "")] = out.get(have.get(label, ""), 0.0) + value
    return out


def quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus's ``histogram_quantile`` over cumulative ``buckets`` (upper bound → count)."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return math.nan
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / max(buckets[bound] - below, 1e-12)
        lower, below = bound, buckets[bound]
    return lower


def windowed_quantile(q: float, now: Scrape, then: Scrape, metric: str, mapping: str) -> float:
    buckets: dict[float, float] = {}
    for (sample, labels), value in now.items():
        have = dict(labels)
        if sample == f"{metric}_bucket" and have.get("mapping") == mapping:
            le = float(have["le"])
            buckets[le] = buckets.get(le, 0.0) + value - then.get((sample, labels), 0.0)
    return quantile(q, buckets)


def traffic(gateway: Gateway, fake: FakeOllama, seconds: float) -> list[tuple[float, Scrape]]:
    url = gateway.url
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {KEY}"}
    big = "word " * 40_000  # more than claude-*sonnet*'s context holds: refused
    scrapes = [(0.0, scrape(url))]
    began = time.monotonic()
    client = httpx.Client(base_url=url, headers=headers, timeout=60)
    switched = False
    while (at := time.monotonic() - began) < seconds:
        direct = not (seconds * 0.4 < at < seconds * 0.7)
        if direct == switched:  # the middle third goes through LiteLLM
            config = gateway.config
            gateway.apply_blocking(
                config.model_copy(
                    update={"gateway": config.gateway.model_copy(update={"direct_path": direct})}
                )
            )
            switched = not direct
        fake.set_chunk_delay(0.01 + 0.03 * (1 + math.sin(at / 6)))
        for _ in range(rng.randint(2, 6)):
            model = rng.choice(["gpt-4o", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5", "flaky"])
            client.post(
                "/v1/chat/completions",
                json={
                    "model": model,
                    "stream": rng.random() < 0.5,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
        if rng.random() < 0.15:
            client.post(
                "/v1/messages",
                json={
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": big}],
                },
                headers={"anthropic-version": "2023-06-01"},
            )
        next_at = len(scrapes) * 1.0
        while time.monotonic() - began < next_at:
            time.sleep(0.05)
        scrapes.append((time.monotonic() - began, scrape(url)))
    client.close()
    return scrapes


def draw(scrapes: list[tuple[float, Scrape]], out: Path) -> None:
    import pyqtgraph as pg
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    view = pg.GraphicsLayoutWidget()
    view.resize(1400, 1000)
    view.addLabel(
        "GateDeck's /metrics scraped once a second (fake Ollama; the middle third with the fast path off)",
        row=0,
        col=0,
        colspan=2,
        size="13pt",
    )
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
    xs = [t for t, _ in scrapes[1:]]

    def plot(row: int, col: int, title: str, series: dict[str, list[float]], unit: str) -> None:
        p = view.addPlot(row=row + 1, col=col, title=title)
        p.addLegend(offset=(5, 5))
        p.setLabel("bottom", "seconds")
        p.setLabel("left", unit)
        p.showGrid(x=True, y=True, alpha=0.2)
        for i, (name, ys) in enumerate(sorted(series.items())):
            p.plot(xs, ys, pen=pg.mkPen(colors[i % len(colors)], width=2), name=name, connect="finite")

    def rate(
        name: str, label: str, keep: Callable[[dict[str, str]], bool] = lambda _: True
    ) -> dict[str, list[float]]:
        keys = set().union(*(by(s, name, label, keep) for _, s in scrapes))
        out: dict[str, list[float]] = {k: [] for k in keys}
        for (t0, s0), (t1, s1) in zip(scrapes, scrapes[1:], strict=False):
            a, b = by(s0, name, label, keep), by(s1, name, label, keep)
            for k in keys:
                out[k].append((b.get(k, 0.0) - a.get(k, 0.0)) / max(t1 - t0, 1e-9))
        return out

    def p50(metric: str) -> dict[str, list[float]]:
        mappings = by(scrapes[-1][1], "gatedeck_requests_total", "mapping")
        out: dict[str, list[float]] = {}
        for m in mappings:
            ys = []
            for i in range(1, len(scrapes)):
                then = scrapes[max(0, i - 5)][1]  # a 5 s window, as rate(...[5s]) would
                ys.append(windowed_quantile(0.5, scrapes[i][1], then, metric, m))
            if any(not math.isnan(y) for y in ys):
                out[m] = ys
        return out

    both = rate("gatedeck_requests_total", "route")
    plot(0, 0, "Requests per second by path", both, "req/s")
    plot(
        0,
        1,
        "Failed requests by status",
        rate("gatedeck_requests_total", "status", lambda labels: labels["status"] != "200"),
        "req/s",
    )
    plot(1, 0, "Time to first token, p50 over 5 s", p50("gatedeck_ttft_seconds"), "s")
    plot(
        1,
        1,
        "Completion tokens per second by mapping",
        rate("gatedeck_completion_tokens_total", "mapping"),
        "tokens/s",
    )
    final = scrapes[-1][1]
    events = {
        "fallback hops": sum(by(final, "gatedeck_fallbacks_total", "mapping").values()),
        "refused overflows": sum(by(final, "gatedeck_refused_overflows_total", "mapping").values()),
        "model reloads": sum(by(final, "gatedeck_model_reloads_total", "mapping").values()),
    }
    cumulative = {
        name: [sum(by(s, metric, "mapping").values()) for _, s in scrapes[1:]]
        for name, metric in (
            ("fallback hops", "gatedeck_fallbacks_total"),
            ("refused overflows", "gatedeck_refused_overflows_total"),
            ("model reloads", "gatedeck_model_reloads_total"),
        )
    }
    plot(2, 0, "GateDeck's own events (cumulative)", cumulative, "count")
    plot(2, 1, "Request latency, p50 over 5 s", p50("gatedeck_request_seconds"), "s")
    view.show()
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    exporter = pyqtgraph.exporters.ImageExporter(view.scene())
    exporter.parameters()["width"] = 1400
    exporter.export(str(out))
    shrink(out)
    print(f"wrote {out}; events: {events}")


def shrink(png: Path) -> None:
    """Rewrite ``png`` with a 256-colour palette (about a fifth of the bytes)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    flags = Qt.ImageConversionFlag.ThresholdDither | Qt.ImageConversionFlag.AvoidDither
    QImage(str(png)).convertToFormat(QImage.Format.Format_Indexed8, flags).save(str(png), "PNG", 9)


def main() -> None:
    from core.config.schema import Mapping, OllamaBackend
    from core.gateway.service import Gateway
    from core.metrics.recorder import MetricsRecorder
    from tests.core.gateway_support import free_port, tier_config
    from tests.fakes.fake_ollama import FakeOllama
    from tests.fakes.ollama_catalog import default_models

    with FakeOllama(models=default_models()) as fake:
        config = tier_config(fake.url, free_port())
        down = f"http://127.0.0.1:{free_port()}"
        config = config.model_copy(
            update={
                "backends": [*config.backends, OllamaBackend(name="down", url=down)],
                "mappings": [
                    Mapping(name="flaky", model="qwen2.5-coder:7b", backends=["down"], fallbacks=["gpt-4o"]),
                    *config.mappings,
                ],
            }
        )
        gateway = Gateway(config, master_key=KEY, metrics=MetricsRecorder())
        gateway.start_blocking()
        try:
            scrapes = traffic(gateway, fake, float(os.environ.get("PLOT_SECONDS", "60")))
        finally:
            gateway.stop_blocking()
    draw(scrapes, OUT)


if __name__ == "__main__":
    main()
