"""Nothing said to the reported party names the reporter, in any template or locale.

The issue's rule: no message to a party contains the reporter's name, username, id or an
evidence item not marked shareable. Names and usernames never reach the service: a channel
hands it an ``Inbound`` with the chat and user *ids* only (``test_names_never_reach_the_service``
keeps it so). What does reach it, and so could leak, is the reporter's id, what they wrote (the
description, an appeal's reasons) and their evidence. So:

- ``test_nothing_of_the_reporter_reaches_the_party`` drives one linked party through every
  kind of message the bot sends a party (claim, notices, the statement dialog, staff's facts
  with one shareable and one private item, each outcome's statement of reasons, both sides'
  appeals, both rulings, a case reopened on appeal, unlinking), in every locale the catalogs
  hold and on every store; it renders every reply and outbox item for the party's chat through
  the real catalogs, and looks for the reporter in the text, the buttons, the files and the
  parameters, and in every statement of reasons kept for the party;
- ``test_no_party_template_has_room_for_the_reporter`` checks, in every locale, that no
  template addressed to a party has a placeholder that could carry the reporter's identity.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from babel.messages.extract import extract

from disputebot.cases.records import Audience, EvidenceSource
from disputebot.channels.telegram.model import TgUpdate
from disputebot.engine.context import Policies
from disputebot.engine.effects import Msg, Say, say_from_json, say_to_json
from disputebot.engine.events import ButtonPressed, Event
from disputebot.engine.spec import FlowBook
from disputebot.i18n.catalog import Catalogs, read_catalog
from disputebot.i18n.extract import PYTHON_KEYWORDS, message_ids
from disputebot.i18n.template import placeholders
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey, Role, UnitOfWorkFactory
from disputebot.service import appeals, parties, statements
from disputebot.service.addons import FairnessRules
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Inbound, Reply
from disputebot.service.replies import STATUS_LABELS
from tests.service.driver import ServiceChat, service_for
from tests.support import ROOT, FixedClock, png_bytes

ADMIN = 1
FIRST = 2  # decides
SECOND = 3  # rules on the appeals
STAFF_GROUP = -100
PARTY = 2_468_013
REPORTER = 918_273_645  # digits found nowhere else in the run
STORES = tuple(f"https://m.aliexpress.com/store/{n}" for n in (1102345678, 1102345679, 1102345680))
DESCRIPTION = (
    "Order 8161234567890123 from this store: marked shipped with tracking LP00123456789012, "
    "which the carrier has never heard of; the seller then claimed delivery."
)
REPORTER_APPEAL = (
    "The rejection overlooked the carrier letter QX-5521-ZEBRA confirming no parcel was scanned."
)
PRIVATE_NAME, PRIVATE_ID = "reporter-bank-statement.png", "FILE-PRIVATE-7f3a"
SHARED_NAME, SHARED_ID = "carrier-tracking-page.png", "FILE-SHARED-2b9c"
APPEAL_FILE_NAME, APPEAL_FILE_ID = "reporter-appeal-letter.png", "FILE-APPEAL-5d1e"
# Staff sometimes paste the reporter's chat into what they write; the party must not get it.
STAFF_FACTS = f"Reported by test:{REPORTER}; the parcel was never scanned by the carrier."
RULING = f"Checked again with the carrier for {REPORTER}: the parcel was scanned after all."
# Placeholders whose value would be someone's identity or a reporter's words.
IDENTITY_PLACEHOLDERS = frozenset(
    {
        "reporter",
        "reporter_id",
        "reporter_ref",
        "user",
        "user_id",
        "user_ref",
        "chat",
        "chat_id",
        "chat_ref",
        "sender",
        "author",
        "by",
        "who",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "username",
        "description",
    }
)
# Where ``{name}`` is the party's own: the name of its own account, or of a file it just sent
# in its own dialog (the engine's refusals of a file name the file).
OWN_NAME = frozenset(
    {
        "engine.account.seller",
        "engine.account.seller_item",
        "policy.account.low_confidence",
        "policy.evidence.duplicate",
        "policy.evidence.empty",
        "policy.evidence.not_downloaded",
        "policy.evidence.too_large",
        "policy.evidence.too_many",
        "policy.evidence.type",
    }
)
RULES = FairnessRules(bot_username="DisputeDeskBot")


def identity_params(key: str, names: Collection[str]) -> set[str]:
    """Which of a message's placeholders or parameters could carry someone's identity."""
    found = set(names) & IDENTITY_PLACEHOLDERS
    return found - {"name"} if key in OWN_NAME else found


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs.load(ROOT / "locales")


def locales() -> tuple[str, ...]:
    return Catalogs.load(ROOT / "locales").locales


# --- a chat that keeps every reply, whoever it is addressed to --------------------------------


class Recorded(ServiceChat):
    def __init__(
        self, service: BotService, user_id: int, log: list[Reply], language_code: str = "en"
    ) -> None:
        super().__init__(service, user_id, language_code)
        self.log = log

    async def send(
        self,
        event: Event,
        event_id: str | None = None,
        *,
        user_id: int | None = None,
        **flags: bool,
    ) -> list[Reply]:
        replies = await super().send(event, event_id, user_id=user_id, **flags)
        self.log.extend(replies)
        return replies


@dataclass
class World:
    service: BotService
    uow_factory: UnitOfWorkFactory
    vault: EvidenceVault
    clock: FixedClock
    locale: str
    log: list[Reply] = field(default_factory=list)

    def chat(self, user_id: int, language_code: str = "en") -> Recorded:
        return Recorded(self.service, user_id, self.log, language_code)


async def party_outbox(world: World, party: ChatKey) -> list[tuple[Say, str]]:
    async with world.uow_factory() as uow:
        items = await uow.outbox.list(limit=10_000)
    return [
        (say_from_json(i.payload), i.locale)
        for i in sorted(items, key=lambda i: i.id)
        if i.chat == party
    ]


async def evidence(vault: EvidenceVault, n: int) -> list[EvidenceFile]:
    """The reporter's files for their ``n``-th report: a private one, and on the first report
    the one staff will share."""
    name, file_id = f"{n}-{PRIVATE_NAME}", f"{PRIVATE_ID}-{n}"
    files = [await vault.keep_bytes(png_bytes(30 + n), name, file_id=file_id)]
    if n == 0:
        files.append(await vault.keep_bytes(png_bytes(39), SHARED_NAME, file_id=SHARED_ID))
    return files


async def file_report(world: World, reporter: Recorded, n: int) -> str:
    store = STORES[n]
    await reporter.text("/report")
    await reporter.click("report.category.other")
    await reporter.text(store)
    await reporter.text(DESCRIPTION)
    await reporter.files(*await evidence(world.vault, n))
    await reporter.click("report.evidence.done")
    await reporter.click("report.confirm.submit")
    async with world.uow_factory() as uow:
        cases = await uow.cases.list(reporter_id=reporter.chat.user_ref)
    (case,) = [c for c in cases if store.endswith("/" + c.account_key.rpartition(":")[2])]
    return case.public_id


def said(replies: list[Reply]) -> list[str]:
    return [m.key for r in replies for m in r.say.text]


async def done(staff: Recorded) -> None:
    assert "staff.done" in said(staff.last), said(staff.last)


async def uphold(staff: Recorded, case_id: str) -> None:
    await staff.send(ButtonPressed(f"sf:take:{case_id}"))
    await staff.text(f"/case {case_id}")
    await staff.click("staff.button.uphold")
    await staff.click("review.measure.remove_products")
    await staff.click("review.measure.warning")
    await staff.click("review.uphold.measures.done")
    await staff.click("review.duration.days_30")
    await staff.text(STAFF_FACTS)
    await staff.click("review.confirm.submit")
    await done(staff)


async def rule(staff: Recorded, case_id: str, verb: str) -> None:
    await staff.send(ButtonPressed(f"sf:take:{case_id}"))
    await staff.send(ButtonPressed(f"sf:{verb}:{case_id}"))
    await staff.text(RULING)
    await staff.click("review.confirm.submit")
    await done(staff)


async def press(chat: Recorded, say: Say, prefix: str) -> None:
    """Press the button under a message the chat was sent (as the person would)."""
    data = next(b.data for row in say.buttons for b in row if b.data.startswith(prefix))
    await chat.send(ButtonPressed(data))


async def last_to(world: World, party: Recorded, head: str) -> Say:
    return next(
        s for s, _ in reversed(await party_outbox(world, party.chat)) if s.text[0].key == head
    )


async def party_appeals(world: World, party: Recorded, head: str) -> None:
    await press(party, await last_to(world, party, head), "ap:")
    assert "appeal.intro" in said(party.last)
    await party.text("Our own tracking page shows the parcel delivered on the 4th of November.")
    await party.text("/done")
    await party.click("appeal.submit")
    assert "appeal.filed" in said(party.last)


async def run_scenario(world: World) -> tuple[Recorded, list[str], list[EvidenceFile]]:
    """Every kind of message a party can get; returns the party, the case ids and the
    reporter's evidence that was never marked shareable."""
    admin, first, second = world.chat(ADMIN), world.chat(FIRST), world.chat(SECOND)
    reporter = world.chat(REPORTER)
    party = world.chat(PARTY, world.locale.replace("_", "-"))
    async with world.uow_factory() as uow:
        for who in (FIRST, SECOND):
            await uow.staff.set_role(ChatKey("test", who), Role.REVIEWER, world.clock.now())
        await uow.commit()
    for store in STORES:
        (created,) = (await admin.text(f"/claimlink {store}"))[0].say.text
        link = str(created.params["link"])
        await party.text("/start " + link.rpartition("start=")[2])
        assert said(party.last) == ["party.claim.linked", "party.claim.explain"]
    upheld, rejected, reversed_ = [await file_report(world, reporter, n) for n in range(3)]

    # The party answers the first report from its notice.
    await press(party, await last_to(world, party, "party.notice"), "pt:st:")
    await party.text("We shipped on time; our courier receipt is attached.")
    await party.files(await world.vault.keep_bytes(png_bytes(41), "our-receipt.png"))
    await party.click("statement.files.done")
    await party.click("statement.submit")
    assert "party.statement.sent" in said(party.last)

    # Staff share the second item (only) and tell the party some facts.
    await admin.send(ButtonPressed(f"sf:sht:{upheld}:2:1"))
    await admin.send(ButtonPressed(f"sf:tp:{upheld}"))
    await admin.text(STAFF_FACTS)
    await admin.click("review.confirm.submit")
    assert "party.tell.sent" in said(admin.last)

    # Upheld with measures and a duration; the party appeals; confirmed.
    await uphold(first, upheld)
    await party_appeals(world, party, "sor.upheld.party")
    await rule(second, upheld, "cf")
    await party.text(f"/appeal {upheld}")  # a second time: refused
    await party.text(f"/statement {upheld}")  # decided: too late to answer

    # Rejected; the reporter appeals; reversed, so the case is reviewed again; escalated.
    await first.send(ButtonPressed(f"sf:take:{rejected}"))
    await first.click("staff.button.reject")
    await first.click("review.reason.insufficient_evidence")
    await first.text(STAFF_FACTS)
    await first.click("review.confirm.submit")
    await done(first)
    await reporter.text(f"/appeal {rejected}")
    await reporter.text(REPORTER_APPEAL)
    await reporter.files(
        await world.vault.keep_bytes(png_bytes(51), APPEAL_FILE_NAME, file_id=APPEAL_FILE_ID)
    )
    await reporter.click("appeal.files.done")
    await reporter.click("appeal.submit")
    assert "appeal.filed" in said(reporter.last)
    await rule(second, rejected, "rv")
    # Decided anew by someone who has neither decided nor ruled on it.
    await admin.text(f"/case {rejected}")
    await admin.click("staff.button.escalate")
    await admin.click("review.department.fraud")
    await admin.text(STAFF_FACTS)
    await admin.click("review.confirm.submit")
    await done(admin)
    await party.text(f"/appeal {rejected}")  # nothing final to appeal

    # Upheld; the party appeals; reversed, so the measures are lifted.
    await uphold(first, reversed_)
    await party_appeals(world, party, "sor.upheld.party")
    await rule(second, reversed_, "rv")

    # Staff unlink the accounts.
    for store in STORES:
        await admin.text(f"/claimlink revoke {store}")
        assert "party.claimlink.revoked" in said(admin.last)

    async with world.uow_factory() as uow:
        private: list[EvidenceFile] = []
        for case_id in (upheld, rejected, reversed_):
            case = await uow.cases.get(case_id)
            assert case is not None
            private += [
                f
                for i, f in enumerate(case.evidence)
                if i not in case.shareable and case.source_of(i) is EvidenceSource.REPORTER
            ]
    return party, [upheld, rejected, reversed_], private


