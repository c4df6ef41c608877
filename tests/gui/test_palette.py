"""Colours in light and dark: every coloured text reads, and a palette switch recolours the window."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLabel, QStyleFactory, QWidget
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.schema import GatewaySettings, OllamaBackend
from core.ollama.models import InstalledModel, LoadedModel
from gui import palette as colours
from gui.controller import AppController
from gui.dialogs.preferences import apply_theme
from gui.main_window import PANELS
from gui.palette import MARK_CONTRAST, TEXT_CONTRAST, Tone, contrast
from gui.widgets.banner import LEVELS, Banner
from gui.widgets.models_table import COL, ModelRow, ModelsTableModel
from gui.widgets.monitor_graphs import LatencyGraphs
from tests.core.gateway_support import free_port
from tests.fakes.fake_ollama import FakeOllama
from tests.gui.conftest import Run
from tests.gui.test_monitor_panel import NOW, rec

GUI = Path(colours.__file__).parent
ROLE = QPalette.ColorRole
COLOUR = re.compile(r"color:\s*(#[0-9a-fA-F]{6})")
BANNER = re.compile(r"background: (#[0-9a-fA-F]{6}); border: 1px solid (#[0-9a-fA-F]{6})")


def light() -> QPalette:
    style = QStyleFactory.create("Fusion")
    assert style is not None
    return style.standardPalette()


APPEARANCES = {"light": light, "dark": colours.dark_palette}


@pytest.fixture
def appearance(qapp: QApplication) -> Iterator[None]:
    """Put the application's palette back after a test that switches it."""
    before = QPalette(qapp.palette())
    yield
    qapp.setPalette(before)


@pytest.mark.parametrize("name", APPEARANCES)
@pytest.mark.parametrize("tone", list(Tone))
def test_each_tone_reads_on_the_window_on_views_and_on_alternate_rows(name: str, tone: Tone) -> None:
    palette = APPEARANCES[name]()
    text = colours.text_colour(tone, palette)
    for role in (ROLE.Window, ROLE.Base, ROLE.AlternateBase):
        assert contrast(text, palette.color(role)) >= TEXT_CONTRAST, (tone, role, text.name())
    mark = colours.mark_colour(tone, palette)
    assert contrast(mark, palette.color(ROLE.Base)) >= MARK_CONTRAST


@pytest.mark.parametrize("name", APPEARANCES)
@pytest.mark.parametrize("tone", [Tone.GOOD, Tone.WARNING, Tone.BAD, Tone.INFO])
def test_tinted_backgrounds_keep_the_palettes_text_readable_and_show_their_tone(
    name: str, tone: Tone
) -> None:
    palette = APPEARANCES[name]()
    cell = colours.background(tone, palette)
    assert contrast(palette.color(ROLE.Text), cell) >= TEXT_CONTRAST
    assert cell != palette.color(ROLE.Base), "a tinted cell looks different from a plain one"
    back, fore = colours.banner_colours(tone, palette)
    assert contrast(fore, back) >= TEXT_CONTRAST
    assert contrast(palette.color(ROLE.WindowText), back) >= TEXT_CONTRAST  # the banner's button


@pytest.mark.parametrize("name", APPEARANCES)
def test_graph_lines_stand_out_from_the_plot_and_from_each_other(name: str) -> None:
    palette = APPEARANCES[name]()
    lines = colours.series_colours(palette)
    assert all(contrast(c, palette.color(ROLE.Base)) >= MARK_CONTRAST for c in lines)
    assert len({c.name() for c in lines}) == len(lines)


def test_dark_is_dark_and_tones_change_with_it() -> None:
    assert colours.is_dark(colours.dark_palette()) and not colours.is_dark(light())
    for tone in Tone:  # the same hue cannot read on both: each tone has a light and a dark shade
        assert colours.css(tone, light()) != colours.css(tone, colours.dark_palette())


def test_readable_leaves_a_colour_that_already_reads_and_mends_one_that_does_not() -> None:
    white, black = QColor("#ffffff"), QColor("#000000")
    assert colours.readable(QColor("#1b4aa0"), [white]).name() == "#1b4aa0"
    mended = colours.readable(QColor("#f59e0b"), [white])  # amber on white: 2.1 to 1
    assert contrast(mended, white) >= TEXT_CONTRAST and mended.lightnessF() < QColor("#f59e0b").lightnessF()
    lifted = colours.readable(QColor("#1b4aa0"), [QColor("#1f2023")])
    assert contrast(lifted, QColor("#1f2023")) >= TEXT_CONTRAST and lifted.lightnessF() > 0.4
    assert contrast(colours.readable(QColor("#808080"), [black, white]), white) > 1  # no hue: still ends


