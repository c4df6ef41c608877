"""Hardware panel: the machine, per-mapping tuning sliders with a live fit estimate, speed
measurements and auto-tune, and the Ollama server's settings."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.config.holder import ConfigChange, ConfigHolder
from core.config.schema import Config, ModelOptions, OllamaServerSettings
from core.config.schema import Mapping as ModelMapping
from core.errors import GateDeckError, OllamaError
from core.hardware.autotune import TuneResult, tune_candidates
from core.hardware.facts import HardwareInfo
from core.hardware.fit import FitEstimate, estimate_on
from core.hardware.measure import MeasureError, Measurement, measure
from core.ollama.load_options import ReloadGroup, effective_num_ctx, reload_groups, with_same_load_options
from core.ollama.names import full_name
from core.ollama.server import OllamaServer
from core.ollama.state import OllamaState
from gui.gateway_bridge import GatewayBridge
from gui.ollama_watch import first_backend_state
from gui.ops import BackgroundOps, async_slot
from gui.widgets.machine_box import MachineBox
from gui.widgets.server_settings import ServerSettingsBox
from gui.widgets.speed_box import SpeedBox
from gui.widgets.tuning_box import ModelFacts, TuningBox


class HardwarePanel(QWidget):
    """Tune each mapping's hardware options against what the machine and the model allow.

    Edits are kept per mapping until Apply (which saves and hot-applies them all) or Revert.

    Args:
        holder: the config in use.
        gateway: the embedded gateway (Apply saves and hot-applies; Measure runs through it).
        ollama: the shared Ollama state (model details, installed sizes, the hardware snapshot);
            default: one of its own for the first backend.
        server: the ``ollama serve`` GateDeck manages (default: one for the configured address).

    Signals:
        applied(str): tuning was saved and applied; carries the status text.
    """

    applied = Signal(str)

    def __init__(
        self,
        holder: ConfigHolder,
        gateway: GatewayBridge,
        ollama: OllamaState | None = None,
        *,
        server: OllamaServer | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("hardwarePanel")
        self._holder = holder
        self._gateway = gateway
        self._owns_state = ollama is None
        self._ollama = ollama or first_backend_state(holder)
        self._server = server or OllamaServer(holder.config.ollama_server, url=holder.config.backends[0].url)
        self._hardware: HardwareInfo | None = None
        self._facts: dict[str, ModelFacts] = {}
        self._installed: object = None
        self._mapping: str | None = None
        self._edits: dict[str, ModelOptions] = {}
        self.ops = BackgroundOps(self._show_error, owner="hardware panel")

        self.machine = MachineBox()
        self.tuning = TuningBox()
        self.tuning.mapping_chosen.connect(self._on_tuning_mapping_chosen)
        self.tuning.same_load_requested.connect(self.use_same_load_options)
        self.tuning.options_changed.connect(self._on_tuning_options_changed)
        self.tuning.revert_button.clicked.connect(self.revert)
        self.tuning.apply_button.clicked.connect(self._on_apply_button_clicked)
        self.speed = SpeedBox(self._trial)
        self.speed.measure_button.clicked.connect(self._on_measure_button_clicked)
        self.speed.tune_button.clicked.connect(self._on_tune_button_clicked)
        self.speed.proposal_accepted.connect(lambda _options: self.accept_proposal())
        self.server_box = ServerSettingsBox()
        self.server_box.apply_requested.connect(self._on_server_box_apply_requested)

        left = QVBoxLayout()
        left.addWidget(self.tuning)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.speed, 1)
        right.addWidget(self.server_box)
        columns = QHBoxLayout()
        columns.addLayout(left, 5)
        columns.addLayout(right, 4)
        self.host_note = QLabel()
        self.host_note.setObjectName("hardwareHost")
        self.host_note.setWordWrap(True)
        content = QWidget()
        body = QVBoxLayout(content)
        body.addWidget(self.host_note)
        body.addWidget(self.machine)
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
        self.tuning.set_mappings(holder.config.mappings, None)
        self.server_box.load(holder.config.ollama_server)
        self.tuning.set_dirty(False)
        self._show_host()

    # ---------------------------------------------------------------- services
    async def shutdown(self) -> None:
        """Stop background work, close the Ollama connection (when the state is the panel's own)
        and the server GateDeck started."""
        self._unsubscribe()
        await self.ops.shutdown()
        if self._owns_state:
            await self._ollama.aclose()
        await self._server.stop()

    # ---------------------------------------------------------------- observation
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

    @property
    def ollama(self) -> OllamaState:
        """The Ollama state the panel reads models and hardware from."""
        return self._ollama

    def current_options(self) -> ModelOptions | None:
        """The options the sliders show for the chosen mapping."""
        mapping = self._mapping_named(self._mapping)
        return None if mapping is None else self.tuning.options(mapping.options)

    def estimate(self, options: ModelOptions | None = None) -> FitEstimate | None:
        """The fit of the chosen mapping's model with ``options`` (default: the sliders')."""
        mapping = self._mapping_named(self._mapping)
        options = options or self.current_options()
        if mapping is None or options is None or self._hardware is None:
            return None
        facts = self._facts.get(full_name(mapping.model))
        geometry = facts.geometry if facts else None
        if geometry is None:
            return None
        server = self._holder.config.ollama_server
        num_ctx = effective_num_ctx(options, server.context_length)
        return estimate_on(geometry, self._hardware, server, num_ctx=num_ctx, num_gpu=options.num_gpu)

    # ---------------------------------------------------------------- actions
    def on_ollama_changed(self, ok: bool, installed: object) -> None:
        """The watcher's news: read the hardware (first time), and the models again when the
        model list changed."""
        if self._hardware is None or (ok and installed != self._installed):
            if ok:
                self._installed = installed
            self._facts.clear()
            self.ops.run(self.refresh())

    async def refresh(self) -> None:
        """Read the hardware and the chosen mapping's model, then show them."""
        self._hardware = await self._ollama.hardware(max_age=0)  # free memory now, not a minute ago
        self.machine.show_hardware(self._hardware)
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
        self.tuning.set_mappings_current(name)
        if full_name(mapping.model) not in self._facts:
            self._facts[full_name(mapping.model)] = await self._read_model(mapping.model)
        if self._mapping == name:  # the user may have picked another one meanwhile
            self._show_mapping()

    def revert(self) -> None:
        """Throw away every unapplied edit."""
        self._edits.clear()
        self._show_mapping()
        self.tuning.status.setText("Reverted to the settings in use.")

    async def apply(self) -> bool:
        """Save the edited options and hot-apply them to the gateway."""
        self._remember_edit()
        if not self._edits:
            self.tuning.status.setText("Nothing to apply.")
            return False
        new = self._config_with_edits()
        self.tuning.apply_button.setEnabled(False)
        try:
            message = await self._gateway.apply(new)
        except Exception as exc:  # a refused config: say so in place, keep the edits
            self.tuning.set_dirty(True)
            self.tuning.status.setText(f"Not applied: {exc}")
            return False
        self._edits.clear()
        self._show_mapping()
        self.tuning.status.setText(message)
        self.applied.emit(message)
        return True

    async def measure(self) -> Measurement | None:
        """Time a short generation for the chosen mapping with the sliders' settings."""
        options = self.current_options()
        saved = self._mapping_named(self._mapping)
        if options is None or saved is None:
            return None
        note = "" if saved.options == options else "edited, not applied"
        return await self.speed.measure(saved.name, options, note)

    async def auto_tune(self) -> TuneResult | None:
        """Try GPU-layer/thread settings within the fit; the fastest is offered as a proposal."""
        options = self.current_options()
        if options is None or self._mapping is None or self._hardware is None:
            return None
        fit = self.estimate(options.model_copy(update={"num_gpu": None}))
        return await self.speed.auto_tune(self._mapping, tune_candidates(options, fit, self._hardware))

    def accept_proposal(self) -> bool:
        """Put auto-tune's proposal on the sliders (Apply saves it)."""
        proposal = self.speed.proposal
        if proposal is None:
            return False
        self.tuning.set_threads_and_layers(proposal.num_gpu, proposal.num_thread)
        self.speed.accept_button.hide()
        self.tuning.status.setText("Proposal on the sliders: Apply saves it and updates the gateway.")
        return True

    async def apply_server_settings(self, settings: OllamaServerSettings) -> bool:
        """Save the server settings; when GateDeck manages Ollama, restart it with them."""
        box = self.server_box
        try:
            await self._holder.replace_async(
                self._holder.config.model_copy(update={"ollama_server": settings})
            )
        except ValueError as exc:
            box.status.setText(f"Not saved: {exc}")
            return False
        if not settings.managed:
            box.status.setText("Saved. GateDeck does not start Ollama: set these where Ollama is started.")
            return True
        self._server.backend_url = self._holder.config.backends[0].url.rstrip("/")
        box.set_busy(True, "Restarting Ollama with the new settings…")
        try:
            await self._server.restart(settings)
        except GateDeckError as exc:
            box.status.setText(str(exc))
            return False
        finally:
            box.set_busy(False)
        self._facts.clear()  # a server that was not answering before can describe its models now
        if self._mapping is not None:
            await self.select_mapping(self._mapping)
        box.status.setText(f"Ollama restarted with the new settings (process {self._server.pid}).")
        return True

    # ---------------------------------------------------------------- internals
    def _mapping_named(self, name: str | None) -> ModelMapping | None:
        return next((m for m in self._holder.config.mappings if m.name == name), None)

    async def _read_model(self, model: str) -> ModelFacts:
        try:
            details = await self._ollama.details(model)
        except OllamaError as exc:
            return ModelFacts(problem=str(exc))
        installed = self._ollama.installed_model(model)
        return ModelFacts(details, installed.size if installed else None)

    async def _trial(self, mapping: str, options: ModelOptions) -> Measurement:
        """Measure ``mapping`` with ``options``, serving them only for the measurement."""
        if not self._gateway.serving:
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
            await self._gateway.serve_without_saving(trial)
        try:
            return await measure(self._gateway.url, self._gateway.master_key, trial, mapping)
        finally:
            if trial != saved:
                await self._gateway.serve_without_saving(self._holder.config)

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
        if mapping is None or options is None:
            return
        if options == mapping.options:
            self._edits.pop(mapping.name, None)
        else:
            self._edits[mapping.name] = options

    def _show_mapping(self) -> None:
        """Ranges from the hardware and the model, values from the edits or the config."""
        mapping = self._mapping_named(self._mapping)
        if mapping is None:
            return
        facts = self._facts.get(full_name(mapping.model), ModelFacts(problem="Reading the model…"))
        options = self._edits.get(mapping.name, mapping.options)
        self.tuning.show_options(mapping, options, facts, self._hardware)
        self._remember_edit()  # a value the machine cannot take was moved into range: that is an edit
        self._after_change()

    def _after_change(self) -> None:
        mapping = self._mapping_named(self._mapping)
        facts = self._facts.get(full_name(mapping.model)) if mapping is not None else None
        self.tuning.show_fit(self.estimate(), facts)
        self.tuning.show_reload(self._reload_warning())
        self.tuning.set_dirty(self.dirty)

    def _reload_group(self) -> ReloadGroup | None:
        """The mappings (edits included) that would make Ollama reload this mapping's model."""
        groups = reload_groups(self._config_with_edits().mappings)
        return next((g for g in groups if self._mapping in g.mappings), None)

    def _reload_warning(self) -> str:
        group = self._reload_group()
        return group.describe() if group is not None else ""

    def use_same_load_options(self) -> None:
        """Give every mapping on this model the same load options, as edits for Apply to save."""
        group = self._reload_group()
        if group is None:
            return
        saved = {m.name: m.options for m in self._holder.config.mappings}
        for fixed in with_same_load_options(self._config_with_edits().mappings, group.model):
            if fixed.name in group.mappings:
                if fixed.options == saved.get(fixed.name):
                    self._edits.pop(fixed.name, None)
                else:
                    self._edits[fixed.name] = fixed.options
        self._show_mapping()
        self.tuning.status.setText(
            f"Every mapping on {group.model} now loads it the same way: Apply saves it."
        )

    # ---------------------------------------------------------------- slots
    def _show_error(self, message: str) -> None:
        self.tuning.status.setText(message)

    def _on_tuning_options_changed(self) -> None:
        self._remember_edit()
        self._after_change()

    @async_slot(str)
    async def _on_tuning_mapping_chosen(self, name: str) -> None:
        await self.select_mapping(name)

    @async_slot()
    async def _on_apply_button_clicked(self) -> None:
        await self.apply()

    @async_slot()
    async def _on_measure_button_clicked(self) -> None:
        await self.measure()

    @async_slot()
    async def _on_tune_button_clicked(self) -> None:
        await self.auto_tune()

    @async_slot(object)
    async def _on_server_box_apply_requested(self, settings: OllamaServerSettings) -> None:
        await self.apply_server_settings(settings)

    def _show_host(self) -> None:
        """Which host the server settings and loaded models are for (said once there are two)."""
        hosts = self._holder.config.backends
        first = hosts[0]
        self.host_note.setText(
            f"The Ollama server settings and loaded models below are for the first host, "
            f"<b>{first.name}</b> ({first.url}): the one GateDeck can start on this computer. "
            f"Context and GPU settings of a mapping apply on every host it uses."
        )
        self.host_note.setVisible(len(hosts) > 1)

    def _on_config_replaced(self, change: ConfigChange) -> None:
        if not change.touches("mappings", "ollama_server", "backends"):
            return
        old, new = change.old, change.new
        if change.touches("backends"):
            self._show_host()
        names = {m.name for m in new.mappings}
        self._edits = {k: v for k, v in self._edits.items() if k in names}
        if self._mapping not in names:
            self._mapping = new.mappings[0].name if new.mappings else None
        if [(m.name, m.model) for m in old.mappings] != [(m.name, m.model) for m in new.mappings]:
            self.tuning.set_mappings(new.mappings, self._mapping)
        if old.ollama_server != new.ollama_server:
            self.server_box.load(new.ollama_server)
        mapping = self._mapping_named(self._mapping)
        if mapping is not None and full_name(mapping.model) not in self._facts:
            self.ops.run(self.select_mapping(mapping.name))
        else:
            self._show_mapping()
