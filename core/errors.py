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


class FolderNotWritable(GateDeckError):
    """GateDeck cannot create or write its config or data folder."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(
            f"GateDeck cannot write {path} ({reason}). Give your user write access to its folder, "
            "or point GATEDECK_CONFIG_DIR at a folder you can write (it then keeps config, data and "
            "logs there)."
        )


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
            "(or open the Ollama app), or change the Ollama address on GateDeck's Gateway panel."
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


def _bytes(n: int) -> str:
    """``4683087332`` → ``4.7 GB`` (decimal units, as Ollama prints sizes)."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop always returns


class OllamaTimeout(OllamaError):
    """Ollama accepted the connection but did not answer in time."""

    def __init__(self, url: str, what: str, seconds: float | None) -> None:
        self.url = url
        self.seconds = seconds
        within = f" within {seconds:g} s" if seconds is not None else " in time"
        super().__init__(
            f"Ollama at {url} did not answer {what}{within}. It may be busy loading a "
            "large model or stuck: try again, or restart Ollama and look at its log."
        )


class OllamaConnectionLost(OllamaError):
    """The connection to Ollama closed in the middle of an answer."""

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"The connection to Ollama at {url} closed in the middle of an answer{extra}. Ollama may "
            "have crashed or restarted: check that it is running, then try again."
        )


class OllamaServerError(OllamaError):
    """Ollama answered, but with an error (HTTP 4xx/5xx) that is not a missing model."""

    def __init__(self, url: str, status: int, detail: str) -> None:
        self.url = url
        self.status = status
        self.detail = detail
        code = f" (HTTP {status})" if status > 0 else ""
        super().__init__(
            f"Ollama at {url} reported an error{code}: {detail}. Check the Ollama log (the Models "
            "panel shows it when GateDeck runs Ollama) and update Ollama if it is old."
        )


class OllamaProtocolError(OllamaError):
    """Something answered at the Ollama address, but not in a way GateDeck can read."""

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"The reply from {url} could not be read{extra}. Make sure this address is an Ollama "
            "server (not another program) and that Ollama is up to date."
        )


class PullError(OllamaError):
    """A model could not be downloaded."""

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(message)


class ModelNotInLibrary(PullError):
    """Ollama's registry has no model by that name or tag."""

    def __init__(self, model: str, detail: str = "") -> None:
        extra = f" (Ollama said: {detail})" if detail else ""
        super().__init__(
            model,
            f"There is no model called '{model}' to download{extra}. Check the name and tag on "
            "https://ollama.com/library, e.g. `llama3.2:3b` or `qwen2.5-coder:7b`.",
        )


class PullStalled(PullError):
    """A download made no progress, even after reconnecting several times."""

    def __init__(self, model: str, seconds: float, attempts: int) -> None:
        self.seconds = seconds
        self.attempts = attempts
        super().__init__(
            model,
            f"The download of '{model}' made no progress for {seconds:g} s, {attempts} time(s) in a "
            "row. Check your internet connection (or proxy) and the Ollama log, then pull again: "
            "it resumes where it stopped.",
        )


class PullInterrupted(PullError):
    """The connection kept dropping during a download."""

    def __init__(self, model: str, attempts: int, detail: str = "") -> None:
        self.attempts = attempts
        extra = f" (last: {detail})" if detail else ""
        super().__init__(
            model,
            f"The connection to Ollama dropped {attempts} time(s) in a row while pulling '{model}'"
            f"{extra}. Check that Ollama is still running, then pull again: it resumes where it "
            "stopped.",
        )


class InsufficientDisk(PullError):
    """There is not enough free disk space where Ollama keeps its models."""

    def __init__(self, model: str, needed: int, free: int, path: str) -> None:
        self.needed = needed
        self.free = free
        self.path = path
        super().__init__(
            model,
            f"Not enough disk space to pull '{model}': it needs about {_bytes(needed)} more but "
            f"only {_bytes(free)} is free at {path}. Free some space (e.g. delete models you no "
            "longer use: `gatedeck models rm NAME`) or point OLLAMA_MODELS at a bigger disk.",
        )


class ManagedServerError(OllamaError):
    """GateDeck could not start, stop or restart the `ollama serve` it manages."""


class OllamaNotInstalled(ManagedServerError):
    """No `ollama` program was found to start."""

    def __init__(self) -> None:
        super().__init__(
            "GateDeck cannot start Ollama: no `ollama` program was found on PATH. Install it from "
            "https://ollama.com/download (or add its folder to PATH), or start Ollama yourself."
        )


class NotOurServer(ManagedServerError):
    """The Ollama server at the address was not started by GateDeck, so GateDeck leaves it alone."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"The Ollama server at {url} was not started by GateDeck, so GateDeck will not stop or "
            "restart it. Restart it yourself to apply server settings (or quit it and let GateDeck "
            "start its own)."
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


class GatewayError(GateDeckError):
    """The embedded gateway could not do what was asked."""


class GatewayStartError(GatewayError):
    """The gateway did not come up; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"The gateway could not start: {reason}")


class GatewayBusy(GatewayError):
    """Another gateway already runs in this process (LiteLLM's proxy is one per process)."""

    def __init__(self) -> None:
        super().__init__(
            "Another GateDeck gateway is already running in this program. Stop it first, or use "
            "`gatedeck serve` in a separate terminal for a second one."
        )


class ClaudeSettingsError(GateDeckError):
    """Claude Code's settings file could not be updated (it is left as it was)."""


class CodexConfigError(GateDeckError):
    """Codex's ``config.toml`` could not be updated (it is left as it was)."""


class NoOriginalFile(GateDeckError):
    """A client's settings file cannot be put back: GateDeck kept no copy from before its first write."""
