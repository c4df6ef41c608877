"""Models the fake Ollama server knows, with metadata shaped like a real server's answers.

The numbers for ``llama3.2:3b`` and ``qwen2.5-coder:7b`` are those a real Ollama reports for the
library models (``/api/tags``, ``/api/show``), so parsing and fit estimates are exercised on
realistic payloads.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


def fake_digest(seed: str) -> str:
    """A stable 64-hex-digit digest for a made-up blob."""
    return hashlib.sha256(seed.encode()).hexdigest()


def canonical_name(name: str) -> str:
    """``llama3.2`` → ``llama3.2:latest``, as Ollama resolves a name without a tag."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


@dataclass
class FakeModel:
    """One model as the fake server describes it.

    ``layers`` is the pull plan: the size of each blob a pull downloads (weights first, then the
    small template/licence/params blobs, as in real manifests).
    """

    name: str
    family: str
    parameter_size: str
    quantization_level: str
    size: int
    model_info: dict[str, Any]
    capabilities: list[str] = field(default_factory=lambda: ["completion"])
    parameters: str = ""
    template: str = "{{ .Prompt }}"
    digest: str = ""
    layers: list[int] = field(default_factory=list)
    modified_at: str = "2025-05-02T10:14:07.517412053+02:00"
    families: list[str] | None = None

    def __post_init__(self) -> None:
        self.name = canonical_name(self.name)
        if not self.digest:
            self.digest = fake_digest(f"manifest:{self.name}")
        if not self.layers:
            self.layers = [self.size - 9_000, 1_429, 7_023, 548]
        if self.families is None:
            self.families = [self.family]

    @property
    def architecture(self) -> str:
        return str(self.model_info.get("general.architecture", self.family))

    def layer_digests(self) -> list[str]:
        return [f"sha256:{fake_digest(f'{self.name}:layer{i}:{s}')}" for i, s in enumerate(self.layers)]

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": list(self.families or []),
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def copy_as(self, name: str) -> FakeModel:
        return FakeModel(
            name=name,
            family=self.family,
            parameter_size=self.parameter_size,
            quantization_level=self.quantization_level,
            size=self.size,
            model_info=dict(self.model_info),
            capabilities=list(self.capabilities),
            parameters=self.parameters,
            template=self.template,
            digest=self.digest,
            layers=list(self.layers),
            families=list(self.families or []),
        )


def llama32_3b() -> FakeModel:
    """``llama3.2:3b`` (Q4_K_M) as a real Ollama describes it."""
    return FakeModel(
        name="llama3.2:3b",
        family="llama",
        parameter_size="3.2B",
        quantization_level="Q4_K_M",
        size=2_019_393_189,
        digest="a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        layers=[2_019_377_376, 1_429, 7_711, 6_016, 96],
        capabilities=["completion", "tools"],
        parameters='stop                           "<|start_header_id|>"\n'
        'stop                           "<|end_header_id|>"\n'
        'stop                           "<|eot_id|>"',
        template="<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
        "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
        "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n",
        model_info={
            "general.architecture": "llama",
            "general.basename": "Llama-3.2",
            "general.file_type": 15,
            "general.finetune": "Instruct",
            "general.parameter_count": 3_212_749_888,
            "general.quantization_version": 2,
            "general.size_label": "3B",
            "llama.attention.head_count": 24,
            "llama.attention.head_count_kv": 8,
            "llama.attention.key_length": 128,
            "llama.attention.layer_norm_rms_epsilon": 0.00001,
            "llama.attention.value_length": 128,
            "llama.block_count": 28,
            "llama.context_length": 131_072,
            "llama.embedding_length": 3_072,
            "llama.feed_forward_length": 8_192,
            "llama.rope.dimension_count": 128,
            "llama.rope.freq_base": 500_000,
            "llama.vocab_size": 128_256,
            "tokenizer.ggml.bos_token_id": 128_000,
            "tokenizer.ggml.eos_token_id": 128_009,
            "tokenizer.ggml.merges": None,
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": "llama-bpe",
            "tokenizer.ggml.token_type": None,
            "tokenizer.ggml.tokens": None,
        },
    )


