"""Who may do what at the staff desk (DESIGN §4: "staff commands check the caller's role on every
call; case data never reaches a non-staff chat").

Every staff command and every staff button is sent by four people: someone who is not staff, a
reviewer from the roster, an admin from the roster and an admin named in the settings. Someone
who is not staff gets exactly what an unknown command or a stale button gets and no case data;
a reviewer may do everything but assign, reopen and change the roster; admins may do everything.
Nothing that is refused changes the case, the roster or the outbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from disputebot.cases.ids import new_case_id
from disputebot.cases.lifecycle import Action, ActorRole
from disputebot.cases.records import CaseRecord, NewCase, Status
from disputebot.engine.context import Policies
from disputebot.engine.effects import Msg, Say, say_from_json
from disputebot.engine.events import ButtonPressed, Event
from disputebot.engine.spec import FlowBook
from disputebot.i18n.catalog import Catalogs
from disputebot.policy.accounts import Account, account_to_json, parse_account
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey, OutboxItem, Role, UnitOfWorkFactory
from disputebot.service import filing
from disputebot.service.bot import BotService
from disputebot.service.inbound import Inbound, Reply
from disputebot.service.review import Actor, CaseActions
from disputebot.service.statsview import StatsView
from tests.engine.transcript import keys_of
from tests.service.driver import FACTS, STORE, ServiceChat, service_for
from tests.support import FixedClock

CHANNEL = "test"
ADMIN = 1  # named in the settings (DISPUTEBOT_ADMIN_IDS)
REVIEWER = 2  # on the roster as a reviewer
ROSTER_ADMIN = 3  # on the roster as an admin
OTHER_REVIEWER = 5  # on the roster as a reviewer; the assignee of other people's cases
OUTSIDER = 4242  # not staff
REPORTER = 1001
STAFF_GROUP = -100
OTHER_GROUP = -200
LOCALES = ("en", "zh_Hans")

STORE_ID = "2209876543"
DESCRIPTION = (
    "Dispute 5000123 on order 8169990001112223: the seller claims the parcel never arrived, "
    "but the carrier's record shows it signed for on 2026-11-02."
)
PHOTO = EvidenceFile(
    sha256="5f" * 32,
    size=2048,
    mime="image/png",
    name="tracking-page.png",
    file_id="AgACAgQAAxkBAAIBQmZ",
)

PEOPLE = {
    "outsider": OUTSIDER,
    "the reporter": REPORTER,  # not staff either, even about their own case
    "reviewer": REVIEWER,
    "roster admin": ROSTER_ADMIN,
    "config admin": ADMIN,
}
NOT_STAFF = {"outsider", "the reporter"}


def chat_of(user: int) -> ChatKey:
    return ChatKey(CHANNEL, user)


def ref(user: int) -> str:
    return chat_of(user).user_ref


# --- the world the tests run in ---------------------------------------------------------------


def make_desk_service(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    catalogs: Catalogs,
    *,
    staff_chat_id: int | None = STAFF_GROUP,
) -> BotService:
    """The bot with ADMIN named in the settings and the staff group configured."""
    return service_for(
        uow_factory,
        book,
        policies,
        clock,
        admins=frozenset({ADMIN}),
        staff_chat_id=staff_chat_id,
        stats=StatsView(clock, catalogs),
    )


# The actions that take a freshly filed case to each status (see ``World.case``).
_PATHS: dict[Status, tuple[Action, ...]] = {
    Status.SUBMITTED: (),
    Status.IN_REVIEW: (Action.TAKE,),
    Status.AWAITING_INFO: (Action.TAKE, Action.ASK_INFO),
    Status.UPHELD: (Action.TAKE, Action.UPHOLD),
    Status.REJECTED: (Action.TAKE, Action.REJECT),
    Status.ESCALATED: (Action.TAKE, Action.ESCALATE),
    Status.WITHDRAWN: (Action.WITHDRAW,),
    Status.CLOSED: (Action.TAKE, Action.UPHOLD, Action.CLOSE),
}


@dataclass
class World:
    """The store, seeded through the real case actions, and views of it for assertions."""

    uow_factory: UnitOfWorkFactory
    book: FlowBook
    policies: Policies
    clock: FixedClock

    def account(self, store_id: str = STORE_ID) -> Account:
        parsed = parse_account(
            f"https://www.aliexpress.com/store/{store_id}", self.policies.profile
        )
        assert isinstance(parsed, Account)
        return parsed

    async def case(
        self,
        status: Status = Status.SUBMITTED,
        *,
        assignee: int = OTHER_REVIEWER,
        reporter: int = REPORTER,
        store_id: str = STORE_ID,
        category: str = "other",
        reason: str = "insufficient_evidence",
        at: datetime | None = None,
        case_id: str | None = None,
    ) -> str:
        """A case in ``status``; ``assignee`` takes it on the way (if the way has a take)."""
        saved = self.clock.current
        if at is not None:
            self.clock.current = at
        try:
            account = self.account(store_id)
            new = NewCase(
                public_id=case_id or new_case_id(),
                reporter_id=ref(reporter),
                category=category,
                account_key=account.key,
                account=account_to_json(account),
                description=DESCRIPTION,
                flow="report",
                flow_version=1,
                attestation="report.confirm.attest@1",
                created_at=self.clock.now(),
                evidence=(PHOTO,),
            )
            actions = CaseActions(self.book, self.clock, default_locale="en")
            details: dict[Action, Mapping[str, Any]] = {
                Action.UPHOLD: {"measures": ["warning"]},
                Action.REJECT: {"reason": reason},
                Action.ESCALATE: {"department": "legal"},
            }
            async with self.uow_factory() as uow:
                await uow.cases.add(new, filing.filed_event(new))
                for action in _PATHS[status]:
                    record = await uow.cases.get(new.public_id)
                    assert record is not None
                    who = Actor(chat_of(assignee), ActorRole.ADMIN)
                    note = "Seeded question." if action is Action.ASK_INFO else ""
                    await actions.act(
                        uow, record, action, who, detail=details.get(action), note=note
                    )
                await uow.commit()
        finally:
            self.clock.current = saved
        return new.public_id

    async def get(self, case_id: str) -> CaseRecord:
        async with self.uow_factory() as uow:
            case = await uow.cases.get(case_id)
        assert case is not None
        return case

    async def outbox(self, chat: ChatKey | None = None) -> list[OutboxItem]:
        async with self.uow_factory() as uow:
            items = await uow.outbox.list(limit=1000)
        return sorted((i for i in items if chat is None or i.chat == chat), key=lambda i: i.id)

    async def roster(self) -> set[tuple[int, Role]]:
        async with self.uow_factory() as uow:
            return {(chat.chat_id, role) for chat, role in await uow.staff.list()}

    async def set_role(self, user: int, role: Role | None) -> None:
        async with self.uow_factory() as uow:
            if role is None:
                await uow.staff.remove(chat_of(user))
            else:
                await uow.staff.set_role(chat_of(user), role, self.clock.now())
            await uow.commit()

    async def has_session(self, user: int) -> bool:
        async with self.uow_factory() as uow:
            return await uow.sessions.get(chat_of(user)) is not None

    async def dead_letter(self, case_id: str) -> None:
        """A message about ``case_id`` the reporter never got (they blocked the bot)."""
        say = Say((Msg("notify.in_review", {"case_id": case_id}),))
        async with self.uow_factory() as uow:
            item = await uow.outbox.put(
                chat_of(REPORTER), say, "en", now=self.clock.now(), case_id=case_id
            )
            await uow.outbox.mark_failed(item, "Forbidden: bot was blocked", retry_at=None)
            await uow.commit()


async def make_world(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> World:
    """An empty store but for the roster: two reviewers and an admin."""
    seeded = World(uow_factory, book, policies, clock)
    await seeded.set_role(REVIEWER, Role.REVIEWER)
    await seeded.set_role(OTHER_REVIEWER, Role.REVIEWER)
    await seeded.set_role(ROSTER_ADMIN, Role.ADMIN)
    return seeded


# --- reading replies ----------------------------------------------------------------------------


def _strings_of_msg(msg: Msg) -> Iterator[str]:
    yield msg.key
    for value in msg.params.values():
        if isinstance(value, Msg):
            yield from _strings_of_msg(value)
        else:
            yield str(value)


def strings_of(say: Say) -> Iterator[str]:
    """Every string a message carries: texts, parameters, button labels and data, files."""
    for msg in say.text:
        yield from _strings_of_msg(msg)
    for row in say.buttons:
        for button in row:
            yield from _strings_of_msg(button.label)
            yield button.data
    for media in say.media:
        yield from (media.name, media.file_id or "", media.path or "")


def leaks(says: Sequence[Say], case: CaseRecord) -> list[str]:
    """The pieces of ``case`` that appear anywhere in ``says``."""
    secrets = {
        "case id": case.public_id,
        "description": DESCRIPTION[:40],
        "store id": STORE_ID,
        "reporter": case.reporter_id,
        "evidence name": PHOTO.name,
        "evidence file": PHOTO.file_id or "",
    }
    joined = "\n".join(s for say in says for s in strings_of(say))
    return [name for name, secret in secrets.items() if secret and secret in joined]


def keys(says: Sequence[Say] | Sequence[Reply]) -> list[str]:
    found: list[str] = []
    for item in says:
        say = item.say if isinstance(item, Reply) else item
        found += [k for m in say.text for k in keys_of(m)]
    return found


def first_keys(items: Sequence[OutboxItem]) -> list[str]:
    return [say_from_json(i.payload).text[0].key for i in items]


def verbs_on(says: Sequence[Say]) -> set[str]:
    return {
        b.data.split(":")[1]
        for say in says
        for row in say.buttons
        for b in row
        if b.data.startswith("sf:")
    }


# --- the tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    label: str

    async def on(self, chat: ServiceChat) -> None:
        await chat.click(self.label)


@dataclass(frozen=True)
class Type:
    text: str

    async def on(self, chat: ServiceChat) -> None:
        await chat.text(self.text)


@dataclass(frozen=True)
class Command:
    text: str  # ``{case_id}`` is the seeded case
    reply: str  # a message key staff who may use it get
    admin_only: bool = False
    adds: frozenset[tuple[int, Role]] = frozenset()
    removes: frozenset[tuple[int, Role]] = frozenset()

    def __str__(self) -> str:
        return self.text


COMMANDS = [
    Command("/queue", "queue.line"),
    Command("/queue submitted other unassigned", "queue.line"),
    Command("/queue all 1d", "queue.line"),
    Command("/case {case_id}", "card.title"),
    Command("/staff", "staff.list.title"),
    Command("/staff list", "staff.list.title"),
    Command(
        "/staff add 77",
        "staff.staff.added",
        admin_only=True,
        adds=frozenset({(77, Role.REVIEWER)}),
    ),
    Command(
        "/staff add 78 admin",
        "staff.staff.added",
        admin_only=True,
        adds=frozenset({(78, Role.ADMIN)}),
    ),
    Command(
        "/staff remove 5",
        "staff.staff.removed",
        admin_only=True,
        removes=frozenset({(OTHER_REVIEWER, Role.REVIEWER)}),
    ),
    Command("/stats", "stats.intake"),
    Command("/deadletters", "staff.dead.title"),
]


@dataclass(frozen=True)
class Press:
    verb: str
    status: Status  # a status the action is legal from for an admin
    reply: str  # a message key a permitted press answers with
    admin_only: bool = False
    arg: str = ""
    dialog: tuple[Click | Type, ...] = ()  # the decision dialog's answers, up to submitting
    after: Status | None = None  # the case's status afterwards; None: unchanged
    event: str | None = None  # the audit event it adds
    news: str | None = None  # what the reporter is told
    staff_news: Mapping[int, str] = field(default_factory=dict)  # what other staff are told

    def data(self, case_id: str) -> str:
        if self.verb == "q":
            return "sf:q:0:"
        return f"sf:{self.verb}:{case_id}" + (f":{self.arg}" if self.arg else "")

    def __str__(self) -> str:
        return self.verb


SUBMIT = Click("review.confirm.submit")
PRESSES = [
    Press("q", Status.SUBMITTED, "queue.line"),
    Press("card", Status.SUBMITTED, "card.title"),
    Press("ev", Status.SUBMITTED, "card.evidence.sent"),
    Press(
        "take",
        Status.SUBMITTED,
        "staff.done",
        after=Status.IN_REVIEW,
        event="take",
        news="notify.in_review",
    ),
    Press("asg", Status.SUBMITTED, "staff.assign.prompt", admin_only=True),
    Press(
        "to",
        Status.SUBMITTED,
        "staff.done",
        admin_only=True,
        arg=str(REVIEWER),
        after=Status.IN_REVIEW,
        event="assign",
        news="notify.in_review",
        staff_news={REVIEWER: "staff.assigned_to_you"},
    ),
    Press(
        "ask",
        Status.IN_REVIEW,
        "review.ask.question.prompt",
        dialog=(Type("Please send the carrier's tracking page for the order."), SUBMIT),
        after=Status.AWAITING_INFO,
        event="ask_info",
        news="notify.awaiting_info",
    ),
    Press(
        "up",
        Status.IN_REVIEW,
        "review.uphold.measures.prompt",
        dialog=(
            Click("review.measure.warning"),
            Click("review.uphold.measures.done"),
            Click("review.duration.days_30"),
            Click("review.note_for_reporter.skip"),
            SUBMIT,
        ),
        after=Status.UPHELD,
        event="uphold",
        news="sor.upheld.reporter",
    ),
    Press(
        "rj",
        Status.IN_REVIEW,
        "review.reject.reason.prompt",
        dialog=(
            Click("review.reason.not_malicious"),
            Click("review.note_for_reporter.skip"),
            SUBMIT,
        ),
        after=Status.REJECTED,
        event="rejected:not_malicious",
        news="sor.rejected.reporter",
    ),
    Press(
        "es",
        Status.IN_REVIEW,
        "review.escalate.department.prompt",
        dialog=(Click("review.department.fraud"), Click("review.escalate.note.skip"), SUBMIT),
        after=Status.ESCALATED,
        event="escalate",
        news="sor.escalated.reporter",
    ),
    Press(
        "nt",
        Status.IN_REVIEW,
        "review.note.text.prompt",
        dialog=(Type("Carrier confirmed the tracking number does not exist."), SUBMIT),
        event="note",
    ),
    Press(
        "wd",
        Status.IN_REVIEW,
        "staff.done",
        after=Status.WITHDRAWN,
        event="withdraw",
        news="notify.withdrawn",
    ),
    Press(
        "ro",
        Status.UPHELD,
        "staff.done",
        admin_only=True,
        after=Status.IN_REVIEW,
        event="reopen",
        news="notify.reopened",
    ),
    Press(
        "cl",
        Status.UPHELD,
        "staff.done",
        after=Status.CLOSED,
        event="close",
        news="notify.closed",
    ),
]
ASSIGNEE_ONLY = ["ask", "up", "rj", "es"]


def press(verb: str) -> Press:
    return next(p for p in PRESSES if p.verb == verb)


# --- commands -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=str)
@pytest.mark.parametrize("who", PEOPLE)
async def test_staff_command(
    desk_service: BotService, world: World, clock: FixedClock, who: str, command: Command
) -> None:
    case_id = await world.case(at=clock.now() - timedelta(days=2))
    await world.dead_letter(case_id)
    case_before = await world.get(case_id)
    roster_before = await world.roster()
    outbox_before = await world.outbox()
    chat = ServiceChat(desk_service, PEOPLE[who])

    replies = await chat.text(command.text.format(case_id=case_id))
    says = [r.say for r in replies]

    if who in NOT_STAFF:
        assert replies == await chat.text("/nosuch"), "not staff: like any unknown command"
        assert keys(replies) == ["engine.idle"]
        assert leaks(says, case_before) == []
        expected_roster = roster_before
    elif command.admin_only and who == "reviewer":
        assert keys(replies) == ["staff.admin_only"]
        expected_roster = roster_before
    else:
        assert command.reply in keys(replies)
        expected_roster = (roster_before | command.adds) - command.removes
    if command.reply in {"queue.line", "card.title"} and who not in NOT_STAFF:
        assert leaks(says, case_before) != [], "staff see the case (so the check above bites)"

    assert await world.get(case_id) == case_before
    assert await world.roster() == expected_roster
    assert await world.outbox() == outbox_before
    assert not await world.has_session(PEOPLE[who])


@pytest.mark.parametrize("who", PEOPLE)
async def test_help_mentions_staff_commands_only_to_staff(
    desk_service: BotService, world: World, who: str
) -> None:
    chat = ServiceChat(desk_service, PEOPLE[who])
    said = keys(await chat.text("/help"))
    assert "bot.help" in said
    assert ("bot.help.staff" in said) is (who not in NOT_STAFF)


async def test_a_non_staff_reporter_mid_draft_only_sees_their_draft(
    desk_service: BotService, world: World
) -> None:
    """With a report draft open, a staff command is an unknown command and a staff button is a
    stale button: the same refusal, with the draft's prompt again."""
    case_id = await world.case(Status.IN_REVIEW)
    case_before = await world.get(case_id)
    outbox_before = await world.outbox()
    outsider = ServiceChat(desk_service, OUTSIDER)
    await outsider.text("/report")
    stale = outsider.buttons()[0]  # a category button: stale once the category is chosen
    await outsider.click("report.category.other")
    await outsider.text(STORE)
    await outsider.text(FACTS)
    assert outsider.step == "evidence"

    unknown = await outsider.text("/nosuch")
    for command in COMMANDS:
        replies = await outsider.text(command.text.format(case_id=case_id))
        name = command.text.split()[0].lstrip("/")
        assert replies == [
            Reply(
                r.chat,
                Say(
                    tuple(_rename_command(m, name) for m in r.say.text),
                    r.say.buttons,
                    r.say.step,
                    r.say.expects,
                    r.say.notes,
                    r.say.media,
                ),
                r.locale,
            )
            for r in unknown
        ], command.text
        assert leaks([r.say for r in replies], case_before) == []

    reference = await outsider.send(ButtonPressed(stale.data))
    assert keys(reference)[0] == "engine.stale_button"
    assert await outsider.send(ButtonPressed(f"rp:wd:{case_id}")) == reference
    for p in PRESSES:
        replies = await outsider.send(ButtonPressed(p.data(case_id)))
        assert replies == reference, p.verb
        assert leaks([r.say for r in replies], case_before) == []
    assert outsider.step == "evidence"
    assert await world.get(case_id) == case_before
    assert await world.outbox() == outbox_before


