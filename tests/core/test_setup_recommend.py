"""The setup's model table, fit rules, Claude-tier mapping and Ollama check, on three typical
machines (the ones ``python -m bench.setup_recommendations`` prints for the notes)."""

from __future__ import annotations

import pytest

from bench.setup_recommendations import MACHINES
from core.config.defaults import default_config
from core.config.schema import CLAUDE_MIN_CTX, Config, Mapping, ModelOptions, OllamaServerSettings
from core.hardware.facts import CpuInfo, GpuInfo, HardwareInfo, MemoryInfo
from core.hardware.fit import Placement, estimate_on
from core.ollama.load_options import reload_groups, runner_options
from core.ollama.models import ModelDetails
from core.setup.apply import map_claude_tiers, probe_target, tiers_like
from core.setup.catalog import CATALOG, ToolCalling, find
from core.setup.ollama_check import OllamaFound, check_ollama, install_hint
from core.setup.recommend import (
    CONTEXT_STEP,
    FitLevel,
    NotRecommendable,
    choose_context,
    rate,
    recommend,
    recommendation_for,
)
from tests.fakes.fake_ollama import FakeOllama

GIB = 2**30
SERVER = OllamaServerSettings()
NO_GPU, EIGHT_GB, TWENTY_FOUR_GB = (m.hardware for m in MACHINES)


def machine(vram_free: float = 0, ram_free: float = 16) -> HardwareInfo:
    gpus = (GpuInfo("NVIDIA", 0, "GPU", int(vram_free * GIB), int(vram_free * GIB)),) if vram_free else ()
    return HardwareInfo(
        CpuInfo("cpu", 8, 16, "x86_64"), MemoryInfo(int(ram_free * GIB), int(ram_free * GIB)), gpus
    )


def details(
    name: str, *, capabilities: tuple[str, ...] = ("completion", "tools"), context: int | None = 131_072
) -> ModelDetails:
    """``/api/show`` for a small llama-shaped model (16 blocks, 2048 wide, 8 KV heads)."""
    return ModelDetails(
        name=name, architecture="llama", family="llama", parameter_size="1B", quantization="Q8_0",
        context_length=context, block_count=16, embedding_length=2048, head_count=32, head_count_kv=8,
        key_length=64, value_length=64, parameter_count=1_235_814_432, capabilities=capabilities,
        parameters=(), template="",
    )  # fmt: skip


# ---------------------------------------------------------------------- the table
def test_the_table_holds_current_coding_models_with_consistent_figures() -> None:
    assert 8 <= len(CATALOG) <= 12
    assert len({m.name for m in CATALOG}) == len(CATALOG)
    for model in CATALOG:
        assert model.geometry.name == model.name and model.geometry.weights == model.download_bytes
        assert model.max_context >= CLAUDE_MIN_CTX, model.name
        assert model.note and model.family and model.quantization
    assert find("qwen3-coder:30b") is CATALOG[0]
    assert find("qwen2.5-coder:7b") is not None and find("qwen2.5-coder") is None  # no :latest in the table


# ---------------------------------------------------------------------- three machines
def test_no_gpu_and_16_gb_gets_the_8b_that_calls_tools_first_all_on_the_cpu() -> None:
    recs = recommend(NO_GPU, SERVER)
    assert [r.model for r in recs] == ["qwen3:8b", "granite3.3:8b", "qwen2.5-coder:7b"]
    assert all(r.fit.placement is Placement.CPU and r.fit.fits for r in recs)
    assert [r.tools for r in recs] == [ToolCalling.RELIABLE, ToolCalling.MOSTLY, ToolCalling.MOSTLY]
    assert all(r.num_ctx >= CLAUDE_MIN_CTX and not r.installed and r.download_bytes > 0 for r in recs)


def test_an_8_gb_gpu_gets_a_model_all_on_the_gpu_before_bigger_split_ones() -> None:
    recs = recommend(EIGHT_GB, SERVER)
    assert [(r.model, r.fit.placement) for r in recs] == [
        ("qwen2.5-coder:7b", Placement.FULL),
        ("qwen3-coder:30b", Placement.PARTIAL),
        ("qwen3:30b-a3b", Placement.PARTIAL),
    ]
    assert recs[0].num_ctx == 32_768, "qwen2.5-coder's trained context is the ceiling"
    assert recs[1].fit.layers_on_gpu == 16 and recs[1].fit.gpu_bytes <= EIGHT_GB.vram_free


