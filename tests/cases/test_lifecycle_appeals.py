"""The lifecycle's appeal rules (DSA Art. 20), pure: who may appeal what, and who may not decide
the appeal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from disputebot.cases import appeals
from disputebot.cases.lifecycle import (
    Action,
    ActorRole,
    IllegalTransition,
    allowed_actions,
    check,
    under_appeal,
)
from disputebot.cases.records import Audience, Status

DECIDER = "test:7"
OTHER = "test:8"
STAFF = (ActorRole.REVIEWER, ActorRole.ADMIN)


def refused(action: Action, status: Status, role: ActorRole, **kw: Any) -> str:
    with pytest.raises(IllegalTransition) as caught:
        check(action, status, role, **kw)
    return caught.value.reason


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("action", [Action.TAKE, Action.CONFIRM, Action.REVERSE])
def test_the_decider_may_not_take_or_rule_on_the_appeal(action: Action, role: ActorRole) -> None:
    reason = refused(
        action,
        Status.APPEALED,
        role,
        actor=DECIDER,
        decider=DECIDER,
        decided=Status.UPHELD,
    )
    assert reason == "decider"


def test_the_decider_may_not_be_assigned_the_appeal() -> None:
    reason = refused(
        Action.ASSIGN,
        Status.APPEALED,
        ActorRole.ADMIN,
        actor=OTHER,
        assignee=DECIDER,
        decider=DECIDER,
        decided=Status.REJECTED,
    )
    assert reason == "decider"
    # The decider may hand it to someone else, though.
    assert (
        check(
            Action.ASSIGN,
            Status.APPEALED,
            ActorRole.ADMIN,
            actor=DECIDER,
            assignee=OTHER,
            decider=DECIDER,
            decided=Status.REJECTED,
        )
        is Status.APPEALED
    )


@pytest.mark.parametrize("role", STAFF)
def test_another_reviewer_takes_the_appeal_and_it_stays_an_appeal(role: ActorRole) -> None:
    to = check(
        Action.TAKE, Status.APPEALED, role, actor=OTHER, decider=DECIDER, decided=Status.UPHELD
    )
    assert to is Status.APPEALED


def test_the_deciders_card_offers_no_ruling_but_anothers_does() -> None:
    mine = allowed_actions(
        Status.APPEALED,
        ActorRole.REVIEWER,
        actor=DECIDER,
        decider=DECIDER,
        decided=Status.UPHELD,
    )
    theirs = allowed_actions(
        Status.APPEALED,
        ActorRole.REVIEWER,
        actor=OTHER,
        decider=DECIDER,
        decided=Status.UPHELD,
    )
    assert not {Action.TAKE, Action.CONFIRM, Action.REVERSE} & set(mine)
    assert {Action.TAKE, Action.CONFIRM, Action.REVERSE} <= set(theirs)


@pytest.mark.parametrize("decided", [Status.UPHELD, Status.REJECTED])
def test_confirm_returns_to_the_decision(decided: Status) -> None:
    to = check(
        Action.CONFIRM,
        Status.APPEALED,
        ActorRole.REVIEWER,
        actor=OTHER,
        assignee=OTHER,
        decider=DECIDER,
        decided=decided,
    )
    assert to is decided


@pytest.mark.parametrize(
    ("decided", "after"),
    [(Status.UPHELD, Status.REJECTED), (Status.REJECTED, Status.IN_REVIEW)],
)
def test_reverse_rejects_an_upheld_report_and_reviews_a_rejected_one_again(
    decided: Status, after: Status
) -> None:
    to = check(
        Action.REVERSE,
        Status.APPEALED,
        ActorRole.ADMIN,
        actor=OTHER,
        decider=DECIDER,
        decided=decided,
    )
    assert to is after


def test_only_the_assignee_reviewer_rules_on_a_taken_appeal() -> None:
    reason = refused(
        Action.CONFIRM,
        Status.APPEALED,
        ActorRole.REVIEWER,
        actor="test:9",
        assignee=OTHER,
        decider=DECIDER,
        decided=Status.UPHELD,
    )
    assert reason == "assignee"


@pytest.mark.parametrize("status", [Status.UPHELD, Status.REJECTED, Status.CLOSED])
@pytest.mark.parametrize("role", [ActorRole.REPORTER, ActorRole.PARTY])
def test_either_side_appeals_a_decided_or_closed_case(status: Status, role: ActorRole) -> None:
    assert check(Action.APPEAL, status, role) is Status.APPEALED


@pytest.mark.parametrize(
    "status",
    [
        Status.SUBMITTED,
        Status.IN_REVIEW,
        Status.AWAITING_INFO,
        Status.ESCALATED,
        Status.WITHDRAWN,
        Status.APPEALED,
        Status.MERGED,
    ],
)
def test_nothing_to_appeal_before_a_decision_or_while_one_is_appealed(status: Status) -> None:
    assert refused(Action.APPEAL, status, ActorRole.PARTY) == "status"


@pytest.mark.parametrize("role", STAFF)
def test_staff_do_not_appeal(role: ActorRole) -> None:
    assert refused(Action.APPEAL, Status.UPHELD, role) == "role"


@pytest.mark.parametrize("role", [ActorRole.REPORTER, ActorRole.PARTY])
def test_the_sides_do_not_rule_on_appeals(role: ActorRole) -> None:
    assert refused(Action.REVERSE, Status.APPEALED, role, decided=Status.UPHELD) == "role"


def test_under_appeal_reads_the_decider_and_the_outcome() -> None:
    assert under_appeal({"outcome": "upheld", "decided_by": DECIDER}) == (DECIDER, Status.UPHELD)
    assert under_appeal({"outcome": "escalated", "decided_by": DECIDER}) == (DECIDER, None)
    assert under_appeal({}) == (None, None)
    assert under_appeal({"outcome": "nonsense"}) == (None, None)


# --- everyone who decided or ruled, once the case has been appealed ------------------------------

RULER = "test:9"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
IMPARTIAL = [
    Action.TAKE,
    Action.ASSIGN,
    Action.UPHOLD,
    Action.REJECT,
    Action.ESCALATE,
    Action.CONFIRM,
    Action.REVERSE,
]


def decided(outcome: str, by: str = DECIDER, at: datetime = T0) -> dict[str, Any]:
    return {"outcome": outcome, "decided_by": by, "decided_at": at.isoformat()}


def appealed_by(decision: dict[str, Any], side: Audience, at: datetime) -> dict[str, Any]:
    return appeals.appealed(decision, side, f"{side.value}-chat", at, "not so")


def reversed_rejection() -> dict[str, Any]:
    """A rejection by DECIDER, appealed by the reporter and reversed by RULER."""
    decision = appealed_by(decided("rejected"), Audience.REPORTER, T0 + timedelta(days=1))
    return appeals.ruled(
        decision, reverse=True, by=RULER, at=T0 + timedelta(days=2), grounds="wrong"
    )


def test_nobody_is_barred_before_an_appeal() -> None:
    assert appeals.deciders(decided("upheld")) == frozenset()
    assert appeals.deciders({}) == frozenset()


def test_the_decider_and_the_ruler_are_kept_through_a_reversal_and_a_new_decision() -> None:
    after = reversed_rejection()
    assert "outcome" not in after
    assert appeals.deciders(after) == {DECIDER, RULER}
    anew = appeals.carry_appeals(after, decided("upheld", by=OTHER, at=T0 + timedelta(days=3)))
    assert appeals.deciders(anew) == {DECIDER, RULER, OTHER}
    reopened = appeals.carry_appeals(anew, {})
    assert appeals.deciders(reopened) == {DECIDER, RULER, OTHER}


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("action", [*IMPARTIAL[2:5], Action.WITHDRAW])
@pytest.mark.parametrize("who", [DECIDER, RULER])
def test_after_a_reversal_no_earlier_decider_or_ruler_decides_anew(
    action: Action, role: ActorRole, who: str
) -> None:
    deciders = appeals.deciders(reversed_rejection())
    reason = refused(action, Status.IN_REVIEW, role, actor=who, assignee=who, deciders=deciders)
    assert reason == "decider"
    # Someone new may.
    assert check(action, Status.IN_REVIEW, role, actor=OTHER, assignee=OTHER, deciders=deciders)


def test_after_a_reversal_the_case_is_not_handed_back_nor_offered_to_the_decider() -> None:
    deciders = appeals.deciders(reversed_rejection())
    reason = refused(
        Action.ASSIGN,
        Status.IN_REVIEW,
        ActorRole.ADMIN,
        actor=OTHER,
        assignee=DECIDER,
        deciders=deciders,
    )
    assert reason == "decider"
    # The decider may still hand it to someone else; an admin's card offers the assignment.
    assert check(
        Action.ASSIGN,
        Status.IN_REVIEW,
        ActorRole.ADMIN,
        actor=DECIDER,
        assignee=OTHER,
        deciders=deciders,
    )
    mine = allowed_actions(
        Status.IN_REVIEW, ActorRole.ADMIN, actor=DECIDER, assignee=RULER, deciders=deciders
    )
    assert Action.ASSIGN in mine
    assert not {Action.UPHOLD, Action.REJECT, Action.ESCALATE, Action.WITHDRAW} & set(mine)


def test_a_ruler_does_not_rule_on_the_next_appeal() -> None:
    confirmed = appeals.ruled(
        appealed_by(decided("upheld"), Audience.PARTY, T0),
        reverse=False,
        by=RULER,
        at=T0,
        grounds="stands",
    )
    again = appealed_by(confirmed, Audience.REPORTER, T0)
    deciders = appeals.deciders(again)
    assert deciders == {DECIDER, RULER}
    for action in (Action.TAKE, Action.CONFIRM, Action.REVERSE):
        assert refused(action, Status.APPEALED, ActorRole.ADMIN, actor=RULER, deciders=deciders)
    assert check(Action.TAKE, Status.APPEALED, ActorRole.REVIEWER, actor=OTHER, deciders=deciders)


# --- a stake in the case -------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("action", IMPARTIAL)
def test_no_one_with_a_stake_takes_decides_or_rules(action: Action, role: ActorRole) -> None:
    status = (
        Status.APPEALED
        if action in {Action.CONFIRM, Action.REVERSE}
        else Status.SUBMITTED
        if action is Action.TAKE
        else Status.IN_REVIEW
    )
    if action is Action.ASSIGN and role is ActorRole.REVIEWER:
        role = ActorRole.ADMIN
    reason = refused(
        action,
        status,
        role,
        actor=OTHER,
        assignee=OTHER,
        decided=Status.UPHELD,
        conflicts={OTHER},
    )
    assert reason == "conflict"
    offered = allowed_actions(
        status, role, actor=OTHER, assignee=OTHER, decided=Status.UPHELD, conflicts={OTHER}
    )
    # An assignment is offered without knowing to whom; the one chosen is checked.
    assert (action in offered) is (action is Action.ASSIGN)


def test_a_stake_does_not_stop_a_note_nor_the_reporter_withdrawing() -> None:
    assert check(Action.NOTE, Status.IN_REVIEW, ActorRole.REVIEWER, actor=OTHER, conflicts={OTHER})
    assert check(
        Action.WITHDRAW, Status.IN_REVIEW, ActorRole.REPORTER, actor=OTHER, conflicts={OTHER}
    )


# --- one appeal per side and decision ------------------------------------------------------------

WINDOW = timedelta(days=30)


def test_a_new_decision_after_a_reversal_may_be_appealed_by_either_side() -> None:
    anew = appeals.carry_appeals(
        reversed_rejection(), decided("rejected", by=OTHER, at=T0 + timedelta(days=3))
    )
    now = T0 + timedelta(days=4)
    assert appeals.can_appeal(anew, Audience.REPORTER, now, WINDOW) is None
    assert appeals.can_appeal(anew, Audience.PARTY, now, WINDOW) is None


def test_a_confirmation_is_final_for_the_side_that_appealed_only() -> None:
    confirmed = appeals.ruled(
        appealed_by(decided("upheld"), Audience.PARTY, T0),
        reverse=False,
        by=RULER,
        at=T0,
        grounds="stands",
    )
    assert appeals.can_appeal(confirmed, Audience.PARTY, T0, WINDOW) == "again"
    assert appeals.can_appeal(confirmed, Audience.REPORTER, T0, WINDOW) is None


def test_the_rejection_a_reversal_gives_is_final_for_the_appellant_not_for_the_other_side() -> (
    None
):
    reversed_ = appeals.ruled(
        appealed_by(decided("upheld"), Audience.PARTY, T0),
        reverse=True,
        by=RULER,
        at=T0,
        grounds="wrong",
    )
    assert reversed_["outcome"] == "rejected"
    assert appeals.can_appeal(reversed_, Audience.PARTY, T0, WINDOW) == "again"
    assert appeals.can_appeal(reversed_, Audience.REPORTER, T0, WINDOW) is None
