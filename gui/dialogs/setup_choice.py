"""The first-run setup's choice of model: two or three that fit this machine at Claude Code's
context, best first, each with its fit, download, context and tool calling; then, apart, installed
models outside GateDeck's table that fit too (their tool calling untested)."""

from __future__ import annotations

from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QRadioButton, QVBoxLayout, QWidget

from core.cli.format import human_bytes
from core.errors import GateDeckError
from core.ollama.models import ModelDetails
from core.setup.catalog import ToolCalling
from core.setup.recommend import CLAUDE_CODE_MIN_CONTEXT, FitLevel, Recommendation, k_tokens, rate, recommend
from gui.dialogs.setup_run import SetupPage, SetupRun, note
from gui.ops import BackgroundOps
from gui.palette import Tone, tint
from gui.widgets.fit import gib

_LEVEL_TONES = {FitLevel.GOOD: Tone.GOOD, FitLevel.SO_SO: Tone.WARNING, FitLevel.BAD: Tone.BAD}
_TOOL_WORDS = {
    ToolCalling.RELIABLE: ("calls tools reliably", Tone.GOOD),
    ToolCalling.MOSTLY: ("calls tools, writes some as text", Tone.WARNING),
    ToolCalling.POOR: ("often answers without calling a tool", Tone.BAD),
    None: ("untested: the check in step 5 finds out", Tone.MUTED),
}


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
    """Two or three models that fit here at Claude Code's context, best first; and, under
    "Also installed here", installed models outside the table that fit too."""

    title = "Choose a model"

    def __init__(self, run: SetupRun, ops: BackgroundOps, parent: QWidget | None = None) -> None:
        super().__init__(run, ops, parent)
        self.group = QButtonGroup(self)
        self.group.buttonToggled.connect(self._on_group_button_toggled)
        self.cards: list[RecommendationCard] = []
        self._worked_out_for = ""  # the Ollama address the cards were worked out for
        self.status = note("Working out what fits…", "setupModelsStatus")
        self.list = QVBoxLayout()
        self.also = note(
            "<b>Also installed here</b> — not in GateDeck's table, so whether they call tools is "
            "untested (the check in step 5 finds out):",
            "setupModelsAlso",
        )
        tint(self.also, Tone.MUTED)
        self.also.hide()
        self.also_list = QVBoxLayout()
        self.column.addWidget(self.status)
        self.column.addLayout(self.list)
        self.column.addSpacing(6)
        self.column.addWidget(self.also)
        self.column.addLayout(self.also_list)
        self.column.addStretch(1)

    async def enter(self) -> None:
        services = self.services
        url = services.holder.config.backends[0].url
        if self.cards and url == self._worked_out_for:  # a choice made stays made
            return
        self._worked_out_for = url
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
            (self.also_list if card.rec.untested else self.list).removeWidget(card)
            card.deleteLater()
        self.cards = [RecommendationCard(rec, self.group) for rec in recommendations]
        for card in self.cards:
            (self.also_list if card.rec.untested else self.list).addWidget(card)
        self.also.setVisible(any(rec.untested for rec in recommendations))
        if not recommendations:
            tint(self.status, Tone.BAD)
            self.status.setText(
                f"No model in GateDeck's list fits this machine with {k_tokens(CLAUDE_CODE_MIN_CONTEXT)} "
                "of context. Another machine's Ollama (first step) may have room for one."
            )
            return
        tint(self.status, None)
        if all(rec.untested for rec in recommendations):
            tint(self.status, Tone.WARNING)
            self.status.setText(
                f"No model in GateDeck's table fits this machine with {k_tokens(CLAUDE_CODE_MIN_CONTEXT)} "
                "of context; models installed here do. Pick one; the next steps check that it calls tools."
            )
        else:
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
