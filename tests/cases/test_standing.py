"""``cases.standing.assess``: when a warning and a suspension are proposed, and whether a
suspension runs, from the track record and the steps staff took (DSA Art. 23)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from disputebot.cases.records import StandingEvent, StandingKind, TrackRecord
from disputebot.cases.standing import StandingRules, assess
from tests.support import T0

RULES = StandingRules(warn_after=3, suspend_after=5, suspension=timedelta(days=30))
WHO = "test:1001"
W, S, L, A = StandingKind.WARN, StandingKind.SUSPEND, StandingKind.LIFT, StandingKind.APPEAL


def step(
    kind: StandingKind, days: float, unfounded: int, until_days: float | None = None, i: int = 0
) -> StandingEvent:
    until = None if until_days is None else T0 + timedelta(days=until_days)
    return StandingEvent(WHO, kind, T0 + timedelta(days=days), "test:1", unfounded, until, id=i)


def track(unfounded: int) -> TrackRecord:
    return TrackRecord(
        filed=unfounded + 2, upheld=1, rejected=unfounded + 1, rejected_false=unfounded
    )


# (unfounded now, steps taken, days after T0 it is now) → (proposal, suspended, warned)
CASES = {
    "nothing yet": (2, [], 0, None, False, False),
    "warn at the threshold": (3, [], 0, W, False, False),
    "warned: no second warning": (4, [step(W, 0, 3)], 1, None, False, True),
    "warned: suspend at suspend_after": (5, [step(W, 0, 3)], 1, S, False, True),
    # A warning confirmed late still leaves suspend_after - warn_after more chances.
    "late warning: not yet": (5, [step(W, 0, 4)], 1, None, False, True),
    "late warning: suspend two later": (6, [step(W, 0, 4)], 1, S, False, True),
    "suspended: nothing proposed": (9, [step(W, 0, 3), step(S, 1, 5, 31)], 2, None, True, False),
    "suspension over: counting restarts": (
        7,
        [step(W, 0, 3), step(S, 1, 5, 31)],
        31,
        None,
        False,
        False,
    ),
    "suspension over: a new warning": (
        8,
        [step(W, 0, 3), step(S, 1, 5, 31)],
        40,
        W,
        False,
        False,
    ),
    "lifted": (5, [step(W, 0, 3), step(S, 1, 5, 31), step(L, 2, 5)], 3, None, False, False),
    "suspended again after a lift": (
        8,
        [step(W, 0, 3), step(S, 1, 5, 31), step(L, 2, 5), step(S, 5, 8, 35)],
        6,
        None,
        True,
        False,
    ),
    "an appeal changes nothing": (
        5,
        [step(W, 0, 3), step(S, 1, 5, 31), step(A, 2, 5, 31)],
        3,
        None,
        True,
        False,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_assess(name: str) -> None:
    unfounded, history, days, proposal, suspended, warned = CASES[name]
    now = T0 + timedelta(days=days)

    standing = assess(track(unfounded), history, RULES, now)

    assert standing.proposal is proposal
    assert standing.suspended is suspended
    assert (standing.warned_at is not None) is warned
    assert standing.unfounded == unfounded
    if history:
        assert standing.last == max(history, key=lambda e: (e.at, e.id))


def test_history_order_does_not_matter() -> None:
    history = [step(W, 0, 3, i=1), step(S, 1, 5, 31, i=2), step(L, 2, 5, i=3)]
    now = T0 + timedelta(days=3)

    forward = assess(track(5), history, RULES, now)
    backward = assess(track(5), list(reversed(history)), RULES, now)

    assert forward == backward
    assert not forward.suspended


def test_a_suspension_ends_at_its_end_date() -> None:
    history = [step(W, 0, 3), step(S, 1, 5, 31)]
    until = T0 + timedelta(days=31)

    assert assess(track(5), history, RULES, until - timedelta(seconds=1)).suspended_until == until
    assert assess(track(5), history, RULES, until).suspended_until is None


@pytest.mark.parametrize(
    ("warn_after", "suspend_after", "days"),
    [(0, 5, 30), (3, 3, 30), (4, 3, 30), (3, 5, 0), (3, 5, -1)],
)
def test_impossible_rules_are_refused(warn_after: int, suspend_after: int, days: int) -> None:
    with pytest.raises(ValueError, match="standing rules"):
        StandingRules(warn_after, suspend_after, timedelta(days=days))
