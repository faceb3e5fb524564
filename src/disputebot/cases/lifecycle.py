"""The case lifecycle: which action moves a case from which status to which, and who may take it.

The table below is the whole rule book. The service asks ``check`` before every change and the
store applies the change only if the case is still in the status the check saw, so a decision
taken on a stale card is refused instead of applied twice. What a decision *contains* (the
measures, the rejection reasons, the departments) is configuration: the options of the decision
conversations in ``conversations/``, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from disputebot.cases.records import OPEN_STATUSES, Status
from disputebot.errors import DisputebotError

__all__ = [
    "TRANSITIONS",
    "Action",
    "ActorRole",
    "IllegalTransition",
    "Rule",
    "allowed_actions",
    "check",
    "decision_kind",
]


class ActorRole(StrEnum):
    """Who acts on a case. Staff roles come from the roster; ``reporter`` is the case's owner."""

    REPORTER = "reporter"
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


_STAFF = frozenset({ActorRole.REVIEWER, ActorRole.ADMIN})
_ADMIN = frozenset({ActorRole.ADMIN})
_REPORTER = frozenset({ActorRole.REPORTER})
_DECIDED = frozenset({Status.UPHELD, Status.REJECTED})
_FINISHED = frozenset({Status.UPHELD, Status.REJECTED, Status.WITHDRAWN, Status.CLOSED})
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
            Action.TAKE, frozenset({Status.SUBMITTED, Status.ESCALATED}), Status.IN_REVIEW, _STAFF
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
        Rule(Action.WITHDRAW, OPEN_STATUSES, Status.WITHDRAWN, _REPORTER | _STAFF),
        Rule(Action.REOPEN, _FINISHED, Status.IN_REVIEW, _ADMIN),
        Rule(Action.CLOSE, _DECIDED, Status.CLOSED, _STAFF),
        Rule(Action.NOTE, _ALL, None, _STAFF),
    )
}


class IllegalTransition(DisputebotError):
    """An action that the case's status or the actor's role does not allow.

    ``reason`` is ``"status"`` (not from this status), ``"role"`` (not for this actor) or
    ``"assignee"`` (the case is another reviewer's); channels turn it into a message.
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
) -> Status:
    """The status after ``action``; raises ``IllegalTransition`` when it is not allowed."""
    rule = TRANSITIONS[action]
    if role is not ActorRole.SYSTEM and role not in rule.roles:
        raise IllegalTransition(action, status, role, "role")
    if status not in rule.sources:
        raise IllegalTransition(action, status, role, "status")
    if (
        rule.assignee_only
        and role is ActorRole.REVIEWER
        and assignee is not None
        and assignee != actor
    ):
        raise IllegalTransition(action, status, role, "assignee")
    if action is Action.ASSIGN and status is Status.SUBMITTED:
        return Status.IN_REVIEW  # handing a new case to a reviewer starts its review
    return rule.to if rule.to is not None else status


def allowed_actions(
    status: Status, role: ActorRole, *, actor: str = "", assignee: str | None = None
) -> list[Action]:
    """The actions ``role`` may take on a case in ``status``, in table order."""
    allowed = []
    for action in TRANSITIONS:
        try:
            check(action, status, role, actor=actor, assignee=assignee)
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
