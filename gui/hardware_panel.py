"""Hardware panel: the machine, per-mapping tuning sliders with a live fit estimate, speed
measurements and auto-tune, and the Ollama server's settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from core.autotune import Trial, TuneResult, auto_tune, tune_candidates
from core.config import Config, ModelOptions, OllamaServerSettings
from core.config import Mapping as ModelMapping
from core.config_holder import ConfigHolder
from core.errors import GateDeckError, OllamaError
from core.fit import FitEstimate, ModelGeometry, estimate_fit
from core.hardware import HardwareInfo
from core.measure import MeasureError, Measurement, measure
from core.ollama_client import OllamaClient
from core.ollama_models import ModelDetails
from core.ollama_server import OllamaServer
from gui.fit_widget import FitWidget, gib
from gui.gateway_bridge import GatewayBridge
from gui.hardware_probe import probe_in_thread
from gui.models_panel import OLLAMA_DEFAULT_CTX, canonical
from gui.server_settings import ServerSettingsBox
from gui.speed_box import SpeedBox
from gui.tuning_sliders import (
    BATCH_STEPS,
    TuningSlider,
    context_choices,
    describe_ctx,
    describe_layers,
)

ClientFactory = Callable[[str], OllamaClient]
HardwareProbe = Callable[[], Awaitable[HardwareInfo]]

KEEP_ALIVE_CHOICES = (
    (None, "Ollama's default (5m)"),
    ("0", "0 — unload after each request"),
    ("5m", "5 minutes"),
    ("30m", "30 minutes"),
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("-1", "-1 — keep loaded"),
)
#: When a model's layer count is unknown (not installed yet), the GPU-layer slider goes this far.
FALLBACK_LAYERS = 128


@dataclass(frozen=True)
class ModelFacts:
    """What the panel knows about a mapping's model: its details and size, or why not."""

    details: ModelDetails | None = None
    size: int | None = None
    problem: str = ""

    @property
    def geometry(self) -> ModelGeometry | None:
        if self.details is None or self.size is None:
            return None
        try:
            return ModelGeometry.from_details(self.details, self.size)
        except ValueError:
            return None


