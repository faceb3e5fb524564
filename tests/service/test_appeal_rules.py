"""Who may decide a case once it has been appealed, and what each side hears, through the real
service and stores (DSA Arts. 17, 20).

No one who decided a case or ruled on an appeal against it takes, decides or rules on it again;
no one with a stake in it (its reporter, the appellant, a chat linked to the reported account)
takes, decides or rules on it at all; a new decision after a reversal may be appealed again; a
decision dialog applies only to the case as it was when the dialog opened; reporters of merged
duplicates never see each other.
"""

from __future__ import annotations

import json
import re

from disputebot.cases.records import Audience, PartyLink, Status
from disputebot.engine.effects import Msg, say_from_json
from disputebot.engine.events import ButtonPressed
from disputebot.ports import ChatKey, Role, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from tests.service.driver import ServiceChat, to_summary
from tests.service.test_appeals import (
    FIRST,
    GROUNDS,
    MERGED_REPORTER,
    SECOND,
    People,
    appeal,
    appeal_service,
    button_data,
    heads,
    keys,
    outbox_for,
    people,
    reject,
    rule,
    statements,
    status_of,
    take,
    uphold,
)
from tests.support import FixedClock

__all__ = ["appeal_service"]  # the fixture, shared with test_appeals

THIRD = 4  # a reviewer who has had nothing to do with the case


async def decision_of(uow_factory: UnitOfWorkFactory, case_id: str) -> dict[str, object]:
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    return dict(case.decision)


async def add_reviewer(uow_factory: UnitOfWorkFactory, clock: FixedClock, who: int) -> None:
    async with uow_factory() as uow:
        await uow.staff.set_role(ChatKey("test", who), Role.REVIEWER, clock.now())
        await uow.commit()


async def reject_taken(staff: ServiceChat, case_id: str, *, expect: str = "staff.done") -> None:
    """Reject a case the staff member already holds (or, as an admin, may decide anyway)."""
    await staff.send(ButtonPressed(f"sf:rj:{case_id}"))
    if expect != "staff.done":
        assert expect in staff.said()
        return
    await staff.click("review.reason.false_report")
    await staff.text("Still no order number, date or store in the screenshots.")
    await staff.click("review.confirm.submit")
    assert expect in staff.said()


def offered(staff: ServiceChat) -> set[str]:
    return {b.data.split(":")[1] for b in staff.buttons() if b.data.startswith("sf:")}


# --- the decision does not go back to its decider ------------------------------------------------


async def test_an_admin_who_decided_may_not_decide_again_after_a_reversal(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await take(p.admin, p.case_id)
    await reject_taken(p.admin, p.case_id)
    await appeal(p.reporter, p.case_id, vault)
    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "rv")
    assert await status_of(uow_factory, p.case_id) is Status.IN_REVIEW

    # Neither the admin who rejected nor the reviewer who reversed decides it now.
    for verb in ("rj", "up", "es"):
        await p.admin.send(ButtonPressed(f"sf:{verb}:{p.case_id}"))
        assert heads(p.admin) == ["staff.illegal.decided_before"], verb
    await p.admin.text(f"/case {p.case_id}")
    assert not {"rj", "up", "es", "wd"} & offered(p.admin)
    await p.second.send(ButtonPressed(f"sf:up:{p.case_id}"))
    assert heads(p.second) == ["staff.illegal.decided_before"]
    # Nor is it handed back to either of them.
    for who in (1, SECOND):
        await p.admin.send(ButtonPressed(f"sf:to:{p.case_id}:{who}"))
        assert heads(p.admin) == ["staff.illegal.decided_before"], who
    await p.admin.send(ButtonPressed(f"sf:asg:{p.case_id}"))
    assert {b.data for b in p.admin.buttons()} == {f"sf:to:{p.case_id}:{FIRST}"}
    decision = await decision_of(uow_factory, p.case_id)
    assert "outcome" not in decision
    assert await status_of(uow_factory, p.case_id) is Status.IN_REVIEW

    # Someone new decides it, and the reporter may appeal that decision too.
    await p.admin.send(ButtonPressed(f"sf:to:{p.case_id}:{FIRST}"))
    assert "staff.done" in p.admin.said()
    await reject_taken(p.first, p.case_id)
    await p.reporter.text(f"/appeal {p.case_id}")
    assert "appeal.intro" in p.reporter.said()


