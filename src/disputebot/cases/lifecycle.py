"""The case lifecycle: which action moves a case from which status to which, and who may take it.

The table below is the whole rule book. The service asks ``check`` before every change and the
store applies the change only if the case is still in the status the check saw, so a decision
taken on a stale card is refused instead of applied twice. What a decision *contains* (the
measures, the rejection reasons, the departments) is configuration: the options of the decision
conversations in ``conversations/``, not code.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from disputebot.cases.records import OPEN_STATUSES, Status
from disputebot.errors import DisputebotError

__all__ = [
    "IMPARTIAL_ACTIONS",
    "TRANSITIONS",
    "Action",
    "ActorRole",
    "IllegalTransition",
    "Rule",
    "allowed_actions",
    "check",
    "decision_kind",
    "under_appeal",
]


class ActorRole(StrEnum):
    """Who acts on a case. Staff roles come from the roster; ``reporter`` is the case's owner."""

    REPORTER = "reporter"
    PARTY = "party"  # the reported party, through a chat linked to the account
    REVIEWER = "reviewer"
    ADMIN = "admin"
    SYSTEM = "system"


class Action(StrEnum):
    TAKE = "take"  # a reviewer assigns the case to themselves and starts the review
    ASSIGN = "assign"  # an admin hands the case to a reviewer
    ASK_INFO = "ask_info"
    INFO_RECEIVED = "info_received"
    UPHOLD = "uphold"
    REJECT = "reject"
    ESCALATE = "escalate"
    WITHDRAW = "withdraw"
    REOPEN = "reopen"
    CLOSE = "close"
    NOTE = "note"
    STATEMENT = "statement"  # the reported party answers the report
    MERGE = "merge"  # a duplicate is folded into another case
    APPEAL = "appeal"  # either side contests a decision
    CONFIRM = "confirm"  # an appeal is decided: the decision stands
    REVERSE = "reverse"  # an appeal is decided: the decision is reversed


_STAFF = frozenset({ActorRole.REVIEWER, ActorRole.ADMIN})
_ADMIN = frozenset({ActorRole.ADMIN})
_REPORTER = frozenset({ActorRole.REPORTER})
_SIDES = frozenset({ActorRole.REPORTER, ActorRole.PARTY})
_DECIDED = frozenset({Status.UPHELD, Status.REJECTED})
_FINISHED = frozenset(
    {Status.UPHELD, Status.REJECTED, Status.WITHDRAWN, Status.CLOSED, Status.MERGED}
)
# Open, but not under appeal: an appealed decision is not withdrawn or merged away.
_UNDECIDED = OPEN_STATUSES - {Status.APPEALED}
# What only someone without a stake in the case may do to it: take or be handed it, decide it,
# or rule on an appeal against it (DSA Arts. 16(6), 20(4), 20(6)).
IMPARTIAL_ACTIONS = frozenset(
    {
        Action.TAKE,
        Action.ASSIGN,
        Action.UPHOLD,
        Action.REJECT,
        Action.ESCALATE,
        Action.CONFIRM,
        Action.REVERSE,
    }
)
# Once a case has been appealed, what no one who decided it or ruled on it may do to it again
# (DSA Art. 20: the appeal is decided by someone else, and so is any decision after it): the
# above, and ending it some other way, by merging it away or withdrawing it for the reporter.
_NOT_THE_DECIDERS = IMPARTIAL_ACTIONS | {Action.MERGE, Action.WITHDRAW}
_ALL = frozenset(Status)
# Under review, or waiting on the reporter: a silent reporter must not freeze a case.
_REVIEWING = frozenset({Status.IN_REVIEW, Status.AWAITING_INFO})


@dataclass(frozen=True, slots=True)
class Rule:
    """``action`` is allowed from ``sources`` for ``roles``; ``to`` is ``None`` when the status
    stays (an assignment, a note). With ``assignee_only``, a reviewer must be the case's
    assignee (admins always may)."""

    action: Action
    sources: frozenset[Status]
    to: Status | None
    roles: frozenset[ActorRole]
    assignee_only: bool = False


TRANSITIONS: dict[Action, Rule] = {
    rule.action: rule
    for rule in (
        Rule(
            Action.TAKE,
            frozenset({Status.SUBMITTED, Status.ESCALATED, Status.APPEALED}),
            Status.IN_REVIEW,
            _STAFF,
        ),
        Rule(Action.ASSIGN, OPEN_STATUSES, None, _ADMIN),
        Rule(Action.ASK_INFO, _REVIEWING, Status.AWAITING_INFO, _STAFF, True),
        Rule(
            Action.INFO_RECEIVED,
            frozenset({Status.AWAITING_INFO}),
            Status.IN_REVIEW,
            _REPORTER,
        ),
        Rule(Action.UPHOLD, _REVIEWING, Status.UPHELD, _STAFF, True),
        Rule(Action.REJECT, _REVIEWING, Status.REJECTED, _STAFF, True),
        Rule(Action.ESCALATE, _REVIEWING, Status.ESCALATED, _STAFF, True),
        # The reporter withdraws before a decision, in chat or by asking staff to do it.
        Rule(Action.WITHDRAW, _UNDECIDED, Status.WITHDRAWN, _REPORTER | _STAFF),
        Rule(Action.REOPEN, _FINISHED, Status.IN_REVIEW, _ADMIN),
        Rule(Action.CLOSE, _DECIDED, Status.CLOSED, _STAFF),
        Rule(Action.NOTE, _ALL, None, _STAFF),
        Rule(Action.STATEMENT, OPEN_STATUSES, None, frozenset({ActorRole.PARTY})),
        Rule(Action.MERGE, _UNDECIDED, Status.MERGED, _STAFF),
        # A decision stands while appealed; closing it does not end the right of appeal.
        Rule(Action.APPEAL, _DECIDED | {Status.CLOSED}, Status.APPEALED, _SIDES),
        # ``to`` depends on the decision appealed; see ``check``.
        Rule(Action.CONFIRM, frozenset({Status.APPEALED}), None, _STAFF, True),
        Rule(Action.REVERSE, frozenset({Status.APPEALED}), None, _STAFF, True),
    )
}