def _rename_command(msg: Msg, name: str) -> Msg:
    if msg.key == "engine.unknown_command":
        return Msg(msg.key, {**msg.params, "command": name})
    return msg


# --- buttons ------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", PRESSES, ids=str)
@pytest.mark.parametrize("who", PEOPLE)
async def test_staff_button(
    desk_service: BotService, world: World, who: str, action: Press
) -> None:
    user = PEOPLE[who]
    # A reviewer's own case; an admin's case is someone else's (admins may act on any case).
    assignee = REVIEWER if who == "reviewer" else OTHER_REVIEWER
    case_id = await world.case(action.status, assignee=assignee)
    case_before = await world.get(case_id)
    roster_before = await world.roster()
    outbox_before = await world.outbox()
    chat = ServiceChat(desk_service, user)

    replies = await chat.send(ButtonPressed(action.data(case_id)))
    says = [r.say for r in replies]

    if who in NOT_STAFF:
        stale = await chat.send(ButtonPressed("rp:ans:DR-ZZZZZZZZ"))
        assert replies == stale, "not staff: like any stale button"
        assert keys(replies) == ["engine.stale_button"]
        assert leaks(says, case_before) == []
        assert await world.get(case_id) == case_before
        assert await world.outbox() == outbox_before
        assert not await world.has_session(user)
        return

    if action.admin_only and who == "reviewer":
        assert keys(replies)[0] == "staff.illegal.role"
        assert verbs_on(says) == set()
        assert await world.get(case_id) == case_before
        assert await world.outbox() == outbox_before
        assert not await world.has_session(user)
        return

    assert action.reply in keys(replies)
    for step in action.dialog:
        await step.on(chat)
    if action.dialog:
        assert "staff.done" in chat.said()
        assert not await world.has_session(user), "the dialog is over"

    case = await world.get(case_id)
    assert case.status is (action.after or case_before.status)
    added = case.events[len(case_before.events) :]
    assert [(e.actor, e.kind) for e in added] == (
        [(ref(user), action.event)] if action.event else []
    )
    if action.verb == "take":
        assert case.assignee == ref(user)
    elif action.verb == "to":
        assert case.assignee == ref(REVIEWER)
    else:
        assert case.assignee == case_before.assignee

    told = await world.outbox(chat_of(REPORTER))
    news = first_keys(told[len([i for i in outbox_before if i.chat == chat_of(REPORTER)]) :])
    assert news == ([action.news] if action.news else [])
    for person, key in action.staff_news.items():
        assert first_keys(await world.outbox(chat_of(person)))[-1:] == [key]
    new_items = [i for i in await world.outbox() if i not in outbox_before]
    assert {i.chat for i in new_items} <= {chat_of(REPORTER), *map(chat_of, action.staff_news)}
    assert await world.roster() == roster_before


