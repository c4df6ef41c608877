"""The window's colours, derived from the application's palette so that light and dark both read.

Widgets never name a colour: they ask for a :class:`Tone` (good, warning, bad, info, muted) and
get a text colour, a background or a banner's pair computed from the palette in use. Each text
colour starts from the tone's hue and is made darker on a light window, lighter on a dark one,
until its contrast ratio (WCAG 2) is at least :data:`TEXT_CONTRAST` against every background it
may sit on; graph lines and marks get :data:`MARK_CONTRAST`. This module is the only place in
``gui/`` that writes a colour as a literal.

Colours set once into a style sheet go stale when the palette changes (*Preferences → Appearance*,
or the desktop switching to dark): :func:`follow_palette` calls a widget's restyling function
again whenever the application's palette changes, and :func:`tint` does that for a label's text
colour. Colours a model or a painter asks for at paint time (table cells) follow by themselves.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget

#: WCAG 2 AA for normal text.
TEXT_CONTRAST = 4.5
#: WCAG 2 for graphical objects (graph lines, status dots, marks).
MARK_CONTRAST = 3.0


class Tone(enum.StrEnum):
    """What a colour says."""

    GOOD = "good"
    WARNING = "warning"
    BAD = "bad"
    INFO = "info"
    MUTED = "muted"


#: Each tone's hue at full strength; the colours shown are derived from these.
_HUES = {
    Tone.GOOD: QColor("#2f9e55"),
    Tone.WARNING: QColor("#d99a1e"),
    Tone.BAD: QColor("#d23f3f"),
    Tone.INFO: QColor("#3b6fd8"),
}
#: One hue per graph series, in the order series are given them.
_SERIES = (
    "#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16", "#64748b",
)  # fmt: skip
#: How much of a tone's hue a tinted background takes, on light and on dark bases.
_TINT_LIGHT, _TINT_DARK = 0.18, 0.30

_ROLE = QPalette.ColorRole
_TINT = "gatedeckTint"


def app_palette() -> QPalette:
    """The application's palette (what every colour here is derived from by default)."""
    return QGuiApplication.palette()


# ---------------------------------------------------------------- contrast arithmetic
def luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance, 0 (black) to 1 (white)."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether the window background is dark (text on it is light)."""
    palette = palette or app_palette()
    return luminance(palette.color(_ROLE.Window)) < luminance(palette.color(_ROLE.WindowText))


def mix(a: QColor, b: QColor, share_b: float) -> QColor:
    """``a`` with ``share_b`` of ``b`` blended in, rounded to 8-bit channels (as a style sheet
    would show it)."""
    keep = 1.0 - share_b
    return QColor(
        round(a.red() * keep + b.red() * share_b),
        round(a.green() * keep + b.green() * share_b),
        round(a.blue() * keep + b.blue() * share_b),
    )


def readable(colour: QColor, backgrounds: Sequence[QColor], ratio: float = TEXT_CONTRAST) -> QColor:
    """``colour``, made lighter or darker (same hue) until its contrast against every one of
    ``backgrounds`` is at least ``ratio``; toward white when that is the side with more room."""

    def worst(c: QColor) -> float:
        return min(contrast(c, bg) for bg in backgrounds)

    if worst(colour) >= ratio:
        return QColor(colour.name())
    lighter = worst(QColor("#ffffff")) > worst(QColor("#000000"))
    hue = max(colour.hslHueF(), 0.0)  # greys have no hue (-1)
    saturation, lightness = colour.hslSaturationF(), colour.lightnessF()
    for _step in range(100):
        lightness = min(1.0, lightness + 0.01) if lighter else max(0.0, lightness - 0.01)
        found = QColor(QColor.fromHslF(hue, saturation, lightness).name())
        if worst(found) >= ratio:
            return found
    return QColor("#ffffff" if lighter else "#000000")


# ---------------------------------------------------------------- the colours
def _text_backgrounds(palette: QPalette) -> list[QColor]:
    return [palette.color(role) for role in (_ROLE.Window, _ROLE.Base, _ROLE.AlternateBase)]


def _hue(tone: Tone, palette: QPalette) -> QColor:
    """Where ``tone``'s colours start: its hue, or for muted the text faded toward the window."""
    if tone is Tone.MUTED:
        return mix(palette.color(_ROLE.WindowText), palette.color(_ROLE.Window), 0.4)
    return _HUES[tone]


def text_colour(tone: Tone, palette: QPalette | None = None) -> QColor:
    """A text colour for ``tone`` that reads on the window, on views and on alternate rows."""
    palette = palette or app_palette()
    return readable(_hue(tone, palette), _text_backgrounds(palette))


def css(tone: Tone, palette: QPalette | None = None) -> str:
    """:func:`text_colour` as style-sheet / rich-text colour (``#rrggbb``)."""
    return text_colour(tone, palette).name()


