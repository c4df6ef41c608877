"""``gatedeck export-litellm-config`` for the stock LiteLLM proxy in front of GateDeck gateways, and
``gatedeck serve --backend`` for the gateway beside one host (what the file says; the proxy
serving it is tests/core/test_scale_out.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.cli.gateway import serve_config
from core.cli.main import main
from core.config.schema import Config, GatewaySettings, Mapping, OllamaBackend
from core.config.store import ConfigStore
from core.gateway.scale_out import parse_gateway
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import nomic_embed_text


def two_hosts(first_url: str, second_url: str) -> Config:
    return Config(
        gateway=GatewaySettings(port=4100),
        backends=[OllamaBackend(name="gpu1", url=first_url), OllamaBackend(name="gpu-2", url=second_url)],
        mappings=[
            Mapping(name="claude-*", model="qwen2.5-coder:7b", backends=["gpu1", "gpu-2"]),
            Mapping(name="big", model="llama3.2:3b", backends=["gpu-2"]),
        ],
    )


def export(tmp_path: Path, *flags: str) -> tuple[str, dict[str, Any]]:
    out = tmp_path / "litellm.yaml"
    assert main(["export-litellm-config", str(out), "--force", *flags]) == 0
    text = out.read_text()
    return text, yaml.safe_load(text)


def gateways_of(exported: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in exported["model_list"]:
        found.setdefault(entry["model_name"], []).append(entry["litellm_params"]["api_base"])
    return found


def test_by_default_a_gateway_stands_beside_each_host_and_serves_that_hosts_mappings(tmp_path: Path) -> None:
    # two hosts nothing answers on (loopback addresses with no Ollama): the export still works
    ConfigStore.from_env().save(
        two_hosts(f"http://127.0.0.2:{free_port()}", f"http://127.0.0.3:{free_port()}")
    )
    text, exported = export(tmp_path, "--gateway-port", "4200")
    assert gateways_of(exported) == {
        "claude-*": ["http://127.0.0.2:4200/v1", "http://127.0.0.3:4200/v1"],
        "big": ["http://127.0.0.3:4200/v1"],
        "ollama/*": ["http://127.0.0.2:4200/v1", "http://127.0.0.3:4200/v1"],
    }
    assert {e["litellm_params"]["model"] for e in exported["model_list"]} == {
        "openai/claude-*",
        "openai/big",
        "openai/ollama/*",
    }
    keys = [e["litellm_params"]["api_key"] for e in exported["model_list"] if e["model_name"] == "claude-*"]
    assert keys == ["os.environ/GATEDECK_KEY_GPU1", "os.environ/GATEDECK_KEY_GPU_2"]
    assert exported["router_settings"]["routing_strategy"] == "least-busy"
    assert exported["router_settings"]["num_retries"] == 1
    assert "#   GATEDECK_KEY_GPU_2\n" in text
    assert "Note: Ollama 'gpu1' did not answer" in text and "Note: Ollama 'gpu-2' did not answer" in text
    for entry in exported["model_list"]:
        assert set(entry["model_info"]["supported_endpoints"]) >= {"/v1/messages", "/v1/chat/completions"}


def test_without_a_port_the_gateways_listen_on_the_configs_port(tmp_path: Path) -> None:
    ConfigStore.from_env().save(two_hosts("http://127.0.0.2:1", "http://127.0.0.3:1"))
    _, exported = export(tmp_path)
    assert gateways_of(exported)["big"] == ["http://127.0.0.3:4100/v1"]


def test_named_gateways_serve_every_mapping_and_an_embedding_model_embeds(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    fake_ollama.add_model(nomic_embed_text())
    ConfigStore.from_env().save(
        Config(
            backends=[OllamaBackend(name="local", url=fake_ollama.url)],
            mappings=[
                Mapping(name="gpt-4o", model="qwen2.5-coder:7b"),
                Mapping(name="text-embedding-3-small", model="nomic-embed-text"),
            ],
        )
    )
    _, exported = export(tmp_path, "--gateway", "a=http://gw-a:4000/", "--gateway", "b=https://gw-b")
    assert gateways_of(exported)["gpt-4o"] == ["http://gw-a:4000/v1", "https://gw-b/v1"]
    info = {e["model_name"]: e["model_info"] for e in exported["model_list"]}
    assert info["text-embedding-3-small"]["mode"] == "embedding"
    assert info["text-embedding-3-small"]["supported_endpoints"] == ["/v1/embeddings"]
    assert "mode" not in info["gpt-4o"]


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--gateway", "gpu1"], "is not NAME=URL"),
        (["--gateway", "gpu1=gpu1:4000"], "is not an http:// or https:// address"),
        (["--gateway", "gpu1=http://gpu1:4000/v1"], "without a path"),
        (["--gateway", "a=http://x:1", "--gateway", "a=http://y:1"], "share the name a"),
        (["--gateway", "gpu.1=http://x:1", "--gateway", "gpu-1=http://y:1"], "GATEDECK_KEY_GPU_1"),
    ],
)
def test_a_wrong_gateway_is_refused_with_what_to_write(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "litellm.yaml"
    assert main(["export-litellm-config", str(out), *flags]) == 2
    assert says in capsys.readouterr().err
    assert not out.exists()


def test_the_direct_export_says_what_it_loses(fake_ollama: FakeOllama, tmp_path: Path) -> None:
    ConfigStore.from_env().save(
        Config(
            backends=[OllamaBackend(name="local", url=fake_ollama.url)],
            mappings=[Mapping(name="x", model="m")],
        )
    )
    text, exported = export(tmp_path, "--direct-ollama")
    assert exported["model_list"][0]["litellm_params"]["model"] == "ollama_chat/m"
    assert "parallel tool calls are merged" in text and "does not support thinking" in text
    assert fake_ollama.requests == []  # the direct export asks Ollama nothing


def test_serve_backend_serves_every_mapping_from_that_host_alone() -> None:
    config = two_hosts("http://gpu1:11434", "http://gpu2:11434")
    args = argparse.Namespace(
        port=None,
        host="0.0.0.0",
        serve_backend="gpu-2",
        serve_ollama_url="http://127.0.0.1:11434",
        serve_default_model="llama3.2:3b",
    )
    served = serve_config(config, args, fresh=False)
    assert [(b.name, b.url) for b in served.backends] == [("gpu-2", "http://127.0.0.1:11434")]
    assert {name for m in served.mappings for name in m.backends} == {"gpu-2"}
    assert [m.name for m in served.mappings] == ["claude-*", "big", "*"]
    assert len(config.backends) == 2  # the saved config is untouched

    with pytest.raises(ValueError, match=r"no Ollama host 'gpu3' \(it has: gpu1, gpu-2\)"):
        serve_config(config, argparse.Namespace(**{**vars(args), "serve_backend": "gpu3"}), fresh=False)


def test_parse_gateway_keeps_the_name_and_address() -> None:
    gateway = parse_gateway(" gpu1 = http://10.0.0.5:4000/ ")
    assert (gateway.name, gateway.url, gateway.key_env) == (
        "gpu1",
        "http://10.0.0.5:4000",
        "GATEDECK_KEY_GPU1",
    )
