"""``gatedeck metrics-token``: the read-only token a Prometheus server scrapes ``/metrics`` with."""

from __future__ import annotations

import argparse
from typing import Any

from core.config.first_run import open_installation
from core.metrics.scrape import TOKEN_FILE, scrape_job


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    token = subparsers.add_parser(
        "metrics-token",
        help="print the read-only token that opens only the gateway's /metrics (for Prometheus)",
    )
    token.add_argument(
        "--scrape-config",
        action="store_true",
        help=f"print a Prometheus scrape job for this gateway instead (it reads the token from {TOKEN_FILE})",
    )
    token.set_defaults(func=cmd_metrics_token)


def cmd_metrics_token(args: argparse.Namespace) -> int:
    from core.cli.gateway import current_gateway_url

    install = open_installation(ollama_url=args.ollama_url, default_model=args.default_model)
    if args.scrape_config:
        url, _running = current_gateway_url(install)
        print(scrape_job(url), end="")
    else:
        print(install.metrics_token)
    return 0