def mark_colour(tone: Tone, palette: QPalette | None = None) -> QColor:
    """A colour for a mark (status dot, cross on a graph) that stands out from the views."""
    palette = palette or app_palette()
    return readable(_hue(tone, palette), _text_backgrounds(palette), MARK_CONTRAST)


def background(tone: Tone, palette: QPalette | None = None, role: QPalette.ColorRole = _ROLE.Base) -> QColor:
    """A background tinted toward ``tone`` (a table cell, a banner) on which the palette's text
    (``Text`` on views, ``WindowText`` on the window) still reads."""
    palette = palette or app_palette()
    base = palette.color(role)
    text = palette.color(_ROLE.WindowText if role == _ROLE.Window else _ROLE.Text)
    hue = _hue(tone, palette)
    share = _TINT_DARK if is_dark(palette) else _TINT_LIGHT
    while share > 0.0:
        tinted = mix(base, hue, share)
        if contrast(tinted, text) >= TEXT_CONTRAST:
            return tinted
        share -= 0.02
    return QColor(base.name())


def banner_colours(tone: Tone, palette: QPalette | None = None) -> tuple[QColor, QColor]:
    """A banner's background and its text colour (also its border)."""
    palette = palette or app_palette()
    back = background(tone, palette, _ROLE.Window)
    return back, readable(_hue(tone, palette), [back])


def series_colours(palette: QPalette | None = None) -> list[QColor]:
    """One colour per graph series, each standing out from the plots' background (``Base``)."""
    palette = palette or app_palette()
    base = [palette.color(_ROLE.Base)]
    return [readable(QColor(hex_), base, MARK_CONTRAST) for hex_ in _SERIES]


def dark_palette() -> QPalette:
    """The palette GateDeck's dark appearance sets (with Qt's Fusion style)."""
    palette = QPalette(QColor("#34363b"), QColor("#2b2d31"))  # button, window: shades derived
    for role, hex_ in (
        (_ROLE.WindowText, "#e6e6e6"),
        (_ROLE.Base, "#1f2023"),
        (_ROLE.AlternateBase, "#2b2d31"),
        (_ROLE.Text, "#e6e6e6"),
        (_ROLE.ButtonText, "#e6e6e6"),
        (_ROLE.BrightText, "#ffffff"),
        (_ROLE.Highlight, "#3b6fd8"),
        (_ROLE.HighlightedText, "#ffffff"),
        (_ROLE.ToolTipBase, "#1f2023"),
        (_ROLE.ToolTipText, "#e6e6e6"),
        (_ROLE.PlaceholderText, "#9a9ea6"),
        (_ROLE.Link, "#7aa7ff"),
        (_ROLE.LinkVisited, "#b89cff"),
    ):
        palette.setColor(role, QColor(hex_))
    disabled = QPalette.ColorGroup.Disabled
    for role in (_ROLE.WindowText, _ROLE.Text, _ROLE.ButtonText):
        palette.setColor(disabled, role, QColor("#7c8088"))
    return palette


# ---------------------------------------------------------------- following palette changes
class _PaletteFollower(QObject):
    """Restyles its parent widget when the application's palette changes, as long as it lives.

    The application's signal, not the widget's palette events: a widget with a style sheet of
    its own holds a palette of its own, and stops hearing of its parent's changes. The restyling
    method is held weakly: a follower (a child of the widget) that held it strongly would keep a
    window Python has let go of alive for ever.
    """

    def __init__(self, widget: QWidget, restyle: Callable[[], None] | None = None) -> None:
        super().__init__(widget)
        self._restyle = weakref.WeakMethod(restyle) if restyle is not None else None
        self.tone: Tone | None = None
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.paletteChanged.connect(self.restyle)

    def restyle(self, _palette: QPalette | None = None) -> None:
        if self._restyle is None:  # a tint
            widget = self.parent()
            if isinstance(widget, QWidget):
                set_style(widget, f"color: {css(self.tone)};" if self.tone else "")
            return
        method = self._restyle()
        if method is not None:
            method()


def follow_palette(widget: QWidget, restyle: Callable[[], None]) -> None:
    """Call ``restyle`` (a bound method, of ``widget`` or of what owns it) now and again whenever
    the application's palette changes, for as long as ``widget`` lives. ``restyle`` should set
    only what differs, as :func:`set_style` does."""
    _PaletteFollower(widget, restyle).restyle()


def set_style(widget: QWidget, sheet: str) -> None:
    """``widget.setStyleSheet(sheet)`` unless it already has it (setting it restyles the
    widget and its children)."""
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)


def tint(widget: QWidget, tone: Tone | None) -> None:
    """Colour ``widget``'s text with ``tone`` (``None``: the palette's own), now and after every
    palette change. Calling it again changes the tone."""
    follower = widget.findChild(_PaletteFollower, _TINT, Qt.FindChildOption.FindDirectChildrenOnly)
    if follower is None:
        follower = _PaletteFollower(widget)
        follower.setObjectName(_TINT)
    follower.tone = tone
    follower.restyle()
