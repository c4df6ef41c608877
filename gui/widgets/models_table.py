"""Table model for the installed models: facts from Ollama, loaded state and a fit badge."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QWidget

from core.cli.format import human_bytes
from core.config.schema import Config, ModelOptions
from core.hardware.facts import HardwareInfo
from core.hardware.fit import FitEstimate, ModelGeometry, Placement, estimate_on
from core.ollama.load_options import effective_num_ctx
from core.ollama.models import InstalledModel, LoadedModel, ModelDetails
from core.ollama.names import full_name
from core.setup.recommend import FitLevel, rate
from gui.palette import Tone, background

Index = QModelIndex | QPersistentModelIndex

COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Model"),
    ("size", "Size"),
    ("family", "Family"),
    ("parameters", "Parameters"),
    ("quantization", "Quantization"),
    ("context", "Max context"),
    ("tools", "Tools"),
    ("loaded", "Loaded"),
    ("fits", "Fits"),
)
COL = {key: i for i, (key, _title) in enumerate(COLUMNS)}
#: What the Tools column says of a model that makes embeddings.
EMBEDDINGS = "embeddings"

#: Where sortable values live (sizes as numbers, not "4.7 GB").
SORT_ROLE = Qt.ItemDataRole.UserRole

#: The Fits badge's tint per rating (drawn from the palette in use at paint time).
_LEVEL_TONES = {FitLevel.GOOD: Tone.GOOD, FitLevel.SO_SO: Tone.WARNING, FitLevel.BAD: Tone.BAD}


@dataclass(frozen=True)
class ModelRow:
    """Everything one row shows.

    Attributes:
        used_by: names of the mappings that use this model.
        fit_ctx: the context size the fit badge was estimated for (what its mappings ask for).
        fit_problem: why there is no estimate (metadata missing), when there is none.
    """

    model: InstalledModel
    details: ModelDetails | None = None
    loaded: LoadedModel | None = None
    fit: FitEstimate | None = None
    fit_ctx: int | None = None
    fit_problem: str = ""
    used_by: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.model.name


def build_row(
    model: InstalledModel,
    details: ModelDetails | str | None,
    loaded: LoadedModel | None,
    config: Config,
    hardware: HardwareInfo | None,
) -> ModelRow:
    """A row, with the fit estimated at the largest context the model's mappings ask for.

    ``details`` is what ``/api/show`` said, or the error message when it could not be read.
    """
    users = [m for m in config.mappings if full_name(m.model) == full_name(model.name)]
    server = config.ollama_server
    contexts = [effective_num_ctx(m.options, server.context_length) for m in users]
    ctx = max(contexts) if contexts else effective_num_ctx(ModelOptions(), server.context_length)
    known = details if isinstance(details, ModelDetails) else None
    row = ModelRow(model, known, loaded, used_by=tuple(m.name for m in users), fit_ctx=ctx)
    if known is None or hardware is None:
        return replace(
            row, fit_problem=details if isinstance(details, str) else "Waiting for the model's details."
        )
    try:
        geometry = ModelGeometry.from_details(known, model.size)
    except ValueError as exc:
        return replace(row, fit_problem=str(exc))
    return replace(row, fit=estimate_on(geometry, hardware, server, num_ctx=ctx))


def fit_badge(row: ModelRow) -> str:
    """``GPU @ 32k``, ``22/29 layers GPU @ 32k``, ``CPU @ 32k``, ``too big @ 32k`` or ``?``
    (the rule is core's :func:`core.setup.recommend.rate`, which the setup uses too)."""
    return "?" if row.fit is None else rate(row.fit).label


def loaded_text(loaded: LoadedModel | None) -> str:
    if loaded is None:
        return "—"
    if loaded.kept_forever:
        until = "kept loaded"
    elif loaded.expires_at is not None:
        until = f"until {loaded.expires_at.astimezone().strftime('%H:%M')}"
    else:
        until = ""
    return " · ".join(x for x in (loaded.processor, until) if x)


class ModelsTableModel(QAbstractTableModel):
    """Read-only rows of :class:`ModelRow`, sortable through :data:`SORT_ROLE`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ModelRow] = []

    def rows(self) -> list[ModelRow]:
        return list(self._rows)

    def row_for(self, name: str) -> ModelRow | None:
        return next((r for r in self._rows if r.name == name), None)

    def set_rows(self, rows: list[ModelRow]) -> None:
        if [r.name for r in rows] == [r.name for r in self._rows]:
            self._rows = list(rows)  # same models: update cells in place, keep selection and scroll
            if rows:
                self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    # ---------------------------------------------------------------- Qt model API
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][1]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, key)
        if role == SORT_ROLE:
            return self._sort_value(row, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, key)
        if role == Qt.ItemDataRole.BackgroundRole and key == "fits" and row.fit is not None:
            return background(_LEVEL_TONES[rate(row.fit).level])
        if role == Qt.ItemDataRole.BackgroundRole and key == "loaded" and row.loaded is not None:
            return background(Tone.GOOD)
        if (
            role == Qt.ItemDataRole.BackgroundRole
            and key == "tools"
            and row.details
            and row.details.makes_embeddings
        ):
            return background(Tone.INFO)
        if role == Qt.ItemDataRole.TextAlignmentRole and key in ("size", "context"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(row: ModelRow, key: str) -> str:
        m, d = row.model, row.details
        if key == "name":
            return m.name
        if key == "size":
            return human_bytes(m.size)
        if key == "family":
            return m.family or (d.family if d else "")
        if key == "parameters":
            return m.parameter_size
        if key == "quantization":
            return m.quantization
        if key == "context":
            return f"{d.context_length:,}" if d and d.context_length else "?"
        if key == "tools":
            if d is not None and d.makes_embeddings:  # an embedding model: tools do not apply
                return EMBEDDINGS if d.only_embeds else f"{'✓' if d.supports_tools else '—'} + {EMBEDDINGS}"
            return "?" if d is None else ("✓" if d.supports_tools else "—")
        if key == "loaded":
            return loaded_text(row.loaded)
        return fit_badge(row)

    @staticmethod
    def _sort_value(row: ModelRow, key: str) -> Any:
        # Byte counts as floats: PySide6 6.11 puts a Python int above 2**31 below a smaller one (a
        # 4.7 GB model under a 2.0 GB one); floats hold any size exactly up to 2**53 bytes.
        if key == "size":
            return float(row.model.size)
        if key == "context":
            return (row.details.context_length if row.details else None) or 0
        if key == "loaded":
            return float(row.loaded.size_vram) if row.loaded else -1.0
        if key == "fits":
            fit = row.fit
            if fit is None:
                return -1
            rank = {Placement.FULL: 3, Placement.PARTIAL: 2, Placement.CPU: 1}[fit.placement]
            return rank if fit.fits else 0
        return ModelsTableModel._text(row, key).lower()

    @staticmethod
    def _tooltip(row: ModelRow, key: str) -> str | None:
        if key == "tools" and row.details is not None and row.details.makes_embeddings:
            if row.details.only_embeds:
                return "Makes embeddings (/v1/embeddings) and cannot chat: chat requests to it are refused"
            return "Chats, and makes embeddings too (/v1/embeddings)"
        if key == "fits":
            if row.fit is None:
                return row.fit_problem or "No estimate yet."
            used = ", ".join(row.used_by)
            why = f"context {row.fit_ctx:,} as mapping(s) {used} ask" if used else "Ollama's default context"
            return f"{row.fit.summary()}\n(estimated for {why})"
        if key == "name" and row.used_by:
            return "Used by mapping(s): " + ", ".join(row.used_by)
        if key == "loaded" and row.loaded is not None:
            ctx = f", context {row.loaded.context_length:,}" if row.loaded.context_length else ""
            return f"{human_bytes(row.loaded.size)} in memory, {human_bytes(row.loaded.size_vram)} of it VRAM{ctx}"
        if key == "name" and row.model.modified_at is not None:
            age = dt.datetime.now(dt.UTC) - row.model.modified_at
            return f"Pulled {age.days} day(s) ago"
        return None
