"""What the service and the outbox drain count: updates by outcome, filed reports, deliveries."""

from __future__ import annotations

import asyncio

import pytest

from disputebot.delivery.drain import drain_once
from disputebot.engine.context import Policies
from disputebot.engine.effects import Msg, Say
from disputebot.engine.events import ButtonPressed, text_event
from disputebot.engine.spec import FlowBook
from disputebot.errors import DeliveryError
from disputebot.i18n.negotiate import negotiate
from disputebot.metrics import Metrics
from disputebot.ports import ChatKey, OutboxItem, UnitOfWork, UnitOfWorkFactory
from disputebot.service.bot import BotService, LocaleChoice
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Inbound
from tests.service.driver import ServiceChat, to_summary
from tests.service.test_bot import file_report
from tests.support import FixedClock

LOCALES = LocaleChoice(available=("en", "zh_Hans"), default="en", negotiate=negotiate)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def counted(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    metrics: Metrics,
) -> BotService:
    return BotService(uow_factory, book, policies, clock=clock, locales=LOCALES, metrics=metrics)


async def test_updates_are_counted_and_timed_by_outcome(
    counted: BotService, metrics: Metrics, vault: EvidenceVault
) -> None:
    chat = ServiceChat(counted)
    await chat.text("/help", event_id="1")
    await chat.text("/help", event_id="1")  # Telegram handing the same update out again
    await chat.text("/tips", event_id="2")
    await file_report(chat, vault)
    applied = sample(metrics, "disputebot_updates_total", channel="test", outcome="applied")
    assert applied == 2 + 7  # file_report sends seven events
    assert sample(metrics, "disputebot_updates_total", channel="test", outcome="duplicate") == 1
    assert sample(metrics, "disputebot_update_seconds_count", channel="test") == applied + 1
    assert sample(metrics, "disputebot_update_seconds_sum", channel="test") > 0
    assert sample(metrics, "disputebot_reports_filed_total", channel="test") == 1


async def test_a_failing_update_counts_as_an_error(
    book: FlowBook, policies: Policies, clock: FixedClock, metrics: Metrics
) -> None:
    def no_database() -> UnitOfWork:
        raise ConnectionError("database is down")

    service = BotService(
        no_database, book, policies, clock=clock, locales=LOCALES, metrics=metrics
    )
    with pytest.raises(ConnectionError):
        await service.handle(Inbound(ChatKey("test", 1), text_event("/help"), "9", "en"))
    assert sample(metrics, "disputebot_updates_total", channel="test", outcome="error") == 1
    assert sample(metrics, "disputebot_update_seconds_count", channel="test") == 1


async def test_a_double_tapped_submit_counts_one_report(
    counted: BotService, metrics: Metrics, vault: EvidenceVault
) -> None:
    chat = ServiceChat(counted)
    submit = await to_summary(chat, vault)
    await asyncio.gather(
        *(counted.handle(Inbound(chat.chat, ButtonPressed(submit.data), f"t{i}")) for i in "ab")
    )
    # Where the losing tap got as far as filing before its commit failed, that case was
    # rolled back: only committed cases count.
    assert sample(metrics, "disputebot_reports_filed_total", channel="test") == 1


async def test_drain_counts_each_delivery_result(
    uow_factory: UnitOfWorkFactory, clock: FixedClock, metrics: Metrics
) -> None:
    chats = {name: ChatKey("test", n) for n, name in enumerate(("ok", "slow", "blocked"))}
    async with uow_factory() as uow:
        for chat in chats.values():
            await uow.outbox.put(chat, Say((Msg("hello"),)), "en", now=clock.now())
        await uow.commit()

    async def send(item: OutboxItem) -> None:
        if item.chat == chats["slow"]:
            raise DeliveryError("429", retryable=True, retry_after=3)
        if item.chat == chats["blocked"]:
            raise DeliveryError("403: blocked", retryable=False)

    assert await drain_once(uow_factory, send, clock, metrics=metrics) == 1
    for result in ("sent", "retry", "dead"):
        assert sample(metrics, "disputebot_deliveries_total", channel="test", result=result) == 1
    async with uow_factory() as uow:
        assert await uow.outbox.backlog(clock.now()) == (1, 0.0)
    # Without metrics nothing is counted, and nothing breaks.
    clock.advance(seconds=3)
    assert await drain_once(uow_factory, send, clock) == 0
    assert sample(metrics, "disputebot_deliveries_total", channel="test", result="retry") == 1
