"""Statements of reasons and appeals through the real service and stores (DSA Arts. 17, 20).

A decision sends each side its own statement, in its own language, kept on the case; either side
may appeal once within the window; the original decider may not take or rule on the appeal; a
second reviewer confirms or reverses it, and both sides get a new statement. Nothing said to the
reported party names the reporter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from disputebot.cases.appeals import REVERSED_REASON
from disputebot.cases.records import Audience, EvidenceSource, PartyLink, Statement, Status
from disputebot.engine.context import Policies
from disputebot.engine.effects import Say, say_from_json
from disputebot.engine.events import ButtonPressed, CommandReceived
from disputebot.engine.spec import FlowBook
from disputebot.ports import WEBHOOK_CHAT, ChatKey, OutboxItem, Role, UnitOfWorkFactory
from disputebot.service.addons import AddonContext, FairnessRules
from disputebot.service.appeals import Appeals
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.review import CaseActions
from tests.engine.transcript import keys_of
from tests.service.driver import ServiceChat, service_for, to_summary
from tests.support import FixedClock, png_bytes

ADMIN = 1
FIRST = 2  # the reviewer who decides
SECOND = 3  # the reviewer who rules on the appeal
REPORTER = 1001
PARTY = 2002
STRANGER = 4004
MERGED_REPORTER = 1005
STAFF_GROUP = -100
FACTS = "The carrier has no record of tracking number LP00123456789012 on 2026-11-02."
GROUNDS = "The order page the seller sent shows a different store; the measures are lifted."
REPORTER_ID = re.compile(rf"(?<!\w){REPORTER}(?!\w)")


@pytest.fixture
def appeal_service(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> BotService:
    return service_for(
        uow_factory,
        book,
        policies,
        clock,
        admins=frozenset({ADMIN}),
        staff_chat_id=STAFF_GROUP,
        platform_events=True,
    )


@dataclass
class People:
    reporter: ServiceChat
    party: ServiceChat
    admin: ServiceChat
    first: ServiceChat
    second: ServiceChat
    stranger: ServiceChat
    case_id: str


async def people(
    service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
    *,
    linked: bool = True,
) -> People:
    """A filed case, two reviewers on the roster, and (if ``linked``) a party chat linked to the
    case's account that reads Chinese."""
    reporter = ServiceChat(service, REPORTER)
    submit = await to_summary(reporter, vault)
    await reporter.send(ButtonPressed(submit.data))
    party = ServiceChat(service, PARTY, language_code="zh-CN")
    await party.text("/language zh_Hans")
    async with uow_factory() as uow:
        (case,) = await uow.cases.list(reporter_id=reporter.chat.user_ref)
        for who in (FIRST, SECOND):
            await uow.staff.set_role(ChatKey("test", who), Role.REVIEWER, clock.now())
        if linked:
            await uow.parties.link(
                PartyLink(case.account_key, case.account, party.chat.user_ref, clock.now())
            )
        await uow.commit()
    return People(
        reporter,
        party,
        ServiceChat(service, ADMIN),
        ServiceChat(service, FIRST),
        ServiceChat(service, SECOND),
        ServiceChat(service, STRANGER),
        case.public_id,
    )


def heads(chat: ServiceChat) -> list[str]:
    """The message ids of the last replies, without the ids nested in their parameters."""
    return [m.key for r in chat.last for m in r.say.text]


async def outbox_for(uow_factory: UnitOfWorkFactory, chat: ChatKey) -> list[OutboxItem]:
    async with uow_factory() as uow:
        items = await uow.outbox.list(limit=1000)
    return sorted((i for i in items if i.chat == chat), key=lambda i: i.id)


def keys(item: OutboxItem) -> list[str]:
    return [k for m in say_from_json(item.payload).text for k in keys_of(m)]


def button_data(item: OutboxItem) -> list[str]:
    return [b.data for row in say_from_json(item.payload).buttons for b in row]


async def statements(uow_factory: UnitOfWorkFactory, case_id: str) -> list[Statement]:
    async with uow_factory() as uow:
        return await uow.cases.statements(case_id)


async def status_of(uow_factory: UnitOfWorkFactory, case_id: str) -> Status:
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    return case.status


async def take(staff: ServiceChat, case_id: str) -> None:
    await staff.send(ButtonPressed(f"sf:take:{case_id}"))


