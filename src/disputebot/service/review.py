"""Acting on a case: the lifecycle check, the change with its audit event, and the notifications.

Everything happens in the caller's unit of work, so a status change and the messages it sends
(to the reporter, to the assignee, to the staff group) commit together or not at all: the
transactional outbox of DESIGN §4. The case's "still under review" deadline is set or dropped
in the same transaction. Who may act is decided by ``cases.lifecycle``; this module
only carries the decision out.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from disputebot.cases import appeals, lifecycle, reasons
from disputebot.cases.lifecycle import Action, ActorRole
from disputebot.cases.records import CaseChange, CaseEvent, CaseRecord, EvidenceSource, Status
from disputebot.engine.effects import N_, Button, Msg, Say
from disputebot.engine.spec import FlowBook
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey, Clock, UnitOfWork
from disputebot.service.answers import Acted, Actor
from disputebot.service.replies import option_label

if TYPE_CHECKING:
    from disputebot.service.addons import Addon

__all__ = [
    "REMINDER_KIND",
    "Actor",
    "CaseActions",
    "SettleEvidence",
    "chat_of",
    "conflicts",
    "open_button",
]


# Returns once the evidence files at these paths are durable (``EvidenceVault.settle``).
SettleEvidence = Callable[[Iterable[str]], Awaitable[None]]

log = logging.getLogger(__name__)

# What the reporter is told when their case moves; the staff's own reply says it separately.
_REPORTER_NEWS = {
    Action.TAKE: N_("notify.in_review"),
    Action.ASK_INFO: N_("notify.awaiting_info"),
    Action.UPHOLD: N_("notify.upheld"),
    Action.REJECT: N_("notify.rejected"),
    Action.ESCALATE: N_("notify.escalated"),
    Action.WITHDRAW: N_("notify.withdrawn"),
    Action.REOPEN: N_("notify.reopened"),
    Action.CLOSE: N_("notify.closed"),
    Action.MERGE: N_("notify.merged"),
}

# The deadline that reminds a reporter their case is still being looked at (see
# ``service.reminders``). It runs while staff hold the case: not while the reporter is the one
# awaited, and not once the case is finished.
REMINDER_KIND = "still_under_review"
REMIND_WHILE: frozenset[Status] = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.ESCALATED, Status.APPEALED}
)


def chat_of(user_ref: str) -> ChatKey | None:
    """``telegram:123`` back to its chat; ``None`` for a reference that names none."""
    channel, _, raw = user_ref.rpartition(":")
    try:
        return ChatKey(channel, int(raw)) if channel else None
    except ValueError:
        return None


def open_button(case_id: str) -> Button:
    return Button(Msg("staff.button.open", {"case_id": case_id}), f"sf:card:{case_id}")


async def conflicts(uow: UnitOfWork, case: CaseRecord, *refs: str | None) -> frozenset[str]:
    """Which of ``refs`` (staff about to take, be handed, decide or rule on ``case``) have a
    stake in it: its reporter, the appellant of its pending appeal, or a chat linked to the
    reported account. What ``lifecycle.check`` takes as ``conflicts``; one look-up per ref
    that is neither of the first two."""
    pending = appeals.open_appeal(case.decision)
    known = {case.reporter_id, str(pending.get("by") or "") if pending else ""}
    found: set[str] = set()
    for ref in dict.fromkeys(r for r in refs if r):
        if ref in known or any(
            link.account_key == case.account_key for link in await uow.parties.accounts_of(ref)
        ):
            found.add(ref)
    return frozenset(found)


class CaseActions:
    """Carries out lifecycle actions on cases."""

    def __init__(
        self,
        book: FlowBook,
        clock: Clock,
        *,
        default_locale: str,
        staff_chat_id: int | None = None,
        reminder_after: timedelta | None = None,
        platform_events: bool = False,
        admins: frozenset[int] = frozenset(),
        evidence_settled: SettleEvidence | None = None,
    ) -> None:
        """``reminder_after``: how long a case may wait on staff before its reporter is told
        it is still under review (``None`` or zero: never). ``evidence_settled``: returns once
        the evidence files at the given paths are durable (``EvidenceVault.settle``); files are
        added to a case only after it."""
        self._evidence_settled = evidence_settled
        self._book = book
        self._clock = clock
        self._default_locale = default_locale
        self._staff_chat_id = staff_chat_id
        self._reminder_after = reminder_after if reminder_after else None
        self._platform_events = platform_events
        self._admins = admins
        # The fairness features, told of every action after it is applied (``service.addons``);
        # set once the service has built them, since they act through this object too.
        self.addons: list[Addon] = []

    async def act(
        self,
        uow: UnitOfWork,
        case: CaseRecord,
        action: Action,
        actor: Actor,
        *,
        note: str = "",
        detail: Mapping[str, Any] | None = None,
        assignee: str | None = None,
        evidence: Sequence[EvidenceFile] = (),
        evidence_source: EvidenceSource = EvidenceSource.REPORTER,
        decision: Mapping[str, Any] | None = None,
        merged_into: str | None = None,
        kind: str | None = None,
    ) -> Status:
        """Apply ``action``; returns the new status. Raises ``IllegalTransition``.

        ``detail`` holds what a decision chose: ``measures`` and ``duration`` (uphold),
        ``reason`` (reject), ``department`` (escalate). ``decision`` replaces the decision the
        action would record (an appeal records itself on the decision it contests); ``kind``
        replaces the audit event's kind.
        """
        detail = detail or {}
        decider, decided = lifecycle.under_appeal(case.decision)
        holder = assignee if action is Action.ASSIGN else actor.ref
        stakes: frozenset[str] = frozenset()
        if action in lifecycle.IMPARTIAL_ACTIONS and actor.role in _STAFF_ROLES:
            stakes = await conflicts(uow, case, holder)
        to = lifecycle.check(
            action,
            case.status,
            actor.role,
            actor=actor.ref,
            assignee=assignee if action is Action.ASSIGN else case.assignee,
            decider=decider,
            decided=decided,
            deciders=appeals.deciders(case.decision),
            conflicts=stakes,
        )
        now = self._clock.now()
        event = CaseEvent(
            at=now,
            actor=actor.ref,
            kind=kind or lifecycle.decision_kind(action, str(detail.get("reason", ""))),
            from_status=case.status,
            to_status=to if to is not case.status else None,
            note=note,
        )
        staff = actor.role in _STAFF_ROLES
        if decision is None and action in {Action.CONFIRM, Action.REVERSE}:
            decision = appeals.ruled(
                case.decision, reverse=action is Action.REVERSE, by=actor.ref, at=now, grounds=note
            )
        if decision is None:
            decision = _decision(action, detail, note, actor.ref, now.isoformat())
            if decision is not None and action is not Action.WITHDRAW:
                decision = appeals.carry_appeals(case.decision, decision)
        change = CaseChange(
            event=event,
            to=to if to is not case.status else None,
            set_assignee=action in {Action.TAKE, Action.ASSIGN, Action.APPEAL},
            # An appeal waits for a reviewer other than the decider to take it.
            assignee=actor.ref if action is Action.TAKE else assignee,
            decision=decision,
            evidence=tuple(evidence),
            first_response=staff and action is not Action.NOTE,
            evidence_source=evidence_source,
            merged_into=merged_into,
        )
        if change.evidence:
            await self.settle(change.evidence)
        await uow.cases.apply(case.public_id, change)
        if to is not case.status:
            await self.track_reminder(uow, case.public_id, to)
        if action is not Action.NOTE:  # internal notes stay internal
            await self.platform_event(
                uow,
                f"case.{action.value}",
                case.public_id,
                status=to,
                previous=case.status,
                account_key=case.account_key,
                category=case.category,
                actor_role=actor.role.value,
                decision=change.decision,
            )
        await self._tell_reporter(
            uow, case, action, actor, note=note, detail=detail, to=to, into=merged_into
        )
        await self._tell_staff(uow, case, action, actor, assignee)
        if self.addons:
            after = await uow.cases.get(case.public_id)
            if after is not None:
                acted = Acted(action, case, after, actor, note, detail)
                for addon in self.addons:
                    await addon.on_acted(uow, acted)
        log.info("case %s: %s by %s (%s → %s)", case.public_id, action, actor.ref, case.status, to)
        return to

    async def settle(self, evidence: Iterable[EvidenceFile]) -> None:
        """Wait until these files are durable, before a case that refers to them commits."""
        if self._evidence_settled is not None:
            await self._evidence_settled(e.stored_path for e in evidence if e.stored_path)

    async def track_reminder(self, uow: UnitOfWork, case_id: str, status: Status) -> None:
        """The case has just entered ``status`` (or been filed): restart its "still under
        review" deadline while staff hold it, drop it otherwise. In the caller's unit of work,
        so the deadline commits with the change."""
        if status not in REMIND_WHILE:
            await uow.deadlines.cancel(case_id, REMINDER_KIND)
        elif self._reminder_after is not None:
            now = self._clock.now()
            await uow.deadlines.schedule(
                case_id, REMINDER_KIND, now + self._reminder_after, now=now
            )

    async def platform_event(
        self,
        uow: UnitOfWork,
        kind: str,
        case_id: str,
        *,
        status: Status,
        previous: Status | None,
        account_key: str,
        category: str,
        actor_role: str,
        decision: Mapping[str, Any] | None = None,
    ) -> None:
        """Tell the marketplace's enforcement system, through the outbox, in this transaction.

        The event names the account and the decision, never the reporter: the platform looks
        the case up by its id if it needs more. ``event_id`` stays the same on every retry.
        """
        if not self._platform_events:
            return
        now = self._clock.now()
        payload: dict[str, Any] = {
            "event_id": uuid.uuid4().hex,
            "type": kind,
            "case_id": case_id,
            "status": status.value,
            "previous_status": None if previous is None else previous.value,
            "at": now.isoformat(),
            "actor_role": actor_role,
            "account_key": account_key,
            "category": category,
        }
        if decision is not None:
            payload["decision"] = _without_appellants(decision)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        await uow.outbox.put_event(body, now=now, case_id=case_id)

    async def announce(self, uow: UnitOfWork, case_id: str, channel: str, summary: Msg) -> None:
        """A new case, to the staff group, with buttons to open or take it."""
        if self._staff_chat_id is None:
            return
        say = Say(
            (Msg("staff.new_case", {"case_id": case_id}), summary),
            ((open_button(case_id), Button(Msg("staff.button.take"), f"sf:take:{case_id}")),),
        )
        await self._put(uow, ChatKey(channel, self._staff_chat_id), say, case_id)

    async def _tell_reporter(
        self,
        uow: UnitOfWork,
        case: CaseRecord,
        action: Action,
        actor: Actor,
        *,
        note: str,
        detail: Mapping[str, Any],
        to: Status,
        into: str | None = None,
    ) -> None:
        key = _REPORTER_NEWS.get(action)
        if any(action in getattr(a, "statement_actions", ()) for a in self.addons):
            return  # an addon sends the reporter a statement of reasons instead
        if action is Action.ASSIGN and to is Status.IN_REVIEW and case.status is not to:
            key = _REPORTER_NEWS[Action.TAKE]
        if key is None:
            return
        # The reporters of duplicates merged into this case follow it as their own; a question
        # is the case's own reporter's to answer (its Answer button is theirs alone).
        merged = []
        if action not in {Action.MERGE, Action.ASK_INFO}:
            merged = await uow.cases.merged_from(case.public_id)
        followers = [
            (case.reporter_id, case.public_id),
            *((m.reporter_id, m.public_id) for m in merged),
        ]
        for reporter_id, case_id in followers:
            reporter = chat_of(reporter_id)
            if reporter is None or actor.chat == reporter:
                continue
            # No reporter learns who else reported the account, even from staff's words.
            others = [r for r, _ in followers if r != reporter_id]
            said = reasons.redact(note, others) if others else note
            say = self._reporter_news(case, key, action, said, detail, case_id, into)
            await self._put(uow, reporter, say, case.public_id)

    def _reporter_news(  # noqa: PLR0917  (a private helper of _tell_reporter)
        self,
        case: CaseRecord,
        key: str,
        action: Action,
        note: str,
        detail: Mapping[str, Any],
        own_id: str,
        into: str | None,
    ) -> Say:
        ids = {"case_id": case.public_id}
        if own_id != case.public_id:
            ids = {"case_id": f"{own_id} → {case.public_id}"}
        text: list[Msg] = []
        buttons: tuple[tuple[Button, ...], ...] = ()
        if action is Action.ASK_INFO:
            text.append(Msg(key, {**ids, "question": note}))
            buttons = ((Button(Msg("notify.answer_button"), f"rp:ans:{case.public_id}"),),)
        elif action is Action.UPHOLD:
            text.append(Msg(key, ids))
            text += [
                Msg("notify.measure", {"label": self.label("uphold", "measures", m)})
                for m in detail.get("measures", ())
            ]
        elif action is Action.REJECT:
            reason = self.label("reject", "reason", str(detail.get("reason", "")))
            text.append(Msg(key, {**ids, "reason": reason}))
        elif action is Action.MERGE:
            text.append(Msg(key, {**ids, "into": into or "-"}))
        else:
            text.append(Msg(key, ids))
        if note and action in {Action.UPHOLD, Action.REJECT}:
            text.append(Msg("notify.staff_note", {"note": note}))
        return Say(tuple(text), buttons)

    async def _tell_staff(
        self,
        uow: UnitOfWork,
        case: CaseRecord,
        action: Action,
        actor: Actor,
        assignee: str | None,
    ) -> None:
        if action is Action.ASSIGN and assignee is not None and assignee != actor.ref:
            target = chat_of(assignee)
            if target is not None:
                say = Say(
                    (Msg("staff.assigned_to_you", {"case_id": case.public_id}),),
                    ((open_button(case.public_id),),),
                )
                await self._put(uow, target, say, case.public_id)
            return
        if actor.role is not ActorRole.REPORTER:
            return
        key = {
            Action.INFO_RECEIVED: N_("staff.info_answered"),
            Action.WITHDRAW: N_("staff.withdrawn_by_reporter"),
        }.get(action)
        if key is None:
            return
        say = Say((Msg(key, {"case_id": case.public_id}),), ((open_button(case.public_id),),))
        target = chat_of(case.assignee) if case.assignee else None
        if target is not None and not await self._is_staff(uow, target):
            target = None  # no longer staff: case news must not reach them
        if target is None and self._staff_chat_id is not None:
            target = ChatKey(actor.chat.channel, self._staff_chat_id)
        if target is not None:
            await self._put(uow, target, say, case.public_id)

    async def _is_staff(self, uow: UnitOfWork, chat: ChatKey) -> bool:
        return chat.chat_id in self._admins or await uow.staff.role(chat) is not None

    async def _put(self, uow: UnitOfWork, chat: ChatKey, say: Say, case_id: str) -> None:
        locale = await uow.reporters.locale(chat) or self._default_locale
        await uow.outbox.put(chat, say, locale, now=self._clock.now(), case_id=case_id)

    def label(self, flow_name: str, step_id: str, value: str) -> Msg:
        """An option's label from a decision flow, or the raw value if the flow lost it."""
        try:
            flow = self._book.current(flow_name)
        except KeyError:
            flow = None
        return option_label(flow, step_id, value) or Msg("staff.value", {"value": value})


