"""Rendering GateDeck's config into a LiteLLM proxy config (pure; no LiteLLM needed)."""

from __future__ import annotations

import yaml

from core.config.defaults import default_config
from core.config.schema import CloudModel, Config, Mapping, ModelOptions, OllamaBackend
from core.fastpath.plan import DirectPlan
from core.gateway.render import OLLAMA_WILDCARD, render

KEY = "sk-render-secret-0123456789"


def two_backends() -> Config:
    return Config(
        backends=[
            OllamaBackend(name="local", url="http://127.0.0.1:11434"),
            OllamaBackend(name="gpu-box", url="http://10.0.0.7:11434/"),
        ],
        mappings=[
            Mapping(
                name="coder",
                model="qwen2.5-coder:7b",
                backends=["local", "gpu-box"],
                options=ModelOptions(num_ctx=32768, num_gpu=99, num_thread=8, keep_alive="1h"),
                fallbacks=["small"],
            ),
            Mapping(name="small", model="llama3.2:3b"),
        ],
    )


def deployments(rendered: object, name: str) -> list[dict[str, object]]:
    return [d for d in rendered.model_list if d["model_name"] == name]  # type: ignore[attr-defined]


def test_mapping_options_become_litellm_params_on_every_backend() -> None:
    rendered = render(two_backends(), master_key=KEY)
    coder = deployments(rendered, "coder")
    assert [d["litellm_params"]["api_base"] for d in coder] == [  # type: ignore[index]
        "http://127.0.0.1:11434",
        "http://10.0.0.7:11434",
    ]
    for deployment in coder:
        assert deployment["litellm_params"] == {  # flat: LiteLLM moves these into Ollama's options
            "model": "ollama_chat/qwen2.5-coder:7b",  # /api/chat, not /api/generate
            "api_base": deployment["litellm_params"]["api_base"],  # type: ignore[index]
            "num_ctx": 32768,
            "num_gpu": 99,
            "num_thread": 8,
            "keep_alive": "1h",
        }
        assert deployment["model_info"]["input_cost_per_token"] == 0.0  # type: ignore[index]
    assert deployments(rendered, "small")[0]["litellm_params"] == {
        "model": "ollama_chat/llama3.2:3b",
        "api_base": "http://127.0.0.1:11434",
    }


def test_a_model_that_cannot_think_drops_thinking_where_ollama_said_so_and_nowhere_else() -> None:
    config = two_backends()
    config.mappings[0].fallbacks = []  # so that the fast path serves it too
    rendered = render(config, master_key=KEY, cannot_think={"local": ["qwen2.5-coder:7b"]})
    local, gpu_box = deployments(rendered, "coder")
    assert local["litellm_params"]["additional_drop_params"] == ["reasoning_effort", "thinking"]  # type: ignore[index]
    assert "additional_drop_params" not in gpu_box["litellm_params"]  # type: ignore[operator]
    assert "additional_drop_params" not in deployments(rendered, "small")[0]["litellm_params"]  # type: ignore[operator]

    route = DirectPlan.from_rendered(rendered).route("coder")  # config order
    assert route is not None
    assert [(t.backend, t.thinks) for t in route.targets] == [("local", False), ("gpu-box", True)]
    assert (
        route.targets[0].options
        == route.targets[1].options
        == {
            "num_ctx": 32768,
            "num_gpu": 99,
            "num_thread": 8,
        }
    ), "what LiteLLM drops is not an Ollama option"


def test_router_settings_carry_fallbacks_strategy_and_a_retry_for_several_backends() -> None:
    config = two_backends()
    config.gateway.routing_strategy = "least-busy"
    rendered = render(config, master_key=KEY)
    assert rendered.router_settings["fallbacks"] == [{"coder": ["small"]}]
    assert rendered.router_settings["routing_strategy"] == "least-busy"
    assert rendered.router_settings["num_retries"] == 1
    single = render(default_config(), master_key=KEY)
    assert single.router_settings["num_retries"] == 0
    assert "fallbacks" not in single.router_settings


