"""``gatedeck setup`` points Claude Code at the gateway's configured port; when another program
holds that port, ``gatedeck serve`` will not be able to listen there, and the setup says so at
once, with the fix, instead of leaving the user to find out from Claude Code's connection errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli.main import main
from core.config.defaults import default_config
from core.config.schema import GatewaySettings
from core.config.store import ConfigStore
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import qwen25_coder_7b

pytestmark = [pytest.mark.timeout(120)]
QWEN = "qwen2.5-coder:7b"


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(models=[qwen25_coder_7b()]) as fake:
        yield fake


def setup_output(ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(
        [
            "--ollama-url", ollama.url, "setup", "--yes", "--model", QWEN, "--skip-probe",
            "--vram", "8GiB", "--ram", "32GiB",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_setup_warns_when_another_program_holds_the_gateways_port(
    ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    ConfigStore.from_env().save(default_config().model_copy(update={"gateway": GatewaySettings(port=port)}))

    with socket.create_server(("127.0.0.1", port)):
        out = setup_output(ollama, capsys)

    assert f"Warning: Gateway port {port}: in use by" in out, out
    assert "gateway.port in the config" in out and "gatedeck claude-env --write-settings" in out, out
    settings = json.loads((Path.home() / ".claude" / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}"

    again = setup_output(ollama, capsys)  # the port is free now
    assert "Warning: Gateway port" not in again, again
