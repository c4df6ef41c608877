"""The first-run setup's first two steps: is Ollama there, and what this machine has."""

from __future__ import annotations

from html import escape

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from core.config.host_edits import with_host
from core.config.schema import OllamaBackend
from core.errors import GateDeckError
from core.setup.ollama_check import OllamaCheck, OllamaFound, check_ollama
from core.setup.recommend import CLAUDE_CODE_MIN_CONTEXT, k_tokens
from gui.dialogs.setup_run import SetupPage, SetupRun, note, rich
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, tint
from gui.widgets.fit import gib
from gui.widgets.machine_box import MachineBox


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
        self.state.setText(f"Looking for Ollama at {escape(url)}…")
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
            self.hint.setText(rich(str(exc)))
            self.hint.show()
            tint(self.state, Tone.BAD)
            self.state.setText("<b>Ollama did not start.</b>")
            return False
        finally:
            self.start_button.setEnabled(True)
        self.address_changed.emit()
        return (await self.look()).found is OllamaFound.RUNNING

    async def use_typed_address(self) -> bool:
        """Point the first Ollama host at the typed address (its mappings stay on it), then look there."""
        services = self.services
        config = services.holder.config
        first = config.backends[0]
        try:
            backend = OllamaBackend(name=first.name, url=self.address.text().strip())
            updated = with_host(config, backend, replacing=first.name)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
            self.address_error.setText(escape(problem))
            self.address_error.show()
            return False
        except ValueError as exc:
            self.address_error.setText(escape(str(exc)))
            self.address_error.show()
            return False
        self.address_error.hide()
        self.address.setText(backend.url)
        await services.gateway.apply(updated)
        self.address_changed.emit()
        return (await self.look()).found is OllamaFound.RUNNING

    def _show(self, check: OllamaCheck) -> None:
        self.start_button.setVisible(check.found is OllamaFound.STOPPED)
        self.hint.setVisible(check.found is not OllamaFound.RUNNING)
        if check.found is OllamaFound.RUNNING:
            tint(self.state, Tone.GOOD)
            self.state.setText(
                f"✓ <b>Ollama {escape(check.version or '')} is running</b> at {escape(check.url)}."
            )
        elif check.found is OllamaFound.STOPPED:
            tint(self.state, Tone.WARNING)
            self.state.setText(
                f"<b>Ollama is installed</b> ({escape(check.binary or '')}) <b>but not running.</b>"
            )
            self.hint.setText("GateDeck can start it for you, and stop it again when GateDeck quits.")
        elif check.found is OllamaFound.MISSING:
            tint(self.state, Tone.BAD)
            self.state.setText("<b>Ollama is not installed on this machine.</b>")
            self.hint.setText(rich(check.install_hint))
        else:
            tint(self.state, Tone.BAD)
            self.state.setText(f"<b>Nothing answers at {escape(check.url)}.</b>")
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
