"""GateDeck's own errors.

Every error a user can meet says what happened and how to fix it. The GUI shows
``str(error)`` in place (status line, panel banner); the CLI prints it and exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass


class GateDeckError(Exception):
    """Base of every error GateDeck raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a config file.

    Attributes:
        path: dotted key path, e.g. ``mappings[2].options.num_ctx``; ``""`` for the whole file.
        line: 1-based line in the file, or ``None`` when the text has no lines to point at.
        message: what is wrong, in plain words.
    """

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path or "(file)"
        if self.line is not None:
            where = f"line {self.line}: {where}"
        return f"{where}: {self.message}"


class ConfigError(GateDeckError):
    """A config file could not be used; ``problems`` lists every problem found, not just the first."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} has {len(problems)} problem(s):\n{lines}")


class SecretStoreError(GateDeckError):
    """The master key or an API key could not be read or stored."""


class OllamaError(GateDeckError):
    """Base for failures talking to an Ollama server."""


class OllamaUnreachable(OllamaError):
    """No Ollama server answers at the configured address."""

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"Ollama is not answering at {url}{extra}. Start it with `ollama serve` "
            "(or open the Ollama app), or change the Ollama address in GateDeck's settings."
        )


class ModelNotFound(OllamaError):
    """The Ollama server does not have the requested model."""

    def __init__(self, model: str, url: str = "") -> None:
        self.model = model
        at = f" on {url}" if url else ""
        super().__init__(
            f"Model '{model}' is not installed{at}. Pull it first: `gatedeck models pull {model}` "
            "or the Models panel."
        )


class PortInUse(GateDeckError):
    """The gateway's port is taken by another program."""

    def __init__(self, host: str, port: int, holder: str = "", suggestion: int | None = None) -> None:
        self.host = host
        self.port = port
        self.holder = holder
        self.suggestion = suggestion
        who = f" by {holder}" if holder else " by another program"
        alt = f" Port {suggestion} is free." if suggestion else ""
        super().__init__(
            f"Port {port} on {host} is already in use{who}. Stop that program or choose another port.{alt}"
        )