class HardwarePanel(QWidget):
    """Tune each mapping's hardware options against what the machine and the model allow.

    Args:
        holder: the config in use.
        gateway: the embedded gateway (Apply saves and hot-applies; Measure runs through it).
        client_factory: builds an Ollama client for a URL.
        hardware_probe: reads CPU, RAM and GPUs.
        server: the ``ollama serve`` GateDeck manages (default: one for the configured address).

    Signals:
        applied(str): tuning was saved and applied; carries the status text.
    """

    applied = Signal(str)

    def __init__(
        self,
        holder: ConfigHolder,
        gateway: GatewayBridge,
        client_factory: ClientFactory = OllamaClient,
        *,
        hardware_probe: HardwareProbe = probe_in_thread,
        server: OllamaServer | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("hardwarePanel")
        self._holder = holder
        self._gateway = gateway
        self._factory = client_factory
        self._probe = hardware_probe
        self._server = server or OllamaServer(holder.config.ollama_server, url=holder.config.backends[0].url)
        self._client: OllamaClient | None = None
        self._hardware: HardwareInfo | None = None
        self._facts: dict[str, ModelFacts] = {}
        self._installed: object = None
        self._mapping: str | None = None
        self._edits: dict[str, ModelOptions] = {}
        self._syncing = False
        self._tasks: set[asyncio.Task[object]] = set()
        self._proposal: ModelOptions | None = None
        self.last_tune: TuneResult | None = None
        self.measurements: list[Measurement] = []  # oldest first, as shown (newest on top)

        # ---- the machine
        self.cpu_label = QLabel("Reading the hardware…")
        self.cpu_label.setObjectName("cpuSummary")
        self.ram_bar = QProgressBar()
        self.ram_bar.setObjectName("ramInUse")
        self.ram_bar.setRange(0, 1000)
        self.gpu_area = QVBoxLayout()
        self.hw_notes = QLabel()
        self.hw_notes.setObjectName("hardwareNotes")
        self.hw_notes.setWordWrap(True)
        self.hw_notes.setStyleSheet("color: #8a5a00;")
        self.hw_notes.hide()
        machine = QGroupBox("This machine")
        machine.setObjectName("machineBox")
        machine_form = QFormLayout(machine)
        machine_form.addRow("CPU", self.cpu_label)
        machine_form.addRow("RAM in use", self.ram_bar)
        machine_form.addRow("GPU", self.gpu_area)
        machine_form.addRow(self.hw_notes)

        # ---- tuning one mapping
        self.mapping_choice = QComboBox()
        self.mapping_choice.setObjectName("mappingChoice")
        self.mapping_choice.currentIndexChanged.connect(self._on_mapping_choice_changed)
        self.model_label = QLabel()
        self.model_label.setObjectName("tunedModel")
        self.model_label.setWordWrap(True)
        self.gpu_layers = TuningSlider("numGpu", auto_text="auto")
        self.threads = TuningSlider("numThread", auto_text="auto")
        self.context = TuningSlider("numCtx", auto_text="default", describe=describe_ctx)
        self.batch = TuningSlider("numBatch", auto_text="auto")
        self.main_gpu = TuningSlider("mainGpu", auto_text="auto")
        self.keep_alive = QComboBox()
        self.keep_alive.setObjectName("keepAlive")
        for value, text in KEEP_ALIVE_CHOICES:
            self.keep_alive.addItem(text, value)
        for slider in self._sliders():
            slider.changed.connect(self._on_option_changed)
        self.keep_alive.currentIndexChanged.connect(self._on_option_changed)
        self.bounds_note = QLabel()
        self.bounds_note.setObjectName("boundsNote")
        self.bounds_note.setWordWrap(True)
        self.bounds_note.setStyleSheet("color: #8a5a00;")
        self.bounds_note.hide()
        self.fit = FitWidget()
        self.revert_button = QPushButton("Revert")
        self.revert_button.setObjectName("revertTuning")
        self.revert_button.clicked.connect(self.revert)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyTuning")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self._on_apply_button_clicked)
        self.status = QLabel()
        self.status.setObjectName("tuningStatus")
        self.status.setWordWrap(True)

        tuning = QGroupBox("Tuning")
        tuning.setObjectName("tuningBox")
        grid = QGridLayout(tuning)
        grid.addWidget(QLabel("Mapping"), 0, 0)
        grid.addWidget(self.mapping_choice, 0, 1)
        grid.addWidget(self.model_label, 1, 0, 1, 2)
        rows = (
            ("GPU layers", self.gpu_layers),
            ("CPU threads", self.threads),
            ("Context", self.context),
            ("Batch size", self.batch),
            ("Main GPU", self.main_gpu),
            ("Keep loaded", self.keep_alive),
        )
        for i, (title, widget) in enumerate(rows, start=2):
            grid.addWidget(QLabel(title), i, 0)
            grid.addWidget(widget, i, 1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        grid.addWidget(self.bounds_note, 8, 0, 1, 2)
        grid.addWidget(line, 9, 0, 1, 2)
        grid.addWidget(self.fit, 10, 0, 1, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        grid.addLayout(buttons, 11, 0, 1, 2)
        grid.setColumnStretch(1, 1)

        # ---- speed and server
        self.speed = SpeedBox()
        self.speed.measure_button.clicked.connect(self._on_measure_button_clicked)
        self.speed.tune_button.clicked.connect(self._on_tune_button_clicked)
        self.speed.accept_button.clicked.connect(self.accept_proposal)
        self.server_box = ServerSettingsBox()
        self.server_box.apply_requested.connect(self._on_server_box_apply_requested)

        left = QVBoxLayout()
        left.addWidget(tuning)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.speed, 1)
        right.addWidget(self.server_box)
        columns = QHBoxLayout()
        columns.addLayout(left, 5)
        columns.addLayout(right, 4)
        content = QWidget()
        body = QVBoxLayout(content)
        body.addWidget(machine)
        body.addLayout(columns, 1)
        scroll = QScrollArea()
        scroll.setObjectName("hardwareScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self._unsubscribe = holder.subscribe(self._on_config_replaced)
        self._fill_mapping_choice()
        self.server_box.load(holder.config.ollama_server)
        self._update_buttons()

    def _sliders(self) -> tuple[TuningSlider, ...]:
        return (self.gpu_layers, self.threads, self.context, self.batch, self.main_gpu)

    # ---------------------------------------------------------------- services
    def client(self) -> OllamaClient:
        url = self._holder.config.backends[0].url.rstrip("/")
        if self._client is None or self._client.url != url:
            if self._client is not None:
                self._spawn(self._client.aclose())
            self._client = self._factory(url)
        return self._client

    def _spawn(self, coro: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """Stop background work, close the Ollama connection and the server GateDeck started."""
        self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._server.stop()

    # ---------------------------------------------------------------- public API
    @property
    def mapping(self) -> str | None:
        return self._mapping

    @property
    def hardware(self) -> HardwareInfo | None:
        return self._hardware

    @property
    def dirty(self) -> bool:
        return bool(self._edits)

    @property
    def server(self) -> OllamaServer:
        return self._server

    def on_ollama_changed(self, ok: bool, installed: object) -> None:
        """The watcher's news: read the hardware (first time) and the models again when the model
        list changed."""
        if self._hardware is None or (ok and installed != self._installed):
            if ok:
                self._installed = installed
            self._facts.clear()
            self._spawn(self.refresh())

    async def refresh(self) -> None:
        """Read the hardware and the chosen mapping's model, then show them."""
        self._hardware = await self._probe()
        self._show_hardware()
        if self._mapping is None and self._holder.config.mappings:
            self._mapping = self._holder.config.mappings[0].name
        if self._mapping is not None:
            await self.select_mapping(self._mapping)

    async def select_mapping(self, name: str) -> None:
        """Tune ``name``: read its model's metadata (once) and set the sliders' ranges and values."""
        mapping = self._mapping_named(name)
        if mapping is None:
            return
        self._mapping = name
        index = self.mapping_choice.findData(name)
        if index >= 0 and index != self.mapping_choice.currentIndex():
            self.mapping_choice.blockSignals(True)
            self.mapping_choice.setCurrentIndex(index)
            self.mapping_choice.blockSignals(False)
        if canonical(mapping.model) not in self._facts:
            self._facts[canonical(mapping.model)] = await self._read_model(mapping.model)
        if self._mapping == name:  # the user may have picked another one meanwhile
            self._show_mapping()

    def current_options(self) -> ModelOptions | None:
        """The options the sliders show for the chosen mapping."""
        mapping = self._mapping_named(self._mapping)
        if mapping is None:
            return None
        return mapping.options.model_copy(
            update={
                "num_gpu": self.gpu_layers.value(),
                "num_thread": self.threads.value(),
                "num_ctx": self.context.value(),
                "num_batch": self.batch.value(),
                "main_gpu": self.main_gpu.value(),
                "keep_alive": self.keep_alive.currentData(),
            }
        )

    def estimate(self, options: ModelOptions | None = None) -> FitEstimate | None:
        """The fit of the chosen mapping's model with ``options`` (default: the sliders')."""
        mapping = self._mapping_named(self._mapping)
        options = options or self.current_options()
        if mapping is None or options is None or self._hardware is None:
            return None
        facts = self._facts.get(canonical(mapping.model))
        geometry = facts.geometry if facts else None
        if geometry is None:
            return None
        server = self._holder.config.ollama_server
        return estimate_fit(
            geometry,
            num_ctx=options.num_ctx or server.context_length or OLLAMA_DEFAULT_CTX,
            vram_free=self._hardware.vram_free,
            ram_available=self._hardware.memory.available,
            num_gpu=options.num_gpu,
            kv_cache_type=server.kv_cache_type or "f16",
            parallel=server.num_parallel or 1,
        )

    def revert(self) -> None:
        """Throw away every unapplied edit."""
        self._edits.clear()
        self._show_mapping()
        self.status.setText("Reverted to the settings in use.")

    async def apply(self) -> bool:
        """Save the edited options and hot-apply them to the gateway."""
        self._remember_edit()
        if not self._edits:
            self.status.setText("Nothing to apply.")
            return False
        new = self._config_with_edits()
        self.apply_button.setEnabled(False)
        try:
            message = await self._gateway.apply(new)
        except Exception as exc:  # a refused config: say so in place, keep the edits
            self.status.setText(f"Not applied: {exc}")
            self._update_buttons()
            return False
        self._edits.clear()
        self._show_mapping()
        self.status.setText(message)
        self.applied.emit(message)
        return True

    async def measure(self) -> Measurement | None:
        """Time a short generation for the chosen mapping with the sliders' settings."""
        if self._mapping is None:
            return None
        options = self.current_options()
        if options is None:
            return None
        self.speed.set_busy(True, f"Measuring {self._mapping}…")
        try:
            result = await self._trial(self._mapping, options)
        except MeasureError as exc:
            self.speed.status.setText(str(exc))
            return None
        finally:
            self.speed.set_busy(False)
        saved = self._mapping_named(self._mapping)
        note = "" if saved is not None and saved.options == options else "edited, not applied"
        self.measurements.append(result)
        self.speed.add(result, note)
        self.speed.status.setText(
            f"{result.mapping}: first token after {result.ttft * 1000:.0f} ms, "
            f"{result.tokens_per_s:.1f} tokens/s ({result.tokens} tokens)."
        )
        return result

    async def auto_tune(self) -> TuneResult | None:
        """Try GPU-layer/thread settings within the fit; propose the fastest (see :meth:`accept_proposal`)."""
        options = self.current_options()
        mapping = self._mapping
        if options is None or mapping is None or self._hardware is None:
            return None
        fit = self.estimate(options.model_copy(update={"num_gpu": None}))
        candidates = tune_candidates(options, fit, self._hardware)
        self._proposal = None
        self.speed.accept_button.hide()
        self.speed.set_busy(True, f"Auto-tune: trying {len(candidates)} setting(s) for {mapping}…")
        done = 0

        def on_trial(trial: Trial) -> None:
            nonlocal done
            done += 1
            if trial.result is not None:
                self.measurements.append(trial.result)
                self.speed.add(trial.result, f"auto-tune {done}/{len(candidates)}")
            self.speed.status.setText(f"Auto-tune: {done} of {len(candidates)} tried…")

        try:
            result = await auto_tune(candidates, lambda o: self._trial(mapping, o), on_trial)
        finally:
            self.speed.set_busy(False)
        self.last_tune = result
        best = result.best
        if best is None or best.result is None:
            errors = "; ".join(t.error for t in result.trials if t.error)
            self.speed.status.setText(f"Auto-tune could not measure any setting: {errors}")
            return result
        first = result.trials[0].result
        baseline = f" (now: {first.tokens_per_s:.1f})" if first is not None else ""
        if result.improves:
            self._proposal = best.options
            self.speed.accept_button.show()
            self.speed.status.setText(
                f"Fastest: GPU layers {_opt(best.options.num_gpu)}, threads {_opt(best.options.num_thread)} — "
                f"{best.result.tokens_per_s:.1f} tokens/s{baseline}. Use the proposal, then Apply to keep it."
            )
        else:
            self.speed.status.setText(
                f"Your current settings were the fastest of {len(result.trials)} tried "
                f"({best.result.tokens_per_s:.1f} tokens/s)."
            )
        return result

    def accept_proposal(self) -> bool:
        """Put auto-tune's proposal on the sliders (Apply saves it)."""
        if self._proposal is None:
            return False
        self._syncing = True
        try:
            self.gpu_layers.set_value(self._proposal.num_gpu)
            self.threads.set_value(self._proposal.num_thread)
        finally:
            self._syncing = False
        self._on_option_changed()
        self.speed.accept_button.hide()
        self.status.setText("Proposal on the sliders: Apply saves it and updates the gateway.")
        return True

    async def apply_server_settings(self, settings: OllamaServerSettings) -> bool:
        """Save the server settings; when GateDeck manages Ollama, restart it with them."""
        config = self._holder.config
        try:
            self._holder.replace(config.model_copy(update={"ollama_server": settings}))
        except ValueError as exc:
            self.server_box.status.setText(f"Not saved: {exc}")
            return False
        if not settings.managed:
            self.server_box.status.setText(
                "Saved. GateDeck does not start Ollama, so set these where Ollama is started (see above)."
            )
            return True
        self._server.backend_url = self._holder.config.backends[0].url.rstrip("/")
        self.server_box.set_busy(True, "Restarting Ollama with the new settings…")
        try:
            await self._server.restart(settings)
        except GateDeckError as exc:
            self.server_box.status.setText(str(exc))
            return False
        finally:
            self.server_box.set_busy(False)
        self._facts.clear()  # a server that was not answering before can describe its models now
        if self._mapping is not None:
            await self.select_mapping(self._mapping)
        self.server_box.status.setText(
            f"Ollama restarted with the new settings (process {self._server.pid})."
        )
        return True

    # ---------------------------------------------------------------- internals
    def _mapping_named(self, name: str | None) -> ModelMapping | None:
        return next((m for m in self._holder.config.mappings if m.name == name), None)

    async def _read_model(self, model: str) -> ModelFacts:
        client = self.client()
        try:
            details = await client.show(model)
            sizes = {m.name: m.size for m in await client.list_models()}
        except OllamaError as exc:
            return ModelFacts(problem=str(exc))
        return ModelFacts(details, sizes.get(canonical(model)))

    async def _trial(self, mapping: str, options: ModelOptions) -> Measurement:
        """Measure ``mapping`` with ``options``, serving them only for the measurement."""
        if self._gateway.state != "running":
            raise MeasureError("The gateway is not running: start it on the Gateway panel, then measure.")
        saved = self._holder.config
        trial = saved.model_copy(
            update={
                "mappings": [
                    m.model_copy(update={"options": options}) if m.name == mapping else m
                    for m in saved.mappings
                ]
            }
        )
        if trial != saved:
            await self._gateway.core.apply(trial)  # served, not saved
        try:
            return await measure(self._gateway.url, self._gateway.master_key, trial, mapping)
        finally:
            if trial != saved:
                await self._gateway.core.apply(self._holder.config)

    def _config_with_edits(self) -> Config:
        self._remember_edit()
        config = self._holder.config
        mappings = [
            m.model_copy(update={"options": self._edits[m.name]}) if m.name in self._edits else m
            for m in config.mappings
        ]
        return config.model_copy(update={"mappings": mappings})

    def _remember_edit(self) -> None:
        mapping = self._mapping_named(self._mapping)
        options = self.current_options()
        if mapping is None or options is None or self._syncing:
            return
        if options == mapping.options:
            self._edits.pop(mapping.name, None)
        else:
            self._edits[mapping.name] = options

    def _fill_mapping_choice(self) -> None:
        self.mapping_choice.blockSignals(True)
        self.mapping_choice.clear()
        for mapping in self._holder.config.mappings:
            self.mapping_choice.addItem(f"{mapping.name}  →  {mapping.model}", mapping.name)
        index = self.mapping_choice.findData(self._mapping)
        self.mapping_choice.setCurrentIndex(max(0, index))
        self.mapping_choice.blockSignals(False)

    def _show_hardware(self) -> None:
        hw = self._hardware
        if hw is None:
            return
        cpu = hw.cpu
        self.cpu_label.setText(
            f"{cpu.model} — {cpu.physical_cores or '?'} cores, {cpu.logical_cores or '?'} threads ({cpu.architecture})"
        )
        used = hw.memory.total - hw.memory.available
        self.ram_bar.setValue(round(1000 * used / hw.memory.total) if hw.memory.total else 0)
        self.ram_bar.setFormat(
            f"{gib(used)} of {gib(hw.memory.total)} ({gib(hw.memory.available)} available)"
        )
        while self.gpu_area.count():
            item = self.gpu_area.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        if not hw.gpus:
            none = QLabel("No GPU found — models run on the CPU, in RAM.")
            none.setObjectName("noGpu")
            self.gpu_area.addWidget(none)
        for gpu in hw.gpus:
            bar = QProgressBar()
            bar.setObjectName(f"gpu{gpu.index}")
            bar.setRange(0, 1000)
            in_use = gpu.vram_total - gpu.vram_free
            bar.setValue(round(1000 * in_use / gpu.vram_total) if gpu.vram_total else 0)
            bar.setFormat(f"GPU {gpu.index} {gpu.name}: {gib(in_use)} of {gib(gpu.vram_total)} VRAM in use")
            self.gpu_area.addWidget(bar)
        self.hw_notes.setText("\n".join(hw.notes))
        self.hw_notes.setVisible(bool(hw.notes))

    def _show_mapping(self) -> None:
        """Set ranges from the hardware and the model, values from the edits or the config."""
        mapping = self._mapping_named(self._mapping)
        if mapping is None:
            return
        facts = self._facts.get(canonical(mapping.model), ModelFacts(problem="Reading the model…"))
        geometry = facts.geometry
        details = facts.details
        hw = self._hardware
        options = self._edits.get(mapping.name, mapping.options)
        gpus = hw.gpus if hw is not None else ()
        layers = geometry.offload_layers if geometry else FALLBACK_LAYERS
        logical = (hw.cpu.logical_cores if hw else None) or os.cpu_count() or 1
        model_max = details.context_length if details else None
        notes: list[str] = []
        self._syncing = True
        try:
            self.gpu_layers.set_choices(range(layers + 1) if gpus else [0])
            self.gpu_layers.setEnabled(bool(gpus))
            self.gpu_layers.set_describe(describe_layers(layers))
            self.threads.set_choices(range(1, logical + 1))
            self.context.set_choices(context_choices(model_max, options.num_ctx))
            self.batch.set_choices(
                sorted({*BATCH_STEPS, *([options.num_batch] if options.num_batch else [])})
            )
            self.main_gpu.set_choices(range(max(1, len(gpus))))
            self.main_gpu.setEnabled(len(gpus) > 1)
            for slider, value in (
                (self.gpu_layers, options.num_gpu),
                (self.threads, options.num_thread),
                (self.context, options.num_ctx),
                (self.batch, options.num_batch),
                (self.main_gpu, options.main_gpu),
            ):
                slider.set_value(value)
                if value is not None and slider.value() != value:
                    notes.append(
                        f"{slider.objectName()} {value:,} is outside what this machine and model allow "
                        f"({slider.minimum:,}–{slider.maximum:,}); the slider shows {slider.value():,}."
                    )
            index = self.keep_alive.findData(options.keep_alive)
            if index < 0:
                self.keep_alive.addItem(str(options.keep_alive), options.keep_alive)
                index = self.keep_alive.count() - 1
            self.keep_alive.setCurrentIndex(index)
        finally:
            self._syncing = False
        if not gpus:
            self.gpu_layers.setToolTip("No GPU found on this machine: every layer runs on the CPU.")
        where = f"{geometry.block_count} layers, " if geometry else ""
        ctx = f"context up to {model_max:,}" if model_max else "context length unknown"
        size = f", {gib(facts.size)}" if facts.size else ""
        self.model_label.setText(
            f"<b>{mapping.model}</b>: {where}{ctx}{size}"
            if facts.details
            else f"<b>{mapping.model}</b>: {facts.problem}"
        )
        self.bounds_note.setText(" ".join(notes))
        self.bounds_note.setVisible(bool(notes))
        self._remember_edit()
        self._update_fit()
        self._update_buttons()

    def _update_fit(self) -> None:
        mapping = self._mapping_named(self._mapping)
        fit = self.estimate()
        if fit is not None:
            self.fit.show_estimate(fit)
            return
        facts = self._facts.get(canonical(mapping.model)) if mapping is not None else None
        if facts is not None and facts.problem:
            self.fit.show_estimate(None, facts.problem)
        elif facts is not None and facts.details is not None and facts.geometry is None:
            self.fit.show_estimate(
                None, f"{facts.details.name} does not report the sizes the estimate needs."
            )
        else:
            self.fit.show_estimate(None, "reading the hardware and the model…")

    def _update_buttons(self) -> None:
        dirty = self.dirty
        self.apply_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)
        if dirty:
            self.status.setText(
                "Unapplied changes: Apply saves them and updates the running gateway at once."
            )

    # ---------------------------------------------------------------- slots
    def _on_option_changed(self, *_args: object) -> None:
        if self._syncing:
            return
        self._remember_edit()
        self._update_fit()
        self._update_buttons()

    @asyncSlot(int)
    async def _on_mapping_choice_changed(self, index: int) -> None:
        name = self.mapping_choice.itemData(index)
        if name:
            self._remember_edit()
            await self.select_mapping(str(name))

    @asyncSlot()
    async def _on_apply_button_clicked(self) -> None:
        await self.apply()

    @asyncSlot()
    async def _on_measure_button_clicked(self) -> None:
        await self.measure()

    @asyncSlot()
    async def _on_tune_button_clicked(self) -> None:
        await self.auto_tune()

    @asyncSlot(object)
    async def _on_server_box_apply_requested(self, settings: OllamaServerSettings) -> None:
        await self.apply_server_settings(settings)

    def _on_config_replaced(self, old: Config, new: Config) -> None:
        names = {m.name for m in new.mappings}
        self._edits = {k: v for k, v in self._edits.items() if k in names}
        if self._mapping not in names:
            self._mapping = new.mappings[0].name if new.mappings else None
        if [(m.name, m.model) for m in old.mappings] != [(m.name, m.model) for m in new.mappings]:
            self._fill_mapping_choice()
        if old.ollama_server != new.ollama_server:
            self.server_box.load(new.ollama_server)
        mapping = self._mapping_named(self._mapping)
        if mapping is not None and canonical(mapping.model) not in self._facts:
            self._spawn(self.select_mapping(mapping.name))
        else:
            self._show_mapping()


def _opt(value: int | None) -> str:
    return "auto" if value is None else str(value)
