"""The reported party's channel through the real service, on every store: claim links (made by
staff, single use, expiring, revocable), the notice of a new report (with nothing of the
reporter in it), the party's statement within the answer window, the card's party lines, and
evidence shared with the party only when staff marked it shareable."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest

from disputebot.cases.lifecycle import Action, ActorRole
from disputebot.cases.records import CaseRecord, EvidenceSource, Status
from disputebot.engine.context import Policies
from disputebot.engine.effects import Msg, say_from_json
from disputebot.engine.events import ButtonPressed
from disputebot.engine.spec import FlowBook
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey, OutboxItem, UnitOfWorkFactory
from disputebot.service.addons import FairnessRules
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Reply
from disputebot.service.parties import forget_links
from disputebot.service.review import Actor, CaseActions
from tests.engine.transcript import keys_of
from tests.service.driver import FACTS, STORE, FailingDisk, ServiceChat, service_for, to_evidence
from tests.support import FixedClock, png_bytes

ADMIN = 1
STAFF_GROUP = -100
REPORTER = 7_654_321
SELLER = 2_468_013
OTHER = 3_579_024
BOT = "DisputeDeskBot"
RULES = FairnessRules(
    party_answer=timedelta(days=14), claim_link_ttl=timedelta(hours=72), bot_username=BOT
)
CLAIM = re.compile(rf"^https://t\.me/{BOT}\?start=(claim_[A-Za-z0-9_-]+)$")


def party_service(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    **options: Any,
) -> BotService:
    """The bot with ADMIN, the staff group and the party rules; ``options`` as BotService's."""
    return service_for(
        uow_factory,
        book,
        policies,
        clock,
        admins=frozenset({ADMIN}),
        staff_chat_id=STAFF_GROUP,
        fairness=RULES,
        **options,
    )