# --- what the party saw --------------------------------------------------------------------------


def rendered(say: Say, locale: str, catalogs: Catalogs) -> str:
    """Everything of ``say`` a channel would show or send: the text and the buttons as the
    console and Telegram render them, each file's name, path and file id, and (in case a
    template leaves a parameter out today but not tomorrow) the raw message."""
    parts = [catalogs.render_all(say.text, locale)]
    parts += [catalogs.render(b.label, locale) for row in say.buttons for b in row]
    parts += [b.data for row in say.buttons for b in row]
    parts += [f"{m.name} {m.path} {m.file_id}" for m in say.media]
    parts.append(say_to_json(say))
    return "\n".join(parts)


def msgs(say: Say) -> Iterator[Msg]:
    def walk(msg: Msg) -> Iterator[Msg]:
        yield msg
        for value in msg.params.values():
            if isinstance(value, Msg):
                yield from walk(value)

    for msg in (*say.text, *(b.label for row in say.buttons for b in row)):
        yield from walk(msg)


# Message ids the run must have sent the party, so that a quiet run cannot pass.
EXPECTED = frozenset(
    {
        "party.claim.linked",
        "party.notice",
        "statement.text.prompt",
        "statement.files.prompt",
        "statement.confirm",
        "party.statement.sent",
        "party.statement.closed",
        "party.told",
        "party.told.files",
        "sor.upheld.party",
        "sor.measure",
        "sor.duration",
        "sor.rejected.party",
        "sor.escalated.party",
        "appeal.other.party",
        "appeal.intro",
        "appeal.reason.prompt",
        "appeal.filed",
        "appeal.again",
        "appeal.nothing",
        "sor.appeal_confirmed.party",
        "sor.appeal_reversed.party",
        "sor.reopened",
        "sor.lifted",
        "party.unlinked",
    }
)