async def uphold(staff: ServiceChat, case_id: str, *, taken: bool = False) -> None:
    if not taken:
        await take(staff, case_id)
        assert "staff.done" in staff.said()
    await staff.text(f"/case {case_id}")
    await staff.click("staff.button.uphold")
    await staff.click("review.measure.remove_products")
    await staff.click("review.measure.warning")
    await staff.click("review.uphold.measures.done")
    await staff.click("review.duration.days_30")
    await staff.text(FACTS)
    await staff.click("review.confirm.submit")
    assert "staff.done" in staff.said()


async def reject(staff: ServiceChat, case_id: str) -> None:
    await take(staff, case_id)
    await staff.click("staff.button.reject")
    await staff.click("review.reason.insufficient_evidence")
    await staff.text("The screenshots show no order number or date.")
    await staff.click("review.confirm.submit")
    assert "staff.done" in staff.said()


async def appeal(
    chat: ServiceChat, case_id: str, vault: EvidenceVault, *, by_button: bool = False
) -> None:
    if by_button:
        await chat.send(ButtonPressed(f"ap:{case_id}"))
    else:
        await chat.text(f"/appeal {case_id}")
    assert "appeal.intro" in chat.said()
    await chat.text("The order in the screenshots was placed in a different store of ours.")
    await chat.files(await vault.keep_bytes(png_bytes(21), "order.png"))
    await chat.click("appeal.files.done")
    await chat.click("appeal.submit")
    assert "appeal.filed" in chat.said()


async def rule(staff: ServiceChat, case_id: str, verb: str) -> None:
    await staff.send(ButtonPressed(f"sf:{verb}:{case_id}"))
    await staff.text(GROUNDS)
    await staff.click("review.confirm.submit")
    assert "staff.done" in staff.said()


async def events_in(uow_factory: UnitOfWorkFactory) -> list[dict[str, object]]:
    items = await outbox_for(uow_factory, WEBHOOK_CHAT)
    return [json.loads(i.payload) for i in items]


async def assert_party_never_sees_the_reporter(
    uow_factory: UnitOfWorkFactory, case_id: str
) -> None:
    for statement in await statements(uow_factory, case_id):
        if statement.audience is Audience.PARTY:
            text = json.dumps(statement.body, ensure_ascii=False)
            assert not REPORTER_ID.search(text), text
    for item in await outbox_for(uow_factory, ChatKey("test", PARTY)):
        assert not REPORTER_ID.search(item.payload), item.payload


# --- the seller's appeal, reversed ---------------------------------------------------------------


