"""The lifecycle's appeal rules (DSA Art. 20), pure: who may appeal what, and who may not decide
the appeal."""

from __future__ import annotations

from typing import Any

import pytest

from disputebot.cases.lifecycle import (
    Action,
    ActorRole,
    IllegalTransition,
    allowed_actions,
    check,
    under_appeal,
)
from disputebot.cases.records import Status

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
