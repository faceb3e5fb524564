"""The figures of ``/stats``, computed from the times of cases: pure, one pass over the cases.

Theory of operation. ``compute`` gets what ``CaseStore.times_since(since(now))`` returns (every
case created in the last 30 days, and every open case) and walks it once. Each case adds to the
intake windows it falls in, to the open-case counts (by status, by age, by assignee) when it is
open, to the duration samples when it was created in the last 30 days, and two *events* to the
daily series: +1 on the day it was created, -1 on the day it was decided. The series is then
one running sum over 30 day slots, so the cost is one pass over the cases plus one over the
days, never a rescan of the cases per day.

What the daily backlog can and cannot know (``CaseTimes`` holds one decision time and no
history):

- A case counts as open from its creation to its *latest* decision. A case decided, reopened and
  decided again therefore counts as open in between too.
- A case open now counts as open since its creation, even if it carries the time of an earlier
  decision (it was reopened, and the reopening time is not recorded). A finished case counts as
  decided by today even if its decision time runs ahead of our clock. So the backlog at the end
  of today equals the number of open cases (unless a case was filed after ``now``).
- A finished case without a decision time (rows older than that column) has no known end; it
  is left out of the series rather than counted open for ever.
- Only the cases ``times_since`` returns are counted: a case created before the window and
  decided inside it is missing from the early days, which read low by that much. Pass an
  earlier ``since`` to the store to narrow this; ``compute`` applies its own windows and never
  assumes the input is limited to them.

Days are UTC dates, each the half-open span from its midnight to the next: something stamped at
midnight belongs to the day that starts then, so a day's backlog is the previous day's plus its
intake minus its decisions. The series ends with today, whose end is ``now``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from disputebot.cases.records import OPEN_STATUSES, CaseTimes, Status

__all__ = [
    "AGE_BOUNDS",
    "BACKLOG_STATUSES",
    "SERIES_DAYS",
    "WINDOW",
    "AgeBucket",
    "DayPoint",
    "StatsReport",
    "compute",
    "since",
]

# Intake windows, the span of the duration medians, and of the daily series.
WINDOW = timedelta(days=30)
SERIES_DAYS = 30
_DAY = timedelta(days=1)
_ZERO = timedelta(0)
_INTAKE_24H = timedelta(hours=24)
_INTAKE_7D = timedelta(days=7)

# Open statuses in the order staff read them (the life of a case), for stable output.
BACKLOG_STATUSES: tuple[Status, ...] = (
    Status.SUBMITTED,
    Status.IN_REVIEW,
    Status.AWAITING_INFO,
    Status.ESCALATED,
    Status.APPEALED,
)


class AgeBucket(StrEnum):
    """How long an open case has waited since it was filed; each bucket is ``[low, high)``."""

    UNDER_1D = "lt_1d"
    D1_TO_3 = "1d_3d"
    D3_TO_7 = "3d_7d"
    OVER_7D = "gt_7d"


# Lower bounds, checked oldest first: an age of exactly 1 day falls in 1–3 d, exactly 7 d in > 7 d.
AGE_BOUNDS: tuple[tuple[AgeBucket, timedelta], ...] = (
    (AgeBucket.OVER_7D, timedelta(days=7)),
    (AgeBucket.D3_TO_7, timedelta(days=3)),
    (AgeBucket.D1_TO_3, timedelta(days=1)),
    (AgeBucket.UNDER_1D, timedelta(0)),
)


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One UTC day of the chart: cases filed that day, and cases open at its end."""

    day: date
    intake: int
    backlog: int


@dataclass(frozen=True, slots=True)
class StatsReport:
    """Everything ``/stats`` shows.

    Intake counts cases created at or after ``now`` minus the window. ``median_*`` are over
    cases created in the last 30 days that have the time in question (``None`` without any);
    ``*_samples`` say how many that was. ``load`` is open cases per assignee, busiest first
    (``None``: nobody has taken them). ``days`` is the daily series, oldest first, ending today.
    """

    now: datetime
    intake_24h: int
    intake_7d: int
    intake_30d: int
    open_total: int
    by_status: Mapping[Status, int]
    by_age: Mapping[AgeBucket, int]
    median_first_response: timedelta | None
    first_response_samples: int
    median_decision: timedelta | None
    decision_samples: int
    load: tuple[tuple[str | None, int], ...]
    days: tuple[DayPoint, ...]


def since(now: datetime) -> datetime:
    """The earliest creation time ``compute`` looks at: pass it to ``times_since``."""
    return now - WINDOW


