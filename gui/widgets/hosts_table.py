"""The Ollama hosts GateDeck routes to: each one's state, version, loaded models and latency, with
add / edit / remove / test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.config.holder import ConfigChange, ConfigHolder
from core.config.host_edits import host_users, without_host
from core.ollama.host_check import HostCheck, check_host
from core.ollama.hosts import OllamaHosts
from gui.dialogs.host_dialog import ApplyConfig, CheckUrl, HostDialog
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, follow_palette, text_colour
from gui.widgets.confirm import ask_yes_no

#: Asks the user a yes/no question: (parent, title, text) → yes?
Confirm = Callable[[QWidget, str, str], Awaitable[bool]]

#: Showing the list asks every host again when the last round is older than this (seconds).
RECHECK_AFTER_S = 10.0
COLUMNS = ("Name", "Address", "State", "Version", "Loaded models", "Latency")
#: Where a host's state cell keeps its tone, so that a palette change can recolour it.
_TONE_ROLE = Qt.ItemDataRole.UserRole


class HostsWidget(QWidget):
    """Lists the config's Ollama hosts and edits them through the config holder.

    The first host is the default for new mappings (and the one GateDeck can start itself); it
    cannot be removed while it is the only one. The list follows every config change, whoever
    made it (the setup wizard changes the first host's address directly).

    Args:
        holder: the config in use.
        apply: saves and hot-applies a config (the gateway bridge's ``apply``).
        hosts: each host's shared Ollama state (its client is what a check asks).
        confirm: asks before removing a host that mappings use.
        check_url: checks an address typed in the add/edit dialog (tests may pass their own).

    Signals:
        hosts_changed(): the host list was saved.
        checked(str, object): a host was checked; carries its name and the :class:`HostCheck`.
    """

    hosts_changed = Signal()
    checked = Signal(str, object)

    def __init__(
        self,
        holder: ConfigHolder,
        apply: ApplyConfig,
        hosts: OllamaHosts,
        *,
        confirm: Confirm = ask_yes_no,
        check_url: CheckUrl | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("hostsWidget")
        self.ops = BackgroundOps(self._show_error, owner="hosts list")
        self._holder = holder
        self._apply = apply
        self._hosts = hosts
        self._confirm = confirm
        self._check_url = check_url
        self.checks: dict[str, HostCheck] = {}
        self._round_at: float | None = None  # when every host was last asked
        self.dialog: HostDialog | None = None

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("hostsTable")
        follow_palette(self.table, self._recolour_states)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Loaded models"), QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(self._on_table_double_clicked)

        self.add_button = self._button("Add…", "addHost", self._on_add_button_clicked)
        self.edit_button = self._button("Edit…", "editHost", self._on_edit_button_clicked)
        self.remove_button = self._button("Remove…", "removeHost", self._on_remove_button_clicked)
        self.test_button = self._button("Test", "testHost", self._on_test_button_clicked)
        self.test_button.setToolTip("Ask the selected host (every host when none is selected) now")
        self.status = QLabel()
        self.status.setObjectName("hostsStatus")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button, self.test_button):
            buttons.addWidget(button)
        buttons.addWidget(self.status, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

        self._unsubscribe = holder.subscribe(self._on_config_changed)
        self._fill()

    def _button(self, text: str, name: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    # ---------------------------------------------------------------- public API
    def selected_host(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._holder.config.backends[rows[0].row()].name if rows else None

    def select_host(self, name: str) -> None:
        self.table.selectRow(self._holder_names().index(name))

    def add_host(self) -> HostDialog:
        """Open the dialog that adds a host (returned, so a test can fill it in)."""
        return self._open_dialog(None)

    def edit_host(self, name: str) -> HostDialog:
        return self._open_dialog(name)

    async def remove_host(self, name: str) -> bool:
        """Remove ``name``; asks first when mappings use it, and says which."""
        config = self._holder.config
        users = host_users(config, name)
        try:
            new = without_host(config, name)
        except ValueError as exc:
            self.status.setText(str(exc))
            return False
        if users:
            moved = [m for m in config.mappings if m.backends == [name]]
            where = f" Those on no other host move to {new.backends[0].name}." if moved else ""
            question = f"Mappings use {name}: {', '.join(users)}. Remove it from them too?{where}"
            if not await self._confirm(self, "Remove Ollama host", question):
                self.status.setText(f"{name} was kept.")
                return False
        self.status.setText(await self._apply(new))
        self.checks.pop(name, None)
        self.hosts_changed.emit()
        return True

    async def check(self, name: str) -> HostCheck:
        """Ask one host now (version, loaded models, latency) and show the answer in its row."""
        self._show_check(name, None)
        found = await check_host(self._hosts.state(name).client())
        self.checks[name] = found
        if name in self._holder_names():
            self._show_check(name, found)
        self.checked.emit(name, found)
        return found

    async def check_all(self) -> list[HostCheck]:
        self._round_at = time.monotonic()
        return list(await asyncio.gather(*(self.check(name) for name in self._holder_names())))

    async def shutdown(self) -> None:
        self._unsubscribe()
        if self.dialog is not None:
            self.dialog.reject()
        await self.ops.shutdown()

    # ---------------------------------------------------------------- internals
    def _holder_names(self) -> list[str]:
        return [b.name for b in self._holder.config.backends]

    def _open_dialog(self, name: str | None) -> HostDialog:
        if self.dialog is not None:
            self.dialog.reject()
        editing = self._holder.config.backend(name) if name else None
        extra = {"check": self._check_url} if self._check_url else {}
        dialog = HostDialog(self._holder, self._apply, self.ops, editing=editing, parent=self, **extra)
        dialog.saved.connect(self._on_dialog_saved)
        dialog.finished.connect(lambda _result: self._forget_dialog(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _forget_dialog(self, dialog: HostDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _fill(self) -> None:
        selected = self.selected_host()
        hosts = self._holder.config.backends
        self.table.setRowCount(len(hosts))
        for row, host in enumerate(hosts):
            name = f"{host.name} (default)" if row == 0 and len(hosts) > 1 else host.name
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(host.url))
            self._show_check(host.name, self.checks.get(host.name), asking=False)
        if selected in self._holder_names():
            self.select_host(selected)
        self._update_buttons()
        # As tall as its rows (a window made small shows one and scrolls).
        frame = self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth() + 2
        self.table.setMinimumHeight(frame + self.table.verticalHeader().defaultSectionSize())
        self.table.setMaximumHeight(frame + self.table.verticalHeader().defaultSectionSize() * len(hosts))

    def _show_check(self, name: str, found: HostCheck | None, *, asking: bool = True) -> None:
        row = self._holder_names().index(name)
        if found is None:
            cells = ["checking…" if asking else "not checked", "", "", ""]
            tone = Tone.MUTED
        elif found.up:
            loaded = ", ".join(found.loaded) or "none"
            cells = ["● up", found.version, loaded, f"{found.latency_ms:.0f} ms"]
            tone = Tone.GOOD
        else:
            cells = ["● down", "", "", ""]
            tone = Tone.BAD
        for offset, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if found is not None and not found.up:
                item.setToolTip(found.problem)
            if offset == 0:
                item.setData(_TONE_ROLE, tone.value)
                item.setForeground(text_colour(tone))
            self.table.setItem(row, 2 + offset, item)

    def _recolour_states(self) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 2)
            if item is not None and item.data(_TONE_ROLE):
                item.setForeground(text_colour(Tone(item.data(_TONE_ROLE))))

    def _update_buttons(self) -> None:
        selected = self.selected_host() is not None
        self.edit_button.setEnabled(selected)
        self.remove_button.setEnabled(selected and len(self._holder.config.backends) > 1)
        self.remove_button.setToolTip(
            "" if len(self._holder.config.backends) > 1 else "GateDeck needs at least one Ollama host"
        )

    def _show_error(self, message: str) -> None:
        self.status.setText(message)

    def _on_config_changed(self, change: ConfigChange) -> None:
        if not change.touches("backends"):
            return
        old = {b.name: b.url for b in change.old.backends}
        self._fill()
        for host in change.new.backends:  # new or moved hosts: ask them now
            if old.get(host.name) != host.url:
                self.checks.pop(host.name, None)
                self.ops.run(self.check(host.name))

    def _on_dialog_saved(self, name: str) -> None:
        self.status.setText(f"Saved {name}.")
        self.hosts_changed.emit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._round_at is None or time.monotonic() - self._round_at > RECHECK_AFTER_S:
            self.ops.run(self.check_all())

    def _on_add_button_clicked(self) -> None:
        self.add_host()

    def _on_edit_button_clicked(self) -> None:
        name = self.selected_host()
        if name is not None:
            self.edit_host(name)

    def _on_table_double_clicked(self) -> None:
        name = self.selected_host()
        if name is not None:
            self.edit_host(name)

    @async_slot()
    async def _on_remove_button_clicked(self) -> None:
        name = self.selected_host()
        if name is not None:
            await self.remove_host(name)

    @async_slot()
    async def _on_test_button_clicked(self) -> None:
        name = self.selected_host()
        if name is None:
            await self.check_all()
        else:
            found = await self.check(name)
            self.status.setText(f"{name}: {found.summary()}")
