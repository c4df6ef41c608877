"""The models GateDeck recommends for coding agents: one table, each figure with its source.

Download sizes are what Ollama's library page prints for the tag (decimal GB, rounded to two
figures, so within ±50 MB; the estimate's own margin covers that), except where the exact byte
count of the tag is known. These figures were written down from the pages and model cards named
next to each entry; GateDeck could not re-read ollama.com while writing them, and once a model is
installed the estimate uses the size and geometry Ollama itself reports instead.
Geometry is the model's ``config.json`` (Hugging Face), which Ollama's GGUF metadata repeats:
``block_count`` = ``num_hidden_layers``, ``embedding_length`` = ``hidden_size``,
``attention.head_count[_kv]`` = ``num_[key_value_]heads``, ``attention.key_length`` = ``head_dim``
(given only where it is not ``hidden_size / num_attention_heads``). The context is the one the
library page lists for the tag. Mixture-of-experts models are estimated from their file size
(every expert is loaded), as Ollama loads them.

Tool calling, for Claude Code's kind of use (many tools, long prompts):

- *reliable*: the vendor trained it for agentic tool use and its Ollama template passes tools;
- *mostly*: it calls tools but is reported to write some calls as plain text (GateDeck's repair
  turns most of those into real calls) — or nothing beyond its card is known;
- *poor*: reported to call tools when none is needed or to ignore their results.

Whatever the table says, the setup's tool-call probe checks the model on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.hardware.fit import ModelGeometry
from core.ollama.names import full_name

GB = 1_000_000_000  # Ollama's library prints sizes in decimal units


def gb(size: float) -> int:
    """A size as Ollama's library page prints it (``4.7GB``), in bytes."""
    return round(size * GB)


class ToolCalling(StrEnum):
    RELIABLE = "reliable"
    MOSTLY = "mostly"
    POOR = "poor"


@dataclass(frozen=True)
class CatalogModel:
    """A model in the table.

    Attributes:
        name: the Ollama tag, e.g. ``qwen2.5-coder:7b``.
        family: the model family as people know it.
        parameters: the parameter count as the vendor states it.
        quantization: the tag's quantization.
        download_bytes: the tag's download size.
        max_context: the context the model was trained for (what Ollama's page lists).
        geometry: the numbers the fit estimate needs (weights = ``download_bytes``).
        tools: how reliably it calls tools.
        note: one line for people: what it is good at, or its tool-calling caveat.
    """

    name: str
    family: str
    parameters: str
    quantization: str
    download_bytes: int
    max_context: int
    geometry: ModelGeometry
    tools: ToolCalling
    note: str


def _model(
    name: str,
    family: str,
    parameters: str,
    quantization: str,
    download: int,
    max_context: int,
    *,
    layers: int,
    embedding: int,
    heads: int,
    kv_heads: int,
    head_dim: int | None,
    tools: ToolCalling,
    note: str,
) -> CatalogModel:
    geometry = ModelGeometry(
        name=name,
        weights=download,
        block_count=layers,
        embedding_length=embedding,
        head_count=heads,
        head_count_kv=kv_heads,
        key_length=head_dim,
        value_length=head_dim,
    )
    return CatalogModel(name, family, parameters, quantization, download, max_context, geometry, tools, note)


