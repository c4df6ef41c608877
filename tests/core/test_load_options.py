"""Which mappings make Ollama load a model again, checked against the rules in Ollama's scheduler."""

from __future__ import annotations

from core.config.mapping_checks import check_mappings
from core.config.schema import Mapping, ModelOptions
from core.ollama.load_options import effective_num_ctx, reload_groups, runner_options, with_same_load_options


def on(
    name: str, model: str = "qwen3:8b", backends: tuple[str, ...] = ("local",), **options: object
) -> Mapping:
    return Mapping(name=name, model=model, backends=list(backends), options=ModelOptions(**options))


def test_mappings_that_differ_only_per_request_share_the_loaded_model() -> None:
    mappings = [
        on("a", num_ctx=32768, temperature=0.1, keep_alive="1h"),
        on("b", num_ctx=32768, temperature=0.9),
    ]
    assert reload_groups(mappings) == []


def test_a_different_context_or_gpu_layers_reloads_and_says_which() -> None:
    mappings = [
        on("claude-*sonnet*", num_ctx=32768),
        on("claude-*haiku*", model="qwen3:8b", num_ctx=16384, num_gpu=20),
        on("gpt-4o", model="llama3.2:3b", num_ctx=8192),
    ]
    (group,) = reload_groups(mappings)
    assert group.model == "qwen3:8b" and group.mappings == ("claude-*sonnet*", "claude-*haiku*")
    assert dict(group.differing) == {"num_ctx": (32768, 16384), "num_gpu": (None, 20)}
    said = group.describe()
    assert "num_ctx 32,768 (claude-*sonnet*) vs 16,384 (claude-*haiku*)" in said
    assert "num_gpu default (claude-*sonnet*) vs 20 (claude-*haiku*)" in said


def test_latest_tag_and_ollamas_default_gpu_layers_count_as_the_same() -> None:
    # Ollama: "qwen3" is "qwen3:latest"; num_gpu -1 is its default (as many layers as fit).
    assert reload_groups([on("a", model="qwen3", num_gpu=-1), on("b", model="qwen3:latest")]) == []
    assert len(reload_groups([on("a", model="qwen3", num_gpu=-1), on("b", model="qwen3", num_gpu=33)])) == 1
    assert len(reload_groups([on("a", model="qwen3", num_ctx=4096), on("b", model="qwen3:latest")])) == 1


def test_the_same_model_on_two_backends_is_two_loaded_copies() -> None:
    mappings = [on("a", backends=("local",), num_ctx=8192), on("b", backends=("gpu-box",), num_ctx=32768)]
    assert reload_groups(mappings) == []


def test_the_one_click_fix_keeps_the_largest_context_and_each_mappings_own_sampling() -> None:
    mappings = [
        on("a", num_ctx=16384, temperature=0.2),
        on("b", num_ctx=65536, num_batch=256),
        on("c", model="other:1b", num_ctx=2048),
    ]
    fixed = with_same_load_options(mappings, "qwen3:8b")
    assert [m.options.num_ctx for m in fixed] == [65536, 65536, 2048]
    assert [m.options.num_batch for m in fixed] == [256, 256, None]
    assert fixed[0].options.temperature == 0.2 and fixed[1].options.temperature is None
    assert reload_groups(fixed) == []


def test_the_mapping_check_warns_once_with_the_fix_attached() -> None:
    issues = check_mappings([on("claude-*sonnet*", num_ctx=32768), on("claude-*haiku*", num_ctx=32000)])
    reloads = [i for i in issues if i.reload_model]
    assert [(i.row, i.severity, i.reload_model) for i in reloads] == [(0, "warning", "qwen3:8b")]


def test_the_context_a_mapping_gets() -> None:
    assert effective_num_ctx(ModelOptions(num_ctx=8192), 16384) == 8192
    assert effective_num_ctx(ModelOptions(), 16384) == 16384
    assert effective_num_ctx(ModelOptions(), None) == 4096


def test_loading_a_model_sends_only_the_runner_options_a_mapping_sets() -> None:
    options = ModelOptions(num_ctx=8192, num_gpu=20, temperature=0.2, keep_alive="10m")
    assert runner_options(options) == {"num_ctx": 8192, "num_gpu": 20}
    assert runner_options(ModelOptions()) == {}
