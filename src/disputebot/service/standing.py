"""Reporter standing (DSA Art. 23): warnings and suspensions, each confirmed by staff.

``cases.standing.assess`` proposes the next step from the reporter's track record and the steps
already taken; the case card shows the proposal with a button, and only a person on staff
pressing it takes the step (recorded in ``uow.standing`` as the audit log) and tells the
reporter, in their language: a warning with the reports it rests on and what comes next, a
suspension with its end date and how to appeal it, a lift. Every press assesses again, so a
button left on an old card does nothing once the proposal no longer stands.

Two staff confirming the same step at once take it once: a step is serialized on the reporter's
oldest case (its audit line ``standing:<kind>`` is an ``UPDATE`` of that case's row, which
PostgreSQL holds until commit), and the history read again under that lock must be the one
assessed, else ``ConflictError`` sends the press back to be retried (and found stale). A member
of staff takes no step on their own standing (lifting their own suspension least of all).

A suspension is enforced through the abuse facts (``facts``): ``/report`` and the submit are
refused with the end date. The reporter contests it with ``/appeal`` (or ``/appeal
suspension``): a short conversation whose reason goes to the staff group with a button to lift
the suspension.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from disputebot.cases.ids import normalize_case_id
from disputebot.cases.records import (
    CaseChange,
    CaseEvent,
    CaseRecord,
    StandingEvent,
    StandingKind,
    TrackRecord,
)
from disputebot.cases.standing import Standing, assess
from disputebot.engine.context import Checks
from disputebot.engine.effects import N_, Button, Finish, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.prompts import when
from disputebot.policy.abuse import ReporterFacts
from disputebot.ports import ChatKey, ConflictError, UnitOfWork
from disputebot.service.addons import Addon, AddonContext, CardPart
from disputebot.service.answers import Actor, DeskAnswer, StartFlow
from disputebot.service.review import chat_of, open_button

__all__ = ["APPEAL_FLOW", "UNFOUNDED_REASON", "StandingDesk"]

log = logging.getLogger(__name__)

APPEAL_FLOW = "suspension_appeal"
# The rejection reason of the shipped reject flow that means "manifestly unfounded".
UNFOUNDED_REASON = "false_report"
# Card buttons: ``sf:<verb>:<case>`` confirms the step on that case's reporter.
_VERBS = {"stw": StandingKind.WARN, "sts": StandingKind.SUSPEND, "stl": StandingKind.LIFT}
_KIND_LABELS = {
    StandingKind.WARN: N_("standing.kind.warn"),
    StandingKind.SUSPEND: N_("standing.kind.suspend"),
    StandingKind.LIFT: N_("standing.kind.lift"),
    StandingKind.APPEAL: N_("standing.kind.appeal"),
}
_DONE = {
    StandingKind.WARN: N_("standing.done.warn"),
    StandingKind.SUSPEND: N_("standing.done.suspend"),
    StandingKind.LIFT: N_("standing.done.lift"),
}
# How many unfounded reports a warning or a suspension names (a message stays readable).
_LISTED = 20
_HISTORY_LINES = 15


class StandingDesk(Addon):
    flows = frozenset({APPEAL_FLOW})
    staff_commands = frozenset({"standing"})
    staff_verbs = frozenset(_VERBS)
    fact_checks = Checks.START  # a suspension

    def __init__(self, ctx: AddonContext) -> None:
        self._ctx = ctx

    async def _assess(
        self, uow: UnitOfWork, reporter_id: str
    ) -> tuple[TrackRecord, list[StandingEvent], Standing]:
        track = await uow.cases.track_record(reporter_id)
        history = await uow.standing.history(reporter_id)
        now = self._ctx.clock.now()
        return track, history, assess(track, history, self._ctx.rules.standing, now)

    # --- enforcement ---------------------------------------------------------------------------

    async def facts(self, uow: UnitOfWork, chat: ChatKey, facts: ReporterFacts) -> ReporterFacts:
        history = await uow.standing.history(chat.user_ref)
        if not any(e.kind is StandingKind.SUSPEND for e in history):
            return facts  # never suspended: spare the track record query
        track = await uow.cases.track_record(chat.user_ref)
        standing = assess(track, history, self._ctx.rules.standing, self._ctx.clock.now())
        return dataclasses.replace(facts, suspended_until=standing.suspended_until)

    # --- staff: the card, its buttons, /standing -----------------------------------------------

    async def card(self, uow: UnitOfWork, case: CaseRecord, actor: Actor) -> CardPart:
        track, _, standing = await self._assess(uow, case.reporter_id)
        banner = self._proposal(standing)
        return CardPart(
            banner=banner,
            lines=(self._summary(track, standing),),
            rows=self._buttons(standing, case.public_id),
        )

    async def staff_button(
        self, uow: UnitOfWork, actor: Actor, case: CaseRecord, verb: str, arg: str
    ) -> DeskAnswer | None:
        kind = _VERBS.get(verb)
        if kind is None:
            return None
        note = f"case {case.public_id}"
        return DeskAnswer(await self._take_step(uow, actor, case.reporter_id, kind, note))

    async def staff_command(
        self, uow: UnitOfWork, actor: Actor, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        words = event.args.split()
        reporter_id = await self._reporter_of(uow, actor, words[0]) if words else None
        if reporter_id is None or len(words) > 2:
            return DeskAnswer([Say((Msg("standing.usage"),))])
        if len(words) == 2:
            if words[1].lower() != "lift":
                return DeskAnswer([Say((Msg("standing.usage"),))])
            says = await self._take_step(uow, actor, reporter_id, StandingKind.LIFT, "/standing")
            return DeskAnswer(says)
        return DeskAnswer([await self._overview(uow, reporter_id)])

    async def _reporter_of(self, uow: UnitOfWork, actor: Actor, word: str) -> str | None:
        """A reporter reference (``telegram:123``), a numeric id on the staff member's own
        channel, or a case id (its reporter)."""
        if word.isdigit():
            return ChatKey(actor.chat.channel, int(word)).user_ref
        case_id = normalize_case_id(word)
        if case_id is not None:
            case = await uow.cases.get(case_id)
            return None if case is None else case.reporter_id
        return word if chat_of(word) is not None else None

    async def _overview(self, uow: UnitOfWork, reporter_id: str) -> Say:
        track, history, standing = await self._assess(uow, reporter_id)
        text = [
            Msg("standing.title", {"reporter": reporter_id}),
            *self._proposal(standing),
            self._summary(track, standing),
        ]
        if history:
            shown = history[-_HISTORY_LINES:]
            text.append(Msg("standing.history", {"count": len(history), "shown": len(shown)}))
            text += [_history_line(e) for e in shown]
        else:
            text.append(Msg("standing.history.none"))
        newest = await uow.cases.list(reporter_id=reporter_id, limit=1)
        rows = self._buttons(standing, newest[0].public_id) if newest else ()
        return Say(tuple(text), rows)

    def _summary(self, track: TrackRecord, standing: Standing) -> Msg:
        if standing.suspended_until is not None:
            state = Msg("standing.state.suspended", {"until": when(standing.suspended_until)})
        elif standing.warned_at is not None:
            state = Msg("standing.state.warned", {"at": when(standing.warned_at)})
        else:
            state = Msg("standing.state.clear")
        return Msg(
            "standing.line",
            {
                "filed": track.filed,
                "upheld": track.upheld,
                "rejected": track.rejected,
                "unfounded": track.rejected_false,
                "state": state,
            },
        )

    def _proposal(self, standing: Standing) -> tuple[Msg, ...]:
        if standing.proposal is StandingKind.WARN:
            return (Msg("standing.propose.warn", {"unfounded": standing.unfounded}),)
        if standing.proposal is StandingKind.SUSPEND:
            params: dict[str, str | int | Msg] = {
                "unfounded": standing.unfounded,
                "warned": when(standing.warned_at),
                "until": when(self._suspension_end()),
            }
            return (Msg("standing.propose.suspend", params),)
        return ()

    def _buttons(self, standing: Standing, case_id: str) -> tuple[tuple[Button, ...], ...]:
        if standing.suspended:
            return ((Button(Msg("standing.button.lift"), f"sf:stl:{case_id}"),),)
        if standing.proposal is StandingKind.WARN:
            return ((Button(Msg("standing.button.warn"), f"sf:stw:{case_id}"),),)
        if standing.proposal is StandingKind.SUSPEND:
            until = when(self._suspension_end())
            label = Msg("standing.button.suspend", {"until": until})
            return ((Button(label, f"sf:sts:{case_id}"),),)
        return ()

    def _suspension_end(self) -> datetime:
        return self._ctx.clock.now() + self._ctx.rules.standing.suspension

    async def _take_step(
        self, uow: UnitOfWork, actor: Actor, reporter_id: str, kind: StandingKind, note: str
    ) -> list[Say]:
        """Confirm ``kind`` on the reporter if it still applies now; tell them."""
        if reporter_id == actor.ref:
            return [Say((Msg("standing.own", {"reporter": reporter_id}),))]
        _, history, standing = await self._assess(uow, reporter_id)
        stale = Say((Msg("standing.stale", {"reporter": reporter_id}),))
        now = self._ctx.clock.now()
        if kind is StandingKind.LIFT:
            if not standing.suspended:
                return [stale]
            event = StandingEvent(
                reporter_id, kind, now, actor.ref, unfounded_at=standing.unfounded, note=note
            )
        else:
            if standing.proposal is not kind:
                return [stale]
            until = now + self._ctx.rules.standing.suspension
            event = StandingEvent(
                reporter_id,
                kind,
                now,
                actor.ref,
                unfounded_at=standing.unfounded,
                until=until if kind is StandingKind.SUSPEND else None,
                note=note,
                cases=await self._unfounded_cases(uow, reporter_id),
            )
        await self._serialize(uow, actor, event, history)
        await uow.standing.record(event)
        await self._tell_reporter(uow, event)
        log.info("standing of %s: %s by %s", reporter_id, kind, actor.ref)
        params: dict[str, str | int | Msg] = {"reporter": reporter_id, "until": when(event.until)}
        return [Say((Msg(_DONE[kind], params),))]

    async def _serialize(
        self, uow: UnitOfWork, actor: Actor, event: StandingEvent, seen: list[StandingEvent]
    ) -> None:
        """Hold the reporter's steps until this unit of work ends, then check no other step was
        taken since ``seen`` was read; ``ConflictError`` if one was (the press is retried)."""
        cases = await uow.cases.list(reporter_id=event.reporter_id, limit=500)
        if cases:
            anchor = cases[-1].public_id  # the oldest: the same row for every step
            audit = CaseEvent(
                event.at, actor.ref, f"standing:{event.kind.value}", None, None, event.note
            )
            await uow.cases.apply(anchor, CaseChange(event=audit))
        now = await uow.standing.history(event.reporter_id)
        if [e.id for e in now] != [e.id for e in seen]:
            raise ConflictError(f"the standing of {event.reporter_id} changed meanwhile")

    async def _unfounded_cases(self, uow: UnitOfWork, reporter_id: str) -> tuple[str, ...]:
        """The reporter's reports rejected as manifestly unfounded, newest first (closed
        ones too: closing a decided case keeps its decision)."""
        cases = await uow.cases.list(reporter_id=reporter_id, limit=500)
        return tuple(
            c.public_id
            for c in cases
            if c.decision.get("outcome") == "rejected"
            and c.decision.get("reason") == UNFOUNDED_REASON
        )

    async def _tell_reporter(self, uow: UnitOfWork, event: StandingEvent) -> None:
        chat = chat_of(event.reporter_id)
        if chat is None:
            return
        rules = self._ctx.rules.standing
        listed = ", ".join(event.cases[:_LISTED]) + (" …" if len(event.cases) > _LISTED else "")
        if event.kind is StandingKind.WARN:
            # A date, not a number of days (a suspension shorter than a day is not "0 days").
            msg = Msg(
                "standing.notify.warned_until",
                {
                    "count": event.unfounded_at,
                    "cases": listed or "-",
                    "more": rules.suspend_after - rules.warn_after,
                    "until": when(event.at + rules.suspension),
                },
            )
        elif event.kind is StandingKind.SUSPEND:
            msg = Msg(
                "standing.notify.suspended",
                {"count": event.unfounded_at, "cases": listed or "-", "until": when(event.until)},
            )
        else:
            msg = Msg("standing.notify.lifted")
        await self._put(uow, chat, Say((msg,)))

    async def _put(
        self, uow: UnitOfWork, chat: ChatKey, say: Say, case_id: str | None = None
    ) -> None:
        locale = await uow.reporters.locale(chat) or self._ctx.default_locale
        await uow.outbox.put(chat, say, locale, now=self._ctx.clock.now(), case_id=case_id)

    # --- the reporter: appealing a suspension --------------------------------------------------

    async def command(
        self, uow: UnitOfWork, chat: ChatKey, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        # ``/appeal ID`` is an appeal against a decision (``service.appeals``).
        if event.name != "appeal" or event.args.strip().lower() not in {"", "suspension"}:
            return None
        _, history, standing = await self._assess(uow, chat.user_ref)
        refusal = _appeal_refusal(history, standing)
        if refusal is not None:
            return DeskAnswer([refusal])
        until = when(standing.suspended_until)
        return DeskAnswer(start=StartFlow(APPEAL_FLOW, {"until": until}))

    async def finish(self, uow: UnitOfWork, chat: ChatKey, action: Finish) -> list[Say]:
        _, history, standing = await self._assess(uow, chat.user_ref)
        refusal = _appeal_refusal(history, standing)
        if refusal is not None:
            return [refusal]
        reason = str(action.answers.get("reason") or "").strip()
        now = self._ctx.clock.now()
        event = StandingEvent(
            chat.user_ref,
            StandingKind.APPEAL,
            now,
            chat.user_ref,
            unfounded_at=standing.unfounded,
            until=standing.suspended_until,
            note=reason,
        )
        await uow.standing.record(event)
        until = when(standing.suspended_until)
        if self._ctx.staff_chat_id is not None:
            newest = await uow.cases.list(reporter_id=chat.user_ref, limit=1)
            rows: tuple[tuple[Button, ...], ...] = ()
            case_id = newest[0].public_id if newest else None
            if case_id is not None:
                rows = (
                    (
                        Button(Msg("standing.button.lift"), f"sf:stl:{case_id}"),
                        open_button(case_id),
                    ),
                )
            alert = Msg(
                "standing.appeal.staff",
                {"reporter": chat.user_ref, "until": until, "reason": reason},
            )
            group = ChatKey(chat.channel, self._ctx.staff_chat_id)
            await uow.outbox.put(
                group, Say((alert,), rows), self._ctx.default_locale, now=now, case_id=case_id
            )
        return [Say((Msg("standing.appeal.received", {"until": until}),))]


def _appeal_refusal(history: list[StandingEvent], standing: Standing) -> Say | None:
    """Why a reporter may not appeal now: not suspended, or this suspension already appealed."""
    if standing.suspended_until is None:
        return Say((Msg("standing.appeal.nothing"),))
    suspension = max(
        (e for e in history if e.kind is StandingKind.SUSPEND), key=lambda e: (e.at, e.id)
    )
    appealed = [
        e
        for e in history
        if e.kind is StandingKind.APPEAL and (e.at, e.id) >= (suspension.at, suspension.id)
    ]
    if appealed:
        at = when(appealed[-1].at)
        return Say(
            (Msg("standing.appeal.already", {"at": at, "until": when(standing.suspended_until)}),)
        )
    return None


def _history_line(event: StandingEvent) -> Msg:
    return Msg(
        "standing.history.line",
        {
            "at": when(event.at),
            "kind": Msg(_KIND_LABELS[event.kind]),
            "actor": event.actor,
            "unfounded": event.unfounded_at,
            "until": when(event.until),
            "note": event.note or "-",
        },
    )
