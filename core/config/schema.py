"""Typed model of GateDeck's whole configuration.

The YAML file on disk is this model dumped with :func:`config_to_yaml`; loading and saving live in
:mod:`core.config.store`. Secrets (master key, cloud API keys) are never fields here: cloud
entries name an environment variable or a secret-store entry instead.

Every model forbids unknown keys, so a typo such as ``num_cxt`` is reported with its line rather
than silently ignored.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

SCHEMA_VERSION = 2

#: Claude Code sends ~30k tokens in its first request (24 tools, long system prompt); Ollama's
#: default context is far smaller and truncates silently.
CLAUDE_MIN_CTX = 32768

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_BACKEND = "local"

_KEEP_ALIVE = re.compile(r"^-?\d+(\.\d+)?(ms|s|m|h)?$")
_NAME = re.compile(r"^[A-Za-z0-9._:/*?\[\]-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


Loc = tuple[str | int, ...]


class GatewaySettings(_Strict):
    """The embedded LiteLLM proxy's listening socket and behaviour."""

    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=1, le=65535)
    start_on_launch: bool = True
    routing_strategy: Literal[
        "simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing-v2"
    ] = "simple-shuffle"
    request_timeout_s: float = Field(default=600.0, gt=0)
    #: answer requests for Ollama-only mappings without LiteLLM (much faster; off: every
    #: request goes through LiteLLM's proxy, as before)
    direct_path: bool = True
    #: a connection must send a whole request (headers and body) within this many seconds of
    #: opening (or of the previous answer on it), else it is closed
    receive_timeout_s: float = Field(default=10.0, gt=0, le=600)
    #: the largest request body accepted, in MB (larger ones are answered 413)
    max_body_mb: int = Field(default=32, ge=1, le=4096)

    @property
    def exposed(self) -> bool:
        """True when the gateway listens beyond this machine (the user must be warned)."""
        return self.host not in ("127.0.0.1", "localhost", "::1")


class OllamaBackend(_Strict):
    """One Ollama server GateDeck can route to."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    url: str = DEFAULT_OLLAMA_URL

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(
                "must start with http:// or https:// followed by a host, e.g. http://127.0.0.1:11434"
            )
        return value.rstrip("/")


class ModelOptions(_Strict):
    """Per-mapping options sent to Ollama with each request (``options`` / ``keep_alive``)."""

    num_ctx: int | None = Field(default=None, ge=256, le=2_097_152)
    num_gpu: int | None = Field(default=None, ge=-1, le=1024)
    num_thread: int | None = Field(default=None, ge=1, le=1024)
    num_batch: int | None = Field(default=None, ge=1, le=65536)
    main_gpu: int | None = Field(default=None, ge=0, le=64)
    keep_alive: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _keep_alive(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("must be a duration such as 5m, 1h, 0 or -1")
        if isinstance(value, int | float):
            value = str(value)
        if isinstance(value, str) and not _KEEP_ALIVE.match(value):
            raise ValueError("must be a duration such as 5m, 1h, 0 (unload at once) or -1 (keep loaded)")
        return value


class Mapping(_Strict):
    """A name clients ask for (or a pattern like ``claude-sonnet-*``) mapped onto an Ollama model."""

    name: str = Field(min_length=1, max_length=200)
    model: str = Field(min_length=1, max_length=200)
    backends: list[str] = Field(default_factory=lambda: [DEFAULT_BACKEND], min_length=1)
    options: ModelOptions = Field(default_factory=ModelOptions)
    fallbacks: list[str] = Field(default_factory=list)
    #: A prompt too long for the mapping's context: ``refuse`` answers the client's API error
    #: (Claude Code then compacts), ``truncate`` lets Ollama cut it silently; unset: refuse for
    #: the Claude tiers, truncate for the rest.
    on_overflow: Literal["refuse", "truncate"] | None = None
    #: Turn tool calls the model wrote as text into real tool calls.
    repair_tool_calls: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("may hold letters, digits and . _ : / - plus the wildcards * ? [ ] (no spaces)")
        return value

    @property
    def is_pattern(self) -> bool:
        return any(ch in self.name for ch in "*?[")

    def matches(self, requested: str) -> bool:
        """True when a client asking for ``requested`` lands on this mapping."""
        return fnmatch.fnmatchcase(requested, self.name) if self.is_pattern else requested == self.name

    @property
    def is_claude(self) -> bool:
        """Mappings Claude Code will use; they need a large context."""
        return self.name.startswith("claude") or self.name == "*"

    @property
    def refuses_overflow(self) -> bool:
        """Whether a prompt too long for the context is refused (else Ollama truncates it)."""
        return self.on_overflow == "refuse" if self.on_overflow else self.is_claude


class CloudModel(_Strict):
    """A hosted model a mapping can fall back to. Its key is never stored in the YAML."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:/-]+$")
    provider: Literal["anthropic", "openai", "gemini", "openrouter", "groq", "mistral"]
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    api_base: str | None = None


