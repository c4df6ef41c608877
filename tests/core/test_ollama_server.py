"""GateDeck's managed ``ollama serve``, with a fake ``ollama`` program on PATH."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from core.config.schema import OllamaServerSettings
from core.errors import ManagedServerError, NotOurServer, OllamaNotInstalled
from core.ollama.client import OllamaClient
from core.ollama.server import EnsureResult, OllamaServer, server_environment
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_ollama_exe import FakeOllamaExe, install_fake_ollama_exe

pytestmark = pytest.mark.timeout(60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[list[OllamaServer]]:
    """Servers a test creates; any still running are stopped afterwards."""
    made: list[OllamaServer] = []
    yield made
    for server in made:
        await server.stop()


def managed(tmp_path: Path, **settings: object) -> OllamaServerSettings:
    return OllamaServerSettings(managed=True, models_dir=str(tmp_path / "models"), **settings)  # type: ignore[arg-type]


async def test_settings_reach_the_server_through_its_environment(
    fake_ollama_exe: FakeOllamaExe, tmp_path: Path, url: str, servers: list[OllamaServer]
) -> None:
    settings = managed(
        tmp_path,
        flash_attention=True,
        kv_cache_type="q8_0",
        num_parallel=2,
        max_loaded_models=3,
        keep_alive="10m",
        context_length=16384,
    )
    server = OllamaServer(settings, url=url, log_path=tmp_path / "logs" / "ollama.log")
    servers.append(server)
    assert await server.ensure_running() is EnsureResult.STARTED
    (launch,) = fake_ollama_exe.launches()
    assert launch["argv"] == ["serve"]
    assert launch["pid"] == server.pid
    env = launch["env"]
    assert {k: env[k] for k in env if k.startswith("OLLAMA_")} == {
        "OLLAMA_HOST": url.removeprefix("http://"),
        "OLLAMA_MODELS": str(tmp_path / "models"),
        "OLLAMA_FLASH_ATTENTION": "1",
        "OLLAMA_KV_CACHE_TYPE": "q8_0",
        "OLLAMA_NUM_PARALLEL": "2",
        "OLLAMA_MAX_LOADED_MODELS": "3",
        "OLLAMA_KEEP_ALIVE": "10m",
        "OLLAMA_CONTEXT_LENGTH": "16384",
    }
    # the server really runs with them: its default context is the one we set
    async with OllamaClient(url) as client:
        await client.load("llama3.2:3b")
        assert [m.context_length for m in await client.ps()] == [16384]
    # and its output is captured
    log = "\n".join(server.log_tail())
    assert f"Listening on {url.removeprefix('http://')}" in log
    assert "GateDeck starts `ollama serve` OLLAMA_HOST=" in log
    # a second ensure finds it answering and starts nothing
    assert await server.ensure_running() is EnsureResult.ANSWERING
    assert len(fake_ollama_exe.launches()) == 1


async def test_restart_applies_new_settings(
    fake_ollama_exe: FakeOllamaExe, tmp_path: Path, url: str, servers: list[OllamaServer]
) -> None:
    server = OllamaServer(managed(tmp_path, context_length=16384), url=url, log_path=tmp_path / "ollama.log")
    servers.append(server)
    await server.start()
    first_pid = server.pid
    assert first_pid is not None
    await server.restart(managed(tmp_path, context_length=8192, kv_cache_type="q4_0"))
    first, second = fake_ollama_exe.launches()
    assert (first["env"]["OLLAMA_CONTEXT_LENGTH"], second["env"]["OLLAMA_CONTEXT_LENGTH"]) == (
        "16384",
        "8192",
    )
    assert "OLLAMA_KV_CACHE_TYPE" not in first["env"] and second["env"]["OLLAMA_KV_CACHE_TYPE"] == "q4_0"
    assert server.pid == second["pid"] != first_pid
    assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE
    async with OllamaClient(url) as client:
        await client.load("llama3.2:3b")
        assert [m.context_length for m in await client.ps()] == [8192]


async def test_never_stops_a_server_it_did_not_start(
    fake_ollama_exe: FakeOllamaExe, tmp_path: Path, servers: list[OllamaServer]
) -> None:
    with FakeOllama() as someone_elses:
        server = OllamaServer(managed(tmp_path), url=someone_elses.url, log_path=tmp_path / "ollama.log")
        servers.append(server)
        assert await server.ensure_running() is EnsureResult.ANSWERING
        assert not server.owned
        assert await server.stop() is False
        with pytest.raises(NotOurServer, match="not started by GateDeck"):
            await server.restart(managed(tmp_path, context_length=8192))
        with pytest.raises(NotOurServer):
            await server.start()
        assert fake_ollama_exe.launches() == []
        async with OllamaClient(someone_elses.url) as client:
            assert await client.version() == someone_elses.version  # still running, untouched


async def test_stop_ends_only_its_own_child(
    fake_ollama_exe: FakeOllamaExe, tmp_path: Path, url: str, servers: list[OllamaServer]
) -> None:
    server = OllamaServer(managed(tmp_path), url=url, log_path=tmp_path / "ollama.log")
    servers.append(server)
    await server.start()
    pid = server.pid
    assert pid is not None and psutil.Process(pid).ppid() == os.getpid()
    assert await server.stop() is True
    assert not server.owned and server.pid is None
    assert not await server.is_answering()
    assert await server.stop() is False  # nothing left of ours to stop


async def test_not_managed_or_not_installed(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    not_managed = OllamaServer(OllamaServerSettings(managed=False), url=url, log_path=tmp_path / "o.log")
    assert await not_managed.ensure_running() is EnsureResult.NOT_MANAGED
    missing = OllamaServer(managed(tmp_path), url=url, log_path=tmp_path / "o.log")
    with pytest.raises(OllamaNotInstalled, match="ollama.com/download"):
        await missing.ensure_running()


async def test_a_server_that_dies_at_start_reports_its_last_words(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = install_fake_ollama_exe(tmp_path / "bin", exit_with="Error: mkdir /nope: permission denied")
    monkeypatch.setenv("PATH", str(exe.path.parent))
    server = OllamaServer(managed(tmp_path), url=url, log_path=tmp_path / "ollama.log")
    with pytest.raises(ManagedServerError) as info:
        await server.start()
    assert "permission denied" in str(info.value) and "exit code 1" in str(info.value)
    assert not server.owned


def test_environment_keeps_unset_settings_from_the_caller(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "OLLAMA_FLASH_ATTENTION": "1", "OLLAMA_HOST": "0.0.0.0:9"}
    env = server_environment(
        OllamaServerSettings(managed=True, flash_attention=False), "http://127.0.0.1:11500", base
    )
    assert env["OLLAMA_FLASH_ATTENTION"] == "0"  # set → ours wins
    assert env["OLLAMA_HOST"] == "127.0.0.1:11500"  # always where GateDeck will look for it
    assert env["PATH"] == "/bin" and "OLLAMA_KV_CACHE_TYPE" not in env
    bind_all = server_environment(OllamaServerSettings(managed=True, host="0.0.0.0:11434"), base=base)
    assert bind_all["OLLAMA_HOST"] == "0.0.0.0:11434"
    assert OllamaServer(OllamaServerSettings(host="0.0.0.0:11600")).url == "http://127.0.0.1:11600"
