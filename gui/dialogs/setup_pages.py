"""The first-run setup's first three steps: Ollama, this machine, the recommended models.

Each step is a :class:`SetupPage`: it says when it is done (the wizard's *Next* waits for that;
*Skip this step* never does) and does its asking in :meth:`SetupPage.enter`, each time the person
arrives on it. What the steps share (the services, the recommendations, the model chosen) is a
:class:`SetupRun`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.cli.format import human_bytes
from core.config.holder import ConfigHolder
from core.config.schema import OllamaBackend
from core.errors import GateDeckError
from core.hardware.facts import HardwareInfo
from core.ollama.models import ModelDetails
from core.ollama.server import OllamaServer
from core.ollama.state import OllamaState
from core.setup.catalog import ToolCalling
from core.setup.ollama_check import OllamaCheck, OllamaFound, check_ollama
from core.setup.recommend import CLAUDE_CODE_MIN_CONTEXT, FitLevel, Recommendation, k_tokens, rate, recommend
from gui.gateway_bridge import GatewayBridge
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, tint
from gui.panels.mappings import ProbeMapping
from gui.pull_queue import PullQueue
from gui.widgets.fit import gib
from gui.widgets.machine_box import MachineBox

_LEVEL_TONES = {FitLevel.GOOD: Tone.GOOD, FitLevel.SO_SO: Tone.WARNING, FitLevel.BAD: Tone.BAD}
_TOOL_WORDS = {
    ToolCalling.RELIABLE: ("calls tools reliably", Tone.GOOD),
    ToolCalling.MOSTLY: ("calls tools, writes some as text", Tone.WARNING),
    ToolCalling.POOR: ("often answers without calling a tool", Tone.BAD),
    None: ("untested: the check in step 5 finds out", Tone.MUTED),
}


@dataclass(frozen=True)
class SetupServices:
    """What the setup works with: the window's own config, gateway, Ollama, pulls and probe.

    Attributes:
        holder: the config in use.
        gateway: the window's gateway (saves and serves a changed config; the probe asks it).
        ollama: the shared Ollama state (installed models, their details, the hardware).
        server: the ``ollama serve`` GateDeck manages (the one the window starts and stops).
        pulls: the Models panel's pull queue (a pull started here shows there too).
        probe: the tool-call probe on a mapping name with that mapping's context.
        claude_base_url: the address Claude Code should use (this window's gateway, or a
            ``gatedeck serve`` that is serving).
        verdicts_dir: where probe verdicts are kept for the Mappings panel (``None``: not kept).
        settings_path: Claude Code's settings file (``None``: ``~/.claude/settings.json``).
        which: finds a program on PATH (tests pass their own).
    """

    holder: ConfigHolder
    gateway: GatewayBridge
    ollama: OllamaState
    server: OllamaServer
    pulls: PullQueue
    probe: ProbeMapping
    claude_base_url: Callable[[], str]
    verdicts_dir: Path | None = None
    settings_path: Path | None = None
    which: Callable[[str], str | None] = shutil.which


@dataclass
class SetupRun:
    """One run of the setup: its services and what the steps found and chose so far.

    Attributes:
        hardware: the machine, once read.
        recommendations: the models offered, best first.
        chosen: the one the person picked (``None``: none yet, or the step was skipped).
        failed: models whose probe verdict was bad in this run.
    """

    services: SetupServices
    hardware: HardwareInfo | None = None
    recommendations: list[Recommendation] = field(default_factory=list)
    chosen: Recommendation | None = None
    failed: list[str] = field(default_factory=list)

    def next_after(self, model: str) -> Recommendation | None:
        """The recommendation after ``model`` that has not failed its probe yet."""
        names = [r.model for r in self.recommendations]
        start = names.index(model) + 1 if model in names else 0
        return next((r for r in self.recommendations[start:] if r.model not in self.failed), None)


def note(text: str = "", name: str = "") -> QLabel:
    """A wrapping label (rich text where the text has tags)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    label.setOpenExternalLinks(True)
    if name:
        label.setObjectName(name)
    return label


