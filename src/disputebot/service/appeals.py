"""Appeals (DSA Art. 20) and statements of reasons (Art. 17).

Every decision (upheld, rejected, escalated) and every ruling on an appeal produces a statement
of reasons for each side: the reporter (and the reporters of duplicates merged into the case)
and every chat linked to the reported account. Each is kept on the case in the language it was
sent in, and delivered through the outbox in the same unit of work as the decision; when no
party is linked, the party's statement is still kept, addressed to nobody, so the record shows
what would have been said. A statement replaces the reporter's short outcome notice.

Either side may appeal a decision once, within the window, with ``/appeal ID`` or the button
under its statement. A chat's side is found from the case, never taken from the request: the
reporter of the case (or of a case merged into it), or a chat linked to the case's account.
Anyone else gets the answer an unknown case gets, so case ids cannot be probed. The appeal is
recorded on the decision (``cases.appeals``); the lifecycle keeps the original decider from
taking or ruling on it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from disputebot.cases import appeals, reasons
from disputebot.cases.ids import normalize_case_id
from disputebot.cases.lifecycle import Action, ActorRole, IllegalTransition
from disputebot.cases.records import (
    Audience,
    CaseRecord,
    EvidenceSource,
    Statement,
    Status,
)
from disputebot.engine.answers import evidence_list
from disputebot.engine.effects import N_, Button, Finish, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.prompts import when
from disputebot.ports import ChatKey, UnitOfWork
from disputebot.service import cards
from disputebot.service.addons import Acted, Addon, AddonContext, CardPart
from disputebot.service.answers import Actor, DeskAnswer, StartFlow
from disputebot.service.review import chat_of, open_button
from disputebot.service.statements import APPEAL_PREFIX, render_statement

__all__ = ["APPEAL_FLOW", "STATEMENT_ACTIONS", "Appeals"]

log = logging.getLogger(__name__)

APPEAL_FLOW = "appeal"
# The actions that produce a statement of reasons, and of which kind.
STATEMENT_ACTIONS: dict[Action, str] = {
    Action.UPHOLD: "decision",
    Action.REJECT: "decision",
    Action.ESCALATE: "decision",
    Action.CONFIRM: "appeal",
    Action.REVERSE: "appeal",
}
_SIDE_ROLES = {Audience.REPORTER: ActorRole.REPORTER, Audience.PARTY: ActorRole.PARTY}
_SIDE_SOURCES = {Audience.REPORTER: EvidenceSource.REPORTER, Audience.PARTY: EvidenceSource.PARTY}
_SIDE_LABELS = {Audience.REPORTER: N_("sor.side.reporter"), Audience.PARTY: N_("sor.side.party")}
_REFUSALS = {
    "nothing": N_("appeal.nothing"),
    "late": N_("appeal.late"),
    "again": N_("appeal.again"),
    "pending": N_("appeal.pending"),
}


class Appeals(Addon):
    flows = frozenset({APPEAL_FLOW})
    prefixes = (APPEAL_PREFIX,)
    # The actions whose statement replaces the reporter's short notice (``service.review``).
    statement_actions = frozenset(STATEMENT_ACTIONS)

    def __init__(self, ctx: AddonContext) -> None:
        self._ctx = ctx

    # --- statements of reasons -----------------------------------------------------------------

    async def on_acted(self, uow: UnitOfWork, acted: Acted) -> None:
        kind = STATEMENT_ACTIONS.get(acted.action)
        if kind is None:
            return
        case = acted.after
        merged = await uow.cases.merged_from(case.public_id)
        reporters = [case.reporter_id, *(m.reporter_id for m in merged)]
        for reporter_id in dict.fromkeys(reporters):
            # A reporter's statement names none of the other reporters of the account either.
            others = [r for r in reporters if r != reporter_id]
            await self._state(uow, case, Audience.REPORTER, kind, reporter_id, others)
        links = await uow.parties.links(case.account_key)
        for link in links:
            await self._state(uow, case, Audience.PARTY, kind, link.chat_ref, reporters)
        if not links:
            await self._state(uow, case, Audience.PARTY, kind, None, reporters)

    async def _state(  # noqa: PLR0917  (one statement: who, about what, hiding whom)
        self,
        uow: UnitOfWork,
        case: CaseRecord,
        audience: Audience,
        kind: str,
        recipient: str | None,
        hide: list[str],
    ) -> None:
        """Keep one side's statement, and send it if there is a chat to send it to; ``hide``
        are the reporter ids (besides, for the party, the case's own) it must not show."""
        now = self._ctx.clock.now()
        body = reasons.statement_body(
            case,
            audience,
            kind=kind,
            now=now,
            window=self._ctx.rules.appeal_window,
            hide=hide,
        )
        chat = chat_of(recipient) if recipient else None
        locale = self._ctx.default_locale
        if chat is not None:
            locale = await uow.reporters.locale(chat) or locale
        statement = Statement(
            case_id=case.public_id,
            audience=audience,
            kind=kind,
            body=body,
            locale=locale,
            recipient=recipient if chat is not None else None,
            created_at=now,
        )
        await uow.cases.add_statement(statement)
        if chat is not None:
            say = render_statement(body, self._ctx.actions.label)
            await uow.outbox.put(chat, say, locale, now=now, case_id=case.public_id)

    # --- filing an appeal ----------------------------------------------------------------------

    async def command(
        self, uow: UnitOfWork, chat: ChatKey, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        if event.name != "appeal":
            return None
        args = event.args.strip()
        if not args or args.lower() == "suspension":
            return None  # the reporter-standing helper answers these
        case_id = normalize_case_id(args)
        if case_id is None:
            return DeskAnswer([Say((Msg("appeal.usage"),))])
        return await self._begin(uow, chat, case_id) or DeskAnswer([_unknown(case_id)])

    async def button(self, uow: UnitOfWork, chat: ChatKey, data: str) -> DeskAnswer | None:
        case_id = normalize_case_id(data.removeprefix(APPEAL_PREFIX))
        if case_id is None:
            return None
        return await self._begin(uow, chat, case_id)

    async def _begin(self, uow: UnitOfWork, chat: ChatKey, case_id: str) -> DeskAnswer | None:
        """The appeal flow for this chat's side, the reason it cannot appeal, or ``None`` when
        the case is not this chat's to appeal."""
        found = await self._side(uow, chat, case_id)
        if found is None:
            return None
        case, side = found
        refusal = self._refusal(case, side)
        if refusal is not None:
            return DeskAnswer([Say((refusal,))])
        deadline = appeals.appeal_deadline(case.decision, self._ctx.rules.appeal_window)
        intro = Msg("appeal.intro", {"case_id": case.public_id, "deadline": when(deadline)})
        start = StartFlow(APPEAL_FLOW, {"case_id": case.public_id, "side": side.value})
        return DeskAnswer([Say((intro,))], start=start)

    async def _side(
        self, uow: UnitOfWork, chat: ChatKey, case_id: str
    ) -> tuple[CaseRecord, Audience] | None:
        """The case (followed to where it was merged) and the side this chat is on."""
        case = await uow.cases.get(case_id)
        if case is None:
            return None
        me = chat.user_ref
        if case.merged_into and case.reporter_id == me:
            target = await uow.cases.get(case.merged_into)
            return None if target is None else (target, Audience.REPORTER)
        if case.reporter_id == me:
            return case, Audience.REPORTER
        if any(m.reporter_id == me for m in await uow.cases.merged_from(case.public_id)):
            return case, Audience.REPORTER
        if any(link.account_key == case.account_key for link in await uow.parties.accounts_of(me)):
            return case, Audience.PARTY
        return None

    def _refusal(self, case: CaseRecord, side: Audience) -> Msg | None:
        why = appeals.can_appeal(
            case.decision, side, self._ctx.clock.now(), self._ctx.rules.appeal_window
        )
        if why is None and case.status is Status.APPEALED:
            why = "pending"  # the other side's appeal is being decided first
        elif why is None and case.status not in {Status.UPHELD, Status.REJECTED, Status.CLOSED}:
            why = "nothing"
        if why is None:
            return None
        deadline = appeals.appeal_deadline(case.decision, self._ctx.rules.appeal_window)
        return Msg(
            _REFUSALS[why],
            {
                "case_id": case.public_id,
                "status": cards.status_label(case.status),
                "deadline": when(deadline),
            },
        )

    async def finish(self, uow: UnitOfWork, chat: ChatKey, action: Finish) -> list[Say]:
        """The appeal was confirmed: check again, record it, tell staff and both sides."""
        case_id = str(action.context.get("case_id", ""))
        found = await self._side(uow, chat, case_id)
        if found is None or found[1].value != action.context.get("side"):
            return [_unknown(case_id)]
        case, side = found
        refusal = self._refusal(case, side)
        if refusal is not None:
            return [Say((refusal,))]
        reason = str(action.answers.get("reason") or "")
        files = evidence_list(action.answers.get("files"))
        now = self._ctx.clock.now()
        decision = appeals.appealed(case.decision, side, chat.user_ref, now, reason)
        try:
            await self._ctx.actions.act(
                uow,
                case,
                Action.APPEAL,
                Actor(chat, _SIDE_ROLES[side]),
                note=reason,
                evidence=files,
                evidence_source=_SIDE_SOURCES[side],
                decision=decision,
                assignee=None,
            )
        except IllegalTransition:
            return [Say((Msg(_REFUSALS["nothing"], _refusal_params(case)),))]
        await self._tell_staff(uow, chat, case, side, reason, len(files))
        await self._tell_other_side(uow, chat, case, side)
        log.info("case %s: appealed by the %s", case.public_id, side.value)
        receipt = Msg(
            "appeal.filed", {"case_id": case.public_id, "count": len(files), "at": when(now)}
        )
        return [Say((receipt,))]

    async def _tell_staff(  # noqa: PLR0917  (what the staff group is told of an appeal)
        self,
        uow: UnitOfWork,
        chat: ChatKey,
        case: CaseRecord,
        side: Audience,
        reason: str,
        count: int,
    ) -> None:
        if self._ctx.staff_chat_id is None:
            return
        group = ChatKey(chat.channel, self._ctx.staff_chat_id)
        say = Say(
            (
                Msg(
                    "appeal.staff.new",
                    {
                        "case_id": case.public_id,
                        "side": Msg(_SIDE_LABELS[side]),
                        "against": _outcome_label(case.decision.get("outcome")),
                        "decider": str(case.decision.get("decided_by") or "-"),
                        "count": count,
                    },
                ),
                Msg("appeal.staff.reason", {"reason": reason}),
            ),
            (
                (
                    open_button(case.public_id),
                    Button(Msg("staff.button.take"), f"sf:take:{case.public_id}"),
                ),
            ),
        )
        await self._put(uow, group, say, case.public_id)

    async def _tell_other_side(
        self, uow: UnitOfWork, chat: ChatKey, case: CaseRecord, side: Audience
    ) -> None:
        """News of the appeal for the other side: that it was made, never by whom or why."""
        if side is Audience.PARTY:
            merged = await uow.cases.merged_from(case.public_id)
            refs = [case.reporter_id, *(m.reporter_id for m in merged)]
            key = N_("appeal.other.reporter")
        else:
            refs = [link.chat_ref for link in await uow.parties.links(case.account_key)]
            key = N_("appeal.other.party")
        say = Say((Msg(key, {"case_id": case.public_id}),))
        for ref in dict.fromkeys(refs):
            target = chat_of(ref)
            if target is not None and target != chat:
                await self._put(uow, target, say, case.public_id)

    async def _put(self, uow: UnitOfWork, chat: ChatKey, say: Say, case_id: str) -> None:
        locale = await uow.reporters.locale(chat) or self._ctx.default_locale
        await uow.outbox.put(chat, say, locale, now=self._ctx.clock.now(), case_id=case_id)

    # --- the staff card ------------------------------------------------------------------------

    async def card(self, uow: UnitOfWork, case: CaseRecord, actor: Actor) -> CardPart:
        lines: list[Msg] = []
        for appeal in case.decision.get("appeals", ()):
            side = Audience(str(appeal.get("side", "reporter")))
            params: dict[str, str | int | Msg] = {
                "side": Msg(_SIDE_LABELS[side]),
                "at": _at(appeal.get("at")),
                "against": _outcome_label(appeal.get("against")),
                "reason": str(appeal.get("reason") or "-"),
            }
            if appeal.get("ruling") is None:
                params["decider"] = str(case.decision.get("decided_by") or "-")
                lines.append(Msg("appeal.card.pending", params))
            else:
                ruling = str(appeal.get("ruling"))
                params["ruling"] = Msg(
                    N_("appeal.card.confirmed")
                    if ruling == "confirmed"
                    else N_("appeal.card.reversed")
                )
                params["by"] = str(appeal.get("ruled_by") or "-")
                lines.append(Msg("appeal.card.ruled", params))
        statements = await uow.cases.statements(case.public_id)
        if statements:
            unreached = sum(1 for s in statements if s.recipient is None)
            lines.append(
                Msg(
                    "appeal.card.statements",
                    {
                        "count": len(statements),
                        "last": when(statements[-1].created_at),
                        "unreached": unreached,
                    },
                )
            )
        return CardPart(lines=tuple(lines))


def _unknown(case_id: str) -> Say:
    """The one answer for a case that does not exist and one that is not this chat's."""
    return Say((Msg("appeal.unknown", {"case_id": case_id}),))


def _refusal_params(case: CaseRecord) -> dict[str, str | int | Msg]:
    return {"case_id": case.public_id, "status": cards.status_label(case.status), "deadline": "-"}


def _outcome_label(value: object) -> Msg | str:
    """A recorded outcome (``upheld``, …) by its status label."""
    try:
        return cards.status_label(Status(str(value)))
    except ValueError:
        return str(value or "-")


def _at(value: object) -> str:
    try:
        return when(datetime.fromisoformat(str(value)))
    except ValueError:
        return "-"