async def test_assign_menu_lists_every_staff_member_and_no_one_else(
    desk_service: BotService, world: World
) -> None:
    case_id = await world.case()
    admin = ServiceChat(desk_service, ROSTER_ADMIN)
    await admin.send(ButtonPressed(f"sf:asg:{case_id}"))
    offered = {b.data for b in admin.buttons()}
    assert offered == {
        f"sf:to:{case_id}:{who}" for who in (ADMIN, REVIEWER, ROSTER_ADMIN, OTHER_REVIEWER)
    }


async def test_assigning_to_someone_who_is_not_staff_is_refused(
    desk_service: BotService, world: World
) -> None:
    case_id = await world.case()
    before = await world.get(case_id)
    outbox_before = await world.outbox()
    admin = ServiceChat(desk_service, ADMIN)
    assert keys(await admin.send(ButtonPressed(f"sf:to:{case_id}:{OUTSIDER}"))) == [
        "staff.assign.not_staff"
    ]
    assert await world.get(case_id) == before
    assert await world.outbox() == outbox_before


@pytest.mark.parametrize("verb", ASSIGNEE_ONLY)
async def test_a_reviewer_may_not_decide_another_reviewers_case(
    desk_service: BotService, world: World, verb: str
) -> None:
    case_id = await world.case(Status.IN_REVIEW, assignee=OTHER_REVIEWER)
    before = await world.get(case_id)
    outbox_before = await world.outbox()
    reviewer = ServiceChat(desk_service, REVIEWER)

    replies = await reviewer.send(ButtonPressed(f"sf:{verb}:{case_id}"))

    assert keys(replies)[0] == "staff.illegal.assignee"
    assert ref(OTHER_REVIEWER) in [
        v for r in replies for m in r.say.text for v in m.params.values()
    ]
    assert not await world.has_session(REVIEWER), "no dialog was started"
    assert await world.get(case_id) == before
    assert await world.outbox() == outbox_before
    # ... and their card does not offer it either; a note and a withdrawal remain.
    card = await reviewer.text(f"/case {case_id}")
    assert verbs_on([r.say for r in card]) == {"wd", "nt", "ev", "shr", "card"}


