"""The first-run setup, walked as a new user would: against the fake Ollama with nothing
installed, on a described machine, through the real gateway to the tool-call probe, ending in
Claude Code's settings file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QDialog, QPushButton
from pytestqt.qtbot import QtBot

from core.clients.probe_verdicts import load_verdicts
from core.clients.tool_probe import ProbeResult, probe_tool_calls
from core.config.first_run import Installation, open_installation
from core.config.holder import ConfigHolder
from core.config.schema import Config, GatewaySettings, OllamaBackend
from core.config.store import ConfigStore
from core.config.ui_state import UiStateFile
from core.hardware.facts import CpuInfo, GpuInfo, HardwareInfo, MemoryInfo
from core.ollama.load_options import LOAD_OPTIONS
from core.ollama.server import OllamaServer
from core.ollama.state import OllamaState
from core.setup.recommend import CLAUDE_CODE_MIN_CONTEXT
from gui.controller import AppController
from gui.dialogs.setup_run import SetupServices
from gui.dialogs.setup_wizard import SetupWizard
from gui.gateway_bridge import GatewayBridge
from gui.panels.mappings import MappingsPanel
from gui.pull_queue import JobState, PullQueue
from gui.widgets.mappings_table import COLUMNS
from tests.core.gateway_support import free_port
from tests.core.probe_model import probe_model
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.fake_ollama_exe import FakeOllamaExe
from tests.fakes.ollama_catalog import FakeModel, llama32_3b, qwen3_8b, qwen25_coder_7b
from tests.gui.conftest import Run
from tests.gui.qt_support import asyncio_like, dispose

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]

GIB = 2**30
#: A desktop with an 8 GB graphics card: the table's first choice there is qwen2.5-coder:7b,
#: all on the GPU, then qwen3-coder:30b split between GPU and CPU.
DESKTOP = HardwareInfo(
    CpuInfo("AMD Ryzen 5 7600", 6, 12, "x86_64"),
    MemoryInfo(32 * GIB, 24 * GIB),
    (GpuInfo("NVIDIA", 0, "GeForce RTX 4060", 8 * GIB, int(7.5 * GIB), "550.54"),),
)
QWEN, CODER = "qwen2.5-coder:7b", "qwen3-coder:30b"
VERDICT = [key for key, _ in COLUMNS].index("tool_probe")
ENGINE_MS = 120_000  # the first import of the gateway engine takes seconds on a busy 2-core box


@pytest.fixture(autouse=True)
def like_asyncio(loop: qasync.QEventLoop) -> Iterator[None]:
    with asyncio_like(loop):
        yield


def library() -> list[FakeModel]:
    """What the fake Ollama can pull: the two models the table recommends first here."""
    return [qwen25_coder_7b(), qwen3_8b().copy_as(CODER)]


@dataclass
class Setup:
    wizard: SetupWizard
    holder: ConfigHolder
    gateway: GatewayBridge
    pulls: PullQueue
    settings: Path
    verdicts: Path


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=[], library=library()) as server:
        for model in (QWEN, CODER):  # a short download: the test is about the flow, not the bytes
            server.set_pull_plan(model, [3_000_000, 1_429, 487], steps_per_layer=3)
        yield server


@pytest.fixture
def setup(
    qtbot: QtBot, install: Installation, fake: FakeOllama, tmp_path: Path, arun: Run
) -> Iterator[Setup]:
    """The wizard on the window's own kind of services: a real gateway (stopped, engine loaded),
    the fake Ollama, the described desktop, Claude Code's settings in a temporary home."""
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=fake.url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
        }
    )
    holder = ConfigHolder(install.store, config)
    install.store.save(config)
    gateway = GatewayBridge(holder, install.secrets, install.master_key)
    ollama = OllamaState(lambda: holder.config.backends[0].url, read_hardware=lambda: DESKTOP)
    pulls = PullQueue(ollama.client)

    async def probe(name: str, num_ctx: int | None) -> ProbeResult:
        return await probe_tool_calls(
            gateway.url, gateway.master_key, name, num_ctx=num_ctx, records=gateway.metrics
        )

    settings = tmp_path / "claude-home" / "settings.json"
    verdicts = tmp_path / "data"
    services = SetupServices(
        holder=holder,
        gateway=gateway,
        ollama=ollama,
        server=OllamaServer(holder.config.ollama_server, url=fake.url, log_path=tmp_path / "serve.log"),
        pulls=pulls,
        probe=probe,
        claude_base_url=lambda: gateway.url,
        verdicts_dir=verdicts,
        settings_path=settings,
        codex_config_path=tmp_path / "codex-home" / "config.toml",
    )
    wizard = SetupWizard(services)
    wizard.show()
    try:
        arun(gateway.load_engine(autostart=False), ENGINE_MS)
        yield Setup(wizard, holder, gateway, pulls, settings, verdicts)
    finally:
        arun(wizard.shutdown())
        arun(pulls.close())
        arun(gateway.close(), 60_000)
        arun(ollama.aclose())
        dispose(wizard)