#: Best coding agents first.
# fmt: off
CATALOG: tuple[CatalogModel, ...] = (
    # https://ollama.com/library/qwen3-coder (30b: 19GB, Q4_K_M, 256K context, tools)
    # https://huggingface.co/Qwen/Qwen3-Coder-30B-A3B-Instruct/blob/main/config.json
    #   num_hidden_layers 48, hidden_size 2048, num_attention_heads 32, num_key_value_heads 4, head_dim 128
    # Tools: the model card names agentic coding and "a specially designed function call format";
    #   Ollama parses that format with a built-in parser (ollama/ollama, parser "qwen3-coder").
    _model(
        "qwen3-coder:30b", "Qwen3-Coder", "30.5B (3.3B active)", "Q4_K_M", gb(19), 262_144,
        layers=48, embedding=2048, heads=32, kv_heads=4, head_dim=128,
        tools=ToolCalling.RELIABLE,
        note="built for agentic coding and tool use; fast for its size (3B active parameters)",
    ),
    # https://ollama.com/library/devstral (24b: 14GB, Q4_K_M, 128K context, tools)
    # https://huggingface.co/mistralai/Devstral-Small-2505/blob/main/config.json (Mistral Small 3.1 text)
    #   num_hidden_layers 40, hidden_size 5120, num_attention_heads 32, num_key_value_heads 8, head_dim 128
    # Tools: the model card (huggingface.co/mistralai/Devstral-Small-2505) describes an agentic model
    #   for software engineering, built to explore codebases and edit files through an agent's tools.
    _model(
        "devstral:24b", "Devstral", "24B", "Q4_K_M", gb(14), 131_072,
        layers=40, embedding=5120, heads=32, kv_heads=8, head_dim=128,
        tools=ToolCalling.RELIABLE,
        note="trained to work in code agents (editing files, running tools)",
    ),
    # https://ollama.com/library/gpt-oss (20b: 14GB, MXFP4, 128K context, tools)
    # https://huggingface.co/openai/gpt-oss-20b/blob/main/config.json
    #   num_hidden_layers 24, hidden_size 2880, num_attention_heads 64, num_key_value_heads 8, head_dim 64
    #   Every other layer uses a 128-token sliding window, so the KV cache is about half this estimate.
    # Tools: https://ollama.com/blog/gpt-oss lists native function calling among its capabilities.
    _model(
        "gpt-oss:20b", "gpt-oss", "21B (3.6B active)", "MXFP4", gb(14), 131_072,
        layers=24, embedding=2880, heads=64, kv_heads=8, head_dim=64,
        tools=ToolCalling.RELIABLE,
        note="OpenAI's open-weight reasoning model with native tool calling; thinks before answering",
    ),
    # https://ollama.com/library/qwen2.5-coder (32b: 20GB, Q4_K_M, 32K context, tools)
    # https://huggingface.co/Qwen/Qwen2.5-Coder-32B-Instruct/blob/main/config.json
    #   num_hidden_layers 64, hidden_size 5120, num_attention_heads 40, num_key_value_heads 8
    # Tools: qwen2.5-coder tags are reported to answer with the call as bare JSON in the text
    #   (github.com/ollama/ollama/issues/12174), which GateDeck's tool-call repair reads.
    _model(
        "qwen2.5-coder:32b", "Qwen2.5-Coder", "32.5B", "Q4_K_M", gb(20), 32_768,
        layers=64, embedding=5120, heads=40, kv_heads=8, head_dim=None,
        tools=ToolCalling.MOSTLY,
        note="strong at code; sometimes writes a tool call as text (GateDeck repairs most)",
    ),
    # https://ollama.com/library/qwen3 (30b-a3b: 19GB, Q4_K_M, 40K context, tools)
    # https://huggingface.co/Qwen/Qwen3-30B-A3B/blob/main/config.json
    #   num_hidden_layers 48, hidden_size 2048, num_attention_heads 32, num_key_value_heads 4, head_dim 128
    #   max_position_embeddings 40960. (Later Qwen3 30B-A3B updates have a longer context; this is the
    #   original tag's.)
    # Tools: the Qwen3 model card names agent use and tool calling among its strengths.
    _model(
        "qwen3:30b-a3b", "Qwen3", "30.5B (3.3B active)", "Q4_K_M", gb(19), 40_960,
        layers=48, embedding=2048, heads=32, kv_heads=4, head_dim=128,
        tools=ToolCalling.RELIABLE,
        note="general model with good tool calling; fast for its size (3B active parameters)",
    ),
    # https://ollama.com/library/qwen3 (14b: 9.3GB, Q4_K_M, 40K context, tools)
    # https://huggingface.co/Qwen/Qwen3-14B/blob/main/config.json
    #   num_hidden_layers 40, hidden_size 5120, num_attention_heads 40, num_key_value_heads 8, head_dim 128
    # Tools: as qwen3:8b.
    _model(
        "qwen3:14b", "Qwen3", "14.8B", "Q4_K_M", gb(9.3), 40_960,
        layers=40, embedding=5120, heads=40, kv_heads=8, head_dim=128,
        tools=ToolCalling.RELIABLE,
        note="good tool calling at a size that fits 12–16 GB GPUs",
    ),
    # https://ollama.com/library/qwen2.5-coder (14b: 9.0GB, Q4_K_M, 32K context, tools)
    # https://huggingface.co/Qwen/Qwen2.5-Coder-14B-Instruct/blob/main/config.json
    #   num_hidden_layers 48, hidden_size 5120, num_attention_heads 40, num_key_value_heads 8
    # Tools: bare-JSON calls reported for this very tag (github.com/ollama/ollama/issues/12174).
    _model(
        "qwen2.5-coder:14b", "Qwen2.5-Coder", "14.8B", "Q4_K_M", gb(9.0), 32_768,
        layers=48, embedding=5120, heads=40, kv_heads=8, head_dim=None,
        tools=ToolCalling.MOSTLY,
        note="good at code; sometimes writes a tool call as text (GateDeck repairs most)",
    ),
    # https://ollama.com/library/qwen3 (8b: 5.2GB, Q4_K_M, 40K context, tools); 5,225,387,923 bytes
    #   is the tag's size as Ollama's /api/tags reports it.
    # https://huggingface.co/Qwen/Qwen3-8B/blob/main/config.json
    #   num_hidden_layers 36, hidden_size 4096, num_attention_heads 32, num_key_value_heads 8, head_dim 128
    # Tools: the same report (github.com/ollama/ollama/issues/12174) shows qwen3:8b answering with a
    #   structured call where qwen2.5-coder wrote text.
    _model(
        "qwen3:8b", "Qwen3", "8.2B", "Q4_K_M", 5_225_387_923, 40_960,
        layers=36, embedding=4096, heads=32, kv_heads=8, head_dim=128,
        tools=ToolCalling.RELIABLE,
        note="the smallest model that calls tools dependably; fits 8 GB GPUs",
    ),
    # https://ollama.com/library/qwen2.5-coder (7b: 4.7GB, Q4_K_M, 32K context, tools); 4,683,087,332
    #   bytes is the tag's size as Ollama's /api/tags reports it.
    # https://huggingface.co/Qwen/Qwen2.5-Coder-7B-Instruct/blob/main/config.json
    #   num_hidden_layers 28, hidden_size 3584, num_attention_heads 28, num_key_value_heads 4
    # Tools: as the 14b (github.com/ollama/ollama/issues/12174).
    _model(
        "qwen2.5-coder:7b", "Qwen2.5-Coder", "7.6B", "Q4_K_M", 4_683_087_332, 32_768,
        layers=28, embedding=3584, heads=28, kv_heads=4, head_dim=None,
        tools=ToolCalling.MOSTLY,
        note="small and quick at code; writes some tool calls as text (GateDeck repairs most)",
    ),
    # https://ollama.com/library/llama3.1 (8b: 4.9GB, Q4_K_M, 128K context, tools)
    # https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json
    #   num_hidden_layers 32, hidden_size 4096, num_attention_heads 32, num_key_value_heads 8
    # Tools: reported to call a tool when none is needed (github.com/ollama/ollama/issues/6127) and
    #   to answer without using a tool's result (github.com/ollama/ollama/issues/6355).
    _model(
        "llama3.1:8b", "Llama 3.1", "8.0B", "Q4_K_M", gb(4.9), 131_072,
        layers=32, embedding=4096, heads=32, kv_heads=8, head_dim=None,
        tools=ToolCalling.POOR,
        note="general model with a long context; unsteady with tools and weaker at code",
    ),
    # https://ollama.com/library/granite3.3 (8b: 4.9GB, Q4_K_M, 128K context, tools)
    # https://huggingface.co/ibm-granite/granite-3.3-8b-instruct/blob/main/config.json
    #   num_hidden_layers 40, hidden_size 4096, num_attention_heads 32, num_key_value_heads 8
    # Tools: the model card lists function calling; GateDeck knows no report either way.
    _model(
        "granite3.3:8b", "Granite 3.3", "8.2B", "Q4_K_M", gb(4.9), 131_072,
        layers=40, embedding=4096, heads=32, kv_heads=8, head_dim=None,
        tools=ToolCalling.MOSTLY,
        note="IBM's general model with function calling and a long context",
    ),
)
# fmt: on

_BY_NAME = {full_name(model.name): model for model in CATALOG}


def find(name: str) -> CatalogModel | None:
    """The table's entry for ``name`` (``name`` and ``name:latest`` are one model)."""
    return _BY_NAME.get(full_name(name))