class IllegalTransition(DisputebotError):
    """An action that the case's status or the actor's role does not allow.

    ``reason`` is ``"status"`` (not from this status), ``"role"`` (not for this actor),
    ``"assignee"`` (the case is another reviewer's), ``"decider"`` (the appeal is against this
    person's own decision, or the case has been appealed and they decided or ruled on it
    before) or ``"conflict"`` (they have a stake in the case: they reported it, are linked to
    the reported account, or made the appeal); channels turn it into a message.
    """

    def __init__(self, action: Action, status: Status, role: ActorRole, reason: str) -> None:
        super().__init__(f"{action.value} is not allowed on a {status.value} case ({reason})")
        self.action = action
        self.status = status
        self.role = role
        self.reason = reason


def check(
    action: Action,
    status: Status,
    role: ActorRole,
    *,
    actor: str = "",
    assignee: str | None = None,
    decider: str | None = None,
    decided: Status | None = None,
    deciders: Collection[str] = (),
    conflicts: Collection[str] = (),
) -> Status:
    """The status after ``action``; raises ``IllegalTransition`` when it is not allowed.

    For an appealed case, ``decider`` is who took the decision under appeal and ``decided`` its
    outcome (``upheld`` or ``rejected``). The decider may not take, be assigned, confirm or
    reverse the appeal. Confirming returns the case to ``decided``; reversing an upheld
    decision rejects the report (lifting the measures), reversing a rejection puts the case
    back in review for a new decision.

    ``deciders`` are everyone who decided the case or ruled on an appeal against it, once it
    has been appealed (``cases.appeals.deciders``): none of them may take it, be assigned it,
    decide it, rule on it, merge it away or withdraw it, at any status. ``conflicts`` are the
    people with a stake in it (its reporter, the appellant, anyone linked to the reported
    account): none of them may take it, be assigned it, decide it or rule on it. For an
    assignment, what counts is the one it is handed to (``assignee``; ``None``: not chosen yet).
    """
    rule = TRANSITIONS[action]
    if role is not ActorRole.SYSTEM and role not in rule.roles:
        raise IllegalTransition(action, status, role, "role")
    if status not in rule.sources:
        raise IllegalTransition(action, status, role, "status")
    if role in _STAFF:
        # The one who would hold the case: the actor, or for an assignment the assignee.
        holder = assignee if action is Action.ASSIGN else actor
        barred = set(deciders)
        if status is Status.APPEALED and decider is not None:
            barred.add(decider)
        if holder and action in IMPARTIAL_ACTIONS and holder in conflicts:
            raise IllegalTransition(action, status, role, "conflict")
        if holder and action in _NOT_THE_DECIDERS and holder in barred:
            raise IllegalTransition(action, status, role, "decider")
    if (
        rule.assignee_only
        and role is ActorRole.REVIEWER
        and assignee is not None
        and assignee != actor
    ):
        raise IllegalTransition(action, status, role, "assignee")
    if status is Status.APPEALED and action in {Action.TAKE, Action.ASSIGN}:
        return Status.APPEALED  # the appeal is reviewed as an appeal, not as a new report
    if action is Action.CONFIRM:
        return decided if decided in _DECIDED else Status.UPHELD
    if action is Action.REVERSE:
        return Status.REJECTED if decided is not Status.REJECTED else Status.IN_REVIEW
    if action is Action.ASSIGN and status is Status.SUBMITTED:
        return Status.IN_REVIEW  # handing a new case to a reviewer starts its review
    return rule.to if rule.to is not None else status


def allowed_actions(
    status: Status,
    role: ActorRole,
    *,
    actor: str = "",
    assignee: str | None = None,
    decider: str | None = None,
    decided: Status | None = None,
    deciders: Collection[str] = (),
    conflicts: Collection[str] = (),
) -> list[Action]:
    """The actions ``role`` may take on a case in ``status``, in table order. An assignment is
    offered without knowing to whom (the one chosen is checked when it is made)."""
    allowed = []
    for action in TRANSITIONS:
        try:
            check(
                action,
                status,
                role,
                actor=actor,
                assignee=None if action is Action.ASSIGN else assignee,
                decider=decider,
                decided=decided,
                deciders=deciders,
                conflicts=conflicts,
            )
        except IllegalTransition:
            continue
        allowed.append(action)
    return allowed


def decision_kind(action: Action, detail: str = "") -> str:
    """The audit event kind of an action: ``uphold``, ``rejected:false_report``, …

    Rejections carry their reason in the kind, since the abuse checks look for reports
    rejected as false.
    """
    if action is Action.REJECT and detail:
        return f"rejected:{detail}"
    return action.value


def under_appeal(decision: Mapping[str, Any]) -> tuple[str | None, Status | None]:
    """Who took a case's standing decision, and its outcome (``upheld``/``rejected``; ``None``
    for anything else): what ``check`` needs as ``decider`` and ``decided``."""
    decider = decision.get("decided_by")
    try:
        outcome = Status(str(decision.get("outcome", "")))
    except ValueError:
        outcome = None
    return (str(decider) if decider else None), (outcome if outcome in _DECIDED else None)