def qwen25_coder_7b() -> FakeModel:
    """``qwen2.5-coder:7b`` (Q4_K_M) as a real Ollama describes it."""
    return FakeModel(
        name="qwen2.5-coder:7b",
        family="qwen2",
        parameter_size="7.6B",
        quantization_level="Q4_K_M",
        size=4_683_087_332,
        digest="dae161e27b0e90dd1856c8bb3209201fd6736d8eb66298e75ed87571486f4364",
        layers=[4_683_073_184, 68, 1_615, 11_343, 487],
        capabilities=["completion", "tools", "insert"],
        parameters="",
        template="{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>"
        "{{- else }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}",
        model_info={
            "general.architecture": "qwen2",
            "general.basename": "Qwen2.5-Coder",
            "general.file_type": 15,
            "general.finetune": "Instruct",
            "general.parameter_count": 7_615_616_512,
            "general.quantization_version": 2,
            "general.size_label": "7B",
            "qwen2.attention.head_count": 28,
            "qwen2.attention.head_count_kv": 4,
            "qwen2.attention.layer_norm_rms_epsilon": 0.000001,
            "qwen2.block_count": 28,
            "qwen2.context_length": 32_768,
            "qwen2.embedding_length": 3_584,
            "qwen2.feed_forward_length": 18_944,
            "qwen2.rope.freq_base": 1_000_000,
            "qwen2.vocab_size": 152_064,
            "tokenizer.ggml.add_bos_token": False,
            "tokenizer.ggml.bos_token_id": 151_643,
            "tokenizer.ggml.eos_token_id": 151_645,
            "tokenizer.ggml.merges": None,
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": "qwen2",
            "tokenizer.ggml.token_type": None,
            "tokenizer.ggml.tokens": None,
        },
    )


def qwen3_8b() -> FakeModel:
    """``qwen3:8b``, a model that can think (``capabilities`` has ``thinking``)."""
    return FakeModel(
        name="qwen3:8b",
        family="qwen3",
        parameter_size="8.2B",
        quantization_level="Q4_K_M",
        size=5_225_387_923,
        capabilities=["completion", "tools", "thinking"],
        model_info={
            "general.architecture": "qwen3",
            "general.parameter_count": 8_190_735_360,
            "qwen3.attention.head_count": 32,
            "qwen3.attention.head_count_kv": 8,
            "qwen3.block_count": 36,
            "qwen3.context_length": 40_960,
            "qwen3.embedding_length": 4_096,
            "qwen3.feed_forward_length": 12_288,
        },
    )


def tiny_model(name: str = "tinyllama:1.1b", layers: list[int] | None = None) -> FakeModel:
    """A small llama-architecture model, handy as a pull target with a short layer plan."""
    return FakeModel(
        name=name,
        family="llama",
        parameter_size="1.1B",
        quantization_level="Q4_0",
        size=sum(layers) if layers else 637_700_138,
        layers=list(layers) if layers else [637_699_456, 98, 562, 22],
        capabilities=["completion"],
        model_info={
            "general.architecture": "llama",
            "general.parameter_count": 1_100_048_384,
            "llama.attention.head_count": 32,
            "llama.attention.head_count_kv": 4,
            "llama.block_count": 22,
            "llama.context_length": 2_048,
            "llama.embedding_length": 2_048,
            "llama.feed_forward_length": 5_632,
            "llama.vocab_size": 32_000,
        },
    )


def nomic_embed_text() -> FakeModel:
    """``nomic-embed-text:latest``, a model that only embeds (``capabilities``: ``embedding``)."""
    return FakeModel(
        name="nomic-embed-text:latest",
        family="nomic-bert",
        parameter_size="137M",
        quantization_level="F16",
        size=274_302_450,
        capabilities=["embedding"],
        template="",
        model_info={
            "general.architecture": "nomic-bert",
            "general.parameter_count": 136_727_040,
            "nomic-bert.attention.head_count": 12,
            "nomic-bert.block_count": 12,
            "nomic-bert.context_length": 2_048,
            "nomic-bert.embedding_length": 768,
            "nomic-bert.feed_forward_length": 3_072,
            "nomic-bert.pooling_type": 1,
        },
    )


def default_models() -> list[FakeModel]:
    """The two installed models the ``fake_ollama`` fixture starts with."""
    return [qwen25_coder_7b(), llama32_3b()]
