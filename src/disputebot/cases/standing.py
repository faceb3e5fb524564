"""A reporter's standing (DSA Art. 23): when to warn, when to suspend, and whether a suspension
is running.

Nothing here acts: ``assess`` proposes the next step from the reporter's track record and the
steps already taken, and a person on staff confirms it (``StandingKind``) — no reporter is
warned or suspended by a rule alone. "Manifestly unfounded" is a rejection with the reason the
operator's reject flow marks as such (``false_report`` in the shipped flow).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from disputebot.cases.records import StandingEvent, StandingKind, TrackRecord

__all__ = ["Standing", "StandingRules", "assess"]


@dataclass(frozen=True, slots=True)
class StandingRules:
    """Thresholds counted in reports rejected as manifestly unfounded since the last step:
    ``warn_after`` proposes a warning; once warned, ``suspend_after - warn_after`` more
    (counted from the count the warning was confirmed at, so a warning confirmed late still
    leaves the reporter that many chances) propose a suspension of ``suspension``.

    Raises:
        ValueError: on construction, for thresholds below 1, ``suspend_after`` not above
            ``warn_after``, or a suspension that is not positive.
    """

    warn_after: int = 3
    suspend_after: int = 5
    suspension: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if self.warn_after < 1 or self.suspend_after <= self.warn_after:
            raise ValueError(
                "standing rules: need 1 <= warn_after < suspend_after, not "
                f"{self.warn_after} and {self.suspend_after}"
            )
        if self.suspension <= timedelta(0):
            raise ValueError("standing rules: the suspension must be longer than zero")


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a reporter stands now.

    ``proposal`` is the step staff are asked to confirm (``WARN`` or ``SUSPEND``), if any;
    ``suspended_until`` is set while a suspension runs; ``warned_at`` is the newest warning
    (still counting towards a suspension).
    """

    unfounded: int
    proposal: StandingKind | None = None
    warned_at: datetime | None = None
    suspended_until: datetime | None = None
    last: StandingEvent | None = None

    @property
    def suspended(self) -> bool:
        return self.suspended_until is not None


def assess(
    track: TrackRecord,
    history: Sequence[StandingEvent],
    rules: StandingRules,
    now: datetime,
) -> Standing:
    """The reporter's standing at ``now`` from their track record and the steps taken.

    ``history`` in any order. A lift ends the suspension it follows. After a suspension has
    ended, counting starts again from the unfounded count it was taken at, towards a new
    warning.
    """
    unfounded = track.rejected_false
    steps = sorted(history, key=lambda e: (e.at, e.id))
    last_step: StandingEvent | None = None
    suspended_until: datetime | None = None
    for event in steps:
        if event.kind in {StandingKind.WARN, StandingKind.SUSPEND}:
            last_step = event
            suspended_until = event.until if event.kind is StandingKind.SUSPEND else None
        elif event.kind is StandingKind.LIFT:
            suspended_until = None
    if suspended_until is not None and suspended_until <= now:
        suspended_until = None
    warned_at = (
        last_step.at if last_step is not None and last_step.kind is StandingKind.WARN else None
    )
    proposal: StandingKind | None = None
    if suspended_until is None:
        base = last_step.unfounded_at if last_step is not None else 0
        if warned_at is not None:
            if unfounded - base >= rules.suspend_after - rules.warn_after:
                proposal = StandingKind.SUSPEND
        elif unfounded - base >= rules.warn_after:
            proposal = StandingKind.WARN
    return Standing(unfounded, proposal, warned_at, suspended_until, steps[-1] if steps else None)
