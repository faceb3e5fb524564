"""``/stats`` figures: plain CaseTimes in, a StatsReport out; no store, no fakes."""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from disputebot.cases.records import OPEN_STATUSES, CaseTimes, Status
from disputebot.cases.stats import (
    BACKLOG_STATUSES,
    SERIES_DAYS,
    AgeBucket,
    StatsReport,
    compute,
    since,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
MIDNIGHT = datetime(2026, 11, 30, tzinfo=UTC)  # today's start
US = timedelta(microseconds=1)
H = timedelta(hours=1)
D = timedelta(days=1)

_ids = iter(range(1_000_000))


def case(
    created: datetime,
    status: Status = Status.SUBMITTED,
    *,
    first: datetime | None = None,
    decided: datetime | None = None,
    assignee: str | None = None,
) -> CaseTimes:
    return CaseTimes(f"C-{next(_ids)}", status, created, first, decided, assignee)


def day_start(days_ago: int) -> datetime:
    return MIDNIGHT - days_ago * D


def series(report: StatsReport) -> dict[date, tuple[int, int]]:
    return {point.day: (point.intake, point.backlog) for point in report.days}


# --- intake ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        (NOW, (1, 1, 1)),
        (NOW - 24 * H, (1, 1, 1)),
        (NOW - 24 * H - US, (0, 1, 1)),
        (NOW - 7 * D, (0, 1, 1)),
        (NOW - 7 * D - US, (0, 0, 1)),
        (NOW - 30 * D, (0, 0, 1)),
        (NOW - 30 * D - US, (0, 0, 0)),
        (NOW - 400 * D, (0, 0, 0)),
    ],
    ids=["now", "24h", "24h+1us", "7d", "7d+1us", "30d", "30d+1us", "old"],
)
@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.UPHELD])
def test_intake_windows_include_their_start(
    created: datetime, expected: tuple[int, int, int], status: Status
) -> None:
    decided = None if status in OPEN_STATUSES else created + H
    report = compute([case(created, status, decided=decided)], NOW)
    assert (report.intake_24h, report.intake_7d, report.intake_30d) == expected


def test_since_covers_the_longest_window() -> None:
    assert since(NOW) == NOW - 30 * D
    report = compute([case(since(NOW))], NOW)
    assert report.intake_30d == 1


# --- backlog by status and age --------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "bucket"),
    [
        (timedelta(0), AgeBucket.UNDER_1D),
        (D - US, AgeBucket.UNDER_1D),
        (D, AgeBucket.D1_TO_3),
        (3 * D - US, AgeBucket.D1_TO_3),
        (3 * D, AgeBucket.D3_TO_7),
        (7 * D - US, AgeBucket.D3_TO_7),
        (7 * D, AgeBucket.OVER_7D),
        (90 * D, AgeBucket.OVER_7D),
        (-H, AgeBucket.UNDER_1D),  # filed by a clock ahead of ours
    ],
)
def test_open_cases_fall_in_age_buckets(age: timedelta, bucket: AgeBucket) -> None:
    report = compute([case(NOW - age)], NOW)
    assert report.by_age == {b: int(b is bucket) for b in AgeBucket}


def test_backlog_counts_open_statuses_only_each_listed_even_at_zero() -> None:
    times = [
        case(NOW - H, Status.SUBMITTED),
        case(NOW - H, Status.SUBMITTED),
        case(NOW - 2 * D, Status.AWAITING_INFO),
        case(NOW - 9 * D, Status.ESCALATED),
        case(NOW - 4 * D, Status.APPEALED, decided=NOW - 2 * D),
        case(NOW - 2 * D, Status.UPHELD, decided=NOW - D),
        case(NOW - 2 * D, Status.REJECTED, decided=NOW - D),
        case(NOW - 2 * D, Status.WITHDRAWN, decided=NOW - D),
        case(NOW - 2 * D, Status.CLOSED, decided=NOW - D),
        case(NOW - 2 * D, Status.MERGED, decided=NOW - D),
    ]
    report = compute(times, NOW)
    assert list(report.by_status.items()) == [
        (Status.SUBMITTED, 2),
        (Status.IN_REVIEW, 0),
        (Status.AWAITING_INFO, 1),
        (Status.ESCALATED, 1),
        (Status.APPEALED, 1),
    ]
    assert report.open_total == 5
    assert report.by_age == {
        AgeBucket.UNDER_1D: 2,
        AgeBucket.D1_TO_3: 1,
        AgeBucket.D3_TO_7: 1,
        AgeBucket.OVER_7D: 1,
    }


