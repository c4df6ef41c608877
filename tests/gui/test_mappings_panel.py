"""The mappings panel, tried as a user editing mappings would."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from core.config.schema import Config
from gui.panels.mappings import MappingsPanel
from gui.widgets.mappings_table import COLUMNS
from tests.gui.conftest import Run

COL = {key: i for i, (key, _title) in enumerate(COLUMNS)}


def make_panel(qtbot: QtBot, install: Installation) -> tuple[MappingsPanel, ConfigHolder, list[Config]]:
    holder = ConfigHolder(install.store, install.config)
    applied: list[Config] = []

    async def apply(config: Config) -> str:
        holder.replace(config)
        applied.append(config)
        return "Saved and applied"

    panel = MappingsPanel(holder, apply)
    qtbot.addWidget(panel)
    return panel, holder, applied


def edit(panel: MappingsPanel, row: int, key: str, value: object) -> None:
    assert panel.model.setData(panel.model.index(row, COL[key]), value)


def test_shows_the_configured_mappings(qtbot: QtBot, install: Installation) -> None:
    panel, _holder, _ = make_panel(qtbot, install)
    model = panel.model
    assert model.rowCount() == len(install.config.mappings)
    assert model.index(0, COL["name"]).data() == "claude-*opus*"
    assert model.index(0, COL["model"]).data() == "qwen2.5-coder:7b"
    assert model.index(0, COL["num_ctx"]).data() == "32,768"
    assert not panel.apply_button.isEnabled(), "nothing changed yet"


def test_an_edit_applied_is_saved_and_survives_a_restart(
    qtbot: QtBot, install: Installation, arun: Run
) -> None:
    panel, holder, applied = make_panel(qtbot, install)
    edit(panel, 2, "model", "llama3.2:3b")
    edit(panel, 2, "num_ctx", 65536)
    assert panel.apply_button.isEnabled()

    assert arun(panel.apply())

    assert applied and applied[-1].mappings[2].model == "llama3.2:3b"
    reloaded = install.store.load().config
    assert reloaded.mappings[2].model == "llama3.2:3b"
    assert reloaded.mappings[2].options.num_ctx == 65536
    assert not panel.dirty
    assert panel.status.text() == "Saved and applied"


def test_a_bad_mapping_cannot_be_applied_and_says_why(qtbot: QtBot, install: Installation, arun: Run) -> None:
    panel, _holder, applied = make_panel(qtbot, install)
    edit(panel, 1, "name", "claude-*opus*")  # same as row 1
    edit(panel, 3, "name", "has space")
    errors = [(i.row, i.field) for i in panel.issues if i.severity == "error"]
    assert (1, "name") in errors and (3, "name") in errors
    assert not panel.apply_button.isEnabled()
    red = panel.model.index(3, COL["name"]).data(Qt.ItemDataRole.BackgroundRole)
    assert red is not None and red.red() > red.green()

    assert arun(panel.apply()) is False
    assert "fix the 2 problem(s)" in panel.status.text()
    assert applied == []
    assert install.store.load().config.mappings[1].name == "claude-*sonnet*", "nothing saved"


def test_warnings_for_missing_models_and_small_claude_context(qtbot: QtBot, install: Installation) -> None:
    panel, _holder, _ = make_panel(qtbot, install)
    panel.set_installed_models(["llama3.2:3b"])
    edit(panel, 0, "num_ctx", 8192)
    warnings = {(i.row, i.field) for i in panel.issues if i.severity == "warning"}
    assert (0, "num_ctx") in warnings
    assert {(r, "model") for r in range(4)} <= warnings
    pulls: list[tuple[str, str]] = []
    panel.pull_requested.connect(lambda model, host: pulls.append((model, host)))
    button = panel.issue_list.itemWidget(panel.issue_list.item(0)).findChild(
        type(panel.apply_button), "pullMissingModel"
    )
    assert button is not None
    button.click()
    assert pulls == [("qwen2.5-coder:7b", "local")]  # the only host
    assert panel.apply_button.isEnabled(), "warnings do not block Apply"
    # The model all four rows use is said once, with one Pull button.
    shown = [panel.issue_list.itemWidget(panel.issue_list.item(i)) for i in range(panel.issue_list.count())]
    pull_buttons = [
        b.text() for w in shown for b in w.findChildren(QPushButton) if b.text().startswith("Pull")
    ]
    assert pull_buttons == ["Pull qwen2.5-coder:7b"]
    listed = [w.findChild(QLabel).text() for w in shown]
    assert sum("is not installed" in text for text in listed) == 1
    assert any(text.startswith("⚠ Rows 1, 2, 3, 4, Ollama model") for text in listed)


def test_mappings_changed_elsewhere_show_at_once_and_edits_in_progress_are_kept(
    qtbot: QtBot, install: Installation
) -> None:
    panel, holder, _ = make_panel(qtbot, install)

    def with_model(row: int, model: str) -> Config:
        mappings = list(holder.config.mappings)
        mappings[row] = mappings[row].model_copy(update={"model": model})
        return holder.config.model_copy(update={"mappings": mappings})

    # The setup (or a host renamed on the Gateway panel) changes the mappings in use.
    holder.replace(with_model(0, "qwen3:8b"))
    assert panel.model.rows()[0]["model"] == "qwen3:8b"
    assert not panel.dirty and not panel.apply_button.isEnabled()

    # With an edit of the person's own in the table, the table keeps it and says what happened.
    edit(panel, 1, "num_ctx", 65536)
    holder.replace(with_model(0, "llama3.2:3b"))
    assert panel.model.rows()[1]["options"]["num_ctx"] == 65536
    assert panel.model.rows()[0]["model"] == "qwen3:8b"
    assert "changed elsewhere" in panel.status.text() and "Revert" in panel.status.text()
    panel.revert()
    assert panel.model.rows()[0]["model"] == "llama3.2:3b" and not panel.dirty


def test_add_duplicate_reorder_remove_and_revert(qtbot: QtBot, install: Installation) -> None:
    panel, _holder, _ = make_panel(qtbot, install)
    names = lambda: [r["name"] for r in panel.model.rows()]  # noqa: E731
    before = names()
    panel.table.selectRow(3)
    panel.add_mapping()
    assert names()[4] == "new-model-1"
    panel.duplicate_selected()
    assert names()[5] == "new-model-1-copy"
    panel.move_selected(-1)
    assert names()[4] == "new-model-1-copy"
    panel.table.selectRow(0)
    assert not panel.up_button.isEnabled()
    panel.remove_selected()
    assert "claude-*opus*" not in names()
    assert panel.dirty
    panel.revert()
    assert names() == before
    assert not panel.dirty


def test_a_smaller_context_for_one_tier_warns_of_reloads_and_one_click_evens_it(
    qtbot: QtBot, install: Installation
) -> None:
    panel, _holder, _ = make_panel(qtbot, install)
    edit(panel, 2, "num_ctx", 16384)  # haiku on the same model as opus and sonnet, smaller context
    reloads = [i for i in panel.issues if i.reload_model]
    assert len(reloads) == 1 and reloads[0].reload_model == "qwen2.5-coder:7b"
    assert "loads the model again" in reloads[0].message and "16,384" in reloads[0].message
    button = panel.issue_list.findChild(QPushButton, "sameLoadOptions")
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert panel.model.index(2, COL["num_ctx"]).data() == "32,768"  # the largest context wins
    assert not [i for i in panel.issues if i.reload_model]
    assert not panel.dirty, "back to what is saved: nothing left to apply"


def test_a_mapping_to_a_model_that_only_embeds_is_marked_and_the_editor_says_chat_is_refused(
    qtbot: QtBot, install: Installation
) -> None:
    panel, _holder, _ = make_panel(qtbot, install)
    panel.set_embedding_models(frozenset({"nomic-embed-text:latest"}))
    model = panel.model
    assert "[embeddings]" not in str(model.index(0, COL["model"]).data())
    edit(panel, 0, "model", "nomic-embed-text")  # the bare name of nomic-embed-text:latest
    assert model.index(0, COL["model"]).data() == "nomic-embed-text  [embeddings]"
    assert model.index(0, COL["model"]).data(Qt.ItemDataRole.EditRole) == "nomic-embed-text"
    assert model.index(0, COL["tool_probe"]).data() == "—"  # nothing to probe: it cannot chat
    assert "chat requests to this mapping are refused" in model.index(0, COL["model"]).data(
        Qt.ItemDataRole.ToolTipRole
    )
    panel.table.selectRow(1)
    assert not panel.embedding_note.isVisibleTo(panel)
    panel.table.selectRow(0)
    assert panel.embedding_note.isVisibleTo(panel)
    assert "only makes embeddings" in panel.embedding_note.text()
    assert "chat requests to it are refused" in panel.embedding_note.text()
    edit(panel, 0, "model", "qwen2.5-coder:7b")
    assert not panel.embedding_note.isVisibleTo(panel)
