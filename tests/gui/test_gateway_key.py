"""A new master key or a new port for the gateway on the Gateway panel: Claude Code's settings
file, which the setup filled with the old ones, gets the new ones, so the next `claude` reaches
the gateway and is not refused; a settings file that points at another gateway is left alone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import qasync
from pytestqt.qtbot import QtBot

from core.clients.claude_code import default_settings_path, write_settings
from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.ollama.hosts import OllamaHosts
from core.secrets import MASTER_KEY
from gui.gateway_bridge import GatewayBridge
from gui.panels.gateway import GatewayPanel
from tests.core.gateway_support import free_port
from tests.gui.conftest import Run
from tests.gui.qt_support import asyncio_like, dispose

pytestmark = pytest.mark.timeout(60)
URL = "http://127.0.0.1:4000"


@pytest.fixture(autouse=True)
def like_asyncio(loop: qasync.QEventLoop) -> Iterator[None]:
    with asyncio_like(loop):
        yield


@pytest.fixture
def panel(qtbot: QtBot, install: Installation, arun: Run) -> Iterator[GatewayPanel]:
    holder = ConfigHolder(install.store, install.config)
    hosts = OllamaHosts(holder)
    bridge = GatewayBridge(holder, install.secrets, install.master_key)
    panel = GatewayPanel(holder, bridge, hosts)
    yield panel
    arun(panel.shutdown())
    arun(bridge.close())
    arun(hosts.aclose())
    dispose(panel)


def claude_env() -> dict[str, str]:
    env: dict[str, str] = json.loads(default_settings_path().read_text())["env"]
    return env


def test_a_regenerated_key_reaches_claude_codes_settings(
    panel: GatewayPanel, install: Installation, arun: Run
) -> None:
    old = install.master_key
    write_settings({"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": old})

    new = arun(panel.regenerate_key())

    assert new != old and install.secrets.get(MASTER_KEY) == new
    assert claude_env() == {"ANTHROPIC_BASE_URL": URL, "ANTHROPIC_AUTH_TOKEN": new}
    text = panel.banner.text.text()
    assert "Claude Code's settings" in text and str(default_settings_path()) in text, text


def test_settings_holding_another_key_are_left_alone(
    panel: GatewayPanel, install: Installation, arun: Run
) -> None:
    write_settings({"ANTHROPIC_BASE_URL": "https://elsewhere.example", "ANTHROPIC_AUTH_TOKEN": "sk-other"})
    before = default_settings_path().read_text()

    arun(panel.regenerate_key())

    assert default_settings_path().read_text() == before
    assert "Claude Code's settings" not in panel.banner.text.text()


def test_a_new_port_saved_on_the_panel_reaches_claude_codes_settings(
    panel: GatewayPanel, install: Installation, arun: Run
) -> None:
    write_settings({"ANTHROPIC_BASE_URL": panel.url_field.text(), "ANTHROPIC_AUTH_TOKEN": install.master_key})
    port = free_port()
    panel.port.setValue(port)

    assert arun(panel.save_settings())

    assert claude_env()["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}"
    assert claude_env()["ANTHROPIC_AUTH_TOKEN"] == install.master_key
    assert f"now point at http://127.0.0.1:{port}" in panel.settings_status.text()