def test_backlog_statuses_are_the_open_statuses() -> None:
    assert frozenset(BACKLOG_STATUSES) == OPEN_STATUSES
    assert len(BACKLOG_STATUSES) == len(OPEN_STATUSES)


# --- medians --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ([], None),
        ([5], 5 * H),
        ([3, 1, 2], 2 * H),
        ([10, 1, 3, 2], 2.5 * H),
        ([1, 1, 1, 40], 1 * H),
        ([-2, 4], 2 * H),  # a response stamped before the filing counts as 0
    ],
    ids=["none", "one", "odd", "even", "outlier", "skew"],
)
def test_median_time_to_first_response_and_to_decision(
    hours: list[float], expected: timedelta | None
) -> None:
    created = NOW - 10 * D
    responded = [case(created, Status.IN_REVIEW, first=created + h * H) for h in hours]
    decided = [case(created, Status.UPHELD, decided=created + h * H) for h in hours]
    report = compute(responded + decided, NOW)
    assert report.median_first_response == expected
    assert report.first_response_samples == len(hours)
    assert report.median_decision == expected
    assert report.decision_samples == len(hours)


def test_medians_only_over_cases_filed_in_the_last_30_days_with_the_time_set() -> None:
    times = [
        case(NOW - 30 * D, Status.UPHELD, first=NOW - 30 * D + H, decided=NOW - 29 * D),
        # Filed before the window: left out, however quick or slow.
        case(NOW - 30 * D - US, Status.UPHELD, first=NOW - 30 * D, decided=NOW - 30 * D),
        # Not answered, not decided yet: no sample, not a zero.
        case(NOW - D),
        # Reopened: its earlier decision still measures time to decision.
        case(NOW - 4 * D, Status.IN_REVIEW, first=NOW - 4 * D + 3 * H, decided=NOW - D),
    ]
    report = compute(times, NOW)
    assert report.first_response_samples == 2
    assert report.median_first_response == 2 * H
    assert report.decision_samples == 2
    assert report.median_decision == (D + 3 * D) / 2


# --- load per reviewer ----------------------------------------------------------------------


def test_load_counts_open_cases_per_assignee_busiest_first() -> None:
    times = [
        case(NOW - D, Status.IN_REVIEW, assignee="telegram:2"),
        case(NOW - D, Status.AWAITING_INFO, assignee="telegram:2"),
        case(NOW - D, Status.IN_REVIEW, assignee="telegram:1"),
        case(NOW - D, Status.ESCALATED, assignee="telegram:3"),
        case(NOW - D, Status.SUBMITTED),
        # Finished cases are nobody's load.
        case(NOW - D, Status.UPHELD, assignee="telegram:1", decided=NOW - H),
        case(NOW - D, Status.REJECTED, assignee="telegram:9", decided=NOW - H),
    ]
    report = compute(times, NOW)
    # Ties: by name, with the unassigned cases after the people.
    assert report.load == (("telegram:2", 2), ("telegram:1", 1), ("telegram:3", 1), (None, 1))


def test_no_cases_no_figures() -> None:
    report = compute([], NOW)
    assert (report.intake_24h, report.intake_7d, report.intake_30d, report.open_total) == (
        0,
        0,
        0,
        0,
    )
    assert set(report.by_status.values()) == {0}
    assert set(report.by_age.values()) == {0}
    assert report.median_first_response is None
    assert report.median_decision is None
    assert report.load == ()
    assert len(report.days) == SERIES_DAYS
    assert {(p.intake, p.backlog) for p in report.days} == {(0, 0)}


# --- the daily series -----------------------------------------------------------------------


def test_series_is_30_utc_days_ending_today() -> None:
    days = [point.day for point in compute([], NOW).days]
    assert days[0] == TODAY - timedelta(days=29)
    assert days[-1] == TODAY
    assert days == [days[0] + timedelta(days=i) for i in range(SERIES_DAYS)]


def test_series_days_are_utc_dates_whatever_the_zone_of_now() -> None:
    beijing = timezone(timedelta(hours=8))
    now = datetime(2026, 12, 1, 1, 0, tzinfo=beijing)  # 2026-11-30 17:00 UTC
    report = compute([case(datetime(2026, 11, 30, 16, 30, tzinfo=beijing))], now)
    assert report.days[-1].day == date(2026, 11, 30)
    assert series(report)[date(2026, 11, 30)] == (1, 1)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        compute([], NOW.replace(tzinfo=None))


