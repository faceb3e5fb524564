"""The ratio figures against their targets, drawn with Pillow as one PNG.

One row per ratio figure, on a log scale shared by all rows: a bar from the left edge to the
median (green when the target holds, red when it does not), a whisker from the lowest to the
highest round, and the target as a blue tick with its bound. Figures in other units (MB,
counts) are in the table only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bench.figures import Figure

WIDTH = 1200
ROW = 32
LABEL = 520  # the figures' names, left of the plot
RIGHT = 130  # the targets, right of the plot
TOP = 60
PASS, FAIL, TARGET, INK, GRID = "#2e7d32", "#c62828", "#1565c0", "#222222", "#dddddd"
_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
_FONT = "DejaVuSans.ttf"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(_FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def draw(figures: Sequence[Figure], path: Path, title: str) -> bool:
    """Draw the ratio figures to ``path``; False (nothing drawn) when there are none."""
    ratios = [f for f in figures if f.unit == "x" and f.rounds]
    if not ratios:
        return False
    values = [v for f in ratios for v in f.rounds] + [f.target.bound for f in ratios if f.target]
    lo = max(t for t in _TICKS if t <= max(min(values) / 1.2, _TICKS[0]))
    hi = min(t for t in _TICKS if t >= min(max(values) * 1.2, _TICKS[-1]))
    height = TOP + ROW * len(ratios) + 50
    image = Image.new("RGB", (WIDTH, height), "white")
    pen = ImageDraw.Draw(image)
    text, small = _font(13), _font(11)
    left, right = LABEL, WIDTH - RIGHT

    def x(value: float) -> float:
        value = min(max(value, lo), hi)
        return left + (right - left) * (math.log(value) - math.log(lo)) / (
            math.log(hi) - math.log(lo)
        )

    pen.text((16, 14), title, fill=INK, font=_font(16))
    bottom = TOP + ROW * len(ratios)
    for tick in (t for t in _TICKS if lo <= t <= hi):
        pen.line([(x(tick), TOP - 6), (x(tick), bottom)], fill=GRID, width=2 if tick == 1 else 1)
        pen.text((x(tick), bottom + 6), f"{tick:g}×", fill=INK, font=small, anchor="mt")
    for i, figure in enumerate(ratios):
        y = TOP + ROW * i + ROW / 2
        name = f"{figure.group}: {figure.name}"
        pen.text((16, y), name, fill=INK, font=text, anchor="lm")
        colour = {True: PASS, False: FAIL, None: "#757575"}[figure.passed]
        pen.rectangle([(left, y - 8), (x(figure.median), y + 8)], fill=colour)
        pen.line([(x(min(figure.rounds)), y), (x(max(figure.rounds)), y)], fill=INK, width=2)
        for end in (min(figure.rounds), max(figure.rounds)):
            pen.line([(x(end), y - 5), (x(end), y + 5)], fill=INK, width=2)
        label_x = max(x(figure.median), x(max(figure.rounds))) + 8
        pen.text((label_x, y), f"{figure.median:.2f}×", fill=INK, font=small, anchor="lm")
        if figure.target is not None:
            tx = x(figure.target.bound)
            pen.line([(tx, y - 13), (tx, y + 13)], fill=TARGET, width=3)
            sign = ">=" if figure.target.op == ">=" else "<="
            pen.text(
                (WIDTH - 16, y),
                f"target {sign} {figure.target.bound:g}",
                fill=TARGET,
                font=small,
                anchor="rm",
            )
    pen.text(
        (16, height - 22),
        "bar: median of the rounds; whisker: lowest to highest round; blue: target",
        fill=INK,
        font=small,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return True