@pytest.mark.parametrize(
    ("status", "who", "offered"),
    [
        (Status.SUBMITTED, "reviewer", {"take", "wd", "nt"}),
        (Status.SUBMITTED, "roster admin", {"take", "asg", "wd", "nt"}),
        (Status.IN_REVIEW, "reviewer", {"ask", "up", "rj", "es", "wd", "nt"}),
        (Status.IN_REVIEW, "config admin", {"asg", "ask", "up", "rj", "es", "wd", "nt"}),
        (Status.AWAITING_INFO, "reviewer", {"ask", "up", "rj", "es", "wd", "nt"}),
        (Status.UPHELD, "reviewer", {"cl", "nt"}),
        (Status.UPHELD, "roster admin", {"ro", "cl", "nt"}),
        (Status.ESCALATED, "reviewer", {"take", "wd", "nt"}),
        (Status.CLOSED, "config admin", {"ro", "nt"}),
        (Status.WITHDRAWN, "reviewer", {"nt"}),
    ],
)
async def test_a_card_offers_what_the_viewer_may_do(
    desk_service: BotService, world: World, status: Status, who: str, offered: set[str]
) -> None:
    case_id = await world.case(status, assignee=REVIEWER)
    chat = ServiceChat(desk_service, PEOPLE[who])
    card = await chat.text(f"/case {case_id}")
    assert verbs_on([r.say for r in card]) == offered | {"ev", "shr", "card"}