def compute(times: Sequence[CaseTimes], now: datetime) -> StatsReport:
    """The ``/stats`` figures at ``now`` (an aware datetime) from the cases' times."""
    if now.tzinfo is None:
        raise ValueError("compute needs an aware datetime for now")
    now = now.astimezone(UTC)
    from_24h, from_7d, from_30d = now - _INTAKE_24H, now - _INTAKE_7D, now - WINDOW
    intake_24h = intake_7d = intake_30d = 0
    by_status: Counter[Status] = Counter()
    by_age: Counter[AgeBucket] = Counter()
    load: Counter[str | None] = Counter()
    first_response: list[timedelta] = []
    decision: list[timedelta] = []
    series = _Series(now.date())

    for case in times:
        created = case.created_at
        if created >= from_30d:
            intake_30d += 1
            if created >= from_7d:
                intake_7d += 1
                if created >= from_24h:
                    intake_24h += 1
            # A time before the filing can only be clock skew between processes: count it as 0.
            if case.first_response_at is not None:
                first_response.append(max(case.first_response_at - created, _ZERO))
            if case.decided_at is not None:
                decision.append(max(case.decided_at - created, _ZERO))
        if case.status in OPEN_STATUSES:
            by_status[case.status] += 1
            by_age[_age_bucket(now - created)] += 1
            load[case.assignee] += 1
            series.add(created, None, is_open=True)
        else:
            series.add(created, case.decided_at, is_open=False)

    return StatsReport(
        now=now,
        intake_24h=intake_24h,
        intake_7d=intake_7d,
        intake_30d=intake_30d,
        open_total=sum(by_status.values()),
        by_status={status: by_status[status] for status in BACKLOG_STATUSES},
        by_age={bucket: by_age[bucket] for bucket in AgeBucket},
        median_first_response=_median(first_response),
        first_response_samples=len(first_response),
        median_decision=_median(decision),
        decision_samples=len(decision),
        load=tuple(sorted(load.items(), key=_busiest_first)),
        days=series.points(),
    )


class _Series:
    """The daily intake and end-of-day backlog, as +1/-1 events bucketed by day slot.

    Slot 0 is the first day of the series, slot ``SERIES_DAYS - 1`` today; ``_before`` is the
    backlog at the start of slot 0, ``_change[i]`` how much it moves during slot ``i``.
    """

    def __init__(self, today: date) -> None:
        self._first_day = today - timedelta(days=SERIES_DAYS - 1)
        self._origin = datetime.combine(self._first_day, time(), tzinfo=UTC)
        self._intake = [0] * SERIES_DAYS
        self._change = [0] * SERIES_DAYS
        self._before = 0

    def add(self, created: datetime, decided: datetime | None, *, is_open: bool) -> None:
        # Floor division of timedeltas is exact (whole microseconds), also at midnight, where
        # float timestamps could round across the boundary. Inlined: this runs per case.
        opened = (created - self._origin) // _DAY
        if opened >= SERIES_DAYS:
            return  # filed after today by a clock ahead of ours
        if opened >= 0:
            self._intake[opened] += 1
        if is_open:
            ended = SERIES_DAYS  # open through the end of the series (now)
        elif decided is not None:
            # A finished case is closed by now, even if its decision time runs ahead of ours.
            ended = min((decided - self._origin) // _DAY, SERIES_DAYS - 1)
        else:
            return  # finished, with no known end: see the module docstring
        # Open at the end of slots opened .. ended - 1. Nothing to add when none of those is a
        # day of the series: decided before it starts, or on (or, by skew, before) the day it
        # was filed.
        if ended < 0 or ended <= opened:
            return
        if opened < 0:
            self._before += 1
        else:
            self._change[opened] += 1
        if ended < SERIES_DAYS:
            self._change[ended] -= 1

    def points(self) -> tuple[DayPoint, ...]:
        points: list[DayPoint] = []
        backlog = self._before
        for index in range(SERIES_DAYS):
            backlog += self._change[index]
            day = self._first_day + timedelta(days=index)
            points.append(DayPoint(day, self._intake[index], backlog))
        return tuple(points)


def _busiest_first(item: tuple[str | None, int]) -> tuple[int, bool, str]:
    assignee, count = item
    return (-count, assignee is None, assignee or "")


def _age_bucket(age: timedelta) -> AgeBucket:
    for bucket, low in AGE_BOUNDS:
        if age >= low:
            return bucket
    return AgeBucket.UNDER_1D  # filed "in the future" by a clock ahead of ours


def _median(spans: list[timedelta]) -> timedelta | None:
    if not spans:
        return None
    spans.sort()
    middle = len(spans) // 2
    if len(spans) % 2:
        return spans[middle]
    return (spans[middle - 1] + spans[middle]) / 2