_STAFF_ROLES = frozenset({ActorRole.REVIEWER, ActorRole.ADMIN})


def _without_appellants(decision: Mapping[str, Any]) -> dict[str, Any]:
    """The decision as the platform may see it: an appeal says which side made it, not who
    (the reporter's chat must never reach the platform)."""
    public = dict(decision)
    if "appeals" in public:
        public["appeals"] = [
            {k: v for k, v in appeal.items() if k != "by"} for appeal in public["appeals"]
        ]
    return public


def _decision(
    action: Action, detail: Mapping[str, Any], note: str, by: str, at: str
) -> dict[str, Any] | None:
    """What the case records of a decision. ``decided_by`` is who an appeal may not go to."""
    who = {"decided_by": by, "decided_at": at}
    if action is Action.UPHOLD:
        measures = list(detail.get("measures", ()))
        duration = str(detail.get("duration", ""))
        return {
            "outcome": "upheld",
            "measures": measures,
            "duration": duration,
            "note": note,
            **who,
        }
    if action is Action.REJECT:
        reason = str(detail.get("reason", ""))
        return {"outcome": "rejected", "reason": reason, "note": note, **who}
    if action is Action.ESCALATE:
        department = str(detail.get("department", ""))
        return {"outcome": "escalated", "department": department, "note": note, **who}
    if action is Action.MERGE:
        return {"outcome": "merged"}
    if action is Action.WITHDRAW:
        return {"outcome": "withdrawn"}
    if action is Action.REOPEN:
        return {}  # no decision stands while the case is reviewed again
    return None