# One case per row; (days ago, intake, backlog) for the days that are not (0, 0). Backlog is
# counted at the end of each day, and a day runs from its midnight to the next.
SERIES_CASES = [
    pytest.param(
        case(day_start(5) + 12 * H, Status.UPHELD, decided=day_start(2) + 8 * H),
        [(5, 1, 1), (4, 0, 1), (3, 0, 1)],
        id="decided-three-days-later",
    ),
    pytest.param(
        case(day_start(5) + H, Status.REJECTED, decided=day_start(5) + 2 * H),
        [(5, 1, 0)],
        id="decided-the-same-day",
    ),
    pytest.param(
        case(day_start(3), Status.UPHELD, decided=day_start(1)),
        [(3, 1, 1), (2, 0, 1)],
        id="midnights-belong-to-the-day-they-start",
    ),
    pytest.param(
        case(day_start(3) - US, Status.UPHELD, decided=day_start(1) - US),
        [(4, 1, 1), (3, 0, 1)],
        id="a-microsecond-before-midnight",
    ),
    pytest.param(
        case(day_start(2) + H),
        [(2, 1, 1), (1, 0, 1), (0, 0, 1)],
        id="undecided",
    ),
    pytest.param(
        case(day_start(2) + H, Status.IN_REVIEW, decided=day_start(1) + H),
        [(2, 1, 1), (1, 0, 1), (0, 0, 1)],
        id="reopened-counts-open-since-filed",
    ),
    pytest.param(
        case(day_start(2) + H, Status.CLOSED, decided=day_start(0) + H),
        [(2, 1, 1), (1, 0, 1)],
        id="reopened-and-decided-again-counts-open-until-the-latest-decision",
    ),
    pytest.param(
        case(day_start(2) + H, Status.WITHDRAWN),
        [(2, 1, 0)],
        id="finished-without-a-decision-time-is-left-out",
    ),
    pytest.param(
        case(day_start(2) + H, Status.UPHELD, decided=NOW + 3 * D),
        [(2, 1, 1), (1, 0, 1)],
        id="decision-ahead-of-our-clock-is-decided-today",
    ),
    pytest.param(
        case(NOW + 2 * D),
        [],
        id="filed-ahead-of-our-clock",
    ),
    pytest.param(
        case(day_start(3) + 30 * H, Status.UPHELD, decided=day_start(3) + 2 * H),
        [(2, 1, 0)],
        id="decided-before-filed",
    ),
]


@pytest.mark.parametrize(("times", "expected"), SERIES_CASES)
def test_daily_series(times: CaseTimes, expected: list[tuple[int, int, int]]) -> None:
    report = compute([times], NOW)
    wanted = {TODAY - timedelta(days=ago): (intake, backlog) for ago, intake, backlog in expected}
    got = {day: values for day, values in series(report).items() if values != (0, 0)}
    assert got == wanted


@pytest.mark.parametrize(
    ("created", "decided", "status", "backlog_days_ago"),
    [
        # Filed before the series, still open: in every day's backlog, in no day's intake.
        (day_start(40), None, Status.ESCALATED, range(30)),
        # Filed before, decided inside: open until the day it was decided.
        (day_start(40), day_start(10) + H, Status.UPHELD, range(11, 30)),
        (day_start(40), day_start(29), Status.UPHELD, ()),
        (day_start(40), day_start(29) + H, Status.UPHELD, ()),
        (day_start(40), day_start(28), Status.UPHELD, (29,)),
        # Filed and decided before the series: nowhere.
        (day_start(40), day_start(30), Status.UPHELD, ()),
    ],
    ids=[
        "open",
        "decided-inside",
        "decided-first-midnight",
        "decided-first-day",
        "next-day",
        "gone",
    ],
)
def test_cases_filed_before_the_series(
    created: datetime, decided: datetime | None, status: Status, backlog_days_ago: Sequence[int]
) -> None:
    report = compute([case(created, status, decided=decided)], NOW)
    assert [p.intake for p in report.days] == [0] * SERIES_DAYS
    wanted = {TODAY - timedelta(days=ago) for ago in backlog_days_ago}
    assert {p.day for p in report.days if p.backlog} == wanted
    assert {p.backlog for p in report.days if p.backlog} <= {1}


# --- against a slow, obviously right reference -----------------------------------------------