class OllamaServerSettings(_Strict):
    """Settings for an ``ollama serve`` that GateDeck starts itself (its env variables)."""

    managed: bool = False
    flash_attention: bool | None = None
    kv_cache_type: Literal["f16", "q8_0", "q4_0"] | None = None
    num_parallel: int | None = Field(default=None, ge=1, le=64)
    max_loaded_models: int | None = Field(default=None, ge=1, le=64)
    keep_alive: str | None = None
    context_length: int | None = Field(default=None, ge=256)
    host: str | None = None
    models_dir: str | None = None


class UiPrefs(_Strict):
    """The user's desktop preferences. What the window merely remembers (last panel, geometry)
    is state, kept in its own file (:mod:`core.config.ui_state`)."""

    theme: Literal["system", "light", "dark"] = "system"
    start_on_login: bool = False


class Config(_Strict):
    """The whole of GateDeck's configuration."""

    schema_version: int = SCHEMA_VERSION
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    backends: list[OllamaBackend] = Field(
        default_factory=lambda: [OllamaBackend(name=DEFAULT_BACKEND)], min_length=1
    )
    mappings: list[Mapping] = Field(default_factory=list)
    cloud: list[CloudModel] = Field(default_factory=list)
    ollama_server: OllamaServerSettings = Field(default_factory=OllamaServerSettings)
    ui: UiPrefs = Field(default_factory=UiPrefs)

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Config:
        # The config store asks to defer this check so it can report each problem at its own
        # key and line (see reference_problems); code that builds a Config gets it at once.
        if isinstance(info.context, dict) and info.context.get("defer_references"):
            return self
        problems = self.reference_problems()
        if problems:
            raise ValueError("; ".join(f"{dotted_path(loc)}: {msg}" for loc, msg in problems))
        return self

    def reference_problems(self) -> list[tuple[Loc, str]]:
        """Names used twice and references to backends, mappings or cloud entries that don't exist."""
        problems: list[tuple[Loc, str]] = []
        backend_names = [b.name for b in self.backends]
        _dupes("backends", backend_names, problems)
        _dupes("mappings", [m.name for m in self.mappings], problems)
        _dupes("cloud", [c.name for c in self.cloud], problems)
        known_targets = {m.name for m in self.mappings} | {c.name for c in self.cloud}
        for i, mapping in enumerate(self.mappings):
            for j, backend in enumerate(mapping.backends):
                if backend not in backend_names:
                    problems.append(
                        (
                            ("mappings", i, "backends", j),
                            f"unknown backend '{backend}' (known: {', '.join(backend_names)})",
                        )
                    )
            for j, fallback in enumerate(mapping.fallbacks):
                if fallback == mapping.name:
                    problems.append((("mappings", i, "fallbacks", j), "a mapping cannot fall back to itself"))
                elif fallback not in known_targets:
                    problems.append(
                        (
                            ("mappings", i, "fallbacks", j),
                            f"'{fallback}' is neither a mapping nor a cloud entry",
                        )
                    )
        return problems

    def backend(self, name: str) -> OllamaBackend:
        for backend in self.backends:
            if backend.name == name:
                return backend
        raise KeyError(name)

    def mapping_for(self, requested: str) -> Mapping | None:
        """The mapping a request for ``requested`` lands on: exact names first, then patterns in order."""
        for mapping in self.mappings:
            if not mapping.is_pattern and mapping.name == requested:
                return mapping
        for mapping in self.mappings:
            if mapping.is_pattern and mapping.matches(requested):
                return mapping
        return None


def _dupes(section: str, names: list[str], problems: list[tuple[Loc, str]]) -> None:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            problems.append(((section, i, "name"), f"the name '{name}' is used twice"))
        seen.add(name)


def dotted_path(loc: Loc) -> str:
    """``("mappings", 2, "options")`` → ``mappings[2].options``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
