"""The staff desk's behaviour through the service: the queue and its filters and pages, case
cards, the roster, decisions and what follows them (the false-report cooldown, taking back an
escalated case, withdrawal, reopening, closing), the reporter's ``/withdraw`` and ``/check``,
decision dialogs nested over a draft, and the staff group's announcement of new cases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from disputebot.cases.records import Status
from disputebot.engine.context import Policies
from disputebot.engine.effects import Msg, Say, say_from_json
from disputebot.engine.events import ButtonPressed
from disputebot.engine.spec import FlowBook
from disputebot.i18n.catalog import Catalogs
from disputebot.ports import Role, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Reply
from tests.service.driver import FACTS, STORE, ServiceChat
from tests.service.test_authorization import (
    ADMIN,
    LOCALES,
    OTHER_REVIEWER,
    OUTSIDER,
    REPORTER,
    REVIEWER,
    ROSTER_ADMIN,
    STAFF_GROUP,
    STORE_ID,
    World,
    chat_of,
    first_keys,
    keys,
    leaks,
    make_desk_service,
    press_in_group,
    ref,
    verbs_on,
)
from tests.service.test_review_flow import file_case
from tests.support import T0, FixedClock, png_bytes

PAGE = 8


def lines(replies: list[Reply], key: str = "queue.line") -> list[Any]:
    """The ``case_id`` parameter of every ``key`` paragraph, in order."""
    return [m.params["case_id"] for r in replies for m in r.say.text if m.key == key]


def param(replies: list[Reply], key: str, name: str) -> Any:
    (value,) = [m.params[name] for r in replies for m in r.say.text if m.key == key]
    return value


def days_ago(days: float) -> Any:
    return T0 - timedelta(days=days)


# --- /queue filters -----------------------------------------------------------------------------

# The queue the filter tests look at; the reader is REVIEWER. Columns: status, category,
# assignee (who took it on the way), age in days.
QUEUE: dict[str, tuple[Status, str, int, float]] = {
    "A": (Status.SUBMITTED, "fake_logistics", OTHER_REVIEWER, 20),
    "B": (Status.IN_REVIEW, "other", REVIEWER, 3),
    "C": (Status.AWAITING_INFO, "concealed_info", OTHER_REVIEWER, 12),
    "D": (Status.ESCALATED, "fake_logistics", OTHER_REVIEWER, 1),
    "E": (Status.UPHELD, "other", REVIEWER, 30),
    "F": (Status.WITHDRAWN, "other", OTHER_REVIEWER, 2),
    "G": (Status.SUBMITTED, "created_dispute", OTHER_REVIEWER, 0.05),
    "H": (Status.REJECTED, "fake_logistics", REVIEWER, 15),
    "I": (Status.CLOSED, "concealed_info", OTHER_REVIEWER, 40),
}


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        ("", "ACBDG"),  # every open case, oldest first
        ("submitted", "AG"),
        ("in_review awaiting_info", "CB"),
        ("UPHELD", "E"),
        ("fake_logistics", "AD"),
        ("all fake_logistics", "AHD"),
        ("mine", "B"),
        ("all mine", "EHB"),
        ("unassigned", "AG"),
        ("@5", "CD"),
        ("all @2", "EHB"),
        ("10d", "AC"),
        ("all 10d", "IEAHC"),
        ("all", "IEAHCBFDG"),
        ("closed concealed_info @5", "I"),
        ("escalated mine", ""),
    ],
)
async def test_queue_filters(
    desk_service: BotService, world: World, args: str, shown: str
) -> None:
    ids = {
        name: await world.case(status, category=category, assignee=who, at=days_ago(age))
        for name, (status, category, who, age) in QUEUE.items()
    }
    reviewer = ServiceChat(desk_service, REVIEWER)

    replies = await reviewer.text(f"/queue {args}".strip())

    assert lines(replies) == [ids[name] for name in shown][:PAGE]
    if shown:
        assert param(replies, "queue.title", "total") == len(shown)
    else:
        assert keys(replies) == ["queue.empty"]


@pytest.mark.parametrize("args", ["bogus", "mine bogus", "@abc", "-3d", "submitted, other"])
async def test_an_unknown_queue_filter_is_explained(
    desk_service: BotService, world: World, args: str
) -> None:
    await world.case()
    reviewer = ServiceChat(desk_service, REVIEWER)

    replies = await reviewer.text(f"/queue {args}")

    assert keys(replies) == ["staff.queue.bad_filter", "staff.queue.usage"]
    assert param(replies, "staff.queue.bad_filter", "token") in args.lower().split()


# --- /queue pages -------------------------------------------------------------------------------


async def walk_pages(chat: ServiceChat, first: list[Reply]) -> list[list[Any]]:
    """Follow "next" from the first page to the last, then "previous" back to the first;
    returns the case ids of each page shown, in order."""
    pages = [lines(first)]
    replies = first
    while any(b.label.key == "queue.next" for b in chat.buttons()):
        replies = await chat.click("queue.next")
        pages.append(lines(replies))
    while any(b.label.key == "queue.previous" for b in chat.buttons()):
        replies = await chat.click("queue.previous")
        pages.append(lines(replies))
    return pages


def check_buttons(chat: ServiceChat) -> None:
    for button in chat.buttons():
        assert len(button.data.encode()) <= 64, button.data  # Telegram's callback_data limit


async def test_the_queue_pages_by_eight(desk_service: BotService, world: World) -> None:
    ids = [await world.case(at=days_ago(30 - i)) for i in range(19)]
    admin = ServiceChat(desk_service, ADMIN)

    first = await admin.text("/queue")

    assert param(first, "queue.title", "total") == 19
    assert (param(first, "queue.title", "first"), param(first, "queue.title", "last")) == (1, 8)
    assert [b.data for b in admin.buttons() if b.data.startswith("sf:card:")] == [
        f"sf:card:{i}" for i in ids[:PAGE]
    ]
    assert [b.label.key for b in admin.buttons() if b.data.startswith("sf:q:")] == ["queue.next"]
    second = await admin.click("queue.next")
    assert (param(second, "queue.title", "first"), param(second, "queue.title", "last")) == (9, 16)
    assert [b.label.key for b in admin.buttons() if b.data.startswith("sf:q:")] == [
        "queue.previous",
        "queue.next",
    ]
    third = await admin.click("queue.next")
    assert lines(third) == ids[16:]
    assert [b.label.key for b in admin.buttons() if b.data.startswith("sf:q:")] == [
        "queue.previous"
    ]
    assert lines(await admin.click("queue.previous")) == ids[8:16]
    assert lines(await admin.click("queue.previous")) == ids[:8]


# Each filter: what ten matching cases look like, and what three that must stay out look like.
PAGED_FILTERS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("fake_logistics", {"category": "fake_logistics"}, {"category": "other"}),
    ("submitted", {}, {"status": Status.IN_REVIEW}),
    ("mine", {"status": Status.IN_REVIEW, "assignee": REVIEWER}, {"status": Status.IN_REVIEW}),
    ("unassigned", {}, {"status": Status.ESCALATED}),
    (
        "@5",
        {"status": Status.IN_REVIEW},
        {"status": Status.AWAITING_INFO, "assignee": REVIEWER},
    ),
    ("upheld rejected", {"status": Status.REJECTED}, {"status": Status.CLOSED}),
    ("all", {"status": Status.WITHDRAWN}, {"status": Status.UPHELD, "category": "other"}),
    ("10d", {"created": 11}, {"created": 9}),
    (  # the longest filter a paging button packs (callback data holds 64 bytes)
        "all created_dispute 10d @8123456789",
        {"status": Status.UPHELD, "assignee": 8123456789},
        {"status": Status.UPHELD},
    ),
]


@pytest.mark.parametrize(
    ("args", "match", "other"), PAGED_FILTERS, ids=[f[0] for f in PAGED_FILTERS]
)
async def test_the_filter_is_kept_across_pages(
    desk_service: BotService,
    world: World,
    args: str,
    match: dict[str, Any],
    other: dict[str, Any],
) -> None:
    def seed(spec: dict[str, Any], age: float) -> dict[str, Any]:
        spec = {"category": "created_dispute", **spec}
        created = spec.pop("created", None)
        return {**spec, "at": days_ago(age if created is None else created + age / 100)}

    wanted = [await world.case(**seed(match, 40 - i)) for i in range(10)]
    for i in range(3):
        await world.case(**seed(other, 30 - i))
    reviewer = ServiceChat(desk_service, REVIEWER)

    first = await reviewer.text(f"/queue {args}")
    check_buttons(reviewer)
    pages = await walk_pages(reviewer, first)

    if args != "all":
        assert pages == [wanted[:PAGE], wanted[PAGE:], wanted[:PAGE]]
    else:  # "all": the three others show too, in their place by age
        assert [i for page in pages[:2] for i in page if i in wanted] == wanted
        assert len(pages) == 3


async def test_an_age_filter_means_the_same_on_every_page(
    desk_service: BotService, world: World
) -> None:
    """``/queue 7d`` keeps cases filed more than seven days ago, to the minute; the next page
    must not move the cut-off to midnight and lose the cases filed early that day."""
    early = [await world.case(at=days_ago(10 + i)) for i in range(8)]
    late = [await world.case(at=days_ago(7) - timedelta(hours=2 + i)) for i in range(2)]
    assert (days_ago(7) - timedelta(hours=3)).date() == days_ago(7).date()  # the same day
    reviewer = ServiceChat(desk_service, REVIEWER)

    first = await reviewer.text("/queue 7d")
    assert param(first, "queue.title", "total") == 10
    second = await reviewer.click("queue.next")

    assert lines(first) + lines(second) == [*early[::-1], *late[::-1]]  # oldest first
    assert param(second, "queue.title", "total") == 10


async def test_the_queue_says_when_it_is_empty(desk_service: BotService, world: World) -> None:
    await world.case(Status.UPHELD)
    assert keys(await ServiceChat(desk_service, REVIEWER).text("/queue")) == ["queue.empty"]


# --- /case --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        ("", "staff.case.usage"),
        ("hello", "staff.case.usage"),
        ("DR-123", "staff.case.usage"),
        ("DR-ABCDEFGHJK", "staff.case.usage"),
        ("DR-ZZZZZZZZ", "staff.case.unknown"),
        ("dr-zzzz-zzzz", "staff.case.unknown"),
        ("DR-10AB0CD1", "card.title"),
        ("dr-ioab-ocdi", "card.title"),  # I and O are read as 1 and 0
        ("DR10AB0CD1", "card.title"),
    ],
)
async def test_case_ids_typed_every_way(
    desk_service: BotService, world: World, args: str, answer: str
) -> None:
    await world.case(case_id="DR-10AB0CD1")
    reviewer = ServiceChat(desk_service, REVIEWER)

    replies = await reviewer.text(f"/case {args}".strip())

    assert keys(replies)[0] == answer
    if answer == "staff.case.unknown":
        assert param(replies, answer, "case_id") == "DR-ZZZZZZZZ"
    if answer == "card.title":
        assert param(replies, answer, "case_id") == "DR-10AB0CD1"


@pytest.mark.parametrize("data", ["sf:card:DR-ZZZZZZZZ", "sf:take:DR-ZZZZZZZZ", "sf:up:nonsense"])
async def test_a_staff_button_for_an_unknown_case(
    desk_service: BotService, world: World, data: str
) -> None:
    replies = await ServiceChat(desk_service, REVIEWER).send(ButtonPressed(data))
    assert keys(replies) == ["staff.case.unknown"]


@pytest.mark.parametrize("data", ["sf:zz:{id}", "sf:to:{id}:someone", "sf:to:{id}:"])
async def test_a_forged_staff_button_is_a_stale_button(
    desk_service: BotService, world: World, data: str
) -> None:
    case_id = await world.case()
    before = await world.get(case_id)
    replies = await ServiceChat(desk_service, ADMIN).send(ButtonPressed(data.format(id=case_id)))
    assert keys(replies) == ["engine.stale_button"]
    assert await world.get(case_id) == before


# --- /staff -------------------------------------------------------------------------------------


def roster_lines(replies: list[Reply]) -> list[tuple[str, str, str]]:
    return [
        (m.key, str(m.params["who"]), m.params["role"].key)  # type: ignore[union-attr]
        for r in replies
        for m in r.say.text
        if m.key in {"staff.list.line", "staff.list.configured"}
    ]


async def test_the_roster_lists_configured_admins_first(
    desk_service: BotService, world: World
) -> None:
    await world.set_role(ADMIN, Role.REVIEWER)  # the settings win over a roster entry
    replies = await ServiceChat(desk_service, REVIEWER).text("/staff list")

    assert param(replies, "staff.list.title", "count") == 4
    listed = roster_lines(replies)
    assert listed[0] == ("staff.list.configured", ref(ADMIN), "staff.role.admin")
    assert sorted(listed[1:]) == [
        ("staff.list.line", ref(REVIEWER), "staff.role.reviewer"),
        ("staff.list.line", ref(ROSTER_ADMIN), "staff.role.admin"),
        ("staff.list.line", ref(OTHER_REVIEWER), "staff.role.reviewer"),
    ]


@pytest.mark.parametrize("admin", [ADMIN, ROSTER_ADMIN])
async def test_adding_and_removing_staff(
    desk_service: BotService, world: World, admin: int
) -> None:
    boss = ServiceChat(desk_service, admin)
    newcomer = ServiceChat(desk_service, 77)
    case_id = await world.case()
    assert keys(await newcomer.text("/queue")) == ["engine.idle"]

    added = await boss.text("/staff add 77")
    assert keys(added)[0] == "staff.staff.added"
    assert param(added, "staff.staff.added", "who") == ref(77)
    assert lines(await newcomer.text("/queue")) == [case_id]
    assert "staff.admin_only" in keys(await newcomer.text("/staff add 78"))

    promoted = await boss.text("/staff add 77 ADMIN")
    assert keys(promoted) == ["staff.staff.added", "staff.role.admin"]
    assert "staff.staff.added" in keys(await newcomer.text("/staff add 78"))
    assert (78, Role.REVIEWER) in await world.roster()

    removed = await boss.text("/staff remove 77")
    assert keys(removed) == ["staff.staff.removed"]
    assert keys(await newcomer.text("/queue")) == ["engine.idle"]
    assert 77 not in {who for who, _ in await world.roster()}


@pytest.mark.parametrize("admin", [ADMIN, ROSTER_ADMIN])
async def test_configured_admins_cannot_be_removed(
    desk_service: BotService, world: World, admin: int
) -> None:
    before = await world.roster()
    replies = await ServiceChat(desk_service, admin).text(f"/staff remove {ADMIN}")

    assert keys(replies) == ["staff.staff.configured"]
    assert await world.roster() == before
    assert "queue.empty" in keys(await ServiceChat(desk_service, ADMIN).text("/queue"))
    assert "staff.staff.added" in keys(await ServiceChat(desk_service, ADMIN).text("/staff add 9"))


@pytest.mark.parametrize(
    "args", ["add", "add bob", "add 77 boss", "remove", "remove me", "promote 77", "add -77"]
)
async def test_bad_staff_commands_are_explained(
    desk_service: BotService, world: World, args: str
) -> None:
    before = await world.roster()
    replies = await ServiceChat(desk_service, ADMIN).text(f"/staff {args}")
    assert keys(replies) == ["staff.staff.usage"]
    assert await world.roster() == before


# --- the card -----------------------------------------------------------------------------------


async def test_the_card_shows_the_reporters_record_and_other_cases_against_the_account(
    desk_service: BotService, world: World
) -> None:
    elsewhere = "3301234567"
    upheld = await world.case(Status.UPHELD, at=days_ago(20))
    false = await world.case(
        Status.REJECTED, store_id=elsewhere, reason="false_report", at=days_ago(15)
    )
    await world.case(Status.REJECTED, store_id=elsewhere, at=days_ago(14))
    by_someone_else = await world.case(Status.IN_REVIEW, reporter=1002, at=days_ago(5))
    await world.case(reporter=1003, store_id=elsewhere, at=days_ago(4))
    viewed = await world.case(at=days_ago(1))
    reviewer = ServiceChat(desk_service, REVIEWER)

    card = await reviewer.text(f"/case {viewed}")

    track = next(m for r in card for m in r.say.text if m.key == "card.track")
    assert dict(track.params) == {"filed": 4, "upheld": 1, "rejected": 2, "false": 1}
    assert param(card, "card.others", "count") == 2
    assert lines(card, "card.others.line") == [by_someone_else, upheld]  # newest first
    assert false not in lines(card, "card.others.line")
    assert param(card, "card.title", "case_id") == viewed


async def test_a_card_with_nothing_else_against_the_account(
    desk_service: BotService, world: World
) -> None:
    viewed = await world.case(reporter=1009, store_id="3309999999")
    card = await ServiceChat(desk_service, REVIEWER).text(f"/case {viewed}")
    assert "card.others.none" in keys(card)
    track = next(m for r in card for m in r.say.text if m.key == "card.track")
    assert dict(track.params) == {"filed": 1, "upheld": 0, "rejected": 0, "false": 0}


# --- decisions and what follows -----------------------------------------------------------------


async def decide(chat: ServiceChat, case_id: str, button: str, *answers: str) -> None:
    """Open the card, press ``button``, click or type ``answers``, then submit."""
    await chat.text(f"/case {case_id}")
    await chat.click(button)
    for answer in answers:
        if answer.startswith("review."):
            await chat.click(answer)
        else:
            await chat.text(answer)
    await chat.click("review.confirm.submit")
    assert "staff.done" in chat.said(), chat.said()


async def test_a_report_rejected_as_false_puts_the_reporter_in_the_cooldown(
    desk_service: BotService,
    world: World,
    vault: EvidenceVault,
    *,
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
    policies: Policies,
) -> None:
    reporter = ServiceChat(desk_service, REPORTER)
    case_id = await file_case(reporter, vault, uow_factory)
    admin = ServiceChat(desk_service, ADMIN)
    await admin.text(f"/case {case_id}")
    await admin.click("staff.button.take")
    await decide(
        admin,
        case_id,
        "staff.button.reject",
        "review.reason.false_report",
        "review.note_for_reporter.skip",
    )
    case = await world.get(case_id)
    assert (case.status, case.events[-1].kind) == (Status.REJECTED, "rejected:false_report")
    assert case.decision["reason"] == "false_report"
    # The reporter gets a statement of reasons in place of the short notice (issue 6).
    assert first_keys(await world.outbox(reporter.chat))[-1] == "sor.rejected.reporter"

    clock.advance(days=1)
    refused = await reporter.text("/report")
    assert keys(refused)[0] == "policy.abuse.cooldown"
    assert reporter.step is None
    async with uow_factory() as uow:
        assert await uow.sessions.get(reporter.chat) is None
        assert len(await uow.cases.list(reporter_id=reporter.chat.user_ref)) == 1

    clock.current = case.events[-1].at + policies.abuse.false_report_cooldown
    assert "report.category.prompt" in keys(await reporter.text("/report"))


async def test_a_report_rejected_for_another_reason_has_no_cooldown(
    desk_service: BotService, world: World, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    reporter = ServiceChat(desk_service, REPORTER)
    case_id = await file_case(reporter, vault, uow_factory)
    admin = ServiceChat(desk_service, ADMIN)
    await admin.text(f"/case {case_id}")
    await admin.click("staff.button.take")
    await decide(admin, case_id, "staff.button.reject", "review.reason.duplicate", "Filed twice.")
    assert "report.category.prompt" in keys(await reporter.text("/report"))


async def test_an_escalated_case_is_taken_back_and_decided(
    desk_service: BotService, world: World
) -> None:
    case_id = await world.case(Status.IN_REVIEW, assignee=REVIEWER)
    first = ServiceChat(desk_service, REVIEWER)
    second = ServiceChat(desk_service, OTHER_REVIEWER)

    await decide(
        first, case_id, "staff.button.escalate", "review.department.legal", "Counterfeit docs."
    )
    case = await world.get(case_id)
    assert (case.status, case.decision["department"]) == (Status.ESCALATED, "legal")
    card = await second.text(f"/case {case_id}")
    assert verbs_on([r.say for r in card]) == {"take", "wd", "nt", "ev", "shr", "card"}

    await second.click("staff.button.take")
    case = await world.get(case_id)
    assert (case.status, case.assignee) == (Status.IN_REVIEW, ref(OTHER_REVIEWER))
    refused = await first.send(ButtonPressed(f"sf:up:{case_id}"))
    assert keys(refused)[0] == "staff.illegal.assignee"

    await decide(
        second,
        case_id,
        "staff.button.uphold",
        "review.measure.remove_products",
        "review.uphold.measures.done",
        "review.duration.permanent",
        "review.note_for_reporter.skip",
    )
    case = await world.get(case_id)
    assert case.status is Status.UPHELD
    assert case.decision["duration"] == "permanent"
    assert [(e.actor, e.kind) for e in case.events[1:]] == [
        (ref(REVIEWER), "take"),  # seeded
        (ref(REVIEWER), "escalate"),
        (ref(OTHER_REVIEWER), "take"),
        (ref(OTHER_REVIEWER), "uphold"),
    ]
    assert first_keys(await world.outbox(chat_of(REPORTER))) == [
        "notify.in_review",  # seeded
        "sor.escalated.reporter",  # statements of reasons replace the short notices
        "notify.in_review",
        "sor.upheld.reporter",
    ]


@pytest.mark.parametrize(
    ("status", "told"),
    [(Status.SUBMITTED, STAFF_GROUP), (Status.IN_REVIEW, OTHER_REVIEWER)],
)
async def test_the_reporter_withdraws_a_case(
    desk_service: BotService, world: World, status: Status, told: int
) -> None:
    case_id = await world.case(status, assignee=OTHER_REVIEWER)
    reporter = ServiceChat(desk_service, REPORTER)
    assert keys(await reporter.text("/withdraw")) == ["followup.withdraw.usage"]
    assert keys(await reporter.text("/withdraw nonsense")) == ["followup.withdraw.usage"]

    asked = await reporter.text(f"/withdraw {case_id.lower()}")
    assert keys(asked) == ["followup.withdraw.ask"]
    assert {b.data for b in reporter.buttons()} == {f"rp:wd:{case_id}", "rp:keep:"}
    assert keys(await reporter.click("followup.withdraw.no")) == ["followup.withdraw.kept"]
    assert (await world.get(case_id)).status is status

    await reporter.text(f"/withdraw {case_id}")
    yes = next(b for b in reporter.buttons() if b.data.startswith("rp:wd:"))
    assert keys(await reporter.send(ButtonPressed(yes.data))) == ["followup.withdraw.done"]
    case = await world.get(case_id)
    assert case.status is Status.WITHDRAWN
    assert (case.events[-1].actor, case.events[-1].kind) == (ref(REPORTER), "withdraw")
    assert first_keys(await world.outbox(chat_of(told)))[-1] == "staff.withdrawn_by_reporter"
    assert "notify.withdrawn" not in first_keys(await world.outbox(chat_of(REPORTER)))

    again = await reporter.send(ButtonPressed(yes.data))
    assert keys(again)[0] == "followup.withdraw.decided"
    assert keys(await reporter.text(f"/withdraw {case_id}"))[0] == "followup.withdraw.decided"
    assert len((await world.get(case_id)).events) == len(case.events)


async def test_staff_withdraw_a_case_for_the_reporter(
    desk_service: BotService, world: World
) -> None:
    case_id = await world.case()
    reviewer = ServiceChat(desk_service, REVIEWER)
    await reviewer.text(f"/case {case_id}")
    assert "staff.done" in keys(await reviewer.click("staff.button.withdraw"))
    case = await world.get(case_id)
    assert (case.status, case.events[-1].actor) == (Status.WITHDRAWN, ref(REVIEWER))
    assert first_keys(await world.outbox(chat_of(REPORTER))) == ["notify.withdrawn"]


@pytest.mark.parametrize("who", [1002, ADMIN, REVIEWER])
async def test_withdrawing_someone_elses_case_is_like_an_unknown_id(
    desk_service: BotService, world: World, who: int
) -> None:
    case_id = await world.case()
    before = await world.get(case_id)
    stranger = ServiceChat(desk_service, who)

    theirs = await stranger.text(f"/withdraw {case_id}")
    unknown = await stranger.text("/withdraw DR-ZZZZZZZZ")

    assert keys(theirs) == keys(unknown) == ["followup.unknown"]
    assert [r.say.buttons for r in theirs] == [r.say.buttons for r in unknown] == [()]
    pressed = await stranger.send(ButtonPressed(f"rp:wd:{case_id}"))
    assert keys(pressed) == ["engine.stale_button"]
    assert await world.get(case_id) == before


async def test_an_admin_reopens_a_decided_case(desk_service: BotService, world: World) -> None:
    case_id = await world.case(Status.UPHELD, assignee=REVIEWER)
    admin = ServiceChat(desk_service, ROSTER_ADMIN)
    await admin.text(f"/case {case_id}")

    assert "staff.done" in keys(await admin.click("staff.button.reopen"))

    case = await world.get(case_id)
    assert (case.status, dict(case.decision)) == (Status.IN_REVIEW, {})
    assert (case.events[-1].actor, case.events[-1].kind) == (ref(ROSTER_ADMIN), "reopen")
    assert first_keys(await world.outbox(chat_of(REPORTER)))[-1] == "notify.reopened"
    assert "card.decision" not in keys(await admin.text(f"/case {case_id}"))
    assert "up" in verbs_on(
        [r.say for r in await ServiceChat(desk_service, REVIEWER).text(f"/case {case_id}")]
    )


async def test_closing_a_decided_case_keeps_the_decision(
    desk_service: BotService, world: World
) -> None:
    case_id = await world.case(Status.UPHELD, assignee=REVIEWER)
    reviewer = ServiceChat(desk_service, REVIEWER)
    await reviewer.text(f"/case {case_id}")

    assert "staff.done" in keys(await reviewer.click("staff.button.close"))

    case = await world.get(case_id)
    assert (case.status, case.decision["outcome"]) == (Status.CLOSED, "upheld")
    assert first_keys(await world.outbox(chat_of(REPORTER)))[-1] == "notify.closed"
    card = await reviewer.text(f"/case {case_id}")
    assert "card.decision" in keys(card)
    assert verbs_on([r.say for r in card]) == {"nt", "ev", "shr", "card"}


# --- /check -------------------------------------------------------------------------------------


async def test_check_counts_only_upheld_reports_and_names_no_case(
    desk_service: BotService, world: World
) -> None:
    counted = [
        await world.case(Status.UPHELD),
        await world.case(Status.CLOSED),  # closed after it was upheld
    ]
    not_counted = [
        await world.case(status)
        for status in (
            Status.SUBMITTED,
            Status.IN_REVIEW,
            Status.AWAITING_INFO,
            Status.ESCALATED,
            Status.REJECTED,
            Status.WITHDRAWN,
        )
    ]
    reopened = await world.case(Status.UPHELD)
    admin = ServiceChat(desk_service, ADMIN)
    await admin.send(ButtonPressed(f"sf:ro:{reopened}"))
    assert (await world.get(reopened)).status is Status.IN_REVIEW
    closed_rejected = await world.case(Status.REJECTED)
    await admin.send(ButtonPressed(f"sf:cl:{closed_rejected}"))
    await world.case(Status.UPHELD, store_id="3300000001")  # another account
    outsider = ServiceChat(desk_service, OUTSIDER)

    replies = await outsider.text(f"/check https://www.aliexpress.com/store/{STORE_ID}")

    assert keys(replies)[0] == "followup.check.upheld"
    assert param(replies, "followup.check.upheld", "count") == len(counted)
    for case_id in [*counted, *not_counted, reopened, closed_rejected]:
        # The account is what the asker typed; nothing else about any case is told.
        assert leaks([r.say for r in replies], await world.get(case_id)) in ([], ["store id"])


@pytest.mark.parametrize(
    ("args", "answer"),
    [
        ("", ["followup.check.usage"]),
        ("https://www.aliexpress.com/store/3309990000", ["followup.check.none"]),
        (
            "https://www.aliexpress.com/item/1005006123456789.html",
            ["policy.account.item_link", "followup.check.usage"],
        ),
    ],
)
async def test_check_answers(
    desk_service: BotService, world: World, args: str, answer: list[str]
) -> None:
    await world.case(Status.UPHELD)
    replies = await ServiceChat(desk_service, OUTSIDER).text(f"/check {args}".strip())
    assert [k for k in keys(replies) if not k.startswith("engine.account")][
        : len(answer)
    ] == answer


# --- a decision dialog over a draft -------------------------------------------------------------


@pytest.mark.parametrize("ending", ["submit", "cancel"])
@pytest.mark.parametrize(
    ("button", "answers"),
    [
        ("staff.button.note", ["Carrier says the number was never issued."]),
        ("staff.button.reject", ["review.reason.not_malicious", "review.note_for_reporter.skip"]),
    ],
)
async def test_a_decision_dialog_returns_to_the_draft_in_progress(
    desk_service: BotService,
    world: World,
    vault: EvidenceVault,
    *,
    uow_factory: UnitOfWorkFactory,
    button: str,
    answers: list[str],
    ending: str,
) -> None:
    case_id = await world.case(Status.IN_REVIEW, assignee=REVIEWER)
    before = await world.get(case_id)
    reviewer = ServiceChat(desk_service, REVIEWER)
    await reviewer.text("/report")
    await reviewer.click("report.category.fake_logistics")
    await reviewer.text(STORE)
    await reviewer.text(FACTS)
    assert reviewer.step == "evidence"

    await reviewer.text(f"/case {case_id}")
    await reviewer.click(button)
    for answer in answers:
        if answer.startswith("review."):
            await reviewer.click(answer)
        else:
            await reviewer.text(answer)
    if ending == "submit":
        await reviewer.click("review.confirm.submit")
        assert "staff.done" in reviewer.said()
        assert len((await world.get(case_id)).events) == len(before.events) + 1
    else:
        assert keys(await reviewer.text("/cancel")) == ["engine.cancel.ask"]
        await reviewer.click("engine.cancel.yes")
        assert "engine.cancel.done" in reviewer.said()
        assert await world.get(case_id) == before
    assert "engine.resumed" in reviewer.said()
    assert reviewer.step == "evidence"

    # The draft is as it was: evidence, then submit, files the reviewer's own report.
    await reviewer.files(await vault.keep_bytes(png_bytes(7), "label.png"))
    await reviewer.click("report.evidence.done")
    await reviewer.click("report.confirm.submit")
    async with uow_factory() as uow:
        (mine,) = await uow.cases.list(reporter_id=ref(REVIEWER))
    assert (mine.category, mine.description) == ("fake_logistics", FACTS)
    assert mine.account["store_id"] == "1102345678"


async def test_a_staff_command_mid_draft_reminds_of_the_draft(
    desk_service: BotService, world: World
) -> None:
    reviewer = ServiceChat(desk_service, REVIEWER)
    await reviewer.text("/report")
    await reviewer.click("report.category.other")
    assert reviewer.step == "account"
    replies = await reviewer.text("/staff")
    assert keys(replies)[0] == "staff.list.title"
    assert reviewer.step == "account"


# --- the staff group ----------------------------------------------------------------------------


async def test_a_new_case_is_announced_to_the_staff_group(
    desk_service: BotService, world: World, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    reporter = ServiceChat(desk_service, REPORTER)
    case_id = await file_case(reporter, vault, uow_factory)

    (announced,) = await world.outbox(chat_of(STAFF_GROUP))
    say = say_from_json(announced.payload)
    assert keys([say])[:1] == ["staff.new_case"]
    assert "staff.new_case.summary" in keys([say])
    assert say.text[0].params["case_id"] == case_id
    assert [[b.data for b in row] for row in say.buttons] == [
        [f"sf:card:{case_id}", f"sf:take:{case_id}"]
    ]
    assert announced.case_id == case_id

    take = say.buttons[0][1].data
    assert await press_in_group(desk_service, STAFF_GROUP, OUTSIDER, take) == []
    assert (await world.get(case_id)).status is Status.SUBMITTED
    assert await press_in_group(desk_service, STAFF_GROUP, REVIEWER, take) == []
    case = await world.get(case_id)
    assert (case.status, case.assignee) == (Status.IN_REVIEW, ref(REVIEWER))
    assert first_keys(await world.outbox(chat_of(REVIEWER))) == ["staff.done", "card.title"]

    # A second taker is told (privately) that it is too late, and nothing changes.
    assert await press_in_group(desk_service, STAFF_GROUP, OTHER_REVIEWER, take) == []
    assert first_keys(await world.outbox(chat_of(OTHER_REVIEWER))) == ["staff.illegal.status"]
    assert (await world.get(case_id)).assignee == ref(REVIEWER)
    assert len(await world.outbox(chat_of(STAFF_GROUP))) == 1


async def test_no_announcement_without_a_staff_group(
    *,
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    catalogs: Catalogs,
    vault: EvidenceVault,
    world: World,
) -> None:
    service = make_desk_service(uow_factory, book, policies, clock, catalogs, staff_chat_id=None)
    case_id = await file_case(ServiceChat(service, REPORTER), vault, uow_factory)
    assert {i.chat for i in await world.outbox()} == {chat_of(REPORTER)}
    assert await world.get(case_id)


# --- every answer is localized ------------------------------------------------------------------


async def test_the_desks_answers_have_a_text_in_every_locale(
    desk_service: BotService, world: World, catalogs: Catalogs
) -> None:
    """What the roster, the queue's filter errors and ``/check`` say is in the catalogs of
    every shipped language (a missing id is shown to the user as the raw id)."""
    await world.case(Status.UPHELD)
    admin = ServiceChat(desk_service, ADMIN)
    outsider = ServiceChat(desk_service, OUTSIDER)
    said: list[str] = []
    for command in ("/staff list", "/queue bogus", "/staff remove 1", "/staff add x"):
        said += keys(await admin.text(command))
    for account in (STORE_ID, "3309990000"):
        said += keys(await outsider.text(f"/check https://www.aliexpress.com/store/{account}"))
    assert {"staff.list.line", "followup.check.upheld", "followup.check.none"} <= set(said)
    missing = sorted({(loc, k) for k in said for loc in LOCALES if not catalogs.has(k, loc)})
    assert not missing, "no text for: " + ", ".join(f"{k} ({loc})" for loc, k in missing)


# --- /deadletters -------------------------------------------------------------------------------


async def test_dead_letters_show_the_newest_first(desk_service: BotService, world: World) -> None:
    """The view holds 20 lines; with more dead letters than that, the latest failures are the
    ones staff need to see (the ports' dead-letter view is newest first)."""
    async with world.uow_factory() as uow:
        for i in range(21):
            item = await uow.outbox.put(
                chat_of(5000 + i), Say((Msg("notify.closed"),)), "en", now=world.clock.now()
            )
            await uow.outbox.mark_failed(item, "Forbidden: bot was blocked", retry_at=None)
            world.clock.advance(minutes=1)
        await uow.commit()

    replies = await ServiceChat(desk_service, REVIEWER).text("/deadletters")

    shown = [m.params["chat"] for r in replies for m in r.say.text if m.key == "staff.dead.line"]
    assert len(shown) == 20
    assert shown[0] == ref(5020), "the latest dead letter comes first"
    assert ref(5000) not in shown