async def test_a_reviewer_who_decided_is_not_handed_the_case_back_nor_reopens_it(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    await appeal(p.party, p.case_id, vault)
    await take(p.admin, p.case_id)
    await rule(p.admin, p.case_id, "rv")  # the admin rules: the report is rejected
    assert await status_of(uow_factory, p.case_id) is Status.REJECTED
    # The admin who ruled may not reopen it and decide it again either.
    await p.admin.send(ButtonPressed(f"sf:ro:{p.case_id}"))
    assert "staff.done" in p.admin.said()  # reopening is an admin's call …
    assert await status_of(uow_factory, p.case_id) is Status.IN_REVIEW
    await p.admin.send(ButtonPressed(f"sf:up:{p.case_id}"))
    assert heads(p.admin) == ["staff.illegal.decided_before"]  # … deciding is not
    await p.admin.send(ButtonPressed(f"sf:to:{p.case_id}:{FIRST}"))
    assert heads(p.admin) == ["staff.illegal.decided_before"]
    await p.first.send(ButtonPressed(f"sf:up:{p.case_id}"))
    assert heads(p.first) == ["staff.illegal.decided_before"]
    assert await status_of(uow_factory, p.case_id) is Status.IN_REVIEW


async def test_who_ruled_on_one_appeal_does_not_rule_on_the_next(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await add_reviewer(uow_factory, clock, THIRD)
    third = ServiceChat(appeal_service, THIRD)
    await uphold(p.first, p.case_id)
    await appeal(p.party, p.case_id, vault)
    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "rv")
    assert await status_of(uow_factory, p.case_id) is Status.REJECTED
    await appeal(p.reporter, p.case_id, vault)
    for staff in (p.first, p.second):
        await take(staff, p.case_id)
        assert heads(staff) == ["staff.illegal.decider"]
    assert await status_of(uow_factory, p.case_id) is Status.APPEALED
    await take(third, p.case_id)
    await rule(third, p.case_id, "rv")
    # The reporter's appeal reversed the reversal: it is reviewed anew, by none of the three.
    assert await status_of(uow_factory, p.case_id) is Status.IN_REVIEW
    for staff in (p.first, p.second, third):  # the last holds the case
        await staff.send(ButtonPressed(f"sf:up:{p.case_id}"))
        assert heads(staff) == ["staff.illegal.decided_before"]
    assert await status_of(uow_factory, p.case_id) is Status.IN_REVIEW


# --- one appeal per side and decision ------------------------------------------------------------


async def test_each_side_appeals_each_decision_once_and_a_ruling_is_final_for_its_side(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await add_reviewer(uow_factory, clock, THIRD)
    third = ServiceChat(appeal_service, THIRD)
    await reject(p.first, p.case_id)
    await appeal(p.reporter, p.case_id, vault)
    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "rv")
    # A new decision after the reversal: the reporter may appeal it, and does.
    await uphold(p.admin, p.case_id, taken=True)
    await appeal(p.party, p.case_id, vault)
    await take(third, p.case_id)
    await rule(third, p.case_id, "cf")
    assert await status_of(uow_factory, p.case_id) is Status.UPHELD
    # The confirmation is final for the party; the reporter has not appealed this decision.
    await p.party.text(f"/appeal {p.case_id}")
    assert heads(p.party) == ["appeal.again"]
    kept = await statements(uow_factory, p.case_id)
    last = {s.audience: s.body["appeal"] for s in kept[-2:]}
    assert last[Audience.PARTY]["why"] == "again"
    assert last[Audience.REPORTER]["open"] is True
    await p.reporter.text(f"/appeal {p.case_id}")
    assert "appeal.intro" in p.reporter.said()


# --- a stake in the case -------------------------------------------------------------------------


async def test_a_reviewer_who_reported_the_case_does_not_take_decide_or_rule_on_it(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    await add_reviewer(uow_factory, clock, FIRST)
    await add_reviewer(uow_factory, clock, SECOND)
    first = ServiceChat(appeal_service, FIRST)
    second = ServiceChat(appeal_service, SECOND)  # a reviewer who reports
    submit = await to_summary(second, vault)
    await second.send(ButtonPressed(submit.data))
    async with uow_factory() as uow:
        (case,) = await uow.cases.list(reporter_id=second.chat.user_ref)
    case_id = case.public_id

    await take(second, case_id)
    assert heads(second) == ["staff.illegal.conflict"]
    await second.text(f"/case {case_id}")
    assert not {"take", "up", "rj", "es"} & offered(second)
    await reject(first, case_id)
    await appeal(second, case_id, vault)
    for verb in ("take", "cf", "rv"):
        await second.send(ButtonPressed(f"sf:{verb}:{case_id}"))
        assert heads(second) == ["staff.illegal.conflict"], verb
    assert await status_of(uow_factory, case_id) is Status.APPEALED
    decision = await decision_of(uow_factory, case_id)
    assert decision["outcome"] == "rejected"


async def test_staff_linked_to_the_account_or_appealing_do_not_decide(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
        assert case is not None
        # The first reviewer is also linked to the reported account.
        await uow.parties.link(
            PartyLink(case.account_key, case.account, p.first.chat.user_ref, clock.now())
        )
        await uow.commit()
    await take(p.first, p.case_id)
    assert heads(p.first) == ["staff.illegal.conflict"]
    await p.admin.send(ButtonPressed(f"sf:to:{p.case_id}:{FIRST}"))
    assert heads(p.admin) == ["staff.illegal.conflict"]
    assert await status_of(uow_factory, p.case_id) is Status.SUBMITTED

    # The second reviewer decides; the linked reviewer appeals as the party, and may not rule.
    await uphold(p.second, p.case_id)
    await appeal(p.first, p.case_id, vault)
    for verb in ("take", "cf", "rv"):
        await p.first.send(ButtonPressed(f"sf:{verb}:{p.case_id}"))
        assert heads(p.first) == ["staff.illegal.conflict"], verb
    await p.first.text(f"/case {p.case_id}")
    assert not {"take", "cf", "rv"} & offered(p.first)
    assert await status_of(uow_factory, p.case_id) is Status.APPEALED


# --- a dialog answers for the case as it was opened on -------------------------------------------


async def test_a_ruling_dialog_opened_on_one_appeal_is_refused_on_the_next(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    await appeal(p.party, p.case_id, vault)
    await take(p.second, p.case_id)
    # The admin opens a reversal on the party's appeal and leaves it there.
    await p.admin.send(ButtonPressed(f"sf:rv:{p.case_id}"))
    await p.admin.text(GROUNDS)
    # Meanwhile that appeal is confirmed, and the reporter appeals the decision.
    await rule(p.second, p.case_id, "cf")
    await appeal(p.reporter, p.case_id, vault)
    assert await status_of(uow_factory, p.case_id) is Status.APPEALED

    await p.admin.click("review.confirm.submit")
    assert heads(p.admin) == ["staff.dialog.stale"]
    decision = await decision_of(uow_factory, p.case_id)
    assert decision["outcome"] == "upheld"
    appeals_made = decision["appeals"]
    assert isinstance(appeals_made, list)
    assert [a["ruling"] for a in appeals_made] == ["confirmed", None]
    assert await status_of(uow_factory, p.case_id) is Status.APPEALED


async def test_a_decision_dialog_is_refused_once_the_case_moved_on(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await take(p.first, p.case_id)
    await p.admin.send(ButtonPressed(f"sf:rj:{p.case_id}"))
    await p.admin.click("review.reason.false_report")
    await p.admin.text("No evidence at all.")
    await p.first.click("staff.button.ask")
    await p.first.text("Which order is this about, and when was it placed?")
    await p.first.click("review.confirm.submit")
    assert await status_of(uow_factory, p.case_id) is Status.AWAITING_INFO
    await p.admin.click("review.confirm.submit")
    assert heads(p.admin) == ["staff.dialog.stale"]
    (stale,) = [m for r in p.admin.last for m in r.say.text]
    assert stale.key == "staff.dialog.stale"
    assert stale.params["status"] == Msg("case.status.awaiting_info")
    assert await status_of(uow_factory, p.case_id) is Status.AWAITING_INFO
    # A note is not a decision: it is kept whatever happened meanwhile.
    await p.admin.send(ButtonPressed(f"sf:nt:{p.case_id}"))
    await p.first.send(ButtonPressed(f"sf:wd:{p.case_id}"))
    await p.admin.text("The reporter asked us to withdraw it by e-mail.")
    await p.admin.click("review.confirm.submit")
    assert "staff.done" in p.admin.said()


# --- the decision's time -------------------------------------------------------------------------


async def test_a_ruling_keeps_the_time_the_case_was_decided(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    decided = clock.now()
    clock.advance(days=3)
    await appeal(p.party, p.case_id, vault)
    clock.advance(days=2)
    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "cf")
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
    assert case is not None
    assert case.status is Status.UPHELD
    assert case.decided_at == decided
    clock.advance(days=1)
    await appeal(p.reporter, p.case_id, vault)
    await take(p.admin, p.case_id)
    await rule(p.admin, p.case_id, "rv")
    async with uow_factory() as uow:
        case = await uow.cases.get(p.case_id)
    assert case is not None
    assert case.status is Status.REJECTED
    assert case.decided_at == decided


# --- the card ------------------------------------------------------------------------------------


async def test_the_card_of_a_case_reversed_on_appeal_names_the_reason(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p = await people(appeal_service, uow_factory, vault, clock)
    await uphold(p.first, p.case_id)
    await appeal(p.party, p.case_id, vault)
    await take(p.second, p.case_id)
    await rule(p.second, p.case_id, "rv")
    await p.admin.text(f"/case {p.case_id}")
    (reason,) = [m for r in p.admin.last for m in r.say.text if m.key == "card.decision.reason"]
    assert reason.params["reason"] == Msg("sor.reason.reversed_on_appeal")


# --- merged reporters ----------------------------------------------------------------------------


async def merged_world(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault, clock: FixedClock
) -> tuple[People, ServiceChat, int]:
    """A second reporter's duplicate merged into the case; how many messages they had then."""
    p = await people(service, uow_factory, vault, clock)
    other = ServiceChat(service, MERGED_REPORTER)
    submit = await to_summary(other, vault)
    await other.send(ButtonPressed(submit.data))
    async with uow_factory() as uow:
        (duplicate,) = await uow.cases.list(reporter_id=other.chat.user_ref)
    await p.admin.text(f"/merge {duplicate.public_id} {p.case_id}")
    assert await status_of(uow_factory, duplicate.public_id) is Status.MERGED
    return p, other, len(await outbox_for(uow_factory, other.chat))


async def test_a_question_goes_to_the_cases_own_reporter_only(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p, other, before = await merged_world(appeal_service, uow_factory, vault, clock)
    await take(p.first, p.case_id)
    await p.first.click("staff.button.ask")
    await p.first.text("test:1001, please send the order page for order 8161234567890123.")
    await p.first.click("review.confirm.submit")
    mine = await outbox_for(uow_factory, p.reporter.chat)
    assert keys(mine[-1])[0] == "notify.awaiting_info"
    assert f"rp:ans:{p.case_id}" in button_data(mine[-1])
    theirs = (await outbox_for(uow_factory, other.chat))[before:]
    assert [k for i in theirs for k in keys(i)] == ["notify.in_review"]
    assert not any(button_data(i) for i in theirs)
    assert not any(re.search(r"(?<!\w)1001(?!\w)", i.payload) for i in theirs)


async def test_each_reporters_statement_hides_the_other_reporters(
    appeal_service: BotService,
    uow_factory: UnitOfWorkFactory,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    p, other, before = await merged_world(appeal_service, uow_factory, vault, clock)
    # Staff write both reporters' ids into the facts.
    facts = f"Reported by test:1001 and by {MERGED_REPORTER}; the carrier has no such parcel."
    await take(p.first, p.case_id)
    await p.first.click("staff.button.uphold")
    await p.first.click("review.measure.warning")
    await p.first.click("review.uphold.measures.done")
    await p.first.click("review.duration.days_30")
    await p.first.text(facts)
    await p.first.click("review.confirm.submit")
    assert "staff.done" in p.first.said()
    kept = {s.recipient: s for s in await statements(uow_factory, p.case_id)}
    own = json.dumps(kept["test:1001"].body)
    merged = json.dumps(kept[f"test:{MERGED_REPORTER}"].body)
    assert not re.search(rf"(?<!\w){MERGED_REPORTER}(?!\w)", own)
    assert not re.search(r"(?<!\w)1001(?!\w)", merged)
    theirs = (await outbox_for(uow_factory, other.chat))[before:]
    assert say_from_json(theirs[-1].payload).text[0].key == "sor.upheld.reporter"
    for item in theirs:
        assert not re.search(r"(?<!\w)1001(?!\w)", item.payload), item.payload
