"""How a Prometheus server scrapes GateDeck: the job to paste into ``prometheus.yml``.

The gateway's ``GET /metrics`` opens with the install's read-only metrics token
(:func:`core.secrets.ensure_metrics_token`), which reaches no model; the job reads it from a
file so that the token stays out of Prometheus's own config. The Gateway panel and
``gatedeck metrics-token --scrape-config`` show the same job.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from core.metrics.prometheus import METRICS_PATH

#: Where the job expects the token (any file Prometheus can read will do).
TOKEN_FILE = "/etc/prometheus/gatedeck-metrics-token"


def scrape_job(gateway_url: str, token_file: str = TOKEN_FILE) -> str:
    """A ``scrape_configs`` entry for the gateway at ``gateway_url``, as YAML."""
    parts = urlsplit(gateway_url)
    lines = [
        "scrape_configs:",
        "  - job_name: gatedeck",
        f"    metrics_path: {METRICS_PATH}",
    ]
    if parts.scheme == "https":
        lines.append("    scheme: https")
    lines += [
        f"    authorization: {{credentials_file: {token_file}}}  # gatedeck metrics-token",
        f'    static_configs: [{{targets: ["{parts.netloc}"]}}]',
    ]
    return "\n".join(lines) + "\n"