# --- group chats --------------------------------------------------------------------------------


async def press_in_group(
    service: BotService, group: int, user: int, data: str, event_id: str | None = None
) -> list[Reply]:
    event: Event = ButtonPressed(data)
    inbound = Inbound(chat_of(group), event, event_id, "en", private=False, user_id=user)
    return await service.handle(inbound)


@pytest.mark.parametrize("verb", ["take", "card"])
@pytest.mark.parametrize("who", PEOPLE)
async def test_a_staff_keyboard_in_another_group_does_nothing(
    desk_service: BotService, world: World, who: str, verb: str
) -> None:
    case_id = await world.case()
    before = await world.get(case_id)
    outbox_before = await world.outbox()

    replies = await press_in_group(desk_service, OTHER_GROUP, PEOPLE[who], f"sf:{verb}:{case_id}")

    assert [(r.chat, keys([r])) for r in replies] == [(chat_of(OTHER_GROUP), ["bot.private_only"])]
    assert await world.get(case_id) == before
    assert await world.outbox() == outbox_before
    assert not await world.has_session(PEOPLE[who])


@pytest.mark.parametrize("verb", ["take", "card", "up", "asg"])
async def test_a_staff_keyboard_pressed_in_the_staff_group_by_an_outsider_does_nothing(
    desk_service: BotService, world: World, verb: str
) -> None:
    case_id = await world.case(Status.IN_REVIEW if verb == "up" else Status.SUBMITTED)
    before = await world.get(case_id)
    outbox_before = await world.outbox()

    replies = await press_in_group(desk_service, STAFF_GROUP, OUTSIDER, f"sf:{verb}:{case_id}")

    assert replies == []
    assert await world.get(case_id) == before
    assert await world.outbox() == outbox_before
    assert not await world.has_session(OUTSIDER)