class SetupPage(QWidget):
    """One step of the setup.

    Signals:
        done_changed(bool): whether the step has done its job (the wizard enables *Next*).
    """

    done_changed = Signal(bool)
    #: The step's name in the wizard's list and heading.
    title = ""

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = run
        self.ops = ops
        self.done = False
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)

    @property
    def services(self) -> SetupServices:
        return self.run.services

    def applies(self) -> bool:
        """Whether the step has anything to do in this run (e.g. no download when installed)."""
        return True

    async def enter(self) -> None:
        """The person arrived on this step: ask what it needs."""

    def set_done(self, done: bool) -> None:
        if done != self.done:
            self.done = done
            self.done_changed.emit(done)


class OllamaPage(SetupPage):
    """Is Ollama running here? If not: start it, how to install it, or another host's address.

    Signals:
        address_changed(): the Ollama address was changed (or a server started) and saved.
    """

    title = "Ollama"
    address_changed = Signal()

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.check: OllamaCheck | None = None
        self.intro = note(
            "GateDeck answers Claude Code with models that Ollama runs, on this machine or another."
        )
        self.state = note("Looking for Ollama…", "setupOllamaState")
        self.hint = note("", "setupOllamaHint")
        self.hint.hide()
        self.start_button = QPushButton("Start Ollama")
        self.start_button.setObjectName("setupStartOllama")
        self.start_button.setToolTip(
            "GateDeck runs `ollama serve` while it runs, starts it with the window from now on, "
            "and stops it when it quits."
        )
        self.start_button.clicked.connect(self._on_start_button_clicked)
        self.start_button.hide()
        self.check_button = QPushButton("Check again")
        self.check_button.setObjectName("setupCheckOllama")
        self.check_button.clicked.connect(self._on_check_button_clicked)
        actions = QHBoxLayout()
        actions.addWidget(self.start_button)
        actions.addWidget(self.check_button)
        actions.addStretch(1)

        self.address = QLineEdit()
        self.address.setObjectName("setupOllamaAddress")
        self.address.setPlaceholderText("http://192.168.1.20:11434")
        self.address.returnPressed.connect(self._on_use_address_clicked)
        self.use_address = QPushButton("Use this address")
        self.use_address.setObjectName("setupUseOllamaAddress")
        self.use_address.clicked.connect(self._on_use_address_clicked)
        self.address_error = note("", "setupOllamaAddressError")
        tint(self.address_error, Tone.BAD)
        self.address_error.hide()
        address_row = QHBoxLayout()
        address_row.addWidget(self.address, 1)
        address_row.addWidget(self.use_address)
        other = QFrame()
        other.setFrameShape(QFrame.Shape.StyledPanel)
        other_column = QVBoxLayout(other)
        other_column.addWidget(note("<b>Ollama runs on another machine?</b> Enter its address instead:"))
        other_column.addLayout(address_row)
        other_column.addWidget(self.address_error)

        self.column.addWidget(self.intro)
        self.column.addSpacing(8)
        self.column.addWidget(self.state)
        self.column.addWidget(self.hint)
        self.column.addLayout(actions)
        self.column.addSpacing(16)
        self.column.addWidget(other)
        self.column.addStretch(1)

    async def enter(self) -> None:
        self.address.setText(self.services.holder.config.backends[0].url)
        await self.look()

    async def look(self) -> OllamaCheck:
        """Ask the configured address for Ollama, and show what was found."""
        url = self.services.holder.config.backends[0].url
        self.state.setText(f"Looking for Ollama at {url}…")
        tint(self.state, None)
        self.check = check = await check_ollama(url, which=self.services.which)
        self._show(check)
        self.set_done(check.found is OllamaFound.RUNNING)
        return check

    async def start_ollama(self) -> bool:
        """Start GateDeck's own ``ollama serve`` (and from now on with the window)."""
        services = self.services
        config = services.holder.config
        settings = config.ollama_server.model_copy(update={"managed": True})
        self.start_button.setEnabled(False)
        self.state.setText("Starting Ollama…")
        try:
            await services.holder.replace_async(config.model_copy(update={"ollama_server": settings}))
            services.server.settings = settings
            services.server.backend_url = config.backends[0].url.rstrip("/")
            await services.server.start()
        except GateDeckError as exc:
            self.hint.setText(str(exc))
            self.hint.show()
            tint(self.state, Tone.BAD)
            self.state.setText("<b>Ollama did not start.</b>")
            return False
        finally:
            self.start_button.setEnabled(True)
        self.address_changed.emit()
        return (await self.look()).found is OllamaFound.RUNNING

    async def use_typed_address(self) -> bool:
        """Point the config's Ollama address at the typed one, then look there."""
        services = self.services
        config = services.holder.config
        try:
            backend = OllamaBackend(name=config.backends[0].name, url=self.address.text().strip())
        except ValidationError as exc:
            self.address_error.setText(exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, "))
            self.address_error.show()
            return False
        self.address_error.hide()
        self.address.setText(backend.url)
        await services.gateway.apply(config.model_copy(update={"backends": [backend, *config.backends[1:]]}))
        self.address_changed.emit()
        return (await self.look()).found is OllamaFound.RUNNING

    def _show(self, check: OllamaCheck) -> None:
        self.start_button.setVisible(check.found is OllamaFound.STOPPED)
        self.hint.setVisible(check.found is not OllamaFound.RUNNING)
        if check.found is OllamaFound.RUNNING:
            tint(self.state, Tone.GOOD)
            self.state.setText(f"✓ <b>Ollama {check.version} is running</b> at {check.url}.")
        elif check.found is OllamaFound.STOPPED:
            tint(self.state, Tone.WARNING)
            self.state.setText(f"<b>Ollama is installed</b> ({check.binary}) <b>but not running.</b>")
            self.hint.setText("GateDeck can start it for you, and stop it again when GateDeck quits.")
        elif check.found is OllamaFound.MISSING:
            tint(self.state, Tone.BAD)
            self.state.setText("<b>Ollama is not installed on this machine.</b>")
            self.hint.setText(check.install_hint)
        else:
            tint(self.state, Tone.BAD)
            self.state.setText(f"<b>Nothing answers at {check.url}.</b>")
            self.hint.setText(
                "Is Ollama running there, and listening on the network (OLLAMA_HOST=0.0.0.0)? "
                "Check the address, or use this machine's Ollama: http://127.0.0.1:11434."
            )

    @async_slot()
    async def _on_check_button_clicked(self) -> None:
        await self.look()

    @async_slot()
    async def _on_start_button_clicked(self) -> None:
        await self.start_ollama()

    @async_slot()
    async def _on_use_address_clicked(self) -> None:
        await self.use_typed_address()


class MachinePage(SetupPage):
    """The machine as the recommendations see it: CPU, RAM, each GPU's free VRAM."""

    title = "This machine"

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.machine = MachineBox()
        self.machine.ram_bar.setMinimumWidth(260)  # room for its "8.0 GiB of 32.0 GiB (…)" text
        self.summary = note("", "setupMachineSummary")
        self.column.addWidget(
            note("Which models run well depends on the memory they can use: VRAM first, then RAM.")
        )
        self.column.addWidget(self.machine)
        self.column.addWidget(self.summary)
        self.column.addStretch(1)

    async def enter(self) -> None:
        hardware = self.run.hardware = await self.services.ollama.hardware(max_age=0)
        self.machine.show_hardware(hardware)
        free = [f"GPU {g.index} {g.name} has {gib(g.vram_free)} of VRAM free" for g in hardware.gpus]
        where = "; ".join(free) if free else "no GPU, so models run on the CPU, in RAM"
        self.summary.setText(
            f"For models: {where}; {gib(hardware.memory.available)} of RAM is available. "
            f"The next step picks models that fit here with at least {k_tokens(CLAUDE_CODE_MIN_CONTEXT)} "
            "tokens of context, which Claude Code needs."
        )
        self.set_done(True)


class RecommendationCard(QFrame):
    """One recommended model, as a choice: fit, download, context, tool calling, why."""

    def __init__(self, rec: Recommendation, group: QButtonGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rec = rec
        self.setObjectName(f"setupModel:{rec.model}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        size = "installed" if rec.installed else f"{human_bytes(rec.download_bytes)} download"
        self.choice = QRadioButton(f"{rec.model}   ·   {size}")
        self.choice.setObjectName("setupModelChoice")
        font = self.choice.font()
        font.setBold(True)
        self.choice.setFont(font)
        group.addButton(self.choice)
        rating = rate(rec.fit)
        self.fit = note(f"{rating.label}   —   {self._figures()}", "setupModelFit")
        tint(self.fit, _LEVEL_TONES[rating.level])
        words, tone = _TOOL_WORDS[rec.tools]
        self.context = note(f"Context: {rec.num_ctx:,} tokens", "setupModelContext")
        self.context.setWordWrap(False)
        self.tools = note(f"Tools: {words}", "setupModelTools")
        tint(self.tools, tone)
        entry = rec.catalog
        about = (
            f"{entry.family}, {entry.parameters} parameters, {entry.quantization} — {entry.note}"
            if entry is not None
            else "Not in GateDeck's table of tested models."
        )
        self.about = note(about, "setupModelAbout")
        tint(self.about, Tone.MUTED)
        facts = QHBoxLayout()
        facts.addWidget(self.context)
        facts.addSpacing(24)
        facts.addWidget(self.tools, 1)
        column = QVBoxLayout(self)
        column.setSpacing(2)
        column.addWidget(self.choice)
        indented = QVBoxLayout()
        indented.setContentsMargins(24, 0, 0, 0)
        indented.addWidget(self.fit)
        indented.addLayout(facts)
        indented.addWidget(self.about)
        column.addLayout(indented)

    def _figures(self) -> str:
        fit = self.rec.fit
        if fit.layers_on_gpu == 0:
            return f"{gib(fit.cpu_bytes)} in RAM of {gib(fit.ram_available)} available"
        gpu = f"{gib(fit.gpu_bytes)} of {gib(fit.vram_free)} free VRAM"
        if fit.cpu_bytes:
            return f"{gpu} + {gib(fit.cpu_bytes)} in RAM"
        return gpu


class ModelsPage(SetupPage):
    """Two or three models that fit here at Claude Code's context, best first; and installed
    ones that fit too."""

    title = "Choose a model"

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.group = QButtonGroup(self)
        self.group.buttonToggled.connect(self._on_group_button_toggled)
        self.cards: list[RecommendationCard] = []
        self.status = note("Working out what fits…", "setupModelsStatus")
        self.list = QVBoxLayout()
        self.column.addWidget(self.status)
        self.column.addLayout(self.list)
        self.column.addStretch(1)

    async def enter(self) -> None:
        if self.cards:  # already worked out in this run; a choice made stays made
            return
        services = self.services
        hardware = self.run.hardware or await services.ollama.hardware()
        self.run.hardware = hardware
        installed: list[tuple[str, ModelDetails, int]] = []
        if services.ollama.reachable is not False:
            try:
                await services.ollama.refresh()
            except GateDeckError:
                pass  # recommend from the table alone; the Ollama step says what is wrong
            described = await services.ollama.describe_installed()
            for model in services.ollama.installed:
                details = described.get(model.name)
                if isinstance(details, ModelDetails):
                    installed.append((model.name, details, model.size))
        self.show_recommendations(recommend(hardware, services.holder.config.ollama_server, installed))

    def show_recommendations(self, recommendations: list[Recommendation]) -> None:
        self.run.recommendations = recommendations
        for card in self.cards:
            self.group.removeButton(card.choice)
            self.list.removeWidget(card)
            card.deleteLater()
        self.cards = [RecommendationCard(rec, self.group) for rec in recommendations]
        for card in self.cards:
            self.list.addWidget(card)
        if not recommendations:
            tint(self.status, Tone.BAD)
            self.status.setText(
                f"No model in GateDeck's list fits this machine with {k_tokens(CLAUDE_CODE_MIN_CONTEXT)} "
                "of context. Another machine's Ollama (first step) may have room for one."
            )
            return
        tint(self.status, None)
        self.status.setText(
            "These fit this machine with the context Claude Code needs, best first. "
            "Pick one; the next steps download it and check that it calls tools."
        )
        self.choose(recommendations[0].model)

    def choose(self, model: str) -> bool:
        """Pick ``model`` among the cards."""
        card = next((c for c in self.cards if c.rec.model == model), None)
        if card is None:
            return False
        card.choice.setChecked(True)
        return True

    def _on_group_button_toggled(self, button: object, checked: bool) -> None:
        if not checked:
            return
        card = next((c for c in self.cards if c.choice is button), None)
        if card is not None:
            self.run.chosen = card.rec
        self.set_done(card is not None)