@pytest.fixture(params=locales())
def locale(request: pytest.FixtureRequest) -> str:
    """The party's language: each locale the catalogs hold."""
    return str(request.param)


@pytest.fixture
def service(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> BotService:
    return service_for(
        uow_factory,
        book,
        policies,
        clock,
        admins=frozenset({ADMIN}),
        staff_chat_id=STAFF_GROUP,
        fairness=RULES,
    )


@pytest.fixture
def world(
    service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
    locale: str,
) -> World:
    return World(service, uow_factory, vault, clock, locale)


async def test_nothing_of_the_reporter_reaches_the_party(
    world: World, book: FlowBook, catalogs: Catalogs
) -> None:
    locale, uow_factory = world.locale, world.uow_factory
    party, case_ids, private = await run_scenario(world)
    assert sorted(f.name for f in private) == [
        *(f"{n}-{PRIVATE_NAME}" for n in range(3)),
        APPEAL_FILE_NAME,
    ]

    to_party = [(r.say, r.locale) for r in world.log if r.chat == party.chat]
    to_party += await party_outbox(world, party.chat)
    seen = {m.key for say, _ in to_party for m in msgs(say)}
    assert EXPECTED - seen == set()
    assert {where for _, where in to_party} == {locale}
    # Each text in the party's own language, none shown as a bare id or in another language.
    assert {k for k in seen if not catalogs.has(k, locale)} == set()

    secrets = {
        f"test:{REPORTER}": "the reporter's chat",
        str(REPORTER): "the reporter's id",
        DESCRIPTION: "the description",
        "8161234567890123": "the description",
        "LP00123456789012": "the description",
        REPORTER_APPEAL[:40]: "the reporter's appeal",
        "QX-5521-ZEBRA": "the reporter's appeal",
    }
    for item in private:
        for value in (item.name, item.file_id, item.sha256, item.stored_path):
            assert value
            secrets[str(value)] = f"the private item {item.name}"
    shown = [rendered(say, where, catalogs) for say, where in to_party]
    leaks = {(what, text) for text in shown for secret, what in secrets.items() if secret in text}
    assert leaks == set()
    assert [m for say, _ in to_party for m in msgs(say) if identity_params(m.key, m.params)] == []
    # Every message the party got is one the template check below covers.
    assert seen - party_ids(book) == set()

    # The shareable item does reach the party: the check above is not looking at nothing.
    files = [m for say, _ in to_party for m in say.media]
    assert [m.file_id for m in files] == [SHARED_ID]
    assert any(SHARED_NAME in text for text in shown)
    # So does what staff wrote, with the reporter's chat taken out.
    assert any("never scanned by the carrier" in text for text in shown)

    async with uow_factory() as uow:
        kept = [s for c in case_ids for s in await uow.cases.statements(c)]
    for_party = [s for s in kept if s.audience is Audience.PARTY]
    assert (
        len(for_party) == 7
    )  # upheld, confirmed, rejected, reversed, escalated, upheld, reversed
    for statement in for_party:
        assert statement.recipient == party.chat.user_ref
        body = json.dumps(statement.body, ensure_ascii=False)
        assert [s for s in secrets if s in body] == []


# --- names, and every template -------------------------------------------------------------------


def test_names_never_reach_the_service() -> None:
    """What a channel hands the service carries ids, never a name or username: the service
    cannot leak what it never gets."""
    named = re.compile(r"name|first|last|handle|nick")
    for model in (Inbound, TgUpdate):
        found = [f.name for f in dataclasses.fields(model) if named.search(f.name)]
        assert found == [], (model.__name__, found)


# Message ids used by the party modules that are only ever sent to staff (or to the reporter),
# each with where it goes; every other id in those modules counts as addressed to the party.
NOT_FOR_THE_PARTY = {
    "party.claimlink.usage": "staff's /claimlink",
    "party.claimlink.created": "staff's /claimlink",
    "party.claimlink.revoked": "staff's /claimlink revoke",
    "party.claimlink.claimed": "the staff member who made the link",
    "party.staff.statement": "the assignee or the staff group",
    "party.tell.no_links": "staff",
    "party.tell.sent": "staff",
    "party.share.title": "staff",
    "party.share.on": "staff",
    "party.share.off": "staff",
    "card.party.linked": "the staff card",
    "card.party.unreachable": "the staff card",
    "card.party.statement": "the staff card",
    "card.party.files": "the staff card",
    "card.party.shared": "the staff card",
    "card.party.shared.none": "the staff card",
    "card.party.share_button": "the staff card",
    "card.party.tell_button": "the staff card",
    "card.evidence.none": "staff",
    "staff.not_staff_anymore": "staff",
    "staff.case.unknown": "staff",
    "staff.button.take": "the staff group",
    "appeal.staff.new": "the staff group",
    "appeal.staff.reason": "the staff group",
    "appeal.card.pending": "the staff card",
    "appeal.card.ruled": "the staff card",
    "appeal.card.confirmed": "the staff card",
    "appeal.card.reversed": "the staff card",
    "appeal.card.statements": "the staff card",
    "appeal.other.reporter": "the reporter",
    "sor.upheld.reporter": "the reporter",
    "sor.rejected.reporter": "the reporter",
    "sor.escalated.reporter": "the reporter",
    "sor.appeal_confirmed.reporter": "the reporter",
    "sor.appeal_reversed.reporter": "the reporter",
}
PARTY_MODULES = (parties, appeals, statements)
PARTY_FLOWS = ("statement", "appeal")
# Flows whose option labels appear inside the party's messages (category, measures, …).
LABEL_FLOWS = ("report", "uphold", "reject", "escalate")


def module_ids(path: Path) -> set[str]:
    with path.open("rb") as source:
        return {str(m) for _, m, _, _ in extract("python", source, keywords=PYTHON_KEYWORDS)}


def party_ids(book: FlowBook) -> set[str]:
    """Every message id that can be addressed to a party, from the code and the flows: the
    party modules' ids (less those for staff), the party's dialogs, the option and status
    labels shown inside its messages, and what the engine says in any dialog."""
    ids = set().union(*(module_ids(Path(str(m.__file__))) for m in PARTY_MODULES))
    ids -= set(NOT_FOR_THE_PARTY)
    for name in PARTY_FLOWS:
        ids |= {key for _, key in message_ids(book.current(name).model_dump())}
    for name in LABEL_FLOWS:
        dumped = book.current(name).model_dump()
        ids |= {key for where, key in message_ids(dumped) if ".options[" in where}
    ids |= set(STATUS_LABELS.values())
    for path in sorted((ROOT / "src" / "disputebot" / "engine").glob("*.py")):
        ids |= module_ids(path)
    return ids


def identity_holes(locales_dir: Path, ids: set[str]) -> list[str]:
    """``locale: id: {placeholder}`` for each template in ``ids`` with room for someone's
    identity, in every locale the catalogs hold (each of which must have every such text)."""
    catalogs = Catalogs.load(locales_dir)
    holes: list[str] = []
    for locale in catalogs.locales:
        po = locales_dir / locale / "LC_MESSAGES" / "disputebot.po"
        texts = {
            m.id if isinstance(m.id, str) else m.id[0]: m.string for m in read_catalog(po, locale)
        }
        for key in sorted(ids):
            assert catalogs.has(key, locale), f"{locale}: no text for {key}"
            text = texts[key]
            forms = [str(f) for f in text if f] if isinstance(text, tuple | list) else [str(text)]
            names = frozenset().union(*(placeholders(form) for form in forms))
            holes += [f"{locale}: {key}: {{{n}}}" for n in sorted(identity_params(key, names))]
    return holes


def test_no_party_template_has_room_for_the_reporter(book: FlowBook) -> None:
    ids = party_ids(book)
    assert ids >= EXPECTED
    assert identity_holes(ROOT / "locales", ids) == []


def test_a_template_with_room_for_the_reporter_is_caught(book: FlowBook, tmp_path: Path) -> None:
    """The check above fails for a translation that makes room for the reporter."""
    shutil.copytree(ROOT / "locales", tmp_path / "locales")
    po = tmp_path / "locales" / "zh_Hans" / "LC_MESSAGES" / "disputebot.po"
    text = po.read_text(encoding="utf-8")
    spoiled = re.sub(r'(msgid "party\.notice"\nmsgstr ")', r"\1{reporter} ", text, count=1)
    assert spoiled != text
    po.write_text(spoiled, encoding="utf-8")
    assert identity_holes(tmp_path / "locales", party_ids(book)) == [
        "zh_Hans: party.notice: {reporter}"
    ]