def test_a_banner_already_shown_is_recoloured_when_the_palette_switches(
    qtbot: QtBot, qapp: QApplication, appearance: None
) -> None:
    qapp.setPalette(light())
    banner = Banner()
    qtbot.addWidget(banner)
    shown = {}
    for level in LEVELS:
        banner.show_message("Ollama is not answering", level, "Retry")
        back, fore = BANNER.search(banner.styleSheet()).groups()  # type: ignore[union-attr]
        assert contrast(QColor(fore), QColor(back)) >= TEXT_CONTRAST
        shown[level] = back
    assert len(set(shown.values())) == len(LEVELS), "error, warning and info look different"

    qapp.setPalette(colours.dark_palette())
    back, fore = BANNER.search(banner.styleSheet()).groups()  # type: ignore[union-attr]
    assert QColor(back).lightness() < 110, "a dark banner on a dark window"
    assert contrast(QColor(fore), QColor(back)) >= TEXT_CONTRAST
    assert back != shown["info"]


def test_a_tinted_label_follows_the_palette_and_can_be_untinted(
    qtbot: QtBot, qapp: QApplication, appearance: None
) -> None:
    qapp.setPalette(light())
    label = QLabel("Port 4000 is taken")
    qtbot.addWidget(label)
    colours.tint(label, Tone.WARNING)
    on_light = COLOUR.search(label.styleSheet()).group(1)  # type: ignore[union-attr]
    qapp.setPalette(colours.dark_palette())
    on_dark = COLOUR.search(label.styleSheet()).group(1)  # type: ignore[union-attr]
    assert on_light != on_dark
    assert contrast(QColor(on_dark), colours.dark_palette().color(ROLE.Window)) >= TEXT_CONTRAST
    colours.tint(label, None)
    assert label.styleSheet() == ""
    qapp.setPalette(light())
    assert label.styleSheet() == "", "an untinted label stays untinted"


