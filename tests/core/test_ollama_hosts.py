"""Several Ollama hosts, as a user with a second GPU box sees them: each host checked on its own
(version, loaded models, latency), and one shared state per host that follows the host list."""

from __future__ import annotations

import pytest

from core.config.first_run import Installation, open_installation
from core.config.holder import ConfigHolder
from core.config.host_edits import host_users, with_host, without_host
from core.config.schema import OllamaBackend
from core.ollama.client import OllamaClient
from core.ollama.host_check import check_host, check_url
from core.ollama.hosts import OllamaHosts
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import llama32_3b, qwen3_8b

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def install() -> Installation:
    return open_installation(default_model="llama3.2:3b")


def with_hosts(install: Installation, *hosts: tuple[str, str]) -> ConfigHolder:
    holder = ConfigHolder(install.store, install.config)
    holder.replace(
        holder.config.model_copy(update={"backends": [OllamaBackend(name=n, url=u) for n, u in hosts]})
    )
    return holder


async def test_a_check_reports_version_loaded_models_and_latency() -> None:
    with FakeOllama(models=[llama32_3b()], version="0.14.9") as fake:
        async with OllamaClient(fake.url) as client:
            await client.load("llama3.2:3b")
            found = await check_host(client)
    assert found.up and found.version == "0.14.9"
    assert found.loaded == ("llama3.2:3b",)
    assert found.latency_ms is not None and 0 < found.latency_ms < 5000
    assert found.summary().startswith("Ollama 0.14.9, ") and found.summary().endswith("1 model loaded")


async def test_a_host_that_does_not_answer_says_why_instead_of_raising() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    found = await check_url(url)
    assert not found.up and found.latency_ms is None and found.version == ""
    assert url in found.problem and "not answering" in found.problem


async def test_each_host_has_its_own_state_and_the_first_follows_the_first_host(
    install: Installation,
) -> None:
    with (
        FakeOllama(models=[llama32_3b()]) as desk,
        FakeOllama(models=[qwen3_8b()]) as gpu_box,
    ):
        holder = with_hosts(install, ("local", desk.url), ("gpu-box", gpu_box.url))
        hosts = OllamaHosts(holder)
        try:
            assert hosts.names == ["local", "gpu-box"]
            await hosts.state("gpu-box").refresh()
            await hosts.state("local").refresh()
            assert [m.name for m in hosts.state("gpu-box").installed] == ["qwen3:8b"]
            assert [m.name for m in hosts.state("local").installed] == ["llama3.2:3b"]
            assert hosts.state("local") is hosts.first
            assert hosts.state("gpu-box") is hosts.state("gpu-box")  # shared, asked once
            with pytest.raises(KeyError):
                hosts.state("nowhere")

            # The user removes the desk: the GPU box is now first, and the watcher's state
            # (the first host's) asks it.
            old_gpu_state = hosts.state("gpu-box")
            await holder.replace_async(without_host(holder.config, "local"))
            assert hosts.state("gpu-box") is hosts.first
            await hosts.first.refresh()
            assert [m.name for m in hosts.first.installed] == ["qwen3:8b"]
            assert old_gpu_state.url == gpu_box.url  # still usable by a pull that was under way
        finally:
            await hosts.aclose()


def test_adding_renaming_and_removing_hosts_keeps_every_mapping_on_a_host(install: Installation) -> None:
    config = install.config
    assert host_users(config, "local") == [m.name for m in config.mappings]
    two = with_host(config, OllamaBackend(name="gpu-box", url="http://10.0.0.7:11434/"))
    assert [(b.name, b.url) for b in two.backends] == [
        ("local", config.backends[0].url),
        ("gpu-box", "http://10.0.0.7:11434"),
    ]
    assert config.backends == install.config.backends  # the config passed in is left alone

    with pytest.raises(ValueError, match="already exists"):
        with_host(two, OllamaBackend(name="local", url="http://10.0.0.8:11434"))
    with pytest.raises(ValueError, match="must start with http"):
        with_host(two, OllamaBackend(name="x", url="10.0.0.8:11434"))

    first = two.mappings[0].name
    both = two.model_copy(
        update={
            "mappings": [
                two.mappings[0].model_copy(update={"backends": ["local", "gpu-box"]}),
                *two.mappings[1:],
            ]
        }
    )
    renamed = with_host(both, OllamaBackend(name="desk", url="http://127.0.0.1:11434"), replacing="local")
    assert renamed.mapping_for(first) is not None
    assert renamed.mappings[0].backends == ["desk", "gpu-box"]
    assert all(m.backends == ["desk"] for m in renamed.mappings[1:])

    fewer = without_host(renamed, "desk")
    assert [b.name for b in fewer.backends] == ["gpu-box"]
    assert all(m.backends == ["gpu-box"] for m in fewer.mappings)  # none left without a host
    with pytest.raises(ValueError, match="at least one Ollama host"):
        without_host(fewer, "gpu-box")
