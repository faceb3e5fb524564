"""Case events for the marketplace's webhook: written to the outbox with the change they report,
naming the account and the decision but never the reporter."""

from __future__ import annotations

import json

from disputebot.engine.context import Policies
from disputebot.engine.events import ButtonPressed
from disputebot.engine.spec import FlowBook
from disputebot.ports import WEBHOOK_CHAT, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from tests.service.driver import ServiceChat, service_for, to_summary
from tests.support import FixedClock

ADMIN = 1


def service_with(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    *,
    events: bool,
) -> BotService:
    return service_for(
        uow_factory, book, policies, clock, admins=frozenset({ADMIN}), platform_events=events
    )


async def events_in(uow_factory: UnitOfWorkFactory) -> list[dict[str, object]]:
    async with uow_factory() as uow:
        items = await uow.outbox.list(limit=1000)
    return [
        json.loads(i.payload) for i in sorted(items, key=lambda i: i.id) if i.chat == WEBHOOK_CHAT
    ]


async def review(service: BotService, vault: EvidenceVault) -> None:
    reporter = ServiceChat(service, 1001)
    admin = ServiceChat(service, ADMIN)
    submit = await to_summary(reporter, vault)
    await reporter.send(ButtonPressed(submit.data))
    await admin.text("/queue")
    await admin.click("staff.button.open")
    await admin.click("staff.button.take")
    await admin.click("staff.button.note")
    await admin.text("Checked the carrier: the number is unknown to them.")
    await admin.click("review.confirm.submit")
    await admin.click("staff.button.uphold")
    await admin.click("review.measure.remove_products")
    await admin.click("review.measure.warning")
    await admin.click("review.uphold.measures.done")
    await admin.click("review.duration.days_90")
    await admin.click("review.note_for_reporter.skip")
    await admin.click("review.confirm.submit")


async def test_every_change_but_a_note_is_an_event_without_the_reporter(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    vault: EvidenceVault,
) -> None:
    await review(service_with(uow_factory, book, policies, clock, events=True), vault)
    events = await events_in(uow_factory)
    assert [e["type"] for e in events] == ["case.filed", "case.take", "case.uphold"]
    upheld = events[-1]
    assert upheld["status"] == "upheld"
    assert upheld["previous_status"] == "in_review"
    assert upheld["decision"] == {
        "outcome": "upheld",
        "measures": ["remove_products", "warning"],
        "duration": "days_90",
        "note": "",
        # Staff are named (an appeal must go to someone else), the reporter never is.
        "decided_by": f"test:{ADMIN}",
        "decided_at": clock.now().isoformat(),
    }
    assert upheld["account_key"] == events[0]["account_key"]
    assert len({e["event_id"] for e in events}) == len(events)
    for event in events:
        assert "1001" not in json.dumps(event), "the reporter must not be named"


async def test_no_events_without_a_platform_webhook(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    vault: EvidenceVault,
) -> None:
    await review(service_with(uow_factory, book, policies, clock, events=False), vault)
    assert await events_in(uow_factory) == []
