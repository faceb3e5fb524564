"""Coordinated reports: flagging possible campaigns, and merging duplicates.

When a case is filed, the reports against the same account within the campaign window are
looked at: if enough of them come from "fresh" reporters (whose first report ever falls in the
window), each of those cases gets a ``flag:campaign`` audit event naming the group, and the
first time the group reaches the threshold the staff group is alerted. Nothing is decided
automatically: the flag is a banner on the card, and staff judge.

Duplicates across reporters are merged (``Action.MERGE``) from the card's "Merge into" buttons
or with ``/merge DUPLICATE TARGET``: the duplicate ends as ``merged`` and its reporter follows
the target from then on (``service.review`` sends them the target's reporter news). Only an
open target that is not under appeal takes duplicates (an appeal is about a decision already
taken, which a merged reporter would never get). Two merges racing (A into B, B into A) cannot
both apply: the target is guarded by its status in the same unit of work (see ``_merge``).
Reopening a merged case ends the merge: the case is reviewed on its own again and its reporter
is told so (``on_acted``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from disputebot.cases import lifecycle
from disputebot.cases.ids import normalize_case_id
from disputebot.cases.lifecycle import Action, IllegalTransition
from disputebot.cases.records import (
    OPEN_STATUSES,
    CaseChange,
    CaseEvent,
    CaseRecord,
    CaseSummary,
    Status,
)
from disputebot.engine.effects import Button, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.prompts import account_value
from disputebot.ports import ChatKey, UnitOfWork
from disputebot.service import cards
from disputebot.service.addons import Addon, AddonContext, CardPart
from disputebot.service.answers import Acted, Actor, DeskAnswer
from disputebot.service.desk import illegal_message
from disputebot.service.review import chat_of, open_button

__all__ = ["FLAG_KIND", "Campaigns"]

log = logging.getLogger(__name__)

FLAG_KIND = "flag:campaign"
MERGED_KIND = "merged:"
UNMERGED_KIND = "unmerged:"
SYSTEM = "system"
# Targets a duplicate may be merged into: open, and not an appeal of a decision taken.
MERGE_TARGETS: frozenset[Status] = OPEN_STATUSES - {Status.APPEALED}
# ``recent_against`` answers a page at a time, oldest first; how many pages the campaign check
# reads at most (the newest case is always part of it).
_PAGE = 50
_PAGES = 10


class Campaigns(Addon):
    staff_commands = frozenset({"merge"})
    staff_verbs = frozenset({"mgi"})

    def __init__(self, ctx: AddonContext) -> None:
        self._ctx = ctx

    # --- flagging ------------------------------------------------------------------------------

    async def on_filed(self, uow: UnitOfWork, case: CaseRecord) -> None:
        window = self._ctx.rules.campaign_window
        since = case.created_at - window
        recent = await _recent(uow, case, since)
        if len({summary.reporter_id for summary in recent}) < self._ctx.rules.campaign_min_reports:
            return  # too few people at all, first-time or not: no need to look them up
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
        if case.status in MERGE_TARGETS and case.merged_into is None:
            others = await uow.cases.against_account(
                case.account_key, exclude=case.public_id, limit=50
            )
            targets = [
                o.public_id for o in others if o.public_id in group and o.status in MERGE_TARGETS
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
        if target.status not in MERGE_TARGETS or target.merged_into is not None:
            status = cards.status_label(target.status)
            return [Say((Msg("campaign.merge.target_closed", {**ids, "status": status}),))]
        try:
            # Checked before anything is written: the target's audit line below may come first.
            _check_merge(duplicate, actor)
        except IllegalTransition as exc:
            return [Say((illegal_message(exc, duplicate),))]
        now = self._ctx.clock.now()
        # The target's audit line is also its guard: it applies only while the target is still
        # in the status read above (``from_status``), and on PostgreSQL its UPDATE holds the
        # target's row until commit. A merge racing the other way (the target into the
        # duplicate) then cannot apply too: whichever commits second finds a case it read as
        # open already merged and raises ``ConflictError`` (the event is retried and refused).
        # Both cases are locked in case id order, so two such merges wait, never deadlock.
        guard = CaseEvent(
            now,
            actor.ref,
            f"{MERGED_KIND}{duplicate.public_id}",
            target.status,
            None,
            "",
        )
        if target.public_id < duplicate.public_id:
            await uow.cases.apply(target.public_id, CaseChange(event=guard))
        note = f"into {target.public_id}"
        try:
            await self._ctx.actions.act(
                uow, duplicate, Action.MERGE, actor, merged_into=target.public_id, note=note
            )
        except IllegalTransition as exc:  # checked above; kept for safety
            return [Say((illegal_message(exc, duplicate),))]
        if target.public_id > duplicate.public_id:
            await uow.cases.apply(target.public_id, CaseChange(event=guard))
        # The reporters of cases merged into the duplicate follow the target from now on; each
        # only while still merged (reopened in the meantime: the change conflicts), and never
        # the target itself.
        for earlier in await uow.cases.merged_from(duplicate.public_id):
            if earlier.public_id == target.public_id:
                continue
            change = CaseChange(
                event=CaseEvent(now, actor.ref, "merge:repointed", Status.MERGED, None, note),
                merged_into=target.public_id,
            )
            await uow.cases.apply(earlier.public_id, change)
        log.info("case %s merged into %s by %s", duplicate.public_id, target.public_id, actor.ref)
        return [Say((Msg("campaign.merge.done", ids),), ((open_button(target.public_id),),))]

    # --- a merged case reopened ----------------------------------------------------------------

    async def on_acted(self, uow: UnitOfWork, acted: Acted) -> None:
        """A merged case reopened is reviewed on its own again: it stops following the case it
        was merged into, and its reporter is told."""
        case = acted.after
        if acted.action is not Action.REOPEN or case.merged_into is None:
            return
        target = case.merged_into
        now = self._ctx.clock.now()
        event = CaseEvent(now, acted.actor.ref, f"{UNMERGED_KIND}{target}", None, None, "")
        await uow.cases.apply(case.public_id, CaseChange(event=event, clear_merged=True))
        await self._record(uow, target, acted.actor, f"{UNMERGED_KIND}{case.public_id}", now, "")
        log.info("case %s reopened: no longer merged into %s", case.public_id, target)
        reporter = chat_of(case.reporter_id)
        if reporter is None or reporter == acted.actor.chat:
            return
        say = Say((Msg("campaign.unmerged", {"case_id": case.public_id, "target": target}),))
        locale = await uow.reporters.locale(reporter) or self._ctx.default_locale
        await uow.outbox.put(reporter, say, locale, now=now, case_id=case.public_id)

    async def _record(  # noqa: PLR0917  (an audit line: every field is needed)
        self, uow: UnitOfWork, case_id: str, actor: Actor, kind: str, at: datetime, note: str
    ) -> None:
        event = CaseEvent(at, actor.ref, kind, None, None, note)
        await uow.cases.apply(case_id, CaseChange(event=event))


def _check_merge(duplicate: CaseRecord, actor: Actor) -> None:
    """What ``CaseActions.act`` will check of the merge (raises ``IllegalTransition``)."""
    decider, decided = lifecycle.under_appeal(duplicate.decision)
    lifecycle.check(
        Action.MERGE,
        duplicate.status,
        actor.role,
        actor=actor.ref,
        assignee=duplicate.assignee,
        decider=decider,
        decided=decided,
    )


async def _recent(uow: UnitOfWork, case: CaseRecord, since: datetime) -> list[CaseSummary]:
    """The cases against ``case``'s account filed since ``since``, oldest first: page after
    page (up to ``_PAGES``), and always ``case`` itself, however many came before it."""
    found: dict[str, CaseSummary] = {}
    start = since
    for _ in range(_PAGES):
        page = await uow.cases.recent_against(case.account_key, start, limit=_PAGE)
        for summary in page:
            found.setdefault(summary.public_id, summary)
        if len(page) < _PAGE or page[-1].created_at == start:
            break
        start = page[-1].created_at  # the next page starts with the last one's time
    if case.public_id not in found:
        found[case.public_id] = CaseSummary(
            case.public_id,
            case.status,
            case.category,
            case.account_key,
            case.reporter_id,
            case.assignee,
            case.created_at,
            case.updated_at,
        )
    return sorted(found.values(), key=lambda s: s.created_at)


def _flag(case: CaseRecord) -> CaseEvent | None:
    """The case's newest campaign flag, if any."""
    return next((e for e in reversed(case.events) if e.kind == FLAG_KIND), None)