def random_times(seed: int, count: int) -> list[CaseTimes]:
    rng = random.Random(seed)
    assignees = [None, "telegram:1", "telegram:2", "telegram:3"]
    statuses = list(Status)

    def moment(low: datetime, high: datetime) -> datetime:
        if rng.random() < 0.2:  # land on a midnight now and then: the boundary cases
            days = (high.date() - low.date()).days
            candidate = datetime.combine(
                low.date() + timedelta(days=rng.randint(0, days)), datetime.min.time(), UTC
            )
            if low <= candidate <= high:
                return candidate
        return low + (high - low) * rng.random()

    out = []
    for _ in range(count):
        created = moment(NOW - 60 * D, NOW)
        status = rng.choice(statuses)
        first = moment(created, NOW) if rng.random() < 0.7 else None
        # Finished: mostly with a decision time. Open with one: reopened after a decision.
        chance = 0.1 if status in OPEN_STATUSES else 0.95
        decided = moment(created, NOW) if rng.random() < chance else None
        out.append(
            case(created, status, first=first, decided=decided, assignee=rng.choice(assignees))
        )
    return out


def reference_days(times: Sequence[CaseTimes]) -> list[tuple[date, int, int]]:
    """Rescans every case for every day: too slow for /stats, plainly right for a test."""
    out = []
    for ago in range(SERIES_DAYS - 1, -1, -1):
        start, end = day_start(ago), day_start(ago) + D
        intake = sum(start <= c.created_at < end for c in times)
        backlog = sum(
            c.created_at < end
            and (c.status in OPEN_STATUSES or (c.decided_at is not None and c.decided_at >= end))
            for c in times
        )
        out.append((start.date(), intake, backlog))
    return out


def median_or_none(values: list[timedelta]) -> timedelta | None:
    return statistics.median(values) if values else None


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_reference(seed: int) -> None:
    times = random_times(seed, 400)
    report = compute(times, NOW)
    assert [(p.day, p.intake, p.backlog) for p in report.days] == reference_days(times)
    assert report.days[-1].backlog == report.open_total
    assert report.open_total == sum(c.status in OPEN_STATUSES for c in times)
    recent = [c for c in times if c.created_at >= NOW - 30 * D]
    assert report.median_first_response == median_or_none(
        [c.first_response_at - c.created_at for c in recent if c.first_response_at]
    )
    assert report.median_decision == median_or_none(
        [c.decided_at - c.created_at for c in recent if c.decided_at]
    )
    assert sum(n for _, n in report.load) == report.open_total
    assert sum(report.by_age.values()) == report.open_total
    # A day's backlog moves by its intake less its decisions, nothing else.
    for before, after in zip(report.days, report.days[1:], strict=False):
        decided = sum(
            c.status not in OPEN_STATUSES
            and c.decided_at is not None
            and c.decided_at.date() == after.day
            and c.created_at.date() < after.day
            for c in times
        )
        same_day = sum(
            c.status not in OPEN_STATUSES
            and c.decided_at is not None
            and c.created_at.date() == after.day
            and c.decided_at.date() == after.day
            for c in times
        )
        unknown_end = sum(
            c.status not in OPEN_STATUSES
            and c.decided_at is None
            and c.created_at.date() == after.day
            for c in times
        )
        assert after.backlog == before.backlog + after.intake - same_day - unknown_end - decided


# --- speed ----------------------------------------------------------------------------------


class CountingSequence(Sequence[CaseTimes]):
    """Counts how many times the cases are walked."""

    def __init__(self, items: list[CaseTimes]) -> None:
        self.items = items
        self.walks = 0

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> CaseTimes:  # type: ignore[override]
        raise AssertionError("compute should walk the cases, not index them")

    def __iter__(self) -> Iterator[CaseTimes]:
        self.walks += 1
        return iter(self.items)


def test_one_pass_over_the_cases() -> None:
    times = CountingSequence(random_times(99, 200))
    compute(times, NOW)
    assert times.walks == 1


@pytest.mark.skipif(sys.gettrace() is not None, reason="timing means nothing under a tracer")
def test_ten_thousand_cases_well_under_50_ms() -> None:
    times = random_times(7, 10_000)
    best = min(_timed(times) for _ in range(5))
    assert best < 0.050, f"compute took {best * 1000:.1f} ms for 10,000 cases"


def _timed(times: list[CaseTimes]) -> float:
    started = time.perf_counter()
    compute(times, NOW)
    return time.perf_counter() - started
