"""What an Ollama server reports, as small frozen dataclasses: installed models (``/api/tags``),
a model's details (``/api/show``) and loaded models (``/api/ps``), with the parsers that build
them from the official client's responses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only the parsers' argument types; the responses come from core.ollama.client
    import ollama

#: Ollama reports "keep loaded forever" as an expiry centuries away.
_FOREVER_AFTER = dt.timedelta(days=365 * 100)


def only_embeds(capabilities: Sequence[str]) -> bool:
    """What Ollama lists for a model that makes embeddings and cannot chat."""
    return "embedding" in capabilities and "completion" not in capabilities


@dataclass(frozen=True)
class InstalledModel:
    """A model in ``/api/tags``."""

    name: str
    size: int
    digest: str
    modified_at: dt.datetime | None
    family: str
    families: tuple[str, ...]
    parameter_size: str
    quantization: str
    format: str


@dataclass(frozen=True)
class ModelDetails:
    """What ``/api/show`` says about a model, with the numbers GateDeck uses pulled out."""

    name: str
    architecture: str
    family: str
    parameter_size: str
    quantization: str
    context_length: int | None
    block_count: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    key_length: int | None
    value_length: int | None
    parameter_count: int | None
    capabilities: tuple[str, ...]
    parameters: tuple[tuple[str, str], ...]
    template: str
    model_info: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def supports_tools(self) -> bool:
        return "tools" in self.capabilities

    @property
    def supports_vision(self) -> bool:
        return "vision" in self.capabilities

    @property
    def makes_embeddings(self) -> bool:
        """Ollama lists ``embedding``: ``/v1/embeddings`` can use it."""
        return "embedding" in self.capabilities

    @property
    def only_embeds(self) -> bool:
        """It makes embeddings and cannot chat (the gateway refuses chat requests to it)."""
        return only_embeds(self.capabilities)

    def parameter(self, key: str) -> list[str]:
        """Every value of a default parameter (``stop`` can appear many times)."""
        return [value for name, value in self.parameters if name == key]

    @property
    def default_num_ctx(self) -> int | None:
        """``num_ctx`` set by the model's Modelfile, if any."""
        values = self.parameter("num_ctx")
        return int(values[-1]) if values and values[-1].isdigit() else None


@dataclass(frozen=True)
class LoadedModel:
    """A model in memory, from ``/api/ps``."""

    name: str
    size: int
    size_vram: int
    context_length: int | None
    expires_at: dt.datetime | None
    digest: str
    family: str
    parameter_size: str
    quantization: str

    @property
    def gpu_percent(self) -> int:
        """Share of the model's memory in VRAM, 0–100."""
        return round(100 * self.size_vram / self.size) if self.size > 0 else 0

    @property
    def cpu_percent(self) -> int:
        return 100 - self.gpu_percent

    @property
    def processor(self) -> str:
        """The split as ``ollama ps`` prints it: ``100% GPU``, ``100% CPU`` or ``41%/59% CPU/GPU``."""
        if self.gpu_percent >= 100:
            return "100% GPU"
        if self.gpu_percent <= 0:
            return "100% CPU"
        return f"{self.cpu_percent}%/{self.gpu_percent}% CPU/GPU"

    @property
    def kept_forever(self) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at - dt.datetime.now(dt.UTC) > _FOREVER_AFTER


def only_embedding(described: Mapping[str, ModelDetails | str]) -> frozenset[str]:
    """The models of ``described`` (details by name, or why there are none) that only make
    embeddings, by name."""
    return frozenset(
        name
        for name, details in described.items()
        if isinstance(details, ModelDetails) and details.only_embeds
    )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_parameters(text: str | None) -> tuple[tuple[str, str], ...]:
    """Ollama's ``parameters`` text (``name   value`` per line) as ordered pairs."""
    pairs: list[tuple[str, str]] = []
    for line in (text or "").splitlines():
        name, _, value = line.strip().partition(" ")
        if name:
            pairs.append((name, value.strip()))
    return tuple(pairs)


def parse_show(name: str, shown: ollama.ShowResponse) -> ModelDetails:
    info: Mapping[str, Any] = shown.modelinfo or {}
    details = shown.details
    arch = str(info.get("general.architecture") or (details.family if details else "") or "")

    def meta(key: str) -> int | None:
        return _int(info.get(f"{arch}.{key}"))

    capabilities = tuple(shown.capabilities or ())
    if shown.capabilities is None and ".Tools" in (shown.template or ""):
        capabilities = ("completion", "tools")  # Ollama before capabilities: tools show in the template
    return ModelDetails(
        name=name,
        architecture=arch,
        family=(details.family if details else None) or arch,
        parameter_size=(details.parameter_size if details else None) or "",
        quantization=(details.quantization_level if details else None) or "",
        context_length=meta("context_length"),
        block_count=meta("block_count"),
        embedding_length=meta("embedding_length"),
        head_count=meta("attention.head_count"),
        head_count_kv=meta("attention.head_count_kv") or meta("attention.head_count"),
        key_length=meta("attention.key_length"),
        value_length=meta("attention.value_length"),
        parameter_count=_int(info.get("general.parameter_count")),
        capabilities=capabilities,
        parameters=parse_parameters(shown.parameters),
        template=shown.template or "",
        model_info=dict(info),
    )


def parse_tags(listed: ollama.ListResponse) -> list[InstalledModel]:
    out = []
    for m in listed.models:
        d = m.details
        out.append(
            InstalledModel(
                name=m.model or "",
                size=int(m.size or 0),
                digest=m.digest or "",
                modified_at=m.modified_at,
                family=(d.family if d else None) or "",
                families=tuple((d.families if d else None) or ()),
                parameter_size=(d.parameter_size if d else None) or "",
                quantization=(d.quantization_level if d else None) or "",
                format=(d.format if d else None) or "",
            )
        )
    return out


def parse_ps(running: ollama.ProcessResponse) -> list[LoadedModel]:
    out = []
    for m in running.models:
        d = m.details
        out.append(
            LoadedModel(
                name=m.model or m.name or "",
                size=int(m.size or 0),
                size_vram=int(m.size_vram or 0),
                context_length=m.context_length,
                expires_at=m.expires_at,
                digest=m.digest or "",
                family=(d.family if d else None) or "",
                parameter_size=(d.parameter_size if d else None) or "",
                quantization=(d.quantization_level if d else None) or "",
            )
        )
    return out
