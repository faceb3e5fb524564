"""The ``/stats`` chart: a real PNG, with bars on the days that had intake and nowhere else."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from disputebot.cases.records import CaseTimes, Status
from disputebot.cases.stats import SERIES_DAYS, StatsReport, compute
from disputebot.service.chart import (
    BACKLOG_COLOUR,
    HEIGHT,
    INTAKE_COLOUR,
    WIDTH,
    Frame,
    frame,
    render_chart,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 30, tzinfo=UTC)
LABELS = {"title": "Last 30 days", "intake_label": "Filed", "backlog_label": "Open"}


def report_with(intake: dict[int, int], *, open_cases: bool = True) -> StatsReport:
    """``intake`` maps a day index (0 oldest, 29 today) to how many cases were filed that day."""
    times = []
    for index, count in intake.items():
        created = MIDNIGHT - timedelta(days=SERIES_DAYS - 1 - index) + timedelta(hours=1)
        for n in range(count):
            status = Status.SUBMITTED if open_cases else Status.UPHELD
            decided = None if open_cases else created + timedelta(minutes=5)
            times.append(CaseTimes(f"C-{index}-{n}", status, created, None, decided, None))
    return compute(times, NOW)


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.load()
    return image.convert("RGB")


def column(image: Image.Image, x: int, box: Frame, colour: tuple[int, int, int]) -> int:
    """How many pixels of ``colour`` the plot area holds in column ``x``."""
    return sum(image.getpixel((x, y)) == colour for y in range(box.top, box.bottom))


def in_plot(image: Image.Image, box: Frame, colour: tuple[int, int, int]) -> int:
    crop = image.crop((box.left + 1, box.top, box.right, box.bottom))
    counts = {found: n for n, found in crop.getcolors(maxcolors=crop.width * crop.height)}
    return counts.get(colour, 0)


def test_png_of_the_default_size() -> None:
    image = decode(render_chart(report_with({3: 2}), **LABELS))
    assert image.size == (WIDTH, HEIGHT)


def test_png_of_a_chosen_size() -> None:
    image = decode(render_chart(report_with({3: 2}), width=640, height=400, **LABELS))
    assert image.size == (640, 400)


INTAKE = {0: 3, 5: 1, 12: 8, 29: 5}


@pytest.mark.parametrize("open_cases", [True, False], ids=["open", "decided-same-day"])
def test_bars_stand_on_the_days_with_intake_and_nowhere_else(open_cases: bool) -> None:
    report = report_with(INTAKE, open_cases=open_cases)
    image = decode(render_chart(report, **LABELS))
    box = frame(WIDTH, HEIGHT, SERIES_DAYS)
    heights = [column(image, box.x(i), box, INTAKE_COLOUR) for i in range(SERIES_DAYS)]
    with_bars = {i for i, height in enumerate(heights) if height}
    assert with_bars == set(INTAKE)
    # Taller for more cases: 8 cases reach the top of the scale, 1 case an eighth of it.
    plot_height = box.bottom - box.top
    assert heights[12] > 0.9 * plot_height
    assert heights[12] / 8 * 0.7 < heights[5] < heights[12] / 8 * 1.3
    assert heights[0] < heights[29] < heights[12]


def test_the_backlog_line_is_drawn() -> None:
    image = decode(render_chart(report_with(INTAKE), **LABELS))
    box = frame(WIDTH, HEIGHT, SERIES_DAYS)
    # Every day has a backlog point, and the line joins them: there is line colour in each
    # day's column and halfway between each day and the next.
    assert all(column(image, box.x(i), box, BACKLOG_COLOUR) for i in range(SERIES_DAYS))
    halfway = [(box.x(i) + box.x(i + 1)) // 2 for i in range(SERIES_DAYS - 1)]
    assert all(column(image, x, box, BACKLOG_COLOUR) for x in halfway)


def test_empty_data_still_renders() -> None:
    image = decode(render_chart(compute([], NOW), **LABELS))
    box = frame(WIDTH, HEIGHT, SERIES_DAYS)
    assert image.size == (WIDTH, HEIGHT)
    assert in_plot(image, box, INTAKE_COLOUR) == 0
    # The zero backlog still shows, along the bottom.
    assert in_plot(image, box, BACKLOG_COLOUR) > 0


def test_a_report_without_days_renders() -> None:
    report = compute([], NOW)
    bare = StatsReport(**{**{f: getattr(report, f) for f in report.__slots__}, "days": ()})
    image = decode(render_chart(bare, **LABELS))
    assert image.size == (WIDTH, HEIGHT)


def test_texts_are_drawn_where_they_belong() -> None:
    report = report_with(INTAKE)
    plain = decode(render_chart(report, **LABELS))
    retitled = decode(render_chart(report, **{**LABELS, "title": "Other words entirely"}))
    relabelled = decode(
        render_chart(report, **{**LABELS, "intake_label": "Cases filed per day (UTC)"})
    )
    box = frame(WIDTH, HEIGHT, SERIES_DAYS)
    title_band = (0, 0, WIDTH, 40)
    legend_band = (0, 40, WIDTH, box.top - 12)
    plot_band = (0, box.top, WIDTH, HEIGHT)

    def same(a: Image.Image, b: Image.Image, band: tuple[int, int, int, int]) -> bool:
        return a.crop(band).tobytes() == b.crop(band).tobytes()

    assert not same(plain, retitled, title_band)
    assert same(plain, retitled, legend_band)
    assert same(plain, retitled, plot_band)
    assert not same(plain, relabelled, legend_band)
    assert same(plain, relabelled, plot_band)


def test_day_labels_come_from_the_caller() -> None:
    report = report_with(INTAKE)
    plain = decode(render_chart(report, **LABELS))
    other = decode(render_chart(report, day_label=lambda day: f"{day.day}日", **LABELS))
    box = frame(WIDTH, HEIGHT, SERIES_DAYS)
    below_axis = (0, box.bottom + 8, WIDTH, HEIGHT)
    assert plain.crop(below_axis).tobytes() != other.crop(below_axis).tobytes()


def test_importing_the_chart_module_does_not_import_pillow() -> None:
    # The bot imports its services at start; only the first /stats should load Pillow.
    code = "import sys, disputebot.service.chart; print('PIL' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
