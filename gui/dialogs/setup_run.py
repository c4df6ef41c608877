"""One run of the first-run setup: what it works with, what its steps found, and a step.

Each step is a :class:`SetupPage`: it says when it is done (the wizard's *Next* waits for that;
*Skip this step* never does) and does its asking in :meth:`SetupPage.enter`, each time the person
arrives on it. What the steps share (the services, the recommendations, the model chosen) is a
:class:`SetupRun`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.config.holder import ConfigHolder
from core.hardware.facts import HardwareInfo
from core.ollama.server import OllamaServer
from core.ollama.state import OllamaState
from core.setup.recommend import Recommendation
from gui.gateway_bridge import GatewayBridge
from gui.ops import BackgroundOps
from gui.panels.mappings import ProbeMapping
from gui.pull_queue import PullQueue


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
        codex_config_path: Codex's ``config.toml`` (``None``: where Codex looks for it).
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
    codex_config_path: Path | None = None
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


def rich(text: str) -> str:
    """Plain text (core's messages) for a rich-text label: `commands` as code, addresses as links."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: leave them all as they are
        parts = [text]
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{escape(part, quote=False)}</code>")
        else:
            out.append(
                re.sub(r"(https?://[^\s)<]*[^\s)<.,;])", r'<a href="\1">\1</a>', escape(part, quote=False))
            )
    return "".join(out)


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