def test_a_24_gb_gpu_gets_the_coding_agent_all_on_the_gpu_with_more_context() -> None:
    recs = recommend(TWENTY_FOUR_GB, SERVER)
    assert [r.model for r in recs] == ["qwen3-coder:30b", "qwen3:30b-a3b", "devstral:24b"]
    assert all(r.fit.placement is Placement.FULL and r.tools is ToolCalling.RELIABLE for r in recs)
    assert recs[0].num_ctx == 49_152 and recs[2].num_ctx == 57_344
    assert "all on the GPU at 48k context" in recs[0].reason


@pytest.mark.parametrize("hardware", [NO_GPU, EIGHT_GB, TWENTY_FOUR_GB])
def test_the_list_is_the_best_of_every_model_that_fits_in_the_promised_order(hardware: HardwareInfo) -> None:
    fitting = [m for m in CATALOG if estimate_on(m.geometry, hardware, SERVER, num_ctx=CLAUDE_MIN_CTX).fits]
    recs = recommend(hardware, SERVER, limit=len(CATALOG))
    assert {r.model for r in recs} == {m.name for m in fitting}, "nothing that fits is left out"
    placement = {Placement.FULL: 0, Placement.PARTIAL: 1, Placement.CPU: 2}
    tools = {ToolCalling.RELIABLE: 0, ToolCalling.MOSTLY: 1, ToolCalling.POOR: 2}
    keys = [(placement[r.fit.placement], tools[r.tools], -r.download_bytes) for r in recs if r.tools]
    assert keys == sorted(keys)


def test_nothing_is_recommended_where_nothing_fits_at_32k() -> None:
    assert recommend(machine(ram_free=4), SERVER) == []


# ---------------------------------------------------------------------- context
def test_the_context_grows_while_the_model_stays_all_on_the_gpu() -> None:
    coder = find("qwen3-coder:30b")
    assert coder is not None
    fit = choose_context(coder.geometry, TWENTY_FOUR_GB, SERVER, ceiling=coder.max_context)
    assert fit is not None and fit.placement is Placement.FULL and fit.num_ctx > CLAUDE_MIN_CTX
    bigger = estimate_on(coder.geometry, TWENTY_FOUR_GB, SERVER, num_ctx=fit.num_ctx + CONTEXT_STEP)
    assert bigger.gpu_bytes + 512 * 2**20 > bigger.vram_free, "one step more would leave no headroom"


def test_a_split_model_keeps_its_gpu_layers_and_a_model_stops_at_its_trained_context() -> None:
    coder = find("qwen3-coder:30b")
    small = find("qwen2.5-coder:7b")
    assert coder is not None and small is not None
    at_floor = estimate_on(coder.geometry, EIGHT_GB, SERVER, num_ctx=CLAUDE_MIN_CTX)
    fit = choose_context(coder.geometry, EIGHT_GB, SERVER, ceiling=coder.max_context)
    assert fit is not None and fit.layers_on_gpu == at_floor.layers_on_gpu
    roomy = machine(vram_free=80, ram_free=256)
    small_fit = choose_context(small.geometry, roomy, SERVER, ceiling=small.max_context)
    assert small_fit is not None and small_fit.num_ctx == 32_768


def test_no_context_when_even_32k_does_not_fit() -> None:
    big = find("qwen2.5-coder:32b")
    assert big is not None
    assert choose_context(big.geometry, machine(ram_free=8), SERVER) is None


def test_a_q8_kv_cache_buys_more_context() -> None:
    coder = find("qwen3-coder:30b")
    assert coder is not None
    f16 = choose_context(coder.geometry, TWENTY_FOUR_GB, SERVER, ceiling=coder.max_context)
    q8 = choose_context(
        coder.geometry, TWENTY_FOUR_GB, OllamaServerSettings(kv_cache_type="q8_0"), ceiling=coder.max_context
    )
    assert f16 is not None and q8 is not None and q8.num_ctx > f16.num_ctx


# ---------------------------------------------------------------------- the badge
def test_the_badge_rule() -> None:
    small = find("qwen2.5-coder:7b")
    assert small is not None
    full = estimate_on(small.geometry, machine(vram_free=12), SERVER, num_ctx=32_768)
    split = estimate_on(small.geometry, machine(vram_free=4), SERVER, num_ctx=32_768)
    cpu = estimate_on(small.geometry, machine(ram_free=16), SERVER, num_ctx=32_768)
    too_big = estimate_on(small.geometry, machine(ram_free=2), SERVER, num_ctx=32_768)
    assert (rate(full).label, rate(full).level) == ("✓ GPU @ 32k", FitLevel.GOOD)
    assert (
        rate(split).label == f"◐ {split.layers_on_gpu}/29 layers GPU @ 32k"
        and rate(split).level is FitLevel.SO_SO
    )
    assert (rate(cpu).label, rate(cpu).level) == ("✓ CPU (RAM) @ 32k", FitLevel.SO_SO)
    assert (rate(too_big).label, rate(too_big).level) == ("✗ too big @ 32k", FitLevel.BAD)


