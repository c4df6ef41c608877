"""The tool-call probe run from the Mappings panel, through the real gateway to the fake Ollama:
the verdict appears in the table, with its spread in the tooltip, and is still there next time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.clients.probe_verdicts import keep_verdict
from core.clients.tool_probe import ProbeResult, probe_tool_calls
from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import Config
from core.gateway.service import Gateway
from gui.panels.mappings import MappingsPanel
from gui.widgets.mappings_table import COLUMNS, NOT_PROBED
from tests.core.gateway_support import KEY, free_port, running, tier_config
from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import default_models
from tests.gui.conftest import Run

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]
QWEN, LLAMA = "qwen2.5-coder:7b", "llama3.2:3b"
Opener = Callable[[], MappingsPanel]
VERDICT = [key for key, _ in COLUMNS].index("tool_probe")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=default_models()) as server:
        yield server


@pytest.fixture(scope="module")
def config(fake: FakeOllama) -> Config:
    return tier_config(fake.url, free_port())


@pytest.fixture(scope="module")
def gateway(config: Config) -> Iterator[Gateway]:
    with running(Gateway(config, master_key=KEY)) as gw:
        yield gw


@pytest.fixture
def opened(qtbot: QtBot, install: Installation, config: Config, gateway: Gateway, tmp_path: Path) -> Opener:
    """Opens the Mappings panel on the running gateway, its verdicts in one data folder."""
    return lambda: make_panel(qtbot, install, config, gateway, tmp_path)


def make_panel(
    qtbot: QtBot, install: Installation, config: Config, gateway: Gateway, data: Path
) -> MappingsPanel:
    async def probe(name: str, num_ctx: int | None) -> ProbeResult:
        return await probe_tool_calls(gateway.url, KEY, name, num_ctx=num_ctx, records=gateway.metrics)

    panel = MappingsPanel(ConfigHolder(install.store, config), _never_applied, probe=probe, verdicts_dir=data)
    qtbot.addWidget(panel)
    panel.show()
    return panel


async def _never_applied(_config: Config) -> str:
    raise AssertionError("the probe does not apply anything")


def test_the_probe_run_from_the_panel_shows_each_verdict_in_the_table(
    qtbot: QtBot, loop: object, opened: Opener, config: Config, fake: FakeOllama
) -> None:
    panel = opened()
    names = [m.name for m in config.mappings]
    sonnet, haiku = names.index("claude-*sonnet*"), names.index("claude-*haiku*")
    assert panel.model.index(sonnet, VERDICT).data() == NOT_PROBED

    fake.set_replier(QWEN, probe_model("calls"))
    fake.set_replier(LLAMA, probe_model("prose"))
    for row in (sonnet, haiku):
        panel.table.selectRow(row)
        assert panel.probe_button.isEnabled()
        panel.probe_button.click()
        qtbot.waitUntil(lambda: not panel.probe_button.isEnabled(), timeout=5_000)
        qtbot.waitUntil(panel.probe_button.isEnabled, timeout=120_000)

    assert panel.model.index(sonnet, VERDICT).data() == "✓ works"
    assert panel.model.index(haiku, VERDICT).data() == "✗ no call"
    tip = panel.model.index(sonnet, VERDICT).data(Qt.ItemDataRole.ToolTipRole)
    assert "3 of 3 runs made a working call" in tip and "qwen2.5-coder:7b" in tip and "32,768" in tip
    assert "claude-*haiku*: No tool call" in panel.status.text()

    again = opened()  # next start of the window
    assert again.model.index(sonnet, VERDICT).data() == "✓ works"
    again.model.setData(again.model.index(sonnet, [k for k, _ in COLUMNS].index("num_ctx")), 8192)
    assert again.model.index(sonnet, VERDICT).data() == NOT_PROBED, "measured with another context"
    fake.set_reply(QWEN, f"Hello from {QWEN}.")
    fake.set_reply(LLAMA, f"Hello from {LLAMA}.")


def test_a_verdict_is_shared_by_the_claude_tiers_on_the_same_model_and_load_options(
    qtbot: QtBot,
    loop: object,
    install: Installation,
    config: Config,
    gateway: Gateway,
    fake: FakeOllama,
    tmp_path: Path,
) -> None:
    # opus given sonnet's load options: Ollama runs one copy for both, so one probe answers for
    # both; haiku (another model) and gpt-4o (not a Claude tier, other options) keep their own
    sonnet = next(m for m in config.mappings if m.name == "claude-*sonnet*")
    same = [
        m.model_copy(update={"options": sonnet.options}) if m.name == "claude-*opus*" else m
        for m in config.mappings
    ]
    shared = config.model_copy(update={"mappings": same})
    panel = make_panel(qtbot, install, shared, gateway, tmp_path)
    names = [m.name for m in shared.mappings]
    fake.set_replier(QWEN, probe_model("calls"))
    try:
        panel.table.selectRow(names.index("claude-*sonnet*"))
        panel.probe_button.click()
        qtbot.waitUntil(lambda: not panel.probe_button.isEnabled(), timeout=5_000)
        qtbot.waitUntil(panel.probe_button.isEnabled, timeout=120_000)
    finally:
        fake.set_reply(QWEN, f"Hello from {QWEN}.")
    shown = {name: panel.model.index(row, VERDICT).data() for row, name in enumerate(names)}
    assert shown["claude-*sonnet*"] == shown["claude-*opus*"] == "✓ works"
    assert shown["claude-*haiku*"] == shown["gpt-4o"] == NOT_PROBED


def test_a_verdict_kept_elsewhere_shows_when_the_panel_is_shown_again(
    arun: Run, opened: Opener, config: Config, gateway: Gateway, fake: FakeOllama, tmp_path: Path
) -> None:
    panel = opened()
    opus = [m.name for m in config.mappings].index("claude-*opus*")
    assert panel.model.index(opus, VERDICT).data() == NOT_PROBED
    fake.set_replier(QWEN, probe_model("text"))
    try:  # what the Test chat's probe button does with its result
        probe = probe_tool_calls(
            gateway.url, KEY, "claude-*opus*", runs=1, num_ctx=65536, records=gateway.metrics
        )
        result = arun(probe, 60_000)
    finally:
        fake.set_reply(QWEN, f"Hello from {QWEN}.")
    keep_verdict(tmp_path, result, QWEN, 65536)
    panel.hide()
    panel.show()
    assert panel.model.index(opus, VERDICT).data() == "✓ with repair"