async def _never_applied(_config: Config) -> str:
    raise AssertionError("showing the verdicts applies nothing")


def go_next(qtbot: QtBot, wizard: SetupWizard) -> None:
    """Click Next (it must be enabled: the step is done) and wait for the following step."""
    before = wizard.current
    assert wizard.next_button.isEnabled(), f"{before.title}: Next is disabled"
    wizard.next_button.click()
    qtbot.waitUntil(lambda: wizard.current is not before, timeout=10_000)


def saved_tiers(install: Installation) -> dict[str, tuple[str, dict[str, object]]]:
    """The Claude Code mappings as the config file on disk has them: model, options."""
    config = ConfigStore(install.paths).load().config
    return {m.name: (m.model, m.options.model_dump()) for m in config.mappings if m.is_claude}


def test_a_new_user_goes_from_no_model_to_claude_code_on_a_checked_local_model(
    qtbot: QtBot, arun: Run, setup: Setup, fake: FakeOllama, install: Installation, tmp_path: Path
) -> None:
    wizard = setup.wizard
    setup.settings.parent.mkdir(parents=True)
    setup.settings.write_text(json.dumps({"theme": "dark", "env": {"DISABLE_TELEMETRY": "1"}}))
    arun(wizard.begin())

    # 1. Ollama answers at the configured address.
    assert wizard.current is wizard.ollama_page
    assert f"Ollama {fake.version} is running" in wizard.ollama_page.state.text()
    go_next(qtbot, wizard)

    # 2. The machine: its GPU and what is free.
    assert wizard.current is wizard.machine_page
    qtbot.waitUntil(lambda: wizard.machine_page.done, timeout=10_000)
    summary = wizard.machine_page.summary.text()
    assert "GeForce RTX 4060 has 7.5 GiB of VRAM free" in summary and "24.0 GiB of RAM" in summary
    go_next(qtbot, wizard)

    # 3. Recommendations, best first, the first one chosen.
    page = wizard.models_page
    qtbot.waitUntil(lambda: bool(page.cards), timeout=10_000)
    first = page.cards[0]
    assert [c.rec.model for c in page.cards][:2] == [QWEN, CODER]
    assert first.choice.isChecked() and wizard.run.chosen == first.rec
    assert "4.7 GB download" in first.choice.text()
    assert first.fit.text().startswith("✓ GPU @ 32k") and "free VRAM" in first.fit.text()
    assert first.context.text() == f"Context: {CLAUDE_CODE_MIN_CONTEXT:,} tokens"
    assert "writes some as text" in first.tools.text()
    assert "◐" in page.cards[1].fit.text(), "the 30B model is split between GPU and CPU"
    assert page.also.isHidden(), "nothing installed: no untested models to show apart"
    go_next(qtbot, wizard)

    # 4. The download, through the Models panel's queue.
    assert wizard.current is wizard.pull_page and not wizard.next_button.isEnabled()
    assert wizard.pull_page.download_button.text() == f"Download {QWEN}"
    wizard.pull_page.download_button.click()
    qtbot.waitUntil(lambda: setup.pulls.job(QWEN) is not None, timeout=5_000)
    job = setup.pulls.job(QWEN)
    assert job is not None and wizard.pull_page.row is not None
    qtbot.waitUntil(lambda: wizard.pull_page.done, timeout=30_000)
    assert job.state is JobState.DONE and QWEN in fake.installed()
    assert wizard.pull_page.row.phase.text() == "done"
    go_next(qtbot, wizard)

    # 5. Tiers mapped with one set of load options, then the probe's verdict.
    tiers = wizard.tiers_page
    assert wizard.current is tiers and not tiers.done
    fake.set_replier(QWEN, probe_model("calls"))
    tiers.map_button.click()
    qtbot.waitUntil(lambda: tiers.result is not None, timeout=180_000)
    assert tiers.result is not None and tiers.result.passed
    assert f"✓ <b>{QWEN} works with Claude Code.</b>" in tiers.verdict.text()
    assert "3 of 3 runs made a working call" in tiers.verdict.text()
    assert tiers.try_next.isHidden()
    mapped = saved_tiers(install)
    assert set(mapped) == {"claude-*opus*", "claude-*sonnet*", "claude-*haiku*", "*"}
    assert {model for model, _ in mapped.values()} == {QWEN}
    loads = {tuple((k, o[k]) for k in LOAD_OPTIONS) for _, o in mapped.values()}
    assert len(loads) == 1, f"the tiers differ in load options: {loads}"
    assert dict(next(iter(loads)))["num_ctx"] == CLAUDE_CODE_MIN_CONTEXT
    assert setup.gateway.serving, "the check started the gateway"
    chats = fake.bodies("/api/chat")
    assert chats and {b["options"]["num_ctx"] for b in chats} == {CLAUDE_CODE_MIN_CONTEXT}
    assert load_verdicts(setup.verdicts)["claude-*sonnet*"].model == QWEN
    panel = MappingsPanel(setup.holder, _never_applied, verdicts_dir=setup.verdicts)
    qtbot.addWidget(panel)
    shown = {
        str(panel.model.index(row, 0).data()): panel.model.index(row, VERDICT).data()
        for row in range(panel.model.rowCount())
    }
    assert {name: shown[name] for name in mapped} == dict.fromkeys(mapped, "✓ works"), (
        "the Mappings table shows the one verdict on every tier set up on the model"
    )
    go_next(qtbot, wizard)

    # 6. Claude Code's settings, merged and backed up.
    claude = wizard.claude_page
    assert wizard.current is claude and wizard.finish_button.isVisible()
    assert setup.gateway.url in claude.summary.text()
    assert 'model_provider = "gatedeck"' in claude.codex.text.toPlainText()
    claude.write_button.click()
    written = json.loads(setup.settings.read_text())
    assert written["theme"] == "dark" and written["env"]["DISABLE_TELEMETRY"] == "1"
    assert written["env"]["ANTHROPIC_BASE_URL"] == setup.gateway.url
    assert written["env"]["ANTHROPIC_AUTH_TOKEN"] == setup.gateway.master_key
    backup = json.loads(setup.settings.with_name("settings.json.bak").read_text())
    assert backup == {"theme": "dark", "env": {"DISABLE_TELEMETRY": "1"}}
    assert "settings.json.bak" in claude.status.text()
    claude.codex.write_button.click()
    codex = (tmp_path / "codex-home" / "config.toml").read_text()
    assert 'model_provider = "gatedeck"' in codex and f'base_url = "{setup.gateway.url}/v1"' in codex
    assert "GATEDECK_API_KEY" in claude.codex.status.text() and setup.gateway.master_key not in codex

    wizard.finish_button.click()
    assert wizard.result() == QDialog.DialogCode.Accepted and not wizard.isVisible()