def test_no_colour_is_written_out_in_gui_outside_the_palette_module() -> None:
    literal = re.compile(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|QColor\(\s*\d|QColor\(\s*[\"']")
    found = [
        f"{path.relative_to(GUI.parent)}:{number}: {line.strip()}"
        for path in sorted(GUI.rglob("*.py"))
        if path != Path(colours.__file__)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if literal.search(line)
    ]
    assert not found, "colours belong in gui/palette.py:\n" + "\n".join(found)


def test_a_widget_that_follows_the_palette_is_freed_when_let_go(qapp: QApplication, appearance: None) -> None:
    banner = Banner()
    colours.tint(banner.text, Tone.BAD)
    gone = weakref.ref(banner)
    del banner  # by reference counting alone: Qt windows are often let go of that way
    assert gone() is None, "following the palette kept the widget alive"
    qapp.setPalette(colours.dark_palette())  # and nobody is left to restyle
    qapp.setPalette(light())


def test_the_models_tables_loaded_badge_is_tinted_from_the_palette_in_use(
    qapp: QApplication, appearance: None
) -> None:
    installed = InstalledModel(
        "qwen2.5-coder:7b", 4_700_000_000, "d1", None, "qwen2", ("qwen2",), "7.6B", "Q4_K_M", "gguf"
    )
    loaded = LoadedModel(
        "qwen2.5-coder:7b", 4_700_000_000, 4_700_000_000, 32768, None, "d1", "qwen2", "7.6B", "Q4_K_M"
    )
    model = ModelsTableModel()
    model.set_rows([ModelRow(installed, loaded=loaded)])
    index = model.index(0, COL["loaded"])
    tints = {}
    for name, make in APPEARANCES.items():
        qapp.setPalette(make())
        tint = model.data(index, Qt.ItemDataRole.BackgroundRole)
        assert contrast(tint, make().color(ROLE.Text)) >= TEXT_CONTRAST
        assert tint.green() > tint.red(), "loaded reads as good"
        tints[name] = tint.name()
    assert tints["light"] != tints["dark"]


def test_the_monitor_graphs_and_legend_are_recoloured_when_the_palette_switches(
    qtbot: QtBot, qapp: QApplication, appearance: None
) -> None:
    qapp.setPalette(light())
    graphs = LatencyGraphs()
    qtbot.addWidget(graphs)
    graphs.add(rec("claude-*sonnet*", at=NOW - 5))
    graphs.add(rec(at=NOW - 3, ok=False, status=500))
    graphs.show()
    graphs.redraw(NOW)
    plot = graphs.plot_widgets["latency_s"]
    line = graphs.plots["latency_s"].listDataItems()[0]
    before = (plot.backgroundBrush().color().name(), line.opts["pen"].color().name(), graphs.legend.text())

    qapp.setPalette(colours.dark_palette())
    base = colours.dark_palette().color(ROLE.Base)
    assert plot.backgroundBrush().color() == base
    assert contrast(line.opts["pen"].color(), base) >= MARK_CONTRAST
    after = (plot.backgroundBrush().color().name(), line.opts["pen"].color().name(), graphs.legend.text())
    assert all(a != b for a, b in zip(before, after, strict=True)), (before, after)
    for found in COLOUR.findall(graphs.legend.text()):
        assert contrast(QColor(found), colours.dark_palette().color(ROLE.Window)) >= MARK_CONTRAST
    graphs.stop()


def _texts_and_colours(root: QWidget) -> Iterator[tuple[str, QColor, QColor]]:
    """(where, text colour, background) for every colour a style sheet, a label or a table
    cell in ``root`` shows, against the background it is shown on."""
    palette = QApplication.palette()
    for widget in [root, *root.findChildren(QWidget)]:
        on = palette.color(ROLE.Window)
        holder: QWidget | None = widget
        while holder is not None:  # inside a banner: on the banner's own background
            if isinstance(holder, Banner):
                on = QColor(BANNER.search(holder.styleSheet()).group(1))  # type: ignore[union-attr]
                break
            holder = holder.parentWidget()
        texts = [widget.styleSheet(), widget.text() if isinstance(widget, QLabel) else ""]
        for found in COLOUR.findall(" ".join(texts)):
            yield widget.objectName() or type(widget).__name__, QColor(found), on
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            for row in range(min(model.rowCount(QModelIndex()), 50)):
                column = 0
                while (index := model.index(row, column)).isValid():  # list models hide columnCount
                    column += 1
                    back = model.data(index, Qt.ItemDataRole.BackgroundRole)
                    fore = model.data(index, Qt.ItemDataRole.ForegroundRole)
                    back = back.color() if isinstance(back, QBrush) else back
                    fore = fore.color() if isinstance(fore, QBrush) else fore
                    where = f"{widget.objectName()}[{row},{column - 1}]"
                    if isinstance(back, QColor) or isinstance(fore, QColor):
                        yield (
                            where,
                            fore if isinstance(fore, QColor) else palette.color(ROLE.Text),
                            back if isinstance(back, QColor) else palette.color(ROLE.Base),
                        )


@pytest.mark.timeout(180)
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_every_coloured_text_in_the_window_reads_on_its_background(
    theme: str, qtbot: QtBot, install: Installation, fake_ollama: FakeOllama, arun: Run, appearance: None
) -> None:
    config = install.config.model_copy(
        update={
            "backends": [OllamaBackend(name="local", url=fake_ollama.url)],
            "gateway": GatewaySettings(port=free_port(), start_on_launch=False),
            "ui": install.config.ui.model_copy(update={"theme": theme}),
        }
    )
    install.store.save(config)
    install.loaded.config = config
    app = AppController(install, use_tray=False)
    app.start()
    try:
        assert colours.is_dark() == (theme == "dark")
        arun(app.watcher.refresh())
        window = app.window
        window.show()
        window.set_gateway_status("failed", "Gateway failed")
        seen = 0
        for key, _title in PANELS:
            window.show_panel(key)
            for where, text, back in _texts_and_colours(window):
                seen += 1
                assert contrast(text, back) >= TEXT_CONTRAST, (theme, key, where, text.name(), back.name())
        assert seen > 10, "the walk found the window's colours"
    finally:  # the gateway's engine loads in the background: let it finish before quitting
        qtbot.waitUntil(lambda: app.gateway.state != "loading", timeout=120_000)
        arun(app.quit(), timeout_ms=60_000)
        QApplication.instance().setStyle("Fusion")  # type: ignore[union-attr]


def test_appearance_system_hands_the_palette_back_to_the_desktop(
    qtbot: QtBot, qapp: QApplication, appearance: None
) -> None:
    label = QLabel("Does NOT fit")
    qtbot.addWidget(label)
    colours.tint(label, Tone.BAD)
    apply_theme("dark")
    assert colours.is_dark()
    on_dark = label.styleSheet()
    apply_theme("system")
    assert qapp.palette().resolveMask() == 0, (
        "no palette of GateDeck's: the desktop's light/dark switches reach it"
    )
    assert not colours.is_dark() and label.styleSheet() != on_dark
    apply_theme("light")
    assert not colours.is_dark()
