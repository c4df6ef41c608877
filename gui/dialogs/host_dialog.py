"""Add or edit one Ollama host: a name and an address, tried and checked before they are saved."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.config.holder import ConfigHolder
from core.config.host_edits import with_host
from core.config.schema import Config, OllamaBackend
from core.ollama.host_check import HostCheck, check_url
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, tint

#: Saves the new config and hot-applies it; returns a short status for the user.
ApplyConfig = Callable[[Config], Awaitable[str]]
#: Checks an address that may not be saved yet.
CheckUrl = Callable[[str], Awaitable[HostCheck]]


def error_text(exc: ValueError) -> str:
    """The first of pydantic's messages (or the plain message), without pydantic's prefixes."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors(include_url=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"{where}: {message}" if where in ("name", "url") else message
    return str(exc)


class HostDialog(QDialog):
    """A host's name and address. *Test* asks the address as typed; *Save* validates through the
    config schema, shows any problem in place (the typed values stay) and saves.

    Args:
        holder: the config in use.
        apply: saves and hot-applies a config (the gateway bridge's ``apply``).
        ops: where the dialog's background work runs (its owner's, shut down with it).
        editing: the host being edited; ``None`` to add one.
        check: checks an address (default: asks it over HTTP).

    Signals:
        saved(str): the host was saved; carries its name.
    """

    saved = Signal(str)

    def __init__(
        self,
        holder: ConfigHolder,
        apply: ApplyConfig,
        ops: BackgroundOps,
        *,
        editing: OllamaBackend | None = None,
        check: CheckUrl = check_url,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("hostDialog")
        self.setWindowTitle("Edit Ollama host" if editing else "Add Ollama host")
        self.ops = ops
        self._holder = holder
        self._apply = apply
        self._editing = editing
        self._check = check

        self.name_field = QLineEdit(editing.name if editing else self._free_name())
        self.name_field.setObjectName("hostName")
        self.name_field.setToolTip("A short name mappings use for this host: letters, digits, . _ -")
        self.url_field = QLineEdit(editing.url if editing else "")
        self.url_field.setObjectName("hostUrl")
        self.url_field.setPlaceholderText("http://gpu-box.local:11434")
        self.check_label = QLabel()
        self.check_label.setObjectName("hostCheck")
        self.check_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setObjectName("hostError")
        self.error_label.setWordWrap(True)
        tint(self.error_label, Tone.BAD)
        self.error_label.hide()

        self.test_button = QPushButton("Test")
        self.test_button.setObjectName("testHostAddress")
        self.test_button.clicked.connect(self._on_test_button_clicked)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("saveHost")
        self.save_button.setDefault(True)
        buttons.addButton(self.test_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.accepted.connect(self._on_save_button_clicked)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Name", self.name_field)
        form.addRow("Address", self.url_field)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.check_label)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def host(self) -> OllamaBackend:
        """The host as typed; raises ``ValueError`` (pydantic's) when the schema refuses it."""
        return OllamaBackend(name=self.name_field.text().strip(), url=self.url_field.text().strip())

    async def test(self) -> HostCheck | None:
        """Ask the typed address; shows what answered (or why nothing did)."""
        try:
            url = self.host().url
        except ValueError as exc:
            self._show_error(error_text(exc))
            return None
        self.error_label.hide()
        self.check_label.setText(f"Asking {url}…")
        found = await self._check(url)
        self.check_label.setText(("✓ " if found.up else "✖ ") + found.summary())
        return found

    async def save(self) -> bool:
        """Validate, save and apply; the dialog closes when it worked and says why when not."""
        replacing = self._editing.name if self._editing else None
        try:
            new = with_host(self._holder.config, self.host(), replacing=replacing)
        except ValueError as exc:
            self._show_error(error_text(exc))
            return False
        self.save_button.setEnabled(False)
        try:
            await self._apply(new)
        except Exception as exc:  # shown in place; the typed values stay
            self._show_error(f"Not saved: {exc}")
            return False
        finally:
            self.save_button.setEnabled(True)
        name = self.host().name
        self.accept()
        self.saved.emit(name)
        return True

    def _free_name(self) -> str:
        names = {b.name for b in self._holder.config.backends}
        n = 2
        while f"host-{n}" in names:
            n += 1
        return f"host-{n}"

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()

    @async_slot()
    async def _on_test_button_clicked(self) -> None:
        await self.test()

    @async_slot()
    async def _on_save_button_clicked(self) -> None:
        await self.save()
