"""Models panel: what Ollama has installed and loaded, and pulling, deleting, loading models."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QSortFilterProxyModel, QStringListModel, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.config.holder import ConfigChange, ConfigHolder
from core.errors import GateDeckError, OllamaError
from core.gateway.deployments import ollama_keep_alive
from core.hardware.facts import HardwareInfo
from core.ollama.client import OllamaClient
from core.ollama.hosts import OllamaHosts
from core.ollama.load_options import runner_options
from core.ollama.models import InstalledModel, LoadedModel, ModelDetails
from core.ollama.names import full_name
from core.ollama.pull import Pull
from core.ollama.state import OllamaState
from gui.ollama_watch import first_backend_state
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, tint
from gui.pull_queue import JobState, PullFactory, PullJob, PullQueue
from gui.widgets.banner import Banner
from gui.widgets.confirm import ask_yes_no
from gui.widgets.models_table import COL, SORT_ROLE, ModelsTableModel, build_row
from gui.widgets.pull import PullList

#: Asks the user a yes/no question: (parent, title, text) → yes?
Confirm = Callable[[QWidget, str, str], Awaitable[bool]]


class ModelsPanel(QWidget):
    """Installed models (sortable, filterable), a pull queue, and delete/load/unload.

    Args:
        holder: the config in use (mappings say which models are needed and at what context).
        ollama: the shared Ollama state (installed and loaded models, their details, the
            hardware snapshot for the fit badges); default: one of its own for the first backend.
        pull_factory: builds each pull (tests pass one with a short stall timeout).
        confirm: asks before deleting (default: a message box that does not block the loop).
        hosts: every Ollama host's state; with two or more a picker chooses the host whose models
            are listed, pulled, loaded and deleted (default: the first host only).

    Signals:
        models_changed(): the installed models changed (a pull finished, a model was deleted).
    """

    models_changed = Signal()

    def __init__(
        self,
        holder: ConfigHolder,
        ollama: OllamaState | None = None,
        *,
        pull_factory: PullFactory = Pull,
        confirm: Confirm = ask_yes_no,
        hosts: OllamaHosts | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelsPanel")
        self._holder = holder
        self._owns_state = ollama is None
        self._ollama = ollama or first_backend_state(holder)
        self._hosts = hosts
        #: the host whose models are shown (the first until the picker chooses another)
        self.host = holder.config.backends[0].name
        self._confirm = confirm
        self._details: dict[str, ModelDetails | str] = {}
        self._installed: list[InstalledModel] = []
        self._loaded: dict[str, LoadedModel] = {}
        self._hardware: HardwareInfo | None = None
        self._refresh_lock = asyncio.Lock()
        self.ops = BackgroundOps(self._show_error, owner="models panel")
        self._refresh: asyncio.Task[bool] | None = None
        self._busy = False
        self._heard: object = None  # the installed models the watcher last told of
        self._behind = False  # a poll was skipped while hidden: refresh when shown

        self.queue = PullQueue(self.client, pull_factory, parent=self)
        self.queue.added.connect(self._suggest)
        self.queue.removed.connect(self._suggest)
        self.queue.finished.connect(self._on_queue_finished)

        self.banner = Banner()
        self.banner.setObjectName("modelsBanner")

        # ---- pull
        self.pull_field = QLineEdit()
        self.pull_field.setObjectName("pullName")
        self.pull_field.setPlaceholderText("Model to pull, e.g. llama3.2:3b or qwen2.5-coder:7b")
        self._suggestions = QStringListModel(self)
        completer = QCompleter(self._suggestions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.pull_field.setCompleter(completer)
        self.pull_field.returnPressed.connect(self._on_pull_button_clicked)
        self.pull_button = QPushButton("Pull")
        self.pull_button.setObjectName("pullButton")
        self.pull_button.clicked.connect(self._on_pull_button_clicked)
        self.needed_hint = QLabel()
        self.needed_hint.setObjectName("neededModels")
        self.needed_hint.setWordWrap(True)
        tint(self.needed_hint, Tone.WARNING)
        self.needed_hint.hide()
        self.pull_needed_button = QPushButton()
        self.pull_needed_button.setObjectName("pullNeeded")
        self.pull_needed_button.clicked.connect(self._on_pull_needed_button_clicked)
        self.pull_needed_button.hide()
        needed_row = QHBoxLayout()
        needed_row.addWidget(self.needed_hint, 1)
        needed_row.addWidget(self.pull_needed_button)
        self.host_picker = QComboBox()
        self.host_picker.setObjectName("modelsHost")
        self.host_picker.setToolTip("The Ollama host whose models this panel lists, pulls and deletes")
        self.host_label = QLabel("Ollama host")
        self.host_picker.activated.connect(self._on_host_picker_activated)
        host_row = QHBoxLayout()
        host_row.addWidget(self.host_label)
        host_row.addWidget(self.host_picker)
        host_row.addStretch(1)
        pull_row = QHBoxLayout()
        pull_row.addWidget(QLabel("Pull"))
        pull_row.addWidget(self.pull_field, 1)
        pull_row.addWidget(self.pull_button)

        self.pull_list = PullList(self.queue)

        # ---- installed models
        self.filter_field = QLineEdit()
        self.filter_field.setObjectName("modelFilter")
        self.filter_field.setPlaceholderText("Filter by name")
        self.filter_field.setClearButtonEnabled(True)
        self.load_button = self._button("Load", "loadModel", self._on_load_button_clicked)
        self.load_button.setToolTip(
            "Load into memory with the options of the mapping that uses it (so the first request "
            "does not wait for the load)"
        )
        self.unload_button = self._button("Unload", "unloadModel", self._on_unload_button_clicked)
        self.delete_button = self._button("Delete…", "deleteModel", self._on_delete_button_clicked)
        self.refresh_button = self._button("Refresh", "refreshModels", self._on_refresh_button_clicked)
        tools = QHBoxLayout()
        tools.addWidget(self.filter_field, 1)
        for button in (self.load_button, self.unload_button, self.delete_button, self.refresh_button):
            tools.addWidget(button)

        self.model = ModelsTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(COL["name"])
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter_field.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setObjectName("modelsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL["name"], Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL["name"], QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)

        self.status = QLabel()
        self.status.setObjectName("modelsStatus")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(host_row)
        layout.addLayout(pull_row)
        layout.addLayout(needed_row)
        layout.addWidget(self.pull_list)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

        self._unsubscribe = holder.subscribe(self._on_config_changed)
        self._fill_host_picker()
        self._update_buttons()

    def _button(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # ---------------------------------------------------------------- services
    @property
    def url(self) -> str:
        return self._ollama.url

    def client(self) -> OllamaClient:
        """The Ollama client for the configured address (a new one when the address changed)."""
        return self._ollama.client()

    async def shutdown(self) -> None:
        """Stop every pull and close the connections to Ollama (when the state is the panel's own)."""
        self._unsubscribe()
        await self.queue.close()
        await self.ops.shutdown()
        if self._owns_state:
            await self._ollama.aclose()

    # ---------------------------------------------------------------- public API
    def selected_model(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return str(self.proxy.index(rows[0].row(), COL["name"]).data())

    def select_model(self, name: str) -> bool:
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, COL["name"]).data() == name:
                self.table.selectRow(row)
                return True
        return False

    def needed_models(self) -> list[str]:
        """Models the mappings on the shown host use that it does not have (in mapping order)."""
        have = {full_name(m.name) for m in self._installed}
        out: list[str] = []
        for mapping in self._holder.config.mappings:
            if self.host not in mapping.backends:
                continue
            if full_name(mapping.model) not in have and mapping.model not in out:
                out.append(mapping.model)
        return out

    def on_ollama_changed(self, ok: bool, installed: object) -> None:
        """The watcher's news (it has just asked for the installed models): ask for the loaded
        ones, which may have changed, and show both."""
        if self._hosts is not None and self._ollama is not self._hosts.first:
            return  # the watcher asks the first host; another one is shown
        if not ok:
            self.status.setText("Ollama is not answering; the list shows what it last reported.")
            return
        changed, self._heard = installed != self._heard, installed
        if not self.isVisible() and not changed:
            # Hidden and nothing installed or removed: what is loaded (and until when) can wait
            # until the panel is shown, instead of three requests and a table update every poll.
            self._behind = True
            return
        if not self.refreshing:  # the watcher polls every few seconds; one refresh at a time is plenty
            self.schedule_refresh(installed=False)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._behind:
            self._behind = False
            if not self.refreshing:
                self.schedule_refresh()

    @property
    def refreshing(self) -> bool:
        """Whether a background refresh is under way."""
        return self._refresh is not None and not self._refresh.done()

    def schedule_refresh(self, *, installed: bool = True) -> None:
        """Refresh in the background (awaited by :meth:`shutdown`)."""
        self._refresh = self.ops.run(self.refresh(installed=installed))

    def request_pull(self, model: str, host: str = "") -> PullJob:
        """Start (or queue) a pull of ``model``, as the Mappings panel's "Pull" button asks: onto
        ``host`` (the one its warning names; default: the first host)."""
        if self._hosts is not None:
            name = host if host in self._hosts.names else self._hosts.names[0]
            target = self._hosts.state(name)
            if self._ollama is not target:  # another host is shown: its list stays as it is
                return self.queue.enqueue(model, host=name, client=target.client)
        self.pull_field.setText(model)
        return self.start_pull(model)

    async def select_host(self, name: str) -> bool:
        """Show (and pull onto) the host called ``name``; returns whether it answered."""
        if self._hosts is None:
            raise RuntimeError("this panel was given no hosts to choose from")
        self.host, self._ollama = name, self._hosts.state(name)
        self.host_picker.setCurrentIndex(max(self.host_picker.findData(name), 0))
        # The Fits badges rate this computer's hardware, which another host does not share.
        self.table.setColumnHidden(COL["fits"], self._ollama is not self._hosts.first)
        self._installed, self._loaded, self._details = [], {}, {}
        self._rebuild_rows()
        return await self.refresh()

    def start_pull(self, model: str) -> PullJob:
        """Queue a pull onto the shown host and return its job at once."""
        job = self.queue.enqueue(model, host=self._pull_host(), client=self._ollama.client)
        self.pull_field.clear()
        return job

    async def pull(self, model: str) -> PullJob:
        """Queue a pull of ``model`` and wait until it ends (done, cancelled or failed)."""
        try:
            job = self.start_pull(model)
        except ValueError:
            self.status.setText("Type the name of a model to pull, e.g. llama3.2:3b.")
            return PullJob(model)
        return await self.queue.wait(job)

    async def refresh(self, *, installed: bool = True) -> bool:
        """Ask Ollama for its loaded models (and, unless the watcher just did, its installed ones)
        and show them, with each model's details (asked once per model). Returns whether it
        answered."""
        async with self._refresh_lock:
            state = self._ollama
            try:
                if installed or state.reachable is not True:
                    await state.refresh()
                await state.refresh_loaded()
                self._details = await state.describe_installed()
            except OllamaError as exc:
                self.banner.show_message(str(exc), "error")
                self._update_buttons()
                return False
            self._hardware = await state.hardware()
            self.banner.clear()
            self._installed = list(state.installed)
            self._loaded = dict(state.loaded)
            self._rebuild_rows()
            return True

    async def delete(self, model: str, *, confirm: Confirm | None = None) -> bool:
        """Delete ``model`` after asking (``confirm`` overrides the panel's question)."""
        users = [
            m.name
            for m in self._holder.config.mappings
            if full_name(m.model) == full_name(model) and self.host in m.backends
        ]
        warning = (
            f"\n\nMappings that use it ({', '.join(users)}) will fail until you pull it again "
            "or point them at another model."
            if users
            else ""
        )
        ask = confirm or self._confirm
        where = f"{self.host} ({self.url})" if self._several_hosts() else "Ollama"
        if not await ask(
            self, "Delete model", f"Delete {model} from {where}? This frees its disk space.{warning}"
        ):
            self.status.setText(f"{model} was not deleted.")
            return False
        ok = await self._act(f"Deleting {model}…", lambda c: c.delete(model), f"Deleted {model}.")
        if ok:
            self.models_changed.emit()
        return ok

    async def load(self, model: str) -> bool:
        """Load ``model`` with the options its first mapping uses, and keep it loaded."""
        mapping = next(
            (m for m in self._holder.config.mappings if full_name(m.model) == full_name(model)), None
        )
        options = runner_options(mapping.options) if mapping else {}
        keep_alive = mapping.options.keep_alive if mapping else None
        keep = -1 if keep_alive is None else ollama_keep_alive(keep_alive)  # default: stay loaded
        how = f" with the options of mapping {mapping.name}" if mapping else ""
        return await self._act(
            f"Loading {model}{how}… (a large model takes a while)",
            lambda c: c.load(model, keep_alive=keep, options=options or None),
            f"Loaded {model}{how}.",
        )

    async def unload(self, model: str) -> bool:
        return await self._act(f"Unloading {model}…", lambda c: c.unload(model), f"Unloaded {model}.")

    # ---------------------------------------------------------------- internals
    async def _act(self, doing: str, action: Callable[[OllamaClient], Awaitable[None]], done: str) -> bool:
        if self._several_hosts():  # "Deleting qwen3:8b on gpu-box…"
            doing = doing.replace("…", f" on {self.host}…", 1)
            done = done.removesuffix(".") + f" on {self.host}."
        self._busy = True
        self._update_buttons()
        self.status.setText(doing)
        try:
            await action(self.client())
        except GateDeckError as exc:
            self.status.setText("")
            self.banner.show_message(str(exc), "error")
            return False
        finally:
            self._busy = False
            self._update_buttons()
        self.banner.clear()
        await self.refresh()
        self.status.setText(done)
        return True

    def _rebuild_rows(self) -> None:
        config = self._holder.config
        rows = [
            build_row(m, self._details.get(m.name), self._loaded.get(m.name), config, self._hardware)
            for m in self._installed
        ]
        self.model.set_rows(rows)
        self._suggest()
        self._update_buttons()
        if self._installed or self._loaded:
            loaded = len(self._loaded)
            on = f" on {self.host}" if self._several_hosts() else ""
            self.status.setText(f"{len(self._installed)} model(s) installed, {loaded} loaded{on}.")
        else:
            self.status.setText("No models installed yet: pull one above.")

    def _suggest(self, *_args: object) -> None:
        pulling = {j.model for j in self.queue.jobs if j.active and j.host == self._pull_host()}
        needed = [m for m in self.needed_models() if m not in pulling]
        self._suggestions.setStringList(needed)
        if needed:
            self.needed_hint.setText(
                "Your mappings use " + ", ".join(needed) + ", not installed yet (the Pull field "
                "suggests them)."
            )
            self.pull_needed_button.setText(f"Pull {needed[0]}")
            if not self.pull_field.text():
                self.pull_field.setPlaceholderText(f"Model to pull, e.g. {needed[0]}")
        self.needed_hint.setVisible(bool(needed))
        self.pull_needed_button.setVisible(bool(needed))

    def _update_buttons(self, *_args: object) -> None:
        name = self.selected_model()
        loaded = name is not None and name in self._loaded
        idle = not self._busy
        self.load_button.setEnabled(idle and name is not None and not loaded)
        self.unload_button.setEnabled(idle and loaded)
        self.delete_button.setEnabled(idle and name is not None)

    def _show_error(self, message: str) -> None:
        self.banner.show_message(message, "error")

    # ---------------------------------------------------------------- slots
    @async_slot()
    async def _on_pull_button_clicked(self) -> None:
        await self.pull(self.pull_field.text())

    @async_slot()
    async def _on_pull_needed_button_clicked(self) -> None:
        host = self._pull_host()
        needed = [
            m for m in self.needed_models() if (job := self.queue.job(m, host)) is None or not job.active
        ]
        if needed:
            await self.pull(needed[0])

    @async_slot()
    async def _on_delete_button_clicked(self) -> None:
        name = self.selected_model()
        if name is not None:
            await self.delete(name)

    @async_slot()
    async def _on_load_button_clicked(self) -> None:
        name = self.selected_model()
        if name is not None:
            await self.load(name)

    @async_slot()
    async def _on_unload_button_clicked(self) -> None:
        name = self.selected_model()
        if name is not None:
            await self.unload(name)

    @async_slot()
    async def _on_refresh_button_clicked(self) -> None:
        await self.refresh()

    def _on_queue_finished(self, job: PullJob) -> None:
        if job.state is JobState.DONE:
            self.status.setText(f"Pulled {job.model} on {job.host}." if job.host else f"Pulled {job.model}.")
            self.models_changed.emit()
            self.schedule_refresh()

    @async_slot()
    async def _on_host_picker_activated(self) -> None:
        name = str(self.host_picker.currentData())
        if name != self.host:
            await self.select_host(name)

    # ---------------------------------------------------------------- hosts
    def _several_hosts(self) -> bool:
        return self._hosts is not None and len(self._holder.config.backends) > 1

    def _pull_host(self) -> str:
        """The name a pull onto the shown host carries (none while there is only one host)."""
        return self.host if self._several_hosts() else ""

    def _fill_host_picker(self) -> None:
        self.host_picker.clear()
        for backend in self._holder.config.backends:
            self.host_picker.addItem(f"{backend.name} — {backend.url}", backend.name)
        self.host_picker.setCurrentIndex(max(self.host_picker.findData(self.host), 0))
        self.host_picker.setVisible(self._several_hosts())
        self.host_label.setVisible(self._several_hosts())

    def _on_config_changed(self, change: ConfigChange) -> None:
        if change.touches("backends"):
            names = [b.name for b in change.new.backends]
            gone = self.host not in names
            if gone or self._hosts is None:
                self.host = names[0]
            self._fill_host_picker()
            if gone and self._hosts is not None:  # the shown host was removed: show the first
                self.ops.run(self.select_host(self.host))
        if change.touches("mappings", "ollama_server", "backends"):
            self._rebuild_rows()