# ---------------------------------------------------------------------- installed models
def test_installed_models_that_fit_are_offered_without_a_download() -> None:
    installed = [
        ("qwen2.5-coder:7b", details("qwen2.5-coder:7b"), 4_683_087_332),
        ("my-tuned:1b", details("my-tuned:1b"), 1_300_000_000),
        (
            "nomic-embed-text:latest",
            details("nomic-embed-text:latest", capabilities=("embedding",)),
            274_302_450,
        ),
    ]
    recs = recommend(TWENTY_FOUR_GB, SERVER, installed)
    assert [r.model for r in recs[:3]] == ["qwen3-coder:30b", "qwen3:30b-a3b", "devstral:24b"]
    by_name = {r.model: r for r in recs}
    assert "nomic-embed-text:latest" not in by_name, "an embedding model cannot drive Claude Code"
    coder = by_name["qwen2.5-coder:7b"]
    assert coder.installed and coder.download_bytes == 0 and coder.catalog is find("qwen2.5-coder:7b")
    assert "already installed" in coder.reason
    mine = by_name["my-tuned:1b"]
    assert mine.installed and mine.catalog is None and mine.tools is None and "untested" in mine.reason
    assert recs[3:] == [coder, mine], "installed models beyond the best three follow them (known tools first)"


def test_an_installed_model_outside_the_table_comes_after_the_table_models_even_when_it_fits_better() -> None:
    """On the 8 GB desktop a small installed llama sits all on the GPU, but nothing is known of its
    tool calling: the table's models, split ones included, are the advice; it follows them."""
    installed = [("llama3.2:3b", details("llama3.2:3b"), 2_019_393_189)]
    recs = recommend(EIGHT_GB, SERVER, installed)
    assert [r.model for r in recs] == ["qwen2.5-coder:7b", "qwen3-coder:30b", "qwen3:30b-a3b", "llama3.2:3b"]
    assert [r.untested for r in recs] == [False, False, False, True]
    mine = recs[-1]
    assert mine.fit.placement is Placement.FULL and recs[1].fit.placement is Placement.PARTIAL
    assert mine.installed and mine.download_bytes == 0 and mine.tools is None


def test_with_nothing_from_the_table_fitting_the_installed_untested_model_is_still_offered() -> None:
    small = machine(ram_free=4)
    assert recommend(small, SERVER) == [], "no table model fits in 4 GiB at 32k"
    recs = recommend(small, SERVER, [("my-tuned:1b", details("my-tuned:1b"), 1_300_000_000)])
    assert [(r.model, r.untested) for r in recs] == [("my-tuned:1b", True)]


def test_a_named_model_gets_its_recommendation_or_a_clear_reason() -> None:
    rec = recommendation_for("devstral:24b", TWENTY_FOUR_GB, SERVER)
    assert rec.model == "devstral:24b" and rec.fit.fits and not rec.installed
    with pytest.raises(NotRecommendable, match="not installed and not in GateDeck's table"):
        recommendation_for("nope:1b", TWENTY_FOUR_GB, SERVER)
    with pytest.raises(NotRecommendable, match="does not fit on this machine"):
        recommendation_for("qwen2.5-coder:32b", machine(ram_free=8), SERVER)
    short = [("old:1b", details("old:1b", context=8192), 1_000_000_000)]
    with pytest.raises(NotRecommendable, match="trained for 8,192 tokens"):
        recommendation_for("old:1b", TWENTY_FOUR_GB, SERVER, short)
    embed = [("e:1b", details("e:1b", capabilities=("embedding",)), 1_000_000)]
    with pytest.raises(NotRecommendable, match="does not call tools"):
        recommendation_for("e", TWENTY_FOUR_GB, SERVER, [("e:latest", *embed[0][1:])])


