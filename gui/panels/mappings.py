"""Mappings panel: which Ollama model answers each name clients ask for."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.clients.probe_verdicts import SavedVerdict, keep_verdict, load_verdicts
from core.clients.tool_probe import ProbeResult
from core.config.defaults import DEFAULT_MODEL
from core.config.holder import ConfigChange, ConfigHolder
from core.config.mapping_checks import MappingIssue, check_mappings, has_errors
from core.config.schema import CLAUDE_MIN_CTX, Config, Mapping, ModelOptions
from core.errors import OllamaError
from core.ollama.hosts import OllamaHosts
from core.ollama.load_options import with_same_load_options
from core.ollama.names import full_name
from core.ollama.state import OllamaState, StateChange
from core.setup.apply import tiers_like
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, tint
from gui.widgets.mappings_table import COLUMNS, MappingDelegate, MappingTableModel

#: Saves the new config and hot-applies it; returns a short status for the user.
ApplyConfig = Callable[[Config], Awaitable[str]]
#: Runs the tool-call probe on a mapping name with that mapping's ``num_ctx``.
ProbeMapping = Callable[[str, int | None], Awaitable[ProbeResult]]

#: Showing the panel asks the other hosts for their models again when the last ask is older
#: than this (seconds); a host never asked (new, or its address edited) is asked at once.
RECHECK_AFTER_S = 10.0


class MappingsPanel(QWidget):
    """Edit, check and apply the mapping list.

    A mapping's model is checked on each of its hosts: the first host's models come from the
    Ollama watcher (:meth:`set_installed_models`), every other host's from its state in
    ``hosts``, asked when the panel is shown (see :data:`RECHECK_AFTER_S`) and whenever
    someone else's ask of that host (the Models panel's) brings news.

    Signals:
        pull_requested(str, str): the user pressed "Pull" on a model a mapping needs; carries
            the model and the host to pull it onto.
        applied(str): the mappings were saved and applied; carries the status text.
    """

    pull_requested = Signal(str, str)
    applied = Signal(str)

    def __init__(
        self,
        holder: ConfigHolder,
        apply: ApplyConfig,
        parent: QWidget | None = None,
        *,
        probe: ProbeMapping | None = None,
        verdicts_dir: Path | None = None,
        hosts: OllamaHosts | None = None,
    ) -> None:
        super().__init__(parent)
        self.ops = BackgroundOps(self._show_error, owner="mappings panel")
        self.setObjectName("mappingsPanel")
        self._holder = holder
        self._apply = apply
        self._installed: list[str] | None = None  # the first host's (the watcher's)
        self._hosts = hosts
        self._following: dict[OllamaState, Callable[[], None]] = {}  # other hosts' states
        self._asked_at: float | None = None
        self._asking: asyncio.Task[None] | None = None
        self._issues: list[MappingIssue] = []
        self._probe = probe
        self._verdicts_dir = verdicts_dir
        self._verdicts: dict[str, SavedVerdict] = load_verdicts(verdicts_dir) if verdicts_dir else {}
        self._probing = False

        intro = QLabel(
            "Clients ask for a model by name; the first exact name wins, then the first pattern "
            "that matches (<code>*</code> any text, <code>?</code> one character). Claude Code "
            f"needs a context of at least {CLAUDE_MIN_CTX:,} tokens."
        )
        intro.setWordWrap(True)

        self.model = MappingTableModel(parent=self)
        self.delegate = MappingDelegate(self)
        self.table = QTableView()
        self.table.setObjectName("mappingsTable")
        self.table.setModel(self.model)
        self.table.setItemDelegate(self.delegate)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for column in range(2, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.model.set_verdicts(self._verdicts)

        buttons = QHBoxLayout()
        self.add_button = self._button("Add", "addMapping", self.add_mapping)
        self.duplicate_button = self._button("Duplicate", "duplicateMapping", self.duplicate_selected)
        self.remove_button = self._button("Remove", "removeMapping", self.remove_selected)
        self.up_button = self._button("Move up", "moveUp", lambda: self.move_selected(-1))
        self.down_button = self._button("Move down", "moveDown", lambda: self.move_selected(1))
        for button in (
            self.add_button,
            self.duplicate_button,
            self.remove_button,
            self.up_button,
            self.down_button,
        ):
            buttons.addWidget(button)
        self.probe_button = QPushButton("Probe tool calls")
        self.probe_button.setObjectName("probeMapping")
        self.probe_button.setToolTip(
            "Send the selected mapping a conversation as big as Claude Code's (24 tools, about 20k "
            "tokens), three times, and show whether its model makes real tool calls"
        )
        self.probe_button.setVisible(probe is not None)
        self.probe_button.clicked.connect(self._on_probe_clicked)
        buttons.addWidget(self.probe_button)
        buttons.addStretch(1)
        self.revert_button = self._button("Revert", "revertMappings", self.revert)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyMappings")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self._on_apply_clicked)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)

        self.embedding_note = QLabel()
        self.embedding_note.setObjectName("embeddingNote")
        self.embedding_note.setWordWrap(True)
        self.embedding_note.setVisible(False)
        self.issue_list = QListWidget()
        self.issue_list.setObjectName("mappingIssues")
        self.status = QLabel()
        self.status.setObjectName("mappingsStatus")
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.embedding_note)
        layout.addWidget(self.issue_list)
        layout.addWidget(self.status)

        self.model.edited.connect(self._recheck)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self._unsubscribe = holder.subscribe(self._on_config_changed)
        self.revert()

    def _button(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(lambda _checked=False: slot())
        return button

    # ---------------------------------------------------------------- public API
    @property
    def issues(self) -> list[MappingIssue]:
        return list(self._issues)

    @property
    def dirty(self) -> bool:
        return self._saved_rows() != self.model.rows()

    def set_installed_models(self, names: list[str] | None) -> None:
        """Models the first host has; ``None`` when it cannot be asked (no "not installed"
        warnings for it)."""
        self._installed = None if names is None else sorted(names)
        self._recheck()

    def installed_by_host(self) -> dict[str, list[str]]:
        """The models each host is known to have, by host name (a host not answering, or not
        asked yet, is left out)."""
        backends = self._holder.config.backends
        known = {} if self._installed is None else {backends[0].name: self._installed}
        if self._hosts is not None:
            for backend in backends[1:]:
                state = self._hosts.state(backend.name)
                if state.reachable:
                    known[backend.name] = sorted(m.name for m in state.installed)
        return known

    async def refresh_hosts(self) -> None:
        """Ask every host but the first (the watcher asks that one) for its models now."""
        if self._hosts is None:
            return
        self._asked_at = time.monotonic()
        states = [self._hosts.state(name) for name in self._hosts.names[1:]]
        await asyncio.gather(*(_ask(state) for state in states))
        self._recheck()

    def schedule_host_refresh(self) -> None:
        """:meth:`refresh_hosts` in the background (one at a time; awaited by :meth:`shutdown`)."""
        several = self._hosts is not None and len(self._hosts.names) > 1
        if several and (self._asking is None or self._asking.done()):
            self._asking = self.ops.run(self.refresh_hosts())

    async def shutdown(self) -> None:
        """Stop following the config and the hosts, and end the background work."""
        self._unsubscribe()
        self._hosts = None  # no state is followed again
        for unsubscribe in self._following.values():
            unsubscribe()
        self._following = {}
        await self.ops.shutdown()

    def set_embedding_models(self, names: frozenset[str]) -> None:
        """The installed models that only make embeddings (their mappings are marked)."""
        self.model.set_embedding_models(names)
        self._update_buttons()

    def revert(self) -> None:
        """Throw away edits: show the mappings in use."""
        self.model.set_rows(self._saved_rows())
        self.status.setText("")

    def add_mapping(self) -> None:
        names = {row.get("name") for row in self.model.rows()}
        n = 1
        while f"new-model-{n}" in names:
            n += 1
        model = (self._installed or [DEFAULT_MODEL])[0]
        first_host = self._holder.config.backends[0].name  # the default host for new mappings
        row = Mapping(
            name=f"new-model-{n}", model=model, backends=[first_host], options=ModelOptions(num_ctx=8192)
        )
        at = self._selected_row()
        at = len(names) if at is None else at + 1
        self.model.insert_row(at, row.model_dump(mode="json"))
        self._select(at)

    def duplicate_selected(self) -> None:
        at = self._selected_row()
        if at is None:
            return
        row = copy.deepcopy(self.model.rows()[at])
        names = {r.get("name") for r in self.model.rows()}
        base = f"{row.get('name', 'mapping')}-copy"
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        row["name"] = name
        self.model.insert_row(at + 1, row)
        self._select(at + 1)

    def remove_selected(self) -> None:
        at = self._selected_row()
        if at is None:
            return
        self.model.remove_row(at)
        if self.model.rowCount():
            self._select(min(at, self.model.rowCount() - 1))

    def move_selected(self, delta: int) -> None:
        at = self._selected_row()
        if at is None:
            return
        to = at + delta
        if 0 <= to < self.model.rowCount():
            self.model.move_row(at, to)
            self._select(to)

    async def apply(self) -> bool:
        """Check, save and hot-apply the edited mappings. Returns False (and says why) if refused."""
        self._recheck()
        if has_errors(self._issues):
            count = sum(1 for i in self._issues if i.severity == "error")
            self.status.setText(f"Not applied: fix the {count} problem(s) marked in red first.")
            return False
        current = self._holder.config
        try:
            new = current.model_copy(
                update={"mappings": [Mapping.model_validate(row) for row in self.model.rows()]}
            )
            new = Config.model_validate(new.model_dump())
        except ValueError as exc:
            self.status.setText(f"Not applied: {exc}")
            return False
        self.apply_button.setEnabled(False)
        try:
            message = await self._apply(new)
        except Exception as exc:  # shown in place; the table keeps the user's edits
            self.status.setText(f"Not applied: {exc}")
            self._update_buttons()
            return False
        self.model.set_rows(self._saved_rows())
        self.status.setText(message)
        self.applied.emit(message)
        return True

    async def probe_selected(self) -> ProbeResult | None:
        """Probe the selected mapping as it runs now; keep and show the verdict."""
        at = self._selected_row()
        if self._probe is None or at is None:
            return None
        row = self.model.rows()[at]
        name = str(row.get("name", ""))
        saved = next((m for m in self._holder.config.mappings if m.name == name), None)
        if saved is None or saved.model_dump(mode="json") != row:
            self.status.setText(f"Apply the changes to '{name}' first: the probe asks the running gateway.")
            return None
        self._probing = True
        self._update_buttons()
        self.status.setText(f"Probing {name} ({saved.model}) for tool calls: three runs of three turns…")
        try:
            result = await self._probe(name, saved.options.num_ctx)
        finally:
            self._probing = False
            self._update_buttons()
        if self._verdicts_dir is not None:
            # Claude's tiers on the same model, hosts and load options share the verdict
            shared = tiers_like(self._holder.config, saved) if saved.is_claude else None
            self._verdicts = keep_verdict(
                self._verdicts_dir, result, saved.model, saved.options.num_ctx, shared
            )
        elif result.outcome is not None:
            self._verdicts[name] = SavedVerdict.of(result, saved.model, saved.options.num_ctx)
        self.model.set_verdicts(self._verdicts)
        self.status.setText(f"{name}: {result.verdict} ({result.seconds:.1f} s)")
        return result

    def showEvent(self, event: QShowEvent) -> None:
        """Verdicts kept since (the Test chat's probe keeps them too) show when the panel does."""
        if self._verdicts_dir is not None:
            self._verdicts = load_verdicts(self._verdicts_dir)
            self.model.set_verdicts(self._verdicts)
        self._recheck()  # hosts added or removed on the Gateway panel since
        stale = self._asked_at is None or time.monotonic() - self._asked_at >= RECHECK_AFTER_S
        unasked = self._hosts is not None and any(s.reachable is None for s in self._following)
        if stale or unasked:
            self.schedule_host_refresh()
        super().showEvent(event)

    # ---------------------------------------------------------------- internals
    @async_slot()
    async def _on_probe_clicked(self) -> None:
        await self.probe_selected()

    def _show_error(self, message: str) -> None:
        self.status.setText(message)

    @async_slot()
    async def _on_apply_clicked(self) -> None:
        await self.apply()

    def use_same_load_options(self, model: str) -> None:
        """Give every row on ``model`` the same load options (a draft change, applied with Apply)."""
        rows = self.model.rows()
        valid = {i: Mapping.model_validate(r) for i, r in enumerate(rows) if _valid(r)}
        fixed = iter(with_same_load_options(list(valid.values()), model))
        for i in valid:
            rows[i] = next(fixed).model_dump(mode="json")
        self.model.set_rows(rows)
        self.status.setText(f"Every mapping on {model} now loads it the same way: Apply to save.")

    def _saved_rows(self) -> list[dict[str, Any]]:
        return [m.model_dump(mode="json") for m in self._holder.config.mappings]

    def _selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _select(self, row: int) -> None:
        self.table.selectRow(row)

    def _recheck(self, *_args: object) -> None:
        config = self._holder.config
        rows = self.model.rows()
        self._follow_hosts()
        installed = self.installed_by_host()
        self._issues = check_mappings(
            rows,
            installed=installed,
            backend_names=[b.name for b in config.backends],
            cloud_names=[c.name for c in config.cloud],
        )
        self.delegate.installed_models = sorted({m for models in installed.values() for m in models})
        self.delegate.backend_names = [b.name for b in config.backends]
        # The hosts column, only when there is a choice (or a row names a host that is gone).
        hosts_column = [key for key, _ in COLUMNS].index("backends")
        host_problem = any(issue.field == "backends" for issue in self._issues)
        self.table.setColumnHidden(hosts_column, len(config.backends) < 2 and not host_problem)
        self.delegate.fallback_targets = [str(r.get("name", "")) for r in rows] + [
            c.name for c in config.cloud
        ]
        self.model.set_issues(self._issues)
        self._show_issues()
        self._update_buttons()

    def _show_issues(self) -> None:
        self.issue_list.clear()
        for issue, rows in _grouped(self._issues):
            item = QListWidgetItem()
            row_widget = QWidget()
            row_layout = QHBoxLayout(row_widget)
            row_layout.setContentsMargins(4, 1, 4, 1)
            mark = "✖" if issue.severity == "error" else "⚠"
            where = f"Row {rows[0] + 1}" if len(rows) == 1 else "Rows " + ", ".join(str(r + 1) for r in rows)
            label = QLabel(f"{mark} {where}, {_FIELD_NAMES.get(issue.field, issue.field)}: {issue.message}")
            tint(label, Tone.BAD if issue.severity == "error" else Tone.WARNING)
            row_layout.addWidget(label, 1)
            if issue.missing_model:
                model_name, host = issue.missing_model, issue.host or ""
                several = len(self._holder.config.backends) > 1
                pull = QPushButton(f"Pull {model_name} onto {host}" if several else f"Pull {model_name}")
                pull.setObjectName("pullMissingModel")
                pull.clicked.connect(lambda _c=False, m=model_name, h=host: self.pull_requested.emit(m, h))
                row_layout.addWidget(pull)
            if issue.reload_model:
                same = QPushButton("Use the same load options")
                same.setObjectName("sameLoadOptions")
                same.setToolTip(
                    "Give every mapping on this model the largest context among them and the same "
                    "GPU layers, threads and batch, so Ollama keeps one copy loaded"
                )
                reload_model = issue.reload_model
                same.clicked.connect(lambda _c=False, m=reload_model: self.use_same_load_options(m))
                row_layout.addWidget(same)
            item.setSizeHint(row_widget.sizeHint())
            self.issue_list.addItem(item)
            self.issue_list.setItemWidget(item, row_widget)
        self.issue_list.setVisible(bool(self._issues))
        if self._issues:  # as tall as its rows, up to four; scroll beyond
            lines = min(self.issue_list.count(), 4)
            self.issue_list.setFixedHeight(
                lines * self.issue_list.sizeHintForRow(0) + 2 * self.issue_list.frameWidth() + 2
            )

    def _follow_hosts(self) -> None:
        """Listen to the state of every host but the first (whose news the watcher brings)."""
        names = self._hosts.names[1:] if self._hosts is not None else []
        current = {self._hosts.state(name) for name in names} if self._hosts is not None else set()
        for state in [s for s in self._following if s not in current]:
            self._following.pop(state)()
        for state in current - self._following.keys():
            self._following[state] = state.subscribe(self._on_host_state_changed)

    def _on_config_changed(self, change: ConfigChange) -> None:
        """Mappings changed elsewhere (the setup, a host renamed or removed): shown at once unless
        the table holds edits of its own, which are kept (Revert shows the new ones)."""
        if not change.touches("mappings", "backends", "cloud"):
            return
        rows = self.model.rows()
        saved = [m.model_dump(mode="json") for m in change.new.mappings]
        edited = rows != [m.model_dump(mode="json") for m in change.old.mappings]
        if change.touches("mappings") and rows != saved and not edited:
            self.model.set_rows(saved)
        self._recheck()
        if change.touches("mappings") and rows != saved and edited:
            self.status.setText(
                "The mappings in use were changed elsewhere: Revert shows them, Apply replaces them "
                "with the ones here."
            )

    def _on_host_state_changed(self, change: StateChange) -> None:
        if change.installed or change.reachable:
            self._recheck()

    def _update_buttons(self, *_args: object) -> None:
        selected = self._selected_row()
        has_selection = selected is not None
        self.duplicate_button.setEnabled(has_selection)
        self.remove_button.setEnabled(has_selection)
        self.up_button.setEnabled(has_selection and selected != 0)
        self.down_button.setEnabled(has_selection and selected != self.model.rowCount() - 1)
        self.probe_button.setEnabled(has_selection and not self._probing)
        dirty = self.dirty
        self.revert_button.setEnabled(dirty)
        self.apply_button.setEnabled(dirty and not has_errors(self._issues))
        if dirty and not has_errors(self._issues):
            self.status.setText("Unsaved changes: Apply saves them and updates the running gateway at once.")
        self._show_embedding_note(selected)

    def _show_embedding_note(self, row: int | None) -> None:
        """Say so when the selected mapping's model only makes embeddings."""
        embeds = row is not None and self.model.only_embeds(row)
        if embeds and row is not None:
            mapping = self.model.rows()[row]
            self.embedding_note.setText(
                f"ℹ '{mapping.get('name', '')}' uses {mapping.get('model', '')}, which only makes "
                "embeddings: clients reach it on <code>/v1/embeddings</code>, and chat requests to "
                "it are refused (400)."
            )
        self.embedding_note.setVisible(embeds)


def _grouped(issues: list[MappingIssue]) -> list[tuple[MappingIssue, list[int]]]:
    """Issues to list, with the rows each stands for: a model missing from one host for several
    rows (four on a first run) is said once, with one Pull button (one per host that lacks it)."""
    shown: list[tuple[MappingIssue, list[int]]] = []
    by_model: dict[tuple[str, str | None], list[int]] = {}
    for issue in issues:
        key = (full_name(issue.missing_model or ""), issue.host)
        if issue.missing_model and key in by_model:
            by_model[key].append(issue.row)
            continue
        rows = [issue.row]
        if issue.missing_model:
            by_model[key] = rows
        shown.append((issue, rows))
    return shown


async def _ask(state: OllamaState) -> None:
    """Ask one host for its models; a host that does not answer is left unjudged (its state
    keeps why, and the Gateway panel shows it)."""
    try:
        await state.refresh()
    except OllamaError:
        pass


def _valid(row: dict[str, Any]) -> bool:
    try:
        Mapping.model_validate(row)
    except ValueError:
        return False
    return True


_FIELD_NAMES = {
    "name": "client name",
    "model": "Ollama model",
    "backends": "backend",
    "num_ctx": "context",
    "fallbacks": "fallback",
}
