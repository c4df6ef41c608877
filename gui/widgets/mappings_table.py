"""Table model and editors for the mappings panel.

Rows are kept as plain dicts (a Mapping's dumped form) so a half-typed, invalid value can sit
in the table and be flagged, instead of being refused while the user is still typing.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QComboBox,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from core.clients.probe_verdicts import SavedVerdict
from core.clients.tool_probe import Outcome
from core.config.mapping_checks import MappingIssue
from core.ollama.names import full_name
from gui.palette import Tone, background, text_colour

Index = QModelIndex | QPersistentModelIndex

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Client asks for"),
    ("model", "Ollama model"),
    ("backends", "Hosts"),
    ("num_ctx", "Context (tokens)"),
    ("fallbacks", "Fallback"),
    ("tool_probe", "Tool calls"),
)
COL = {key: i for i, (key, _title) in enumerate(COLUMNS)}
#: The model column's tag for a model that only makes embeddings, and what it means.
EMBEDDINGS_TAG = "[embeddings]"
EMBEDDINGS_NOTE = (
    "This model only makes embeddings: clients reach it on /v1/embeddings, and chat requests "
    "to this mapping are refused (400)."
)
#: Columns the user does not edit.
READ_ONLY = frozenset({"tool_probe"})
NOT_PROBED = "not probed"
NO_FALLBACK = "(none)"
DEFAULT_CTX = "Ollama default"

_BADGES = {
    Outcome.WORKS: ("✓ works", Tone.GOOD),
    Outcome.REPAIRED: ("✓ with repair", Tone.GOOD),
    Outcome.TEXT: ("✗ text", Tone.BAD),
    Outcome.NO_CALL: ("✗ no call", Tone.BAD),
    Outcome.DOES_NOT_FIT: ("✗ does not fit", Tone.BAD),
}


class MappingTableModel(QAbstractTableModel):
    """Editable list of mapping rows with per-cell issue highlighting.

    Signals:
        edited(): the rows changed (cell edit, insert, remove, move, reset); not emitted when
            only the issue highlighting changes.
    """

    edited = Signal()

    def __init__(self, rows: list[dict[str, Any]] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = rows or []
        self._issues: dict[tuple[int, str], list[MappingIssue]] = {}
        self._verdicts: dict[str, SavedVerdict] = {}
        self._embedding: frozenset[str] = frozenset()

    # ---------------------------------------------------------------- data access
    def rows(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._rows)

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = copy.deepcopy(rows)
        self.endResetModel()
        self.edited.emit()

    def set_issues(self, issues: list[MappingIssue]) -> None:
        self._issues = {}
        for issue in issues:
            self._issues.setdefault((issue.row, issue.field), []).append(issue)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1))

    def set_embedding_models(self, names: frozenset[str]) -> None:
        """The installed models that only make embeddings (their rows' model gets a tag)."""
        self._embedding = frozenset(full_name(name) for name in names)
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1))

    def only_embeds(self, row: int) -> bool:
        """Whether row ``row``'s model is an installed model that only makes embeddings."""
        model = str(self._rows[row].get("model") or "")
        return bool(model) and full_name(model) in self._embedding

    def set_verdicts(self, verdicts: dict[str, SavedVerdict]) -> None:
        """The tool-call probe's saved verdicts, by mapping name."""
        self._verdicts = dict(verdicts)
        if self._rows:
            column = len(COLUMNS) - 1
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column))

    def verdict(self, row: int) -> SavedVerdict | None:
        """The saved verdict that holds for ``row`` as it stands (same model and context)."""
        values = self._rows[row]
        saved = self._verdicts.get(str(values.get("name", "")))
        ctx = (values.get("options") or {}).get("num_ctx")
        return saved if saved is not None and saved.applies_to(str(values.get("model", "")), ctx) else None

    def insert_row(self, at: int, row: dict[str, Any]) -> None:
        self.beginInsertRows(QModelIndex(), at, at)
        self._rows.insert(at, copy.deepcopy(row))
        self.endInsertRows()
        self.edited.emit()

    def remove_row(self, at: int) -> None:
        self.beginRemoveRows(QModelIndex(), at, at)
        del self._rows[at]
        self.endRemoveRows()
        self.edited.emit()

    def move_row(self, at: int, to: int) -> None:
        if at == to or not (0 <= to < len(self._rows)):
            return
        # Qt's destination is "insert before"; moving down by one means before row at + 2.
        dest = to + 1 if to > at else to
        self.beginMoveRows(QModelIndex(), at, at, QModelIndex(), dest)
        self._rows.insert(to, self._rows.pop(at))
        self.endMoveRows()
        self.edited.emit()

    # ---------------------------------------------------------------- Qt model API
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal:
                return COLUMNS[section][1]
            return str(section + 1)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        shown = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return shown if COLUMNS[index.column()][0] in READ_ONLY else shown | Qt.ItemFlag.ItemIsEditable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        key = COLUMNS[index.column()][0]
        if key == "tool_probe":
            return self._verdict_data(index.row(), role)
        embeds = key == "model" and self.only_embeds(index.row())
        if role == Qt.ItemDataRole.DisplayRole and embeds:
            return f"{self._cell_text(row, key, False)}  {EMBEDDINGS_TAG}"
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._cell_text(row, key, role == Qt.ItemDataRole.EditRole)
        issues = self._issues.get((index.row(), key), [])
        if role == Qt.ItemDataRole.ToolTipRole and (issues or embeds):
            return "\n".join([issue.message for issue in issues] + ([EMBEDDINGS_NOTE] if embeds else []))
        if role == Qt.ItemDataRole.BackgroundRole and issues:
            return background(Tone.BAD if any(i.severity == "error" for i in issues) else Tone.WARNING)
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        row = self._rows[index.row()]
        key = COLUMNS[index.column()][0]
        if key == "num_ctx":
            options = row.setdefault("options", {})
            options["num_ctx"] = int(value) if value else None
        elif key == "backends":
            row["backends"] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        elif key == "fallbacks":
            row["fallbacks"] = [] if value in ("", NO_FALLBACK, None) else [str(value)]
        else:
            row[key] = str(value).strip()
        self.dataChanged.emit(index, index)
        self.edited.emit()
        return True

    def _verdict_data(self, row: int, role: int) -> Any:
        if self.only_embeds(row):  # nothing to probe: the model cannot chat
            if role == Qt.ItemDataRole.DisplayRole:
                return "—"
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Tool calls do not apply: this model only makes embeddings"
            return text_colour(Tone.MUTED) if role == Qt.ItemDataRole.ForegroundRole else None
        saved = self.verdict(row)
        if role == Qt.ItemDataRole.DisplayRole:
            return _BADGES[saved.outcome][0] if saved else NOT_PROBED
        if role == Qt.ItemDataRole.ForegroundRole:
            return text_colour(_BADGES[saved.outcome][1] if saved else Tone.MUTED)
        if role == Qt.ItemDataRole.ToolTipRole:
            if saved is None:
                return "Not probed with this model and context: select the row and press Probe tool calls"
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(saved.at))
            ctx = f"{saved.num_ctx:,}" if saved.num_ctx else "the default"
            return (
                f"{saved.verdict}\nProbed {when} with {saved.model} at a context of {ctx} tokens: "
                f"a working call in {saved.worked} of {saved.runs} runs."
            )
        return None

    @staticmethod
    def _cell_text(row: dict[str, Any], key: str, editing: bool) -> Any:
        if key == "num_ctx":
            ctx = (row.get("options") or {}).get("num_ctx")
            if editing:
                return ctx or 0
            return f"{ctx:,}" if ctx else DEFAULT_CTX
        if key == "backends":
            return ", ".join(row.get("backends") or [])
        if key == "fallbacks":
            return ", ".join(row.get("fallbacks") or []) or ("" if editing else NO_FALLBACK)
        return row.get(key, "")