def test_installed_models_are_served_under_their_own_names() -> None:
    config = two_backends()
    config.mappings.append(Mapping(name="llama3.2:3b", model="llama3.2:1b"))  # a mapping wins
    installed = {
        "local": ["qwen2.5-coder:7b", "llama3.2:3b", "mistral:latest"],
        "gpu-box": ["qwen2.5-coder:7b"],
    }
    rendered = render(config, master_key=KEY, installed=installed)

    served = [d["litellm_params"]["api_base"] for d in deployments(rendered, "qwen2.5-coder:7b")]  # type: ignore[index]
    assert served == ["http://127.0.0.1:11434", "http://10.0.0.7:11434"]
    assert deployments(rendered, "ollama/qwen2.5-coder:7b")
    assert deployments(rendered, "mistral") and deployments(rendered, "ollama/mistral")  # :latest dropped
    mapped = deployments(rendered, "llama3.2:3b")
    assert [d["litellm_params"]["model"] for d in mapped] == ["ollama_chat/llama3.2:1b"]  # type: ignore[index]
    wildcard = deployments(rendered, OLLAMA_WILDCARD)
    assert [d["litellm_params"]["model"] for d in wildcard] == ["ollama_chat/*", "ollama_chat/*"]  # type: ignore[index]


def test_names_resolve_exact_first_then_patterns_in_config_order() -> None:
    config = default_config()  # claude-*opus*, claude-*sonnet*, claude-*haiku*, then '*'
    config.mappings.insert(0, Mapping(name="claude-3-?-haiku-[0-9]*", model="tiny:1b"))
    config.mappings.append(Mapping(name="claude-sonnet-4-5", model="exact:1b"))
    routes = render(config, master_key=KEY, installed={"local": ["qwen2.5-coder:7b"]}).routes

    assert routes.resolve("claude-sonnet-4-5") is None  # an exact name routes as itself
    assert routes.lands_on("claude-sonnet-4-5") == "claude-sonnet-4-5"
    assert routes.resolve("claude-sonnet-4-5-20250929") == "claude-*sonnet*"
    assert routes.resolve("claude-opus-4-1-20250805") == "claude-*opus*"
    assert routes.resolve("claude-3-5-haiku-20241022") == "claude-3-?-haiku-[0-9]*"  # listed first
    assert routes.resolve("claude-3-5-haiku-latest") == "claude-*haiku*"  # '[0-9]*' needs a digit
    assert routes.resolve("gpt-4o") == "*"
    assert routes.resolve("xclaude-sonnet") == "*"  # patterns match whole names, not prefixes
    assert routes.resolve("qwen2.5-coder:7b") is None  # installed
    assert routes.resolve("ollama/anything:1b") is None  # never caught by a pattern
    assert routes.lands_on("ollama/anything:1b") == OLLAMA_WILDCARD


def test_cloud_keys_come_from_the_lookup_and_a_missing_one_is_noted() -> None:
    config = two_backends()
    config.cloud = [
        CloudModel(name="claude-cloud", provider="anthropic", model="claude-sonnet-4-5"),
        CloudModel(name="gpt-cloud", provider="openai", model="gpt-4o", api_key_env="MY_OPENAI"),
    ]
    keys = {"claude-cloud": "sk-ant-real"}
    rendered = render(config, master_key=KEY, cloud_key=lambda entry: keys.get(entry.name))
    assert deployments(rendered, "claude-cloud")[0]["litellm_params"] == {
        "model": "anthropic/claude-sonnet-4-5",
        "api_key": "sk-ant-real",
    }
    assert "api_key" not in deployments(rendered, "gpt-cloud")[0]["litellm_params"]  # type: ignore[operator]
    assert any("gpt-cloud" in note and "MY_OPENAI" in note for note in rendered.notes)
    assert rendered.general_settings["master_key"] == KEY


def test_export_references_keys_from_the_environment_and_holds_no_secret() -> None:
    config = two_backends()
    config.cloud = [CloudModel(name="claude-cloud", provider="anthropic", model="claude-sonnet-4-5")]
    config.mappings.append(Mapping(name="claude-?-haiku", model="llama3.2:3b"))
    rendered = render(config, master_key=KEY, cloud_key=lambda entry: "sk-ant-real", export=True)
    text = yaml.safe_dump(rendered.litellm_config())

    assert KEY not in text and "sk-ant-real" not in text
    assert rendered.general_settings["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert deployments(rendered, "claude-cloud")[0]["litellm_params"]["api_key"] == (  # type: ignore[index]
        "os.environ/ANTHROPIC_API_KEY"
    )
    assert not deployments(rendered, "claude-?-haiku")  # stock LiteLLM knows only '*'
    assert any("claude-?-haiku" in note for note in rendered.notes)


def test_keep_alive_without_a_unit_is_sent_as_seconds_not_a_string() -> None:
    from core.gateway.render import ollama_keep_alive

    assert ollama_keep_alive("-1") == -1
    assert ollama_keep_alive("300") == 300
    assert ollama_keep_alive("0.5") == 0.5
    assert ollama_keep_alive("5m") == "5m"