@pytest.mark.parametrize("who", ["reviewer", "roster admin", "config admin"])
async def test_a_staff_keyboard_in_the_staff_group_acts_for_the_presser(
    desk_service: BotService, world: World, who: str
) -> None:
    user = PEOPLE[who]
    case_id = await world.case()
    outbox_before = await world.outbox()

    replies = await press_in_group(desk_service, STAFF_GROUP, user, f"sf:take:{case_id}")

    assert replies == [], "nothing is said in the group"
    case = await world.get(case_id)
    assert (case.status, case.assignee) == (Status.IN_REVIEW, ref(user))
    assert case.events[-1].actor == ref(user)
    new = [i for i in await world.outbox() if i not in outbox_before]
    assert {i.chat for i in new} == {chat_of(user), chat_of(REPORTER)}
    private = [say_from_json(i.payload) for i in new if i.chat == chat_of(user)]
    assert keys(private)[:1] == ["staff.done"]
    assert "card.title" in keys(private)


async def test_a_decision_dialog_started_in_the_staff_group_continues_in_private(
    desk_service: BotService, world: World
) -> None:
    case_id = await world.case(Status.IN_REVIEW, assignee=REVIEWER)

    assert await press_in_group(desk_service, STAFF_GROUP, REVIEWER, f"sf:nt:{case_id}") == []

    (prompt,) = await world.outbox(chat_of(REVIEWER))
    reviewer = ServiceChat(desk_service, REVIEWER)
    assert keys([say_from_json(prompt.payload)]) == ["review.note.text.prompt"]
    await reviewer.text("Checked with the carrier: the tracking number is unknown.")
    await reviewer.click("review.confirm.submit")
    assert "staff.done" in reviewer.said()
    case = await world.get(case_id)
    assert (case.events[-1].actor, case.events[-1].kind) == (ref(REVIEWER), "note")
    assert await world.outbox(chat_of(STAFF_GROUP)) == []