def test_a_model_that_writes_no_tool_calls_is_replaced_by_the_next_recommendation(
    qtbot: QtBot, arun: Run, setup: Setup, fake: FakeOllama, install: Installation
) -> None:
    wizard = setup.wizard
    arun(wizard.go_to(wizard.models_page))
    qtbot.waitUntil(lambda: bool(wizard.models_page.cards), timeout=10_000)
    go_next(qtbot, wizard)
    wizard.pull_page.download_button.click()
    qtbot.waitUntil(lambda: wizard.pull_page.done, timeout=30_000)
    go_next(qtbot, wizard)

    tiers = wizard.tiers_page
    fake.set_replier(QWEN, probe_model("prose"))
    tiers.map_button.click()
    qtbot.waitUntil(lambda: tiers.result is not None, timeout=180_000)
    assert tiers.result is not None and not tiers.result.passed
    assert "No tool call" in tiers.verdict.text()
    assert f"The next recommendation is <b>{CODER}</b>" in tiers.verdict.text()
    assert tiers.try_next.isVisible() and tiers.try_next.text() == f"Try {CODER}"

    tiers.try_next.click()  # back to the download, with the next model
    qtbot.waitUntil(lambda: wizard.current is wizard.pull_page, timeout=10_000)
    assert wizard.run.failed == [QWEN] and wizard.run.chosen is not None
    assert wizard.run.chosen.model == CODER
    assert wizard.models_page.cards[1].choice.isChecked()
    assert wizard.pull_page.download_button.text() == f"Download {CODER}"
    wizard.pull_page.download_button.click()
    qtbot.waitUntil(lambda: wizard.pull_page.done, timeout=30_000)
    assert CODER in fake.installed()
    go_next(qtbot, wizard)

    assert wizard.current is tiers and tiers.verdict.text() == ""
    fake.set_replier(CODER, probe_model("calls"))
    tiers.map_button.click()
    qtbot.waitUntil(lambda: tiers.result is not None, timeout=180_000)
    assert tiers.result is not None and tiers.result.passed
    assert {model for model, _ in saved_tiers(install).values()} == {CODER}

    go_next(qtbot, wizard)  # Back goes to the mapping, past the download that is done now
    wizard.back_button.click()
    qtbot.waitUntil(lambda: wizard.current is tiers, timeout=10_000)
    wizard.back_button.click()
    qtbot.waitUntil(lambda: wizard.current is wizard.models_page, timeout=10_000)


