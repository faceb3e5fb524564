"""Coordinated reports: flagging possible campaigns, and merging duplicates.

When a case is filed, the reports against the same account within the campaign window are
looked at: if enough of them come from "fresh" reporters (whose first report ever falls in the
window), each of those cases gets a ``flag:campaign`` audit event naming the group, and the
first time the group reaches the threshold the staff group is alerted. Nothing is decided
automatically: the flag is a banner on the card, and staff judge.

Duplicates across reporters are merged (``Action.MERGE``) from the card's "Merge into" buttons
or with ``/merge DUPLICATE TARGET``: the duplicate ends as ``merged`` and its reporter follows
the target from then on (``service.review`` sends them the target's reporter news).
"""

from __future__ import annotations

import logging
from datetime import datetime

from disputebot.cases.ids import normalize_case_id
from disputebot.cases.lifecycle import Action, IllegalTransition
from disputebot.cases.records import OPEN_STATUSES, CaseChange, CaseEvent, CaseRecord, Status
from disputebot.engine.effects import Button, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.prompts import account_value
from disputebot.ports import ChatKey, UnitOfWork
from disputebot.service import cards
from disputebot.service.addons import Addon, AddonContext, CardPart
from disputebot.service.answers import Actor, DeskAnswer
from disputebot.service.desk import illegal_message
from disputebot.service.review import chat_of, open_button

__all__ = ["FLAG_KIND", "Campaigns"]

log = logging.getLogger(__name__)

FLAG_KIND = "flag:campaign"
MERGED_KIND = "merged:"
SYSTEM = "system"