@pytest.fixture
def service(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> BotService:
    return party_service(uow_factory, book, policies, clock)


def keys(replies: list[Reply]) -> list[str]:
    return [k for r in replies for m in r.say.text for k in keys_of(m)]


def top(replies: list[Reply]) -> list[str]:
    """The message ids of the paragraphs (not of the values inside them)."""
    return [m.key for r in replies for m in r.say.text]


def params(replies: list[Reply], key: str) -> list[dict[str, object]]:
    return [dict(m.params) for r in replies for m in r.say.text if m.key == key]


def buttons(replies: list[Reply]) -> list[str]:
    return [b.data for r in replies for row in r.say.buttons for b in row]


async def outbox_for(uow_factory: UnitOfWorkFactory, chat: ChatKey) -> list[OutboxItem]:
    async with uow_factory() as uow:
        items = await uow.outbox.list(limit=1000)
    return sorted((i for i in items if i.chat == chat), key=lambda i: i.id)


def first_keys(items: list[OutboxItem]) -> list[str]:
    return [say_from_json(i.payload).text[0].key for i in items]


async def case_of(uow_factory: UnitOfWorkFactory, case_id: str) -> CaseRecord:
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    return case


async def linked_accounts(uow_factory: UnitOfWorkFactory, chat: ServiceChat) -> list[str]:
    async with uow_factory() as uow:
        return [link.account_key for link in await uow.parties.accounts_of(chat.chat.user_ref)]


async def new_claim(admin: ServiceChat, account: str = STORE) -> str:
    """``/claimlink``; returns the ``claim_…`` start parameter of the link it answers with."""
    replies = await admin.text(f"/claimlink {account}")
    (created,) = params(replies, "party.claimlink.created")
    match = CLAIM.match(str(created["link"]))
    assert match is not None, created
    return match[1]


async def evidence(vault: EvidenceVault) -> tuple[EvidenceFile, EvidenceFile]:
    first = await vault.keep_bytes(png_bytes(11), "private-receipt.png", file_id="FILE-PRIVATE")
    second = await vault.keep_bytes(png_bytes(12), "tracking-page.png", file_id="FILE-SHARED")
    return first, second


async def file_report(
    reporter: ServiceChat, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> str:
    """A report against ``STORE`` with two photos; returns its case id."""
    await to_evidence(reporter)
    await reporter.files(*await evidence(vault))
    await reporter.click("report.evidence.done")
    await reporter.click("report.confirm.submit")
    async with uow_factory() as uow:
        (case,) = await uow.cases.list(reporter_id=reporter.chat.user_ref)
    return case.public_id


async def linked_world(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> tuple[ServiceChat, ServiceChat, ServiceChat, str]:
    """Staff, a seller linked to ``STORE``, a reporter, and the reporter's case against it."""
    admin = ServiceChat(service, ADMIN)
    seller = ServiceChat(service, SELLER)
    reporter = ServiceChat(service, REPORTER)
    token = await new_claim(admin)
    await seller.text(f"/start {token}")
    assert "party.claim.linked" in top(seller.last)
    case_id = await file_report(reporter, vault, uow_factory)
    return admin, seller, reporter, case_id


async def test_a_claimed_account_hears_of_a_report_but_nothing_of_the_reporter(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    admin = ServiceChat(service, ADMIN)
    seller = ServiceChat(service, SELLER, language_code="zh-Hans")
    token = await new_claim(admin)
    assert len(token) <= 64
    async with uow_factory() as uow:
        stored = await uow.parties.claim(hashlib.sha256(token[6:].encode()).hexdigest())
        # Only the hash is kept: the token itself is no key.
        assert await uow.parties.claim(token[6:]) is None
    assert stored is not None
    assert stored.account_key == "aliexpress:store:1102345678"

    await seller.text(f"/start {token}")
    assert top(seller.last)[:2] == ["party.claim.linked", "party.claim.explain"]
    assert await linked_accounts(uow_factory, seller) == ["aliexpress:store:1102345678"]
    told = await outbox_for(uow_factory, admin.chat)
    assert first_keys(told) == ["party.claimlink.claimed"]

    reporter = ServiceChat(service, REPORTER)
    case_id = await file_report(reporter, vault, uow_factory)
    case = await case_of(uow_factory, case_id)
    assert [e.kind for e in case.events][-1] == "party:notified"
    assert case.events[-1].note == seller.chat.user_ref

    items = await outbox_for(uow_factory, seller.chat)
    (notice,) = items
    assert notice.locale == "zh_Hans"
    assert notice.case_id == case_id
    say = say_from_json(notice.payload)
    assert [m.key for m in say.text] == ["party.notice", "party.notice.answer_by"]
    assert say.text[0].params["case_id"] == case_id
    assert say.text[0].params["category"] == Msg("report.category.other")
    assert say.text[1].params["deadline"] == "2026-12-14 09:00 UTC"
    assert [b.data for row in say.buttons for b in row] == [f"pt:st:{case_id}"]
    assert say.media == ()
    secrets = [
        str(REPORTER),
        reporter.chat.user_ref,
        FACTS[:40],
        "8161234567890123",
        "LP00123456789012",
        "private-receipt",
        "tracking-page",
        "FILE-PRIVATE",
        "FILE-SHARED",
        *(f.sha256 or "-" for f in case.evidence),
        *(f.stored_path or "-" for f in case.evidence),
    ]
    for item in items:
        assert [s for s in secrets if s in item.payload] == []


async def test_a_link_without_a_bot_username_is_the_start_command(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> None:
    service = service_for(uow_factory, book, policies, clock, admins=frozenset({ADMIN}))
    admin = ServiceChat(service, ADMIN)
    (created,) = params(await admin.text("/claimlink 1102345678"), "party.claimlink.created")
    assert re.fullmatch(r"/start claim_[A-Za-z0-9_-]{43}", str(created["link"]))
    assert created["expires"] == "2026-12-03 09:00 UTC"
    seller = ServiceChat(service, SELLER)
    await seller.text(str(created["link"]))
    assert "party.claim.linked" in top(seller.last)


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        ("expire", "party.claim.expired"),
        ("use", "party.claim.used"),
        ("revoke", "party.claim.revoked"),
        ("forge", "party.claim.unknown"),
        ("garble", "party.claim.unknown"),
    ],
)
async def test_a_spent_or_false_claim_link_changes_nothing(
    service: BotService,
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
    spoil: str,
    expected: str,
) -> None:
    admin = ServiceChat(service, ADMIN)
    other = ServiceChat(service, OTHER)
    seller = ServiceChat(service, SELLER)
    token = await new_claim(admin)
    if spoil == "expire":
        clock.advance(hours=72)
    elif spoil == "use":
        await other.text(f"/start {token}")
        assert "party.claim.linked" in top(other.last)
    elif spoil == "revoke":
        await admin.text(f"/claimlink revoke {STORE}")
        assert params(admin.last, "party.claimlink.revoked")[0]["count"] == 1
    elif spoil == "forge":
        token = "claim_" + token[6:][::-1]
    else:
        token = "claim_" + "bad token!"
    await seller.text(f"/start {token}")
    assert top(seller.last)[0] == expected
    assert await linked_accounts(uow_factory, seller) == []
    assert await outbox_for(uow_factory, seller.chat) == []


async def test_revoking_unlinks_every_chat_and_tells_it(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    admin = ServiceChat(service, ADMIN)
    seller = ServiceChat(service, SELLER)
    await seller.text(f"/start {await new_claim(admin)}")
    spare = await new_claim(admin)  # handed out, never used
    await admin.text("/unlink 1102345678")
    (revoked,) = params(admin.last, "party.claimlink.revoked")
    assert (revoked["count"], revoked["chats"]) == (2, 1)
    assert await linked_accounts(uow_factory, seller) == []
    assert first_keys(await outbox_for(uow_factory, seller.chat)) == ["party.unlinked"]
    other = ServiceChat(service, OTHER)
    await other.text(f"/start {spare}")
    assert top(other.last)[0] == "party.claim.revoked"

    case_id = await file_report(ServiceChat(service, REPORTER), vault, uow_factory)
    case = await case_of(uow_factory, case_id)
    assert case.events[-1].kind == "party:unreachable"
    assert first_keys(await outbox_for(uow_factory, seller.chat)) == ["party.unlinked"]


async def test_bad_claimlink_input_gets_the_usage(service: BotService) -> None:
    admin = ServiceChat(service, ADMIN)
    await admin.text("/claimlink")
    assert top(admin.last) == ["party.claimlink.usage"]
    await admin.text("/claimlink https://example.com/shop/1")
    assert top(admin.last) == ["policy.account.foreign_link", "party.claimlink.usage"]
    await admin.text("/claimlink revoke")
    assert top(admin.last) == ["party.claimlink.usage"]


async def test_claimlink_from_someone_not_staff_is_an_unknown_command(
    service: BotService, uow_factory: UnitOfWorkFactory
) -> None:
    outsider = ServiceChat(service, OTHER)
    await outsider.text("/frobnicate")
    unknown = top(outsider.last)
    for command in (f"/claimlink {STORE}", f"/claimlink revoke {STORE}", f"/unlink {STORE}"):
        await outsider.text(command)
        assert top(outsider.last) == unknown
    assert await outbox_for(uow_factory, outsider.chat) == []


async def test_an_unlinked_party_is_unreachable_on_the_case_and_its_card(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    admin = ServiceChat(service, ADMIN)
    case_id = await file_report(ServiceChat(service, REPORTER), vault, uow_factory)
    case = await case_of(uow_factory, case_id)
    assert [(e.actor, e.kind) for e in case.events][-1] == ("system", "party:unreachable")
    await admin.text(f"/case {case_id}")
    assert "card.party.unreachable" in top(admin.last)
    assert "card.party.linked" not in top(admin.last)
    assert f"sf:shr:{case_id}" in buttons(admin.last)
    assert f"sf:tp:{case_id}" not in buttons(admin.last)


async def test_a_statement_within_the_window_lands_on_the_case_and_the_card(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    admin, seller, _, case_id = await linked_world(service, vault, uow_factory)
    clock.advance(days=13)
    (notice,) = await outbox_for(uow_factory, seller.chat)
    answer = say_from_json(notice.payload).buttons[0][0]
    await seller.send(ButtonPressed(answer.data))
    assert seller.step == "text"
    statement = "We shipped order 8161234567890123 on time; the carrier's scan is attached."
    await seller.text(statement)
    await seller.files(await vault.keep_bytes(png_bytes(21), "scan.png"))
    await seller.click("statement.files.done")
    await seller.click("statement.submit")
    (sent,) = params(seller.last, "party.statement.sent")
    assert sent == {"case_id": case_id, "count": 1}

    case = await case_of(uow_factory, case_id)
    event = case.events[-1]
    assert (event.kind, event.actor, event.note) == (
        "party_statement",
        seller.chat.user_ref,
        statement,
    )
    assert len(case.evidence) == 3
    assert [case.source_of(i) for i in range(3)] == [
        EvidenceSource.REPORTER,
        EvidenceSource.REPORTER,
        EvidenceSource.PARTY,
    ]
    group = await outbox_for(uow_factory, ChatKey("test", STAFF_GROUP))
    assert first_keys(group)[-1] == "party.staff.statement"

    await seller.text(f"/statement {case_id}")  # a second statement is allowed
    await seller.text("One more thing: the buyer confirmed receipt in chat.")
    await seller.text("/done")  # no files this time
    await seller.click("statement.submit")
    assert "party.statement.sent" in top(seller.last)

    await admin.text(f"/case {case_id}")
    (linked,) = params(admin.last, "card.party.linked")
    assert linked == {"count": 1}
    texts = [p["text"] for p in params(admin.last, "card.party.statement")]
    assert texts == [statement, "One more thing: the buyer confirmed receipt in chat."]
    assert params(admin.last, "card.party.files") == [{"items": "3"}]
    assert {f"sf:shr:{case_id}", f"sf:tp:{case_id}"} <= set(buttons(admin.last))


async def test_only_a_linked_chat_may_answer_and_only_within_the_window(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    _, seller, reporter, case_id = await linked_world(service, vault, uow_factory)
    outsider = ServiceChat(service, OTHER)
    await outsider.text(f"/statement {case_id}")
    not_linked = top(outsider.last)
    await outsider.text("/statement DR-00000000")
    assert not_linked == top(outsider.last) == ["party.statement.unknown"]
    await outsider.send(ButtonPressed(f"pt:st:{case_id}"))
    assert top(outsider.last)[0] == "engine.stale_button"
    assert outsider.step is None
    await reporter.text(f"/statement {case_id}")
    assert top(reporter.last) == ["party.statement.unknown"]

    # Begun in time, submitted too late: refused, and nothing lands on the case.
    clock.advance(days=13)
    await seller.text(f"/statement {case_id}")
    await seller.text("Late answer.")
    await seller.text("/done")
    clock.advance(days=2)
    await seller.click("statement.submit")
    assert top(seller.last)[0] == "party.statement.closed"
    await seller.text(f"/statement {case_id}")
    assert top(seller.last) == ["party.statement.closed"]
    assert seller.step is None
    case = await case_of(uow_factory, case_id)
    assert "party_statement" not in [e.kind for e in case.events]


async def test_only_evidence_marked_shareable_reaches_the_party(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    admin, seller, _, case_id = await linked_world(service, vault, uow_factory)
    await admin.send(ButtonPressed(f"sf:shr:{case_id}"))
    assert [b.key for r in admin.last for b in buttons_of(r)] == [
        "party.share.off",
        "party.share.off",
    ]
    assert buttons(admin.last) == [f"sf:sht:{case_id}:1:1", f"sf:sht:{case_id}:2:1"]
    await admin.send(ButtonPressed(f"sf:sht:{case_id}:2:1"))
    assert [b.key for r in admin.last for b in buttons_of(r)] == [
        "party.share.off",
        "party.share.on",
    ]
    assert buttons(admin.last) == [f"sf:sht:{case_id}:1:1", f"sf:sht:{case_id}:2:0"]
    # The button names the state it asks for: a double tap, or the older list pressed
    # again, changes nothing the second time.
    await admin.send(ButtonPressed(f"sf:sht:{case_id}:2:1"))
    await admin.send(ButtonPressed(f"sf:sht:{case_id}:1:1"))
    await admin.send(ButtonPressed(f"sf:sht:{case_id}:1:1"))
    await admin.send(ButtonPressed(f"sf:sht:{case_id}:1:0"))
    await admin.send(ButtonPressed(f"sf:sht:{case_id}:1:0"))
    for stale in ("9:1", "1", "1:2", "x:1"):  # out of range, the old toggle, forged
        await admin.send(ButtonPressed(f"sf:sht:{case_id}:{stale}"))
        assert top(admin.last)[0] == "engine.stale_button", stale
    case = await case_of(uow_factory, case_id)
    assert case.shareable == frozenset({1})
    assert [e.note for e in case.events if e.kind == "party:shareable"] == [
        "2: on",
        "1: on",
        "1: off",
    ]
    assert service.keeps_keyboard(f"sf:sht:{case_id}:1:1")

    await admin.text(f"/case {case_id}")
    assert params(admin.last, "card.party.shared") == [{"items": "2"}]
    await admin.send(ButtonPressed(f"sf:tp:{case_id}"))
    assert admin.step == "facts"
    facts = "The buyer says the parcel never arrived; please send the carrier's scan."
    await admin.text(facts)
    await admin.click("review.confirm.submit")
    (sent,) = params(admin.last, "party.tell.sent")
    assert sent == {"case_id": case_id, "count": 1, "files": 1}

    told = (await outbox_for(uow_factory, seller.chat))[-1]
    say = say_from_json(told.payload)
    assert [m.key for m in say.text] == ["party.told", "party.told.facts", "party.told.files"]
    assert say.text[1].params["text"] == facts
    assert [m.file_id for m in say.media] == ["FILE-SHARED"]
    for item in await outbox_for(uow_factory, seller.chat):
        for secret in ("FILE-PRIVATE", "private-receipt", str(REPORTER), FACTS[:40]):
            assert secret not in item.payload
    case = await case_of(uow_factory, case_id)
    assert (case.events[-1].kind, case.events[-1].note) == ("party:told", facts)


async def test_sharing_and_telling_are_for_staff_only(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    _, seller, reporter, case_id = await linked_world(service, vault, uow_factory)
    before = await outbox_for(uow_factory, seller.chat)
    for chat in (seller, reporter):
        for data in (f"sf:shr:{case_id}", f"sf:sht:{case_id}:1:1", f"sf:tp:{case_id}"):
            await chat.send(ButtonPressed(data))
            assert top(chat.last) == ["engine.stale_button"]
            assert chat.step is None
    case = await case_of(uow_factory, case_id)
    assert case.shareable == frozenset()
    assert "party:shareable" not in [e.kind for e in case.events]
    assert await outbox_for(uow_factory, seller.chat) == before


async def test_telling_an_unlinked_party_is_refused(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    admin = ServiceChat(service, ADMIN)
    case_id = await file_report(ServiceChat(service, REPORTER), vault, uow_factory)
    await admin.send(ButtonPressed(f"sf:tp:{case_id}"))
    assert top(admin.last) == ["party.tell.no_links"]
    assert admin.step is None


async def test_a_seller_cannot_report_their_own_linked_account(
    service: BotService, uow_factory: UnitOfWorkFactory
) -> None:
    admin = ServiceChat(service, ADMIN)
    seller = ServiceChat(service, SELLER)
    await seller.text(f"/start {await new_claim(admin)}")
    await seller.text("/report")
    await seller.click("report.category.other")
    await seller.text(STORE)
    assert "policy.abuse.self_report" in top(seller.last)
    async with uow_factory() as uow:
        assert await uow.cases.list(reporter_id=seller.chat.user_ref) == []


def buttons_of(reply: Reply) -> list[Msg]:
    return [b.label for row in reply.say.buttons for b in row]


async def test_a_party_linked_after_the_filing_is_told_and_gets_the_whole_window(
    service: BotService,
    vault: EvidenceVault,
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
    book: FlowBook,
) -> None:
    admin = ServiceChat(service, ADMIN)
    reporter = ServiceChat(service, REPORTER)
    case_id = await file_report(reporter, vault, uow_factory)
    # A decided report against the account is not news for the party.
    decided = await file_report(ServiceChat(service, OTHER), vault, uow_factory)
    async with uow_factory() as uow:
        actions = CaseActions(book, clock, default_locale="en")
        staff = Actor(ChatKey("test", ADMIN), ActorRole.ADMIN)
        for action in (Action.TAKE, Action.UPHOLD):
            record = await uow.cases.get(decided)
            assert record is not None
            await actions.act(uow, record, action, staff, detail={"measures": ["warning"]})
        await uow.commit()
    assert (await case_of(uow_factory, decided)).status is Status.UPHELD
    clock.advance(days=10)
    seller = ServiceChat(service, SELLER)

    await seller.text(f"/start {await new_claim(admin)}")

    assert top(seller.last) == [
        "party.claim.linked",
        "party.claim.explain",
        "party.claim.open_cases",
    ]
    assert params(seller.last, "party.claim.open_cases") == [{"count": 1}]
    (notice,) = [i for i in await outbox_for(uow_factory, seller.chat) if i.case_id]
    assert notice.case_id == case_id
    say = say_from_json(notice.payload)
    assert [m.key for m in say.text] == ["party.notice", "party.notice.answer_by"]
    # Fourteen days from the notice, not from the filing ten days before.
    assert say.text[1].params["deadline"] == "2026-12-24 09:00 UTC"
    for secret in (str(REPORTER), FACTS[:40], "FILE-PRIVATE", "private-receipt"):
        assert secret not in notice.payload
    case = await case_of(uow_factory, case_id)
    assert (case.events[-1].kind, case.events[-1].note) == ("party:notified", seller.chat.user_ref)
    assert "party:notified" not in [e.kind for e in (await case_of(uow_factory, decided)).events]

    # Twelve days on (22 after the filing) the party may still answer.
    clock.advance(days=12)
    await seller.send(ButtonPressed(say.buttons[0][0].data))
    assert seller.step == "text"
    await seller.text("We shipped on time.")
    await seller.text("/done")
    await seller.click("statement.submit")
    assert "party.statement.sent" in top(seller.last)

    # Linked again through a new link: not told twice.
    before = await outbox_for(uow_factory, seller.chat)
    await seller.text(f"/start {await new_claim(admin)}")
    assert "party.claim.open_cases" not in top(seller.last)
    assert len(await outbox_for(uow_factory, seller.chat)) == len(before)


@pytest.mark.parametrize("account", ["Acme Store", "acme_official_shop"])
async def test_no_claim_link_for_a_bare_seller_name(service: BotService, account: str) -> None:
    admin = ServiceChat(service, ADMIN)
    replies = await admin.text(f"/claimlink {account}")
    assert top(replies) == ["party.claimlink.not_a_store", "party.claimlink.usage"]
    assert "party.claimlink.created" not in keys(replies)


async def test_forgetting_a_chat_ends_its_links(
    service: BotService, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    admin = ServiceChat(service, ADMIN)
    seller = ServiceChat(service, SELLER)
    await seller.text(f"/start {await new_claim(admin)}")
    await seller.text(f"/start {await new_claim(admin, '2200000011')}")
    other = ServiceChat(service, OTHER)
    await other.text(f"/start {await new_claim(admin)}")
    assert len(await linked_accounts(uow_factory, seller)) == 2

    async with uow_factory() as uow:
        assert await forget_links(uow, seller.chat, clock.now()) == 2
        await uow.commit()

    assert await linked_accounts(uow_factory, seller) == []
    assert await linked_accounts(uow_factory, other) == ["aliexpress:store:1102345678"]


async def test_a_statements_files_are_durable_before_they_join_the_case(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    vault: EvidenceVault,
) -> None:
    disk = FailingDisk(vault)
    service = party_service(uow_factory, book, policies, clock, evidence_settled=disk.settle)
    _, seller, _, case_id = await linked_world(service, vault, uow_factory)
    disk.fails = True
    await seller.text(f"/statement {case_id}")
    await seller.text("We shipped order 8161234567890123 on time; the carrier's scan is attached.")
    scan = await vault.keep_bytes(png_bytes(22), "scan.png")
    await seller.files(scan)
    await seller.click("statement.files.done")
    with pytest.raises(OSError, match="Input/output"):
        await seller.click("statement.submit")
    assert len((await case_of(uow_factory, case_id)).evidence) == 2  # the report's alone
    disk.fails = False
    await seller.click("statement.submit")
    assert "party.statement.sent" in top(seller.last)
    case = await case_of(uow_factory, case_id)
    assert [e.stored_path for e in case.evidence][-1] == scan.stored_path
    assert disk.settled[-1] == [scan.stored_path]