# --- demotion -----------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["nt", "up", "rj", "ask", "es"])
async def test_a_member_removed_mid_dialog_cannot_finish_it(
    desk_service: BotService, world: World, verb: str
) -> None:
    case_id = await world.case(Status.IN_REVIEW, assignee=REVIEWER)
    before = await world.get(case_id)
    reviewer = ServiceChat(desk_service, REVIEWER)
    admin = ServiceChat(desk_service, ADMIN)
    dialog = press(verb).dialog
    await reviewer.send(ButtonPressed(f"sf:{verb}:{case_id}"))
    for step in dialog[:-1]:
        await step.on(reviewer)
    outbox_before = await world.outbox()

    assert "staff.staff.removed" in keys(await admin.text(f"/staff remove {REVIEWER}"))
    await dialog[-1].on(reviewer)

    assert "staff.not_staff_anymore" in reviewer.said()
    assert "staff.done" not in reviewer.said()
    assert await world.get(case_id) == before
    assert [i for i in await world.outbox() if i not in outbox_before] == []
    assert not await world.has_session(REVIEWER)


async def test_an_admin_demoted_mid_dialog_is_held_to_the_reviewer_rules(
    desk_service: BotService, world: World
) -> None:
    case_id = await world.case(Status.IN_REVIEW, assignee=OTHER_REVIEWER)
    before = await world.get(case_id)
    demoted = ServiceChat(desk_service, ROSTER_ADMIN)
    await demoted.send(ButtonPressed(f"sf:up:{case_id}"))
    for step in press("up").dialog[:-1]:
        await step.on(demoted)

    admin = ServiceChat(desk_service, ADMIN)
    assert "staff.staff.added" in keys(await admin.text(f"/staff add {ROSTER_ADMIN} reviewer"))
    await demoted.click("review.confirm.submit")

    assert "staff.illegal.assignee" in demoted.said()
    assert await world.get(case_id) == before


# --- the refusals are localized ----------------------------------------------------------------


async def test_every_refusal_has_a_text_in_every_locale(
    desk_service: BotService, world: World, catalogs: Catalogs
) -> None:
    """The refusals staff get are catalog messages in every shipped language (not raw ids)."""
    theirs = await world.case(Status.IN_REVIEW, assignee=OTHER_REVIEWER)
    decided = await world.case(Status.UPHELD, assignee=REVIEWER)
    reviewer = ServiceChat(desk_service, REVIEWER)
    said: list[str] = []
    for data in (
        f"sf:ro:{decided}",  # role
        f"sf:up:{theirs}",  # assignee
        f"sf:take:{decided}",  # status
        f"sf:to:{theirs}:{REVIEWER}",
    ):
        said += keys(await reviewer.send(ButtonPressed(data)))
    said += keys(await reviewer.text("/staff add 9"))
    assert {"staff.illegal.role", "staff.illegal.assignee", "staff.illegal.status"} <= set(said)
    missing = sorted(
        {(loc, k) for k in said for loc in LOCALES if not catalogs.has(k, loc)}, key=str
    )
    assert not missing, "no text for: " + ", ".join(f"{k} ({loc})" for loc, k in missing)
