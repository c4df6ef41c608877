"""Logging for GateDeck: a rotating file in the data folder, with secrets scrubbed.

Every secret GateDeck knows (master key, cloud API keys) is registered with
:func:`register_secret`; the filter replaces it in every record before any handler sees it,
whichever library logged it.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

REDACTED = "[redacted]"
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Never let ``value`` reach a log line."""
    if len(value) >= 8:
        _secrets.add(value)


def scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with known secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_text:
                record.exc_text = scrub(record.exc_text)
        return True


def setup_logging(log_dir: Path, level: int = logging.INFO, console: bool = False) -> Path:
    """Send GateDeck's logs to ``log_dir/gatedeck.log`` (rotating, 5 × 2 MB). Returns the path."""
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / "gatedeck.log"
    root = logging.getLogger()
    redact = RedactSecrets()
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    ]
    if console:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(redact)
        root.addHandler(handler)
    root.setLevel(level)
    return path