@pytest.mark.parametrize("decider", [FIRST, ADMIN], ids=["reviewer", "admin"])
async def test_a_sellers_appeal_goes_to_another_reviewer_who_reverses_it(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
    decider: int,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    decider_chat = p.first if decider == FIRST else p.admin
    await uphold(decider_chat, p.case_id)

    # Each side's statement is kept, in its reader's language, and delivered with the button.
    kept = await statements(uow_factory, p.case_id)
    assert [(s.audience, s.kind, s.recipient, s.locale) for s in kept] == [
        (Audience.REPORTER, "decision", "test:1001", "en"),
        (Audience.PARTY, "decision", "test:2002", "zh_Hans"),
    ]
    assert kept[1].body["measures"] == ["remove_products", "warning"]
    assert kept[1].body["duration"] == "days_30"
    assert kept[1].body["facts"] == FACTS
    reporter_news = await outbox_for(uow_factory, p.reporter.chat)
    assert keys(reporter_news[-1])[0] == "sor.upheld.reporter"
    assert reporter_news[-1].locale == "en"
    assert f"ap:{p.case_id}" in button_data(reporter_news[-1])
    assert "notify.upheld" not in [k for i in reporter_news for k in keys(i)]  # replaced
    party_news = await outbox_for(uow_factory, p.party.chat)
    assert keys(party_news[-1])[0] == "sor.upheld.party"
    assert party_news[-1].locale == "zh_Hans"
    assert party_news[-1].case_id == p.case_id
    party_keys = keys(party_news[-1])
    assert {"sor.measure", "sor.duration", "sor.appeal.how", "sor.ground.rule"} <= set(party_keys)
    assert f"ap:{p.case_id}" in button_data(party_news[-1])

    # The party appeals from the button under its statement.
    await appeal(p.party, p.case_id, vault, by_button=True)
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
    assert case is not None
    assert case.status is Status.APPEALED
    assert case.assignee is None
    assert case.decision["outcome"] == "upheld"
    (filed,) = case.decision["appeals"]
    assert (filed["side"], filed["against"], filed["ruling"]) == ("party", "upheld", None)
    assert case.source_of(len(case.evidence) - 1) is EvidenceSource.PARTY
    group = await outbox_for(uow_factory, ChatKey("test", STAFF_GROUP))
    assert keys(group[-1])[0] == "appeal.staff.new"
    assert f"sf:take:{p.case_id}" in button_data(group[-1])
    told = await outbox_for(uow_factory, p.reporter.chat)
    assert keys(told[-1]) == ["appeal.other.reporter"]

    # The one who decided may not take the appeal, nor rule on it.
    for verb in ("take", "cf", "rv"):
        await decider_chat.send(ButtonPressed(f"sf:{verb}:{p.case_id}"))
        assert "staff.illegal.decider" in decider_chat.said(), verb
    await decider_chat.text(f"/case {p.case_id}")
    offered = [b.data for b in decider_chat.buttons()]
    assert not {f"sf:{v}:{p.case_id}" for v in ("take", "cf", "rv")} & set(offered)
    assert "appeal.card.pending" in decider_chat.said()
    assert await status_of(uow_factory, p.case_id) is Status.APPEALED

    # Another reviewer takes it and reverses the decision.
    await take(p.second, p.case_id)
    assert "staff.done" in p.second.said()
    await rule(p.second, p.case_id, "rv")
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
    assert case is not None
    assert case.status is Status.REJECTED
    assert case.decision["outcome"] == "rejected"
    assert case.decision["reason"] == REVERSED_REASON
    assert case.decision["lifted_measures"] == ["remove_products", "warning"]
    assert case.decision["decided_by"] == "test:3"
    assert case.decision["appeals"][0]["ruling"] == "reversed"

    events = await events_in(uow_factory)
    reversal = events[-1]
    assert reversal["type"] == "case.reverse"
    assert reversal["status"] == "rejected"
    assert reversal["previous_status"] == "appealed"
    decision = reversal["decision"]
    assert isinstance(decision, dict)
    assert decision["lifted_measures"] == ["remove_products", "warning"]
    for event in events:
        assert not REPORTER_ID.search(json.dumps(event)), event

    kept = await statements(uow_factory, p.case_id)
    assert [(s.audience, s.kind, s.locale) for s in kept[2:]] == [
        (Audience.REPORTER, "appeal", "en"),
        (Audience.PARTY, "appeal", "zh_Hans"),
    ]
    reporter_news = await outbox_for(uow_factory, p.reporter.chat)
    party_news = await outbox_for(uow_factory, p.party.chat)
    assert keys(reporter_news[-1])[0] == "sor.appeal_reversed.reporter"
    assert keys(party_news[-1])[0] == "sor.appeal_reversed.party"
    assert party_news[-1].locale == "zh_Hans"
    assert "sor.lifted" in keys(party_news[-1])
    # The reporter may still contest the new rejection; the party has had its appeal.
    assert f"ap:{p.case_id}" in button_data(reporter_news[-1])
    assert button_data(party_news[-1]) == []
    assert "sor.appeal.again" in keys(party_news[-1])
    await assert_party_never_sees_the_reporter(uow_factory, p.case_id)
    # Nor does the reporter learn the party's chat.
    party_id = re.compile(rf"(?<!\w){PARTY}(?!\w)")
    assert not any(party_id.search(i.payload) for i in reporter_news)
    assert not any(
        party_id.search(json.dumps(s.body)) for s in kept if s.audience.value == "reporter"
    )


# --- confirmation, and a second appeal -----------------------------------------------------------


async def test_a_confirmed_decision_stands_and_the_same_side_cannot_appeal_again(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    await appeal(p.party, p.case_id, vault)
    # While it is under appeal, the reporter's own appeal waits.
    await p.reporter.text(f"/appeal {p.case_id}")
    assert "appeal.pending" in p.reporter.said()

    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "cf")
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
    assert case is not None
    assert case.status is Status.UPHELD
    assert case.decision["measures"] == ["remove_products", "warning"]
    assert case.decision["decided_by"] == "test:2"  # the decision stands as taken
    assert case.decision["appeals"][0]["ruling"] == "confirmed"
    events = await events_in(uow_factory)
    assert events[-1]["type"] == "case.confirm"

    kept = await statements(uow_factory, p.case_id)
    assert [(s.audience, s.kind) for s in kept] == [
        (Audience.REPORTER, "decision"),
        (Audience.PARTY, "decision"),
        (Audience.REPORTER, "appeal"),
        (Audience.PARTY, "appeal"),
    ]
    assert kept[3].body["outcome"] == "appeal_confirmed"
    assert kept[3].body["measures"] == ["remove_products", "warning"]
    party_news = await outbox_for(uow_factory, p.party.chat)
    assert keys(party_news[-1])[0] == "sor.appeal_confirmed.party"

    await p.party.text(f"/appeal {p.case_id}")
    assert heads(p.party) == ["appeal.again"]
    assert await status_of(uow_factory, p.case_id) is Status.UPHELD
    await assert_party_never_sees_the_reporter(uow_factory, p.case_id)


# --- the reporter's appeal of a rejection --------------------------------------------------------


async def test_a_reporters_appeal_of_a_rejection_reversed_puts_the_case_back_in_review(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await reject(p.first, p.case_id)
    reporter_news = await outbox_for(uow_factory, p.reporter.chat)
    assert keys(reporter_news[-1])[0] == "sor.rejected.reporter"
    assert "notify.rejected" not in [k for i in reporter_news for k in keys(i)]

    await appeal(p.reporter, p.case_id, vault)
    party_news = await outbox_for(uow_factory, p.party.chat)
    assert keys(party_news[-1]) == ["appeal.other.party"]
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
    assert case is not None
    assert case.status is Status.APPEALED
    assert case.source_of(len(case.evidence) - 1) is EvidenceSource.REPORTER

    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "rv")
    assert await status_of(uow_factory, p.case_id) is Status.IN_REVIEW
    reporter_news = await outbox_for(uow_factory, p.reporter.chat)
    assert keys(reporter_news[-1])[0] == "sor.appeal_reversed.reporter"
    assert "sor.reopened" in keys(reporter_news[-1])
    assert button_data(reporter_news[-1]) == []

    # Decided anew, by someone who has neither decided nor ruled on it: a new decision, which
    # either side may appeal.
    await uphold(p.admin, p.case_id, taken=True)
    kept = await statements(uow_factory, p.case_id)
    assert kept[-2].audience is Audience.REPORTER
    assert kept[-2].body["appeal"]["open"] is True
    assert kept[-1].body["appeal"]["open"] is True
    reporter_news = await outbox_for(uow_factory, p.reporter.chat)
    assert f"ap:{p.case_id}" in button_data(reporter_news[-1])
    await assert_party_never_sees_the_reporter(uow_factory, p.case_id)
    # The platform hears of the appeal and the ruling, never who appealed.
    events = await events_in(uow_factory)
    assert [e["type"] for e in events if e["type"] in {"case.appeal", "case.reverse"}] == [
        "case.appeal",
        "case.reverse",
    ]
    for event in events:
        assert not REPORTER_ID.search(json.dumps(event)), event


# --- refusals ------------------------------------------------------------------------------------


async def test_an_appeal_after_the_window_is_refused_with_the_deadline(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    decided = clock.now()
    clock.current = decided + timedelta(days=183, seconds=1)
    await p.party.text(f"/appeal {p.case_id}")
    assert heads(p.party) == ["appeal.late"]
    (late,) = p.party.last[0].say.text
    assert late.params["deadline"] == (decided + timedelta(days=183)).strftime(
        "%Y-%m-%d %H:%M UTC"
    )
    await p.party.send(ButtonPressed(f"ap:{p.case_id}"))
    assert heads(p.party) == ["appeal.late"]
    assert await status_of(uow_factory, p.case_id) is Status.UPHELD


async def test_an_appeal_begun_in_time_and_sent_too_late_is_refused(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    await p.party.text(f"/appeal {p.case_id}")
    await p.party.text("The order in the screenshots was placed in a different store of ours.")
    await p.party.text("/done")  # no files
    clock.current += timedelta(days=184)
    await p.party.click("appeal.submit")
    assert "appeal.late" in p.party.said()
    assert await status_of(uow_factory, p.case_id) is Status.UPHELD


async def test_a_stranger_gets_the_unknown_case_answer(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    await p.stranger.text(f"/appeal {p.case_id}")
    theirs: Say = p.stranger.last[0].say
    await p.stranger.text("/appeal DR-00000000")
    nobodys: Say = p.stranger.last[0].say
    assert [m.key for m in theirs.text] == [m.key for m in nobodys.text] == ["appeal.unknown"]
    await p.stranger.send(ButtonPressed(f"ap:{p.case_id}"))
    assert heads(p.stranger) == ["engine.stale_button"]
    await p.stranger.text("/appeal not-an-id")
    assert heads(p.stranger) == ["appeal.usage"]
    assert await status_of(uow_factory, p.case_id) is Status.UPHELD


async def test_nothing_to_appeal_before_a_decision(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await p.reporter.text(f"/appeal {p.case_id}")
    assert heads(p.reporter) == ["appeal.nothing"]
    await take(p.first, p.case_id)
    await p.first.click("staff.button.escalate")
    await p.first.click("review.department.fraud")
    await p.first.text("Looks like an organised scheme across several stores.")
    await p.first.click("review.confirm.submit")
    kept = await statements(uow_factory, p.case_id)
    assert [(s.audience, s.body["outcome"]) for s in kept] == [
        (Audience.REPORTER, "escalated"),
        (Audience.PARTY, "escalated"),
    ]
    news = await outbox_for(uow_factory, p.reporter.chat)
    assert keys(news[-1])[0] == "sor.escalated.reporter"
    assert "sor.appeal.not_final" in keys(news[-1])
    assert button_data(news[-1]) == []
    await p.party.text(f"/appeal {p.case_id}")
    assert heads(p.party) == ["appeal.nothing"]


async def test_without_a_linked_party_its_statement_is_kept_for_nobody(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock, linked=False)
    await uphold(p.first, p.case_id)
    kept = await statements(uow_factory, p.case_id)
    assert [(s.audience, s.recipient, s.locale) for s in kept] == [
        (Audience.REPORTER, "test:1001", "en"),
        (Audience.PARTY, None, "en"),
    ]
    assert kept[1].body["outcome"] == "upheld"
    assert not any("sor." in i.payload for i in await outbox_for(uow_factory, p.party.chat))
    # Unlinked, the party's chat cannot appeal the case either.
    await p.party.text(f"/appeal {p.case_id}")
    assert heads(p.party) == ["appeal.unknown"]
    await p.first.text(f"/case {p.case_id}")
    assert "appeal.card.statements" in p.first.said()
    await assert_party_never_sees_the_reporter(uow_factory, p.case_id)


async def test_the_reporter_of_a_merged_duplicate_gets_their_own_statement_and_may_appeal(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    other = ServiceChat(appeal_service, MERGED_REPORTER)
    submit = await to_summary(other, vault)
    await other.send(ButtonPressed(submit.data))
    async with uow_factory() as uow:
        (duplicate,) = await uow.cases.list(reporter_id=other.chat.user_ref)
    await p.admin.text(f"/merge {duplicate.public_id} {p.case_id}")
    assert await status_of(uow_factory, duplicate.public_id) is Status.MERGED

    await uphold(p.first, p.case_id)
    kept = await statements(uow_factory, p.case_id)
    assert [(s.audience, s.recipient) for s in kept] == [
        (Audience.REPORTER, "test:1001"),
        (Audience.REPORTER, f"test:{MERGED_REPORTER}"),
        (Audience.PARTY, "test:2002"),
    ]
    news = await outbox_for(uow_factory, other.chat)
    assert keys(news[-1])[0] == "sor.upheld.reporter"
    assert f"ap:{p.case_id}" in button_data(news[-1])
    merged_id = re.compile(rf"(?<!\w){MERGED_REPORTER}(?!\w)")
    for item in await outbox_for(uow_factory, p.party.chat):
        assert not merged_id.search(item.payload)
    assert not merged_id.search(json.dumps(kept[2].body))

    # Their own (merged) case id leads to the case it was merged into.
    await appeal(other, duplicate.public_id, vault)
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
    assert case is not None
    assert case.status is Status.APPEALED
    assert case.decision["appeals"][0]["side"] == "reporter"
    # One appeal per side: the first reporter's is the same side's second.
    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "cf")
    await p.reporter.text(f"/appeal {p.case_id}")
    assert heads(p.reporter) == ["appeal.again"]
    await assert_party_never_sees_the_reporter(uow_factory, p.case_id)


async def test_appeal_without_a_case_id_is_left_to_the_standing_helper(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    clock: FixedClock,
) -> None:
    actions = CaseActions(book, clock, default_locale="en")
    addon = Appeals(AddonContext(book, clock, actions, FairnessRules(), default_locale="en"))
    chat = ChatKey("test", REPORTER)
    async with uow_factory() as uow:
        for args in ("", "  ", "suspension", "SUSPENSION"):
            assert await addon.command(uow, chat, CommandReceived("appeal", args), "en") is None
        answer = await addon.command(uow, chat, CommandReceived("appeal", "nonsense"), "en")
        assert answer is not None
        assert [m.key for s in answer.says for m in s.text] == ["appeal.usage"]
        assert await addon.command(uow, chat, CommandReceived("status", ""), "en") is None