def test_every_step_can_be_skipped_and_nothing_changes(
    qtbot: QtBot,
    arun: Run,
    setup: Setup,
    fake: FakeOllama,
    install: Installation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wizard = setup.wizard
    before = setup.holder.config
    fake.stop()  # nothing answers and no `ollama` here: the first step cannot be done
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    arun(wizard.begin())
    assert not wizard.ollama_page.done and not wizard.next_button.isEnabled()
    assert "Ollama is not installed on this machine" in wizard.ollama_page.state.text()
    hint = wizard.ollama_page.hint.text()  # how to install it on this OS, the download page a link
    assert '<a href="https://ollama.com/download">' in hint and wizard.ollama_page.check_button.isVisible()
    for page in wizard.pages[:-1]:
        if wizard.current is not page:
            continue
        assert wizard.skip_step.isVisible() or page.done
        (wizard.skip_step if wizard.skip_step.isVisible() else wizard.next_button).click()
        qtbot.waitUntil(lambda p=page: wizard.current is not p, timeout=10_000)
    assert wizard.current is wizard.claude_page
    assert wizard.tiers_page.status.text() == f"{QWEN} is not downloaded yet: the check needs it (step 4)."
    assert setup.holder.config == before and ConfigStore(install.paths).load().config == before
    assert setup.pulls.jobs == [] and not setup.settings.exists()
    wizard.skip_setup.click()
    assert wizard.result() == QDialog.DialogCode.Rejected and not wizard.isVisible()


def launch(install: Installation, url: str) -> AppController:
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
        }
    )
    install.store.save(config)
    install.loaded.config = config
    app = AppController(install, use_tray=False)
    app.start(offer_setup=True)
    return app


def test_the_setup_opens_on_the_first_launch_until_it_is_finished_or_skipped(
    qtbot: QtBot, arun: Run, install: Installation, fake: FakeOllama
) -> None:
    first = launch(install, fake.url)
    try:
        qtbot.waitUntil(lambda: first.setup is not None and first.setup.isVisible(), timeout=30_000)
    finally:
        arun(first.quit(), timeout_ms=60_000)  # quit with the setup open: offered again
    state = UiStateFile(install.paths.state_file).state
    assert state.setup_pending

    second = launch(open_installation(), fake.url)
    try:
        qtbot.waitUntil(lambda: second.setup is not None and second.setup.isVisible(), timeout=30_000)
        wizard = second.setup
        assert wizard is not None
        qtbot.waitUntil(lambda: wizard.ollama_page.done, timeout=10_000)
        wizard.skip_setup.click()
        qtbot.waitUntil(lambda: second.setup is None, timeout=5_000)
        assert not UiStateFile(install.paths.state_file).state.setup_pending
        # The Gateway panel's Set up… runs it again.
        second.show_window("gateway")
        button = second.gateway_panel.findChild(QPushButton, "openSetup")
        assert isinstance(button, QPushButton)
        button.click()
        qtbot.waitUntil(lambda: second.setup is not None and second.setup.isVisible(), timeout=5_000)
        again = second.setup
        assert again is not None
        again.skip_setup.click()
        qtbot.waitUntil(lambda: second.setup is None, timeout=5_000)
        qtbot.waitUntil(lambda: not second.window.findChildren(SetupWizard), timeout=5_000)
    finally:
        arun(second.quit(), timeout_ms=60_000)

    third = launch(open_installation(), fake.url)
    try:
        qtbot.waitUntil(lambda: third.window.is_built("models"), timeout=30_000)
        qtbot.waitUntil(lambda: third.watcher.reachable is True, timeout=30_000)
        assert third.setup is None
    finally:
        arun(third.quit(), timeout_ms=60_000)


