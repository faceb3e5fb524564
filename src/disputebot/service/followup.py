"""The reporter's side after filing: ``/withdraw``, answering staff's questions, and ``/check``.

A reporter acts only on their own cases; an id that is not theirs gets the same answer as an id
that does not exist, so case ids cannot be probed. ``/check`` is for anyone and tells only how
many reports against an account were upheld — never which, by whom or about what.
"""

from __future__ import annotations

from disputebot.cases.ids import normalize_case_id
from disputebot.cases.lifecycle import Action, ActorRole, IllegalTransition
from disputebot.cases.records import OPEN_STATUSES, CaseRecord, Status
from disputebot.engine.answers import evidence_list
from disputebot.engine.effects import N_, Button, Finish, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.prompts import account_value
from disputebot.policy.accounts import AccountProblem, account_to_json, parse_account
from disputebot.policy.profile import PlatformProfile
from disputebot.ports import ChatKey, UnitOfWork
from disputebot.service import cards
from disputebot.service.answers import DeskAnswer, StartFlow
from disputebot.service.review import Actor, CaseActions

REPORTER_COMMANDS = frozenset({"withdraw", "check"})
INFO_FLOW = "info"


class Followup:
    def __init__(self, actions: CaseActions, profile: PlatformProfile) -> None:
        self._actions = actions
        self._profile = profile

    async def command(
        self, uow: UnitOfWork, chat: ChatKey, event: CommandReceived
    ) -> DeskAnswer | None:
        if event.name == "check":
            return DeskAnswer([await self._check(uow, event.args)])
        if event.name != "withdraw":
            return None
        case_id = normalize_case_id(event.args) if event.args else None
        if case_id is None:
            return DeskAnswer([Say((Msg("followup.withdraw.usage"),))])
        case = await self._own_case(uow, chat, case_id)
        if case is None:
            return DeskAnswer([Say((Msg("followup.unknown", {"case_id": case_id}),))])
        if case.status not in OPEN_STATUSES:
            status = cards.status_label(case.status)
            return DeskAnswer(
                [Say((Msg("followup.withdraw.decided", {"case_id": case_id, "status": status}),))]
            )
        rows = (
            (
                Button(Msg("followup.withdraw.yes"), f"rp:wd:{case_id}"),
                Button(Msg("followup.withdraw.no"), "rp:keep:"),
            ),
        )
        return DeskAnswer([Say((Msg("followup.withdraw.ask", {"case_id": case_id}),), rows)])

    async def button(self, uow: UnitOfWork, chat: ChatKey, data: str) -> DeskAnswer | None:
        """An ``rp:`` button; ``None`` when it is not for this chat's own case."""
        _, verb, case_id = ([*data.split(":", 2), "", ""])[:3]
        if verb == "keep":
            return DeskAnswer([Say((Msg("followup.withdraw.kept"),))])
        case = await self._own_case(uow, chat, case_id)
        if case is None:
            return None
        actor = Actor(chat, ActorRole.REPORTER)
        if verb == "wd":
            try:
                await self._actions.act(uow, case, Action.WITHDRAW, actor)
            except IllegalTransition:
                status = cards.status_label(case.status)
                msg = Msg("followup.withdraw.decided", {"case_id": case_id, "status": status})
                return DeskAnswer([Say((msg,))])
            return DeskAnswer([Say((Msg("followup.withdraw.done", {"case_id": case_id}),))])
        if verb == "ans":
            if case.status is not Status.AWAITING_INFO:
                msg = Msg("followup.answer.not_waiting", {"case_id": case_id})
                return DeskAnswer([Say((msg,))])
            return DeskAnswer(start=StartFlow(INFO_FLOW, {"case_id": case_id}))
        return None

    async def finish(self, uow: UnitOfWork, chat: ChatKey, action: Finish) -> list[Say]:
        """The reporter's answer to staff: text and files land on the case."""
        case_id = str(action.context.get("case_id", ""))
        case = await self._own_case(uow, chat, case_id)
        if case is None:
            return [Say((Msg("followup.unknown", {"case_id": case_id}),))]
        text = str(action.answers.get("answer") or "")
        files = evidence_list(action.answers.get("files"))
        actor = Actor(chat, ActorRole.REPORTER)
        try:
            await self._actions.act(
                uow, case, Action.INFO_RECEIVED, actor, note=text, evidence=files
            )
        except IllegalTransition:
            return [Say((Msg("followup.answer.not_waiting", {"case_id": case_id}),))]
        return [Say((Msg("followup.answer.sent", {"case_id": case_id, "count": len(files)}),))]

    async def _own_case(self, uow: UnitOfWork, chat: ChatKey, case_id: str) -> CaseRecord | None:
        case = await uow.cases.get(case_id) if case_id else None
        if case is None or case.reporter_id != chat.user_ref:
            return None
        return case

    async def _check(self, uow: UnitOfWork, args: str) -> Say:
        if not args.strip():
            return Say((Msg("followup.check.usage"),))
        parsed = parse_account(args, self._profile)
        if isinstance(parsed, AccountProblem):
            # The same explanations the report flow gives for this account text.
            key = "policy.account." + parsed.code
            problem = Msg(key, {"item_id": parsed.item_id or ""})
            return Say((problem, Msg("followup.check.usage")))
        count = await uow.cases.count_upheld(parsed.key)
        account = account_value(account_to_json(parsed))
        key = N_("followup.check.none") if count == 0 else N_("followup.check.upheld")
        return Say((Msg(key, {"account": account, "count": count}), Msg("followup.check.advice")))