class Campaigns(Addon):
    staff_commands = frozenset({"merge"})
    staff_verbs = frozenset({"mgi"})

    def __init__(self, ctx: AddonContext) -> None:
        self._ctx = ctx

    # --- flagging ------------------------------------------------------------------------------

    async def on_filed(self, uow: UnitOfWork, case: CaseRecord) -> None:
        window = self._ctx.rules.campaign_window
        since = case.created_at - window
        recent = await uow.cases.recent_against(case.account_key, since)
        fresh: dict[str, bool] = {}
        group: list[str] = []
        reporters: set[str] = set()
        for summary in recent:
            ref = summary.reporter_id
            if ref not in fresh:
                first = await uow.cases.first_filed(ref)
                fresh[ref] = first is not None and first >= since
            if fresh[ref]:
                group.append(summary.public_id)
                reporters.add(ref)
        # One person filing twice is not a campaign: count the people.
        if len(reporters) < self._ctx.rules.campaign_min_reports:
            return
        records = [r for r in [await uow.cases.get(i) for i in group] if r is not None]
        unflagged = [r for r in records if not _flag(r)]
        if not unflagged:
            return
        first_time = len(unflagged) == len(records)
        note = " ".join(group)
        now = self._ctx.clock.now()
        for record in unflagged:
            event = CaseEvent(now, SYSTEM, FLAG_KIND, None, None, note)
            await uow.cases.apply(record.public_id, CaseChange(event=event))
        log.info("possible campaign against %s: %s", case.account_key, note)
        if first_time:
            await self._alert(uow, case, group)

    async def _alert(self, uow: UnitOfWork, case: CaseRecord, group: list[str]) -> None:
        staff = self._ctx.staff_chat_id
        reporter = chat_of(case.reporter_id)
        if staff is None or reporter is None:
            return
        text = Msg(
            "campaign.alert",
            {
                "account": account_value(case.account),
                "count": len(group),
                "hours": self._hours(),
                "ids": ", ".join(group),
            },
        )
        rows = tuple((open_button(i),) for i in group)
        await uow.outbox.put(
            ChatKey(reporter.channel, staff),
            Say((text,), rows),
            self._ctx.default_locale,
            now=self._ctx.clock.now(),
            case_id=case.public_id,
        )

    def _hours(self) -> str:
        hours = self._ctx.rules.campaign_window.total_seconds() / 3600
        return f"{hours:g}"

    # --- the card ------------------------------------------------------------------------------

    async def card(self, uow: UnitOfWork, case: CaseRecord, actor: Actor) -> CardPart:
        flag = _flag(case)
        if flag is None:
            return CardPart()
        group = flag.note.split()
        banner = Msg(
            "campaign.banner",
            {"count": len(group), "hours": self._hours(), "ids": ", ".join(group)},
        )
        rows: tuple[tuple[Button, ...], ...] = ()
        # Only an open case not under appeal may be merged (``lifecycle``: MERGE).
        if case.status in OPEN_STATUSES - {Status.APPEALED} and case.merged_into is None:
            others = await uow.cases.against_account(
                case.account_key, exclude=case.public_id, limit=50
            )
            targets = [
                o.public_id for o in others if o.public_id in group and o.status in OPEN_STATUSES
            ]
            rows = tuple(
                (
                    Button(
                        Msg("campaign.button.merge", {"case_id": t}),
                        f"sf:mgi:{case.public_id}:{t}",
                    ),
                )
                for t in sorted(targets, key=group.index)
            )
        return CardPart(banner=(banner,), rows=rows)

    # --- merging -------------------------------------------------------------------------------

    async def staff_button(
        self, uow: UnitOfWork, actor: Actor, case: CaseRecord, verb: str, arg: str
    ) -> DeskAnswer | None:
        if verb != "mgi":
            return None
        return DeskAnswer(await self._merge(uow, actor, case, arg))

    async def staff_command(
        self, uow: UnitOfWork, actor: Actor, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        words = event.args.split()
        ids = [normalize_case_id(w) for w in words]
        if len(ids) != 2 or ids[0] is None or ids[1] is None:
            return DeskAnswer([Say((Msg("campaign.merge.usage"),))])
        duplicate = await uow.cases.get(ids[0])
        if duplicate is None:
            return DeskAnswer([Say((Msg("staff.case.unknown", {"case_id": ids[0]}),))])
        return DeskAnswer(await self._merge(uow, actor, duplicate, ids[1]))

    async def _merge(
        self, uow: UnitOfWork, actor: Actor, duplicate: CaseRecord, target_id: str
    ) -> list[Say]:
        target = await uow.cases.get(target_id) if target_id else None
        if target is None:
            return [Say((Msg("staff.case.unknown", {"case_id": target_id or "-"}),))]
        ids: dict[str, str | int | Msg] = {
            "case_id": duplicate.public_id,
            "target": target.public_id,
        }
        if target.public_id == duplicate.public_id:
            return [Say((Msg("campaign.merge.self", ids),))]
        if target.account_key != duplicate.account_key:
            return [Say((Msg("campaign.merge.other_account", ids),))]
        if target.status not in OPEN_STATUSES or target.merged_into is not None:
            status = cards.status_label(target.status)
            return [Say((Msg("campaign.merge.target_closed", {**ids, "status": status}),))]
        note = f"into {target.public_id}"
        try:
            await self._ctx.actions.act(
                uow, duplicate, Action.MERGE, actor, merged_into=target.public_id, note=note
            )
        except IllegalTransition as exc:
            return [Say((illegal_message(exc, duplicate),))]
        now = self._ctx.clock.now()
        # The reporters of cases merged into the duplicate follow the target from now on.
        for earlier in await uow.cases.merged_from(duplicate.public_id):
            change = CaseChange(
                event=CaseEvent(now, actor.ref, "merge:repointed", None, None, note),
                merged_into=target.public_id,
            )
            await uow.cases.apply(earlier.public_id, change)
        await self._record(
            uow, target.public_id, actor, f"{MERGED_KIND}{duplicate.public_id}", now, ""
        )
        log.info("case %s merged into %s by %s", duplicate.public_id, target.public_id, actor.ref)
        return [Say((Msg("campaign.merge.done", ids),), ((open_button(target.public_id),),))]

    async def _record(  # noqa: PLR0917  (an audit line: every field is needed)
        self, uow: UnitOfWork, case_id: str, actor: Actor, kind: str, at: datetime, note: str
    ) -> None:
        event = CaseEvent(at, actor.ref, kind, None, None, note)
        await uow.cases.apply(case_id, CaseChange(event=event))


def _flag(case: CaseRecord) -> CaseEvent | None:
    """The case's newest campaign flag, if any."""
    return next((e for e in reversed(case.events) if e.kind == FLAG_KIND), None)