# ---------------------------------------------------------------------- mapping the tiers
def test_claude_tiers_move_to_the_model_with_one_set_of_load_options() -> None:
    config = default_config("http://127.0.0.1:11434", "llama3.2:3b")
    tuned = [
        m.model_copy(update={"options": ModelOptions(num_ctx=8192, num_gpu=20, temperature=0.2)})
        if m.name == "claude-*haiku*"
        else m
        for m in config.mappings
    ]
    mine = Mapping(name="my-helper", model="llama3.2:3b", options=ModelOptions(num_ctx=4096))
    config = config.model_copy(update={"mappings": [mine, *tuned]})

    mapped = map_claude_tiers(config, "qwen3-coder:30b", 49_152)

    claude = [m for m in mapped.mappings if m.is_claude]
    assert {m.model for m in claude} == {"qwen3-coder:30b"} and len(claude) == 4
    assert {tuple(runner_options(m.options).items()) for m in claude} == {(("num_ctx", 49_152),)}
    assert reload_groups(mapped.mappings) == []
    haiku = next(m for m in claude if m.name == "claude-*haiku*")
    assert haiku.options.temperature == 0.2, "per-request options stay the mapping's own"
    assert mapped.mappings[0] == mine, "other mappings are untouched"
    assert config.mappings[1].model == "llama3.2:3b", "the original config is not changed"


def test_a_probe_verdict_holds_for_every_tier_on_the_model_with_the_same_load_options() -> None:
    mine = Mapping(name="my-helper", model="qwen3:8b", options=ModelOptions(num_ctx=40_960))
    config = default_config("http://127.0.0.1:11434", "llama3.2:3b")
    mapped = map_claude_tiers(
        config.model_copy(update={"mappings": [mine, *config.mappings]}), "qwen3:8b", 40_960
    )
    sonnet = mapped.mapping_for("claude-sonnet-4-5")
    assert sonnet is not None
    assert tiers_like(mapped, sonnet) == ["claude-*opus*", "claude-*sonnet*", "claude-*haiku*", "*"]
    smaller = [
        m.model_copy(update={"options": ModelOptions(num_ctx=32_768)}) if m.name == "claude-*haiku*" else m
        for m in mapped.mappings
    ]
    changed = mapped.model_copy(update={"mappings": smaller})
    assert tiers_like(changed, sonnet) == ["claude-*opus*", "claude-*sonnet*", "*"], (
        "haiku loads it otherwise"
    )


def test_a_config_without_claude_mappings_gets_the_tiers_ahead_of_its_patterns() -> None:
    config = Config(mappings=[Mapping(name="coder", model="a:1b"), Mapping(name="gpt-*", model="b:1b")])
    mapped = map_claude_tiers(config, "qwen3:8b", 40_960)
    assert [m.name for m in mapped.mappings] == [
        "coder",
        "claude-*opus*",
        "claude-*sonnet*",
        "claude-*haiku*",
        "gpt-*",
    ]
    assert probe_target(mapped) == "claude-sonnet-4-5"


def test_the_probe_asks_for_a_name_claude_code_sends() -> None:
    assert probe_target(default_config("http://127.0.0.1:11434")) == "claude-sonnet-4-5"
    only_catch_all = Config(mappings=[Mapping(name="*", model="a:1b")])
    assert probe_target(only_catch_all) == "claude-sonnet-4-5"
    with pytest.raises(ValueError):
        probe_target(Config(mappings=[Mapping(name="coder", model="a:1b")]))


# ---------------------------------------------------------------------- Ollama
async def test_ollama_running_stopped_missing_or_unreachable(fake_ollama: FakeOllama) -> None:
    running = await check_ollama(fake_ollama.url, which=lambda _: None)
    assert (running.found, running.version) == (OllamaFound.RUNNING, fake_ollama.version)

    with FakeOllama(models=[]) as gone:
        closed = gone.url
    stopped = await check_ollama(closed, which=lambda _: "/usr/local/bin/ollama")
    assert (stopped.found, stopped.binary, stopped.version) == (
        OllamaFound.STOPPED,
        "/usr/local/bin/ollama",
        None,
    )
    missing = await check_ollama(closed, which=lambda _: None)
    assert missing.found is OllamaFound.MISSING and "ollama.com" in missing.install_hint
    remote = await check_ollama("http://ollama-box.invalid:11434", which=lambda _: "/usr/local/bin/ollama")
    assert remote.found is OllamaFound.UNREACHABLE, "nothing to start here for another machine's address"


def test_install_hints_per_system() -> None:
    assert "install.sh" in install_hint("Linux")
    assert "brew install ollama" in install_hint("Darwin")
    assert "installer" in install_hint("Windows") and "install.sh" not in install_hint("Windows")