class HostsEditor(QListWidget):
    """The Ollama hosts a mapping sends requests to, one checkbox each; the last checked host
    cannot be unchecked (a mapping needs at least one)."""

    def __init__(self, names: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hostsEditor")
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        self.itemChanged.connect(self._keep_one)

    def checked(self) -> list[str]:
        return [item.text() for item in self._items() if item.checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: list[str]) -> None:
        for item in self._items():
            item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)

    def _items(self) -> list[QListWidgetItem]:
        return [self.item(i) for i in range(self.count())]

    def _keep_one(self, item: QListWidgetItem) -> None:
        if not self.checked():
            item.setCheckState(Qt.CheckState.Checked)


class MappingDelegate(QStyledItemDelegate):
    """Editors per column: model picker, host checkboxes, fallback list, context spin box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.installed_models: list[str] = []
        self.backend_names: list[str] = ["local"]
        self.fallback_targets: list[str] = []

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        key = COLUMNS[index.column()][0]
        if key == "model":
            combo = QComboBox(parent)
            combo.setEditable(True)
            combo.addItems(self.installed_models)
            combo.setObjectName("modelEditor")
            return combo
        if key == "backends":
            return HostsEditor(self.backend_names, parent)
        if key == "fallbacks":
            combo = QComboBox(parent)
            name = index.sibling(index.row(), 0).data()
            combo.addItems([NO_FALLBACK, *[t for t in self.fallback_targets if t != name]])
            return combo
        if key == "num_ctx":
            spin = QSpinBox(parent)
            spin.setRange(0, 2_097_152)
            spin.setSingleStep(4096)
            spin.setSpecialValueText(DEFAULT_CTX)
            spin.setObjectName("contextEditor")
            return spin
        editor: QWidget = super().createEditor(parent, option, index)
        return editor

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        value = index.data(Qt.ItemDataRole.EditRole)
        if isinstance(editor, HostsEditor):
            editor.set_checked(str(value).split(", "))
        elif isinstance(editor, QComboBox):
            if editor.isEditable():
                editor.setEditText(str(value))
            else:
                editor.setCurrentText(str(value) or NO_FALLBACK)
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value or 0))
        else:
            super().setEditorData(editor, index)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: Index) -> None:
        if isinstance(editor, HostsEditor):  # all the hosts at once, over the rows below
            rows = editor.sizeHintForRow(0) * editor.count() + 2 * editor.frameWidth()
            rect = option.rect
            editor.setGeometry(QRect(rect.x(), rect.y(), rect.width(), max(rect.height(), rows)))
            return
        super().updateEditorGeometry(editor, option, index)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        if isinstance(editor, HostsEditor):
            model.setData(index, editor.checked())
        elif isinstance(editor, QComboBox):
            model.setData(index, editor.currentText())
        elif isinstance(editor, QSpinBox):
            model.setData(index, editor.value())
        else:
            super().setModelData(editor, model, index)