def test_ollama_installed_but_stopped_is_started_by_gatedeck_and_another_address_can_be_used(
    qtbot: QtBot, arun: Run, setup: Setup, fake: FakeOllama, fake_ollama_exe: FakeOllamaExe
) -> None:
    page = setup.wizard.ollama_page
    server = setup.wizard.run.services.server
    nowhere = f"http://127.0.0.1:{free_port()}"
    arun(setup.wizard.begin())
    assert page.done and setup.wizard.next_button.isEnabled()
    try:
        page.address.setText(nowhere)  # nothing answers there yet; `ollama` is installed here
        with qtbot.waitSignal(setup.wizard.ollama_changed, timeout=10_000):
            page.use_address.click()
        qtbot.waitUntil(lambda: page.check is not None and page.check.url == nowhere, timeout=10_000)
        assert setup.holder.config.backends[0].url == nowhere
        assert "installed" in page.state.text() and "but not running" in page.state.text()
        assert page.start_button.isVisible() and not page.done and not setup.wizard.next_button.isEnabled()

        page.start_button.click()
        qtbot.waitUntil(lambda: page.done, timeout=60_000)
        assert "is running" in page.state.text() and nowhere in page.state.text()
        assert server.owned and [launch["argv"] for launch in fake_ollama_exe.launches()] == [["serve"]]
        assert setup.holder.config.ollama_server.managed, "started with the window from now on"
        assert setup.wizard.next_button.isEnabled()

        page.address.setText("not an address")
        page.use_address.click()
        qtbot.waitUntil(page.address_error.isVisible, timeout=5_000)
        assert setup.holder.config.backends[0].url == nowhere, "a bad address changes nothing"
        page.address.setText(fake.url)
        page.use_address.click()
        qtbot.waitUntil(lambda: page.check is not None and page.check.url == fake.url, timeout=10_000)
        assert page.done and f"Ollama {fake.version} is running" in page.state.text()
    finally:
        arun(server.stop(), 30_000)


def test_the_models_are_worked_out_again_for_another_ollama_address(
    qtbot: QtBot, arun: Run, setup: Setup, fake: FakeOllama
) -> None:
    wizard = setup.wizard
    arun(wizard.go_to(wizard.models_page))
    first = wizard.models_page.cards[0].rec
    assert first.model == QWEN and not first.installed

    fake.add_model(qwen25_coder_7b())  # installed on the server the new address names
    wizard.ollama_page.address.setText(fake.url.replace("127.0.0.1", "localhost"))
    arun(wizard.ollama_page.use_typed_address())
    arun(wizard.go_to(wizard.models_page))
    again = wizard.models_page.cards[0]
    assert again.rec.model == QWEN and again.rec.installed and "installed" in again.choice.text()
    assert wizard.run.chosen == again.rec


def test_an_installed_model_outside_the_table_is_shown_apart_after_the_tables_models(
    qtbot: QtBot, arun: Run, setup: Setup, fake: FakeOllama
) -> None:
    """llama3.2:3b fits all on the desktop's GPU, but nothing is known of its tool calling: the
    table's models come first (the split 30B one too), and it is shown under its own heading."""
    fake.add_model(llama32_3b())
    wizard = setup.wizard
    arun(wizard.go_to(wizard.models_page))
    page = wizard.models_page
    models = [card.rec.model for card in page.cards]
    assert models[:2] == [QWEN, CODER] and models[-1] == "llama3.2:3b", models
    assert "◐" in page.cards[1].fit.text() and page.cards[-1].fit.text().startswith("✓ GPU")
    assert page.also.isVisibleTo(page) and "Also installed here" in page.also.text()
    assert page.also_list.indexOf(page.cards[-1]) == 0 and page.list.indexOf(page.cards[-1]) == -1
    assert "untested" in page.cards[-1].tools.text() and "installed" in page.cards[-1].choice.text()
    assert page.cards[0].choice.isChecked(), "the table's first stays the choice"
