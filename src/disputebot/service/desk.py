"""The staff desk: ``/queue``, ``/case``, ``/staff``, ``/stats``, ``/deadletters`` and the buttons
of case cards, each checked against the caller's role on every call.

A person who is not staff gets exactly what an unknown command or a stale button gets: the desk
answers ``None`` and the caller carries on as for anyone else, so nothing shows that these
commands exist. Decisions that need input (uphold, reject, escalate, ask, note) start a
conversation from ``conversations/`` nested over whatever the staff member was doing; the
engine hands the answers back as a ``Finish`` action, and the role is checked again then.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from disputebot.cases import appeals, lifecycle
from disputebot.cases.ids import normalize_case_id
from disputebot.cases.lifecycle import Action, ActorRole, IllegalTransition
from disputebot.cases.records import CaseRecord, QueueFilter, Status
from disputebot.engine.effects import N_, Button, Finish, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.spec import ChoiceStep, FlowBook
from disputebot.ports import ChatKey, Clock, OutboxStatus, Role, UnitOfWork
from disputebot.service import cards
from disputebot.service.answers import Actor, DeskAnswer, StartFlow, staff_role
from disputebot.service.replies import option_label
from disputebot.service.review import CaseActions, conflicts
from disputebot.service.statsview import StatsView

if TYPE_CHECKING:
    from disputebot.service.addons import Addon

log = logging.getLogger(__name__)

STAFF_COMMANDS = frozenset({"queue", "case", "staff", "stats", "deadletters"})
# Decision dialogs, by the button verb that starts them.
DIALOGS: dict[str, tuple[str, Action]] = {
    "ask": ("ask_info", Action.ASK_INFO),
    "up": ("uphold", Action.UPHOLD),
    "rj": ("reject", Action.REJECT),
    "es": ("escalate", Action.ESCALATE),
    "nt": ("note", Action.NOTE),
    "cf": ("appeal_confirm", Action.CONFIRM),
    "rv": ("appeal_reverse", Action.REVERSE),
}
DIALOG_FLOWS = dict(DIALOGS.values())
# Buttons that show something without answering the message they sit under.
VIEW_VERBS = frozenset({"card", "ev", "q", "asg", "shr", "sht"})
# The step ids whose answers the service reads, by flow (checked when the bot starts).
DIALOG_STEPS: dict[str, tuple[str, ...]] = {
    "ask_info": ("question",),
    "uphold": ("measures", "duration", "note"),
    "reject": ("reason", "note"),
    "escalate": ("department", "note"),
    "note": ("text",),
    "info": ("answer", "files"),
    "appeal_confirm": ("grounds",),
    "appeal_reverse": ("grounds",),
    "statement": ("text", "files"),
    "party_notice": ("facts",),
}
_STATUS_ORDER = tuple(Status)
_STATUS_VALUES = frozenset(s.value for s in Status)


class StaffDesk:
    def __init__(
        self,
        book: FlowBook,
        clock: Clock,
        actions: CaseActions,
        *,
        admins: frozenset[int] = frozenset(),
        stats: StatsView | None = None,
    ) -> None:
        self._book = book
        self._clock = clock
        self._actions = actions
        self._admins = admins
        self._stats = stats
        # The fairness features' staff commands, card buttons and card lines; set by the
        # service once it has built them (they act through ``actions`` too).
        self.addons: list[Addon] = []

    async def role(self, uow: UnitOfWork, who: ChatKey) -> ActorRole | None:
        """Admins named in the settings, else the roster's role; ``None`` for everyone else."""
        return await staff_role(uow, who, self._admins)

    # --- commands ------------------------------------------------------------------------------

    async def command(
        self, uow: UnitOfWork, sender: ChatKey, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        addon = next((a for a in self.addons if event.name in a.staff_commands), None)
        if event.name not in STAFF_COMMANDS and addon is None:
            return None
        role = await self.role(uow, sender)
        if role is None:
            return None
        actor = Actor(sender, role)
        if addon is not None:
            return await addon.staff_command(uow, actor, event, locale)
        if event.name == "queue":
            return DeskAnswer([await self._queue_command(uow, actor, event.args)])
        if event.name == "case":
            case_id = normalize_case_id(event.args) if event.args else None
            if case_id is None:
                return DeskAnswer([Say((Msg("staff.case.usage"),))])
            return DeskAnswer(await self._card(uow, actor, case_id))
        if event.name == "staff":
            return DeskAnswer([await self._staff_command(uow, actor, event.args)])
        if event.name == "deadletters":
            items = await uow.outbox.list(OutboxStatus.DEAD, 20, newest_first=True)
            return DeskAnswer([cards.dead_letters(items)])
        if self._stats is None:
            return DeskAnswer([Say((Msg("staff.stats.unavailable"),))])
        return DeskAnswer([await self._stats.say(uow, locale)])

    async def _queue_command(self, uow: UnitOfWork, actor: Actor, args: str) -> Say:
        parsed = self._parse_filter(args, actor)
        if isinstance(parsed, Msg):
            return Say((parsed, Msg("staff.queue.usage")))
        return await self._queue(uow, actor, parsed, 0)

    def _parse_filter(self, args: str, actor: Actor) -> QueueFilter | Msg:
        statuses: set[Status] = set()
        category: str | None = None
        older_than: datetime | None = None
        assignee: str | None = None
        unassigned = False
        categories = self._categories()
        for token in args.lower().split():
            if token in _STATUS_VALUES:
                statuses.add(Status(token))
            elif token == "all":
                statuses.update(Status)
            elif token in categories:
                category = token
            elif token == "mine":
                assignee = actor.ref
            elif token == "unassigned":
                unassigned = True
            elif token.rstrip("d").isdigit() and len(token) <= 5:
                days = int(token.rstrip("d"))
                older_than = self._clock.now() - timedelta(days=days)
            elif token.startswith("@") and token[1:].isdigit():
                assignee = f"{actor.chat.channel}:{token[1:]}"
            else:
                return Msg("staff.queue.bad_filter", {"token": token})
        return QueueFilter(frozenset(statuses), category, older_than, assignee, unassigned)

    def _unpack_filter(self, code: str, actor: Actor) -> QueueFilter:
        status_code, category, age, who = ([*code.split("."), "", "", "", ""])[:4]
        statuses = frozenset(
            _STATUS_ORDER[int(c)] for c in status_code if c.isdigit() and int(c) < len(Status)
        )
        older_than = None
        if age.isdigit() and len(age) <= 11:
            older_than = datetime.fromtimestamp(int(age), UTC)
        assignee = None
        if who == "m":
            assignee = actor.ref
        elif who.startswith("@") and who[1:].isdigit():
            assignee = f"{actor.chat.channel}:{who[1:]}"
        categories = self._categories()
        chosen = (
            categories[int(category)]
            if category.isdigit() and int(category) < len(categories)
            else None
        )
        return QueueFilter(statuses, chosen, older_than, assignee, who == "u")

    async def _queue(self, uow: UnitOfWork, actor: Actor, where: QueueFilter, offset: int) -> Say:
        page, total = await uow.cases.queue(where, offset=offset, limit=cards.PAGE)
        code = cards.pack_filter(
            where, mine_ref=actor.ref, statuses=_STATUS_ORDER, categories=self._categories()
        )
        return cards.queue_page(
            page,
            total,
            offset=offset,
            code=code,
            now=self._clock.now(),
            categories=self.category_label,
        )

    async def _staff_command(self, uow: UnitOfWork, actor: Actor, args: str) -> Say:
        words = args.split()
        if not words or words[0] == "list":
            return await self._roster(uow, actor.chat.channel)
        if actor.role is not ActorRole.ADMIN:
            return Say((Msg("staff.admin_only"),))
        verb, rest = words[0].lower(), words[1:]
        if verb not in {"add", "remove"} or not rest or not rest[0].isdigit():
            return Say((Msg("staff.staff.usage"),))
        who = ChatKey(actor.chat.channel, int(rest[0]))
        if verb == "remove":
            if who.chat_id in self._admins:
                return Say((Msg("staff.staff.configured", {"who": who.user_ref}),))
            await uow.staff.remove(who)
            return Say((Msg("staff.staff.removed", {"who": who.user_ref}),))
        wanted = rest[1].lower() if len(rest) > 1 else Role.REVIEWER.value
        if wanted not in {r.value for r in Role}:
            return Say((Msg("staff.staff.usage"),))
        role = Role(wanted)
        await uow.staff.set_role(who, role, self._clock.now())
        label = Msg(cards.ROLE_LABELS[role])
        return Say((Msg("staff.staff.added", {"who": who.user_ref, "role": label}),))

    async def _roster(self, uow: UnitOfWork, channel: str) -> Say:
        stored = await uow.staff.list()
        members = [(ChatKey(channel, i), Role.ADMIN, True) for i in sorted(self._admins)] + [
            (chat, role, False) for chat, role in stored if chat.chat_id not in self._admins
        ]
        return cards.roster(members)

    # --- buttons -------------------------------------------------------------------------------

    async def button(self, uow: UnitOfWork, sender: ChatKey, data: str) -> DeskAnswer | None:
        """A ``sf:`` button; ``None`` when the sender is not staff (the press does nothing)."""
        role = await self.role(uow, sender)
        if role is None:
            log.info("staff button pressed by %s, who is not staff", sender.user_ref)
            return None
        actor = Actor(sender, role)
        _, verb, rest = ([*data.split(":", 2), "", ""])[:3]
        if verb == "q":
            offset, _, code = rest.partition(":")
            where = self._unpack_filter(code, actor)
            page = int(offset) if offset.isdigit() else 0
            return DeskAnswer([await self._queue(uow, actor, where, page)])
        case_id, _, arg = rest.partition(":")
        case = await uow.cases.get(case_id)
        if case is None:
            return DeskAnswer([Say((Msg("staff.case.unknown", {"case_id": case_id}),))])
        if verb == "card":
            return DeskAnswer(await self._card(uow, actor, case_id))
        if verb == "ev":
            return DeskAnswer([cards.evidence_media(case)])
        if verb in DIALOGS:
            flow, action = DIALOGS[verb]
            refusal = await self._refusal(uow, case, action, actor)
            if refusal is not None:
                return DeskAnswer([refusal])
            # What the dialog was opened on: its answers apply to that, not to what came after.
            context = {
                "case_id": case.public_id,
                "seen_status": case.status.value,
                "seen_appeals": str(_appeal_count(case)),
            }
            return DeskAnswer(start=StartFlow(flow, context))
        if verb == "asg":
            return DeskAnswer([await self._assign_menu(uow, case, actor)])
        addon = next((a for a in self.addons if verb in a.staff_verbs), None)
        if addon is not None:
            return await addon.staff_button(uow, actor, case, verb, arg)
        if verb == "to":
            if not arg.isdigit():
                return None
            assignee = ChatKey(sender.channel, int(arg))
            if await self.role(uow, assignee) is None:
                return DeskAnswer([Say((Msg("staff.assign.not_staff"),))])
            return DeskAnswer(
                await self._act(uow, case, Action.ASSIGN, actor, assignee=assignee.user_ref)
            )
        immediate = cards.VERBS.get(verb)
        if immediate is None or immediate in DIALOG_FLOWS.values() or immediate is Action.ASSIGN:
            return None
        return DeskAnswer(await self._act(uow, case, immediate, actor))

    async def _assign_menu(self, uow: UnitOfWork, case: CaseRecord, actor: Actor) -> Say:
        refusal = await self._refusal(uow, case, Action.ASSIGN, actor)
        if refusal is not None:
            return refusal
        stored = await uow.staff.list()
        # Not offered: who may not hold the case (checked again, with their links, on assigning).
        pending = appeals.open_appeal(case.decision)
        barred = appeals.deciders(case.decision) | {
            case.reporter_id,
            str(pending.get("by") or "") if pending else "",
        }
        people = sorted(
            p
            for p in {c.chat_id for c, _ in stored if c.channel == actor.chat.channel}
            | self._admins
            if ChatKey(actor.chat.channel, p).user_ref not in barred
        )
        rows = tuple(
            (
                Button(
                    Msg("staff.assign.to", {"who": ChatKey(actor.chat.channel, p).user_ref}),
                    f"sf:to:{case.public_id}:{p}",
                ),
            )
            for p in people
        )
        return Say(
            (Msg("staff.assign.prompt", {"case_id": case.public_id}),), rows, None, "choice"
        )

    async def _refusal(
        self, uow: UnitOfWork, case: CaseRecord, action: Action, actor: Actor
    ) -> Say | None:
        """Why ``actor`` may not start ``action`` on ``case`` (an assignment: to anyone)."""
        decider, decided = lifecycle.under_appeal(case.decision)
        stakes: frozenset[str] = frozenset()
        if action in lifecycle.IMPARTIAL_ACTIONS and action is not Action.ASSIGN:
            stakes = await conflicts(uow, case, actor.ref)
        try:
            lifecycle.check(
                action,
                case.status,
                actor.role,
                actor=actor.ref,
                assignee=None if action is Action.ASSIGN else case.assignee,
                decider=decider,
                decided=decided,
                deciders=appeals.deciders(case.decision),
                conflicts=stakes,
            )
        except IllegalTransition as exc:
            return Say((illegal_message(exc, case),))
        return None

    async def _act(
        self,
        uow: UnitOfWork,
        case: CaseRecord,
        action: Action,
        actor: Actor,
        *,
        note: str = "",
        detail: Mapping[str, object] | None = None,
        assignee: str | None = None,
    ) -> list[Say]:
        try:
            status = await self._actions.act(
                uow, case, action, actor, note=note, detail=detail, assignee=assignee
            )
        except IllegalTransition as exc:
            return [Say((illegal_message(exc, case),))]
        done = Msg(
            "staff.done",
            {"case_id": case.public_id, "status": cards.status_label(status)},
        )
        fresh = await uow.cases.get(case.public_id)
        if fresh is None:
            return [Say((done,))]
        card = await self._card_of(uow, actor, fresh)
        return [Say((done,)), card]

    # --- finishing a dialog --------------------------------------------------------------------

    async def finish(self, uow: UnitOfWork, sender: ChatKey, action: Finish) -> list[Say]:
        """Carry out a decision dialog's answers; the role is checked again now."""
        role = await self.role(uow, sender)
        decided = DIALOG_FLOWS.get(action.flow)
        if role is None or decided is None:
            return [Say((Msg("staff.not_staff_anymore"),))]
        case_id = str(action.context.get("case_id", ""))
        case = await uow.cases.get(case_id)
        if case is None:
            return [Say((Msg("staff.case.unknown", {"case_id": case_id}),))]
        if decided is not Action.NOTE and _changed_since(case, action.context):
            # Opened on another state of the case (another appeal, say): its answers were
            # written for that one.
            return [Say((_stale_message(case),))]
        answers = action.answers
        note = str(
            answers.get("note")
            or answers.get("question")
            or answers.get("text")
            or answers.get("grounds")
            or ""
        )
        detail: dict[str, object] = {}
        if "measures" in answers:
            detail["measures"] = list(answers["measures"])
        if "duration" in answers:
            detail["duration"] = str(answers["duration"])
        if "reason" in answers:
            detail["reason"] = str(answers["reason"])
        if "department" in answers:
            detail["department"] = str(answers["department"])
        return await self._act(uow, case, decided, Actor(sender, role), note=note, detail=detail)

    # --- cards ---------------------------------------------------------------------------------

    async def _card(self, uow: UnitOfWork, actor: Actor, case_id: str) -> list[Say]:
        case = await uow.cases.get(case_id)
        if case is None:
            return [Say((Msg("staff.case.unknown", {"case_id": case_id}),))]
        return [await self._card_of(uow, actor, case)]

    async def _card_of(self, uow: UnitOfWork, actor: Actor, case: CaseRecord) -> Say:
        track = await uow.cases.track_record(case.reporter_id)
        others = await uow.cases.against_account(case.account_key, exclude=case.public_id)
        parts = [await addon.card(uow, case, actor) for addon in self.addons]
        stakes = await conflicts(uow, case, actor.ref)
        return cards.case_card(
            case,
            category=self.category_label(case.category),
            track=track,
            others=others,
            decision=cards.decision_lines(case, self._actions.label),
            viewer=actor.chat,
            role=actor.role,
            parts=parts,
            conflicts=stakes,
        )

    def _categories(self) -> Sequence[str]:
        step = self._category_step()
        return [o.value for o in step.options] if step else []

    def _category_step(self) -> ChoiceStep | None:
        try:
            step = self._book.current("report").step("category")
        except KeyError:
            return None
        return step if isinstance(step, ChoiceStep) else None

    def category_label(self, value: str) -> Msg:
        label = option_label(self._book.current("report"), "category", value)
        return label or Msg("bot.category.unknown", {"value": value})


def _appeal_count(case: CaseRecord) -> int:
    return len(case.decision.get("appeals", ()))


def _changed_since(case: CaseRecord, context: Mapping[str, object]) -> bool:
    """Whether ``case`` has left the status a dialog was opened on, or been appealed again
    (dialogs opened before these were recorded are let through)."""
    seen_status = context.get("seen_status")
    if seen_status is not None and str(seen_status) != case.status.value:
        return True
    seen_appeals = context.get("seen_appeals")
    return seen_appeals is not None and str(seen_appeals) != str(_appeal_count(case))


def _stale_message(case: CaseRecord) -> Msg:
    return Msg(
        "staff.dialog.stale",
        {"case_id": case.public_id, "status": cards.status_label(case.status)},
    )


def illegal_message(exc: IllegalTransition, case: CaseRecord) -> Msg:
    decider = N_("staff.illegal.decider")
    if exc.action is Action.ASSIGN or case.status is not Status.APPEALED:
        decider = N_("staff.illegal.decided_before")
    key = {
        "role": N_("staff.illegal.role"),
        "assignee": N_("staff.illegal.assignee"),
        "decider": decider,
        "conflict": N_("staff.illegal.conflict"),
    }.get(exc.reason, N_("staff.illegal.status"))
    return Msg(
        key,
        {
            "case_id": case.public_id,
            "status": cards.status_label(case.status),
            "assignee": case.assignee or "-",
        },
    )
