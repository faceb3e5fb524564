"""The ``/stats`` chart: daily intake as bars, the end-of-day backlog as a line, in a PNG.

Drawn with Pillow rather than matplotlib (which the style guide suggests for charts): Pillow is
already a dependency for evidence images, one bar-and-line chart is a page of code, and
matplotlib would add a large dependency and about half a second of import to the process.
Pillow itself is imported inside ``render_chart``, so the bot's start never pays for it; only
the first ``/stats`` does.

The function is pure apart from reading a font: every text arrives as a plain string, already
rendered by the caller in the reader's language. Two scales, since the backlog is often many
times the daily intake: intake on the left, backlog on the right, each in its series' colour.
Pillow's default font has Latin glyphs only; pass ``font_path`` (a TrueType/OpenType font with
CJK glyphs, such as Noto Sans CJK) to draw Chinese labels.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from disputebot.cases.stats import StatsReport

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

    Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

__all__ = [
    "BACKGROUND",
    "BACKLOG_COLOUR",
    "HEIGHT",
    "INTAKE_COLOUR",
    "WIDTH",
    "Frame",
    "frame",
    "render_chart",
]

WIDTH, HEIGHT = 960, 540
BACKGROUND = (255, 255, 255)
INTAKE_COLOUR = (76, 120, 168)
BACKLOG_COLOUR = (228, 108, 10)
_INK = (40, 40, 40)
_MUTED = (110, 110, 110)
_GRID = (228, 228, 228)
_TICKS = 5  # about this many steps up each scale

# Margins: the scales' labels left and right, title and legend on top, day labels below.
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 64, 78, 44


@dataclass(frozen=True, slots=True)
class Frame:
    """The plot area in pixels (``bottom`` is the zero line) and where each day sits on it."""

    left: int
    top: int
    right: int
    bottom: int
    days: int

    @property
    def slot(self) -> float:
        """The width given to one day."""
        return (self.right - self.left) / self.days

    def x(self, index: int) -> int:
        """The centre of day ``index`` (0 is the oldest)."""
        return round(self.left + (index + 0.5) * self.slot)

    def y(self, value: float, top_value: float) -> int:
        return round(self.bottom - (self.bottom - self.top) * value / top_value)


def frame(width: int, height: int, days: int) -> Frame:
    """Where ``render_chart`` puts the plot area in an image of this size."""
    return Frame(_LEFT, _TOP, width - _RIGHT, height - _BOTTOM, max(days, 1))


def render_chart(
    report: StatsReport,
    *,
    title: str,
    intake_label: str,
    backlog_label: str,
    day_label: Callable[[date], str] = lambda day: day.strftime("%m-%d"),
    width: int = WIDTH,
    height: int = HEIGHT,
    font_path: str | None = None,
) -> bytes:
    """Draw the report's daily series as a PNG and return its bytes.

    Args:
        report: what ``cases.stats.compute`` returned; only ``days`` is drawn.
        title: the heading, e.g. "Last 30 days (UTC)".
        intake_label: the legend text for the bars (cases filed per day).
        backlog_label: the legend text for the line (open cases at the end of each day).
        day_label: how a day is written under the axis (month-day by default).
        width, height: the image size in pixels.
        font_path: a TrueType/OpenType font for every text; Pillow's default font otherwise.
    """
    from PIL import Image, ImageDraw  # noqa: PLC0415  (only /stats pays for the import)

    points = report.days
    box = frame(width, height, len(points))
    intake_top, intake_step = _scale(max((p.intake for p in points), default=0))
    backlog_top, backlog_step = _scale(max((p.backlog for p in points), default=0))
    fonts = _Fonts(font_path)

    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    _heading(
        draw, fonts, width, title=title, intake_label=intake_label, backlog_label=backlog_label
    )

    # Scales: gridlines follow the intake scale; the backlog scale has its own ticks on the right.
    for value in _ticks(intake_top, intake_step):
        y = box.y(value, intake_top)
        if value:
            draw.line([(box.left, y), (box.right, y)], fill=_GRID)
        _text(draw, (box.left - 8, y), _count(value), fonts.small, INTAKE_COLOUR, anchor="rm")
    for value in _ticks(backlog_top, backlog_step):
        y = box.y(value, backlog_top)
        draw.line([(box.right, y), (box.right + 4, y)], fill=BACKLOG_COLOUR)
        _text(draw, (box.right + 8, y), _count(value), fonts.small, BACKLOG_COLOUR, anchor="lm")

    # Bars, with their values above them.
    half_bar = max(1, math.floor(box.slot * 0.35))
    for index, point in enumerate(points):
        if not point.intake:
            continue
        x, y = box.x(index), box.y(point.intake, intake_top)
        draw.rectangle([(x - half_bar, y), (x + half_bar, box.bottom - 1)], fill=INTAKE_COLOUR)
        _text(draw, (x, y - 3), _count(point.intake), fonts.tiny, _INK, anchor="md")

    # Axes over the bars, the line over everything.
    draw.line([(box.left, box.top), (box.left, box.bottom)], fill=_MUTED)
    draw.line([(box.right, box.top), (box.right, box.bottom)], fill=_MUTED)
    draw.line([(box.left, box.bottom), (box.right, box.bottom)], fill=_INK)
    _day_axis(draw, fonts, box, [day_label(p.day) for p in points])
    _backlog_line(draw, fonts, box, [p.backlog for p in points], backlog_top)

    out = io.BytesIO()
    # Level 3 of 9: half the time of the default level for a file about a quarter larger.
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


class _Fonts:
    def __init__(self, path: str | None) -> None:
        from PIL import ImageFont  # noqa: PLC0415

        def load(size: int) -> Font:
            if path is None:
                return ImageFont.load_default(size)
            return ImageFont.truetype(path, size)

        self.title = load(20)
        self.normal = load(14)
        self.small = load(12)
        self.tiny = load(11)


def _heading(
    draw: ImageDraw.ImageDraw,
    fonts: _Fonts,
    width: int,
    *,
    title: str,
    intake_label: str,
    backlog_label: str,
) -> None:
    _text(draw, (width // 2, 14), title, fonts.title, _INK, anchor="mt")
    # The legend, centred under the title: a bar swatch, then a line-and-dot swatch.
    gap, swatch = 28, 22
    intake_width = swatch + 6 + draw.textlength(intake_label, font=fonts.normal)
    backlog_width = swatch + 6 + draw.textlength(backlog_label, font=fonts.normal)
    x = round((width - intake_width - gap - backlog_width) / 2)
    y = 52
    draw.rectangle([(x, y - 6), (x + swatch, y + 6)], fill=INTAKE_COLOUR)
    _text(draw, (x + swatch + 6, y), intake_label, fonts.normal, _INK, anchor="lm")
    x += round(intake_width) + gap
    draw.line([(x, y), (x + swatch, y)], fill=BACKLOG_COLOUR, width=3)
    _dot(draw, (x + swatch // 2, y), 4)
    _text(draw, (x + swatch + 6, y), backlog_label, fonts.normal, _INK, anchor="lm")


def _day_axis(draw: ImageDraw.ImageDraw, fonts: _Fonts, box: Frame, labels: list[str]) -> None:
    """A tick per day; a label on as many as fit side by side, always on the last (today)."""
    if not labels:
        return
    widest = max(draw.textlength(label, font=fonts.small) for label in labels)
    every = max(1, math.ceil((widest + 10) / box.slot))
    last = len(labels) - 1
    for index, label in enumerate(labels):
        x = box.x(index)
        labelled = (last - index) % every == 0
        draw.line([(x, box.bottom), (x, box.bottom + (6 if labelled else 3))], fill=_INK)
        if labelled:
            _text(draw, (x, box.bottom + 9), label, fonts.small, _INK, anchor="mt")


def _backlog_line(
    draw: ImageDraw.ImageDraw, fonts: _Fonts, box: Frame, values: list[int], top: float
) -> None:
    if not values:
        return
    points = [(box.x(i), box.y(v, top)) for i, v in enumerate(values)]
    if len(points) > 1:
        draw.line(points, fill=BACKLOG_COLOUR, width=3, joint="curve")
    for point in points:
        _dot(draw, point, 3)
    # The latest value, where staff look first (right-aligned, clear of the scale), and the
    # peak when it is far enough from it for both labels to fit.
    last = len(values) - 1
    x, y = points[last]
    _text(draw, (x + 4, y - 8), _count(values[last]), fonts.small, BACKLOG_COLOUR, anchor="rd")
    peak = max(range(len(values)), key=lambda i: (values[i], i))
    if (last - peak) * box.slot > 60:
        x, y = points[peak]
        _text(draw, (x, y - 8), _count(values[peak]), fonts.small, BACKLOG_COLOUR, anchor="md")


def _dot(draw: ImageDraw.ImageDraw, centre: tuple[int, int], radius: int) -> None:
    x, y = centre
    draw.ellipse([(x - radius, y - radius), (x + radius, y + radius)], fill=BACKLOG_COLOUR)


def _text(
    draw: ImageDraw.ImageDraw,
    at: tuple[float, float],
    text: str,
    font: Font,
    fill: tuple[int, int, int],
    *,
    anchor: str,
) -> None:
    draw.text(at, text, font=font, fill=fill, anchor=anchor)


def _scale(peak: int) -> tuple[int, int]:
    """The top of a scale and its step.

    The step is 1, 2, 2.5 or 5 times a power of ten (2.5 only where that is a whole number),
    the smallest giving at most ``_TICKS`` steps up to ``peak``; the top is the first step at
    or above ``peak``. An empty scale still shows ``_TICKS`` steps of 1.
    """
    if peak <= 0:
        return _TICKS, 1
    rough = peak / _TICKS
    power = 10 ** max(0, math.floor(math.log10(rough))) if rough >= 1 else 1
    multiples = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)
    step = round(next(m * power for m in multiples if m * power >= rough))
    return step * math.ceil(peak / step), step


def _ticks(top: int, step: int) -> Sequence[int]:
    return range(0, top + 1, step)


def _count(value: int) -> str:
    return f"{value:,}"
