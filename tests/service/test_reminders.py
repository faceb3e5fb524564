""" "Still under review" reminders: a case waiting on staff for the configured time gets its
reporter a message, again every interval, until the reporter is awaited or the case is decided.
The deadlines are rows, so a restart neither loses nor repeats a reminder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from disputebot.cases.records import Status
from disputebot.config import Settings
from disputebot.engine.context import Policies
from disputebot.engine.effects import say_from_json
from disputebot.engine.events import ButtonPressed
from disputebot.engine.prompts import when
from disputebot.engine.spec import FlowBook
from disputebot.ports import ChatKey, OutboxItem, UnitOfWork, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.reminders import REMINDER_KIND, fire_due
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.service.driver import CommitCrashes, Crash, ServiceChat, service_for
from tests.service.test_review_flow import file_case, keys, outbox_for
from tests.support import T0, FixedClock, png_bytes

ADMIN = 1
INTERVAL = timedelta(hours=72)
REMINDER = "notify.still_reviewing"


def make_service(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    reminder_after: timedelta | None = INTERVAL,
) -> BotService:
    return service_for(
        uow_factory,
        book,
        policies,
        clock,
        admins=frozenset({ADMIN}),
        reminder_after=reminder_after,
    )


@pytest.fixture
def service(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> BotService:
    return make_service(uow_factory, book, policies, clock)


async def fire(uow_factory: UnitOfWorkFactory, clock: FixedClock) -> int:
    return await fire_due(uow_factory, clock, interval=INTERVAL, default_locale="en")


async def reminders(uow_factory: UnitOfWorkFactory, chat: ChatKey) -> list[OutboxItem]:
    return [i for i in await outbox_for(uow_factory, chat) if keys(i)[0] == REMINDER]


async def staff_act(admin: ServiceChat, case_id: str, button: str, *answers: str) -> None:
    """Open the card, press ``button``; for a dialog, answer and submit."""
    await admin.text(f"/case {case_id}")
    await admin.click(button)
    for answer in answers:
        if answer.startswith("review."):
            await admin.click(answer)
        else:
            await admin.text(answer)
    if answers:
        await admin.click("review.confirm.submit")
    assert "staff.done" in admin.said(), admin.said()


async def pending(uow_factory: UnitOfWorkFactory, case_id: str) -> list[datetime]:
    """When the case's pending reminder is due (a claim that is never committed)."""
    async with uow_factory() as uow:
        found = await uow.deadlines.claim_due(datetime.max.replace(tzinfo=UTC), 1000)
    return [d.due_at for d in found if d.case_id == case_id and d.kind == REMINDER_KIND]


async def status_of(uow_factory: UnitOfWorkFactory, case_id: str) -> Status:
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    return case.status


async def answer_question(
    reporter: ServiceChat, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    """The reporter answers the reviewer's question from the notification's button."""
    news = await outbox_for(uow_factory, reporter.chat)
    (asked,) = [i for i in news if keys(i)[0] == "notify.awaiting_info"]
    await reporter.send(ButtonPressed(say_from_json(asked.payload).buttons[0][0].data))
    await reporter.text("The carrier's page says the number does not exist; screenshot attached.")
    await reporter.files(await vault.keep_bytes(png_bytes(9), "tracking.png"))
    await reporter.click("info.files.done")
    await reporter.click("info.submit")


async def test_a_reminder_fires_after_the_interval_and_not_before(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    reporter = ServiceChat(service, 1001, language_code="zh-CN")
    case_id = await file_case(reporter, vault, uow_factory)
    filed_at = clock.now()

    clock.advance(hours=72, seconds=-1)
    assert await fire(uow_factory, clock) == 0
    assert await reminders(uow_factory, reporter.chat) == []

    clock.advance(seconds=1)
    assert await fire(uow_factory, clock) == 1
    (item,) = await reminders(uow_factory, reporter.chat)
    (text,) = say_from_json(item.payload).text
    assert dict(text.params) == {"case_id": case_id, "filed": when(filed_at)}
    assert (item.locale, item.case_id, item.created_at) == ("zh_Hans", case_id, clock.now())


async def test_it_repeats_every_interval_while_the_case_waits(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    reporter = ServiceChat(service, 1001)
    await file_case(reporter, vault, uow_factory)
    fired = []
    for _ in range(3):
        clock.advance(hours=72)
        fired.append(await fire(uow_factory, clock))
        clock.advance(hours=1)
        fired.append(await fire(uow_factory, clock))
        clock.advance(hours=-1)
    assert fired == [1, 0, 1, 0, 1, 0]
    assert len(await reminders(uow_factory, reporter.chat)) == 3


async def test_asking_the_reporter_cancels_it_and_their_answer_restarts_it(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    reporter = ServiceChat(service, 1001)
    admin = ServiceChat(service, ADMIN)
    case_id = await file_case(reporter, vault, uow_factory)

    clock.advance(hours=1)
    await staff_act(admin, case_id, "staff.button.take")  # restarts the clock
    clock.advance(hours=71)
    assert await fire(uow_factory, clock) == 0  # 72 h after filing, 71 h after taking
    clock.advance(hours=1)
    assert await fire(uow_factory, clock) == 1

    await staff_act(admin, case_id, "staff.button.ask", "Which carrier was it?")
    assert await status_of(uow_factory, case_id) is Status.AWAITING_INFO
    assert await pending(uow_factory, case_id) == []
    clock.advance(days=30)
    assert await fire(uow_factory, clock) == 0  # the reporter is the one awaited

    await answer_question(reporter, uow_factory, vault)
    assert await status_of(uow_factory, case_id) is Status.IN_REVIEW
    assert await pending(uow_factory, case_id) == [clock.now() + INTERVAL]
    clock.advance(hours=72, seconds=-1)
    assert await fire(uow_factory, clock) == 0
    clock.advance(seconds=1)
    assert await fire(uow_factory, clock) == 1
    assert len(await reminders(uow_factory, reporter.chat)) == 2


@pytest.mark.parametrize(
    ("button", "answers", "status"),
    [
        ("staff.button.reject", ("review.reason.duplicate", "Filed twice."), Status.REJECTED),
        ("staff.button.withdraw", (), Status.WITHDRAWN),
    ],
)
async def test_a_decision_cancels_it(
    service: BotService,
    vault: EvidenceVault,
    *,
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
    button: str,
    answers: tuple[str, ...],
    status: Status,
) -> None:
    reporter = ServiceChat(service, 1001)
    admin = ServiceChat(service, ADMIN)
    case_id = await file_case(reporter, vault, uow_factory)
    if button == "staff.button.reject":
        await staff_act(admin, case_id, "staff.button.take")
    clock.advance(hours=2)
    await staff_act(admin, case_id, button, *answers)
    assert await status_of(uow_factory, case_id) is status
    assert await pending(uow_factory, case_id) == []

    clock.advance(days=365)
    assert await fire(uow_factory, clock) == 0
    assert await reminders(uow_factory, reporter.chat) == []


async def test_escalation_restarts_it_and_reopening_starts_it_again(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    reporter = ServiceChat(service, 1001)
    admin = ServiceChat(service, ADMIN)
    case_id = await file_case(reporter, vault, uow_factory)
    await staff_act(admin, case_id, "staff.button.take")
    clock.advance(hours=10)
    await staff_act(admin, case_id, "staff.button.escalate", "review.department.legal", "Docs.")
    assert await status_of(uow_factory, case_id) is Status.ESCALATED
    clock.advance(hours=71)
    assert await fire(uow_factory, clock) == 0
    clock.advance(hours=1)
    assert await fire(uow_factory, clock) == 1

    await staff_act(admin, case_id, "staff.button.take")
    await staff_act(admin, case_id, "staff.button.reject", "review.reason.duplicate", "Twice.")
    clock.advance(days=10)
    assert await fire(uow_factory, clock) == 0
    await staff_act(admin, case_id, "staff.button.reopen")
    assert await status_of(uow_factory, case_id) is Status.IN_REVIEW
    clock.advance(hours=72)
    assert await fire(uow_factory, clock) == 1
    assert len(await reminders(uow_factory, reporter.chat)) == 2


async def test_without_an_interval_nothing_is_scheduled(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    vault: EvidenceVault,
) -> None:
    quiet = make_service(uow_factory, book, policies, clock, reminder_after=timedelta(0))
    reporter = ServiceChat(quiet, 1001)
    await file_case(reporter, vault, uow_factory)
    clock.advance(days=30)
    async with uow_factory() as uow:
        assert await uow.deadlines.claim_due(clock.now(), 10) == []


async def test_turning_reminders_off_drains_pending_deadlines_silently(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    reporter, other = ServiceChat(service, 1001), ServiceChat(service, 1002)
    first = await file_case(reporter, vault, uow_factory)
    clock.advance(hours=1)
    second = await file_case(other, vault, uow_factory)
    clock.advance(hours=71)
    assert await fire_due(uow_factory, clock, interval=None, default_locale="en") == 0
    assert await pending(uow_factory, first) == []
    assert await pending(uow_factory, second) == [clock.now() + timedelta(hours=1)]
    clock.advance(hours=1)
    assert await fire_due(uow_factory, clock, interval=timedelta(0), default_locale="en") == 0
    assert await pending(uow_factory, second) == []
    assert await reminders(uow_factory, reporter.chat) == []
    assert await reminders(uow_factory, other.chat) == []


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_setting_gives_the_interval_and_zero_turns_it_off() -> None:
    assert settings().review_reminder_after == INTERVAL
    assert settings(review_reminder_hours=0.5).review_reminder_after == timedelta(minutes=30)
    assert settings(review_reminder_hours=0).review_reminder_after is None
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        settings(review_reminder_hours=-1)


class CrashOnce:
    """A factory whose first unit of work crashes at ``commit()``; the rest are the real ones."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self._inner = inner
        self.crashed = False

    def __call__(self) -> UnitOfWork:
        if self.crashed:
            return self._inner()
        self.crashed = True
        return cast("UnitOfWork", CommitCrashes(self._inner()))


async def test_a_crash_before_commit_neither_loses_nor_repeats_the_reminder(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    reporter = ServiceChat(service, 1001)
    await file_case(reporter, vault, uow_factory)
    clock.advance(hours=72)
    crashing = CrashOnce(uow_factory)

    with pytest.raises(Crash):
        await fire(cast("UnitOfWorkFactory", crashing), clock)
    assert await reminders(uow_factory, reporter.chat) == []  # the message went with the crash

    clock.advance(minutes=1)  # the restarted worker's next tick
    assert await fire(cast("UnitOfWorkFactory", crashing), clock) == 1
    assert await fire(uow_factory, clock) == 0  # the same moment again: already done
    assert len(await reminders(uow_factory, reporter.chat)) == 1
    # And the next one is due an interval after the one that went out.
    clock.advance(hours=72, seconds=-1)
    assert await fire(uow_factory, clock) == 0
    clock.advance(seconds=1)
    assert await fire(uow_factory, clock) == 1


async def test_firing_twice_at_once_writes_one_message(
    service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory, clock: FixedClock
) -> None:
    reporter = ServiceChat(service, 1001)
    other = ServiceChat(service, 1002)
    await file_case(reporter, vault, uow_factory)
    await file_case(other, vault, uow_factory)
    clock.advance(hours=72)

    # Two workers at the same moment: each due reminder is written by exactly one of them.
    counts = await asyncio.gather(fire(uow_factory, clock), fire(uow_factory, clock))
    assert sum(counts) == 2
    assert await fire(uow_factory, clock) == 0
    assert len(await reminders(uow_factory, reporter.chat)) == 1
    assert len(await reminders(uow_factory, other.chat)) == 1


async def test_a_pending_reminder_survives_a_restart_on_sqlite(
    tmp_path: Path, book: FlowBook, policies: Policies, vault: EvidenceVault
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await migrate.upgrade(url)
    clock = FixedClock(T0)

    async def run(step: Any) -> Any:
        """One process lifetime: a fresh engine, factory and service on the same file."""
        engine = create_engine(url)
        try:
            factory = SqlUnitOfWorkFactory(make_session_factory(engine))
            return await step(factory, make_service(factory, book, policies, clock))
        finally:
            await engine.dispose()

    async def file(factory: UnitOfWorkFactory, service: BotService) -> str:
        return await file_case(ServiceChat(service, 1001), vault, factory)

    async def fire_now(factory: UnitOfWorkFactory, service: BotService) -> int:
        return await fire(factory, clock)

    async def told(factory: UnitOfWorkFactory, service: BotService) -> list[OutboxItem]:
        return await reminders(factory, ChatKey("test", 1001))

    case_id = await run(file)
    clock.advance(hours=72)
    assert await run(fire_now) == 1  # after a restart: not lost
    assert await run(fire_now) == 0  # after another: not repeated
    (item,) = await run(told)
    assert item.case_id == case_id


async def test_the_reminder_loop_fires_what_is_due_and_stops_when_told(
    service: BotService,
    vault: EvidenceVault,
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
) -> None:
    from disputebot.service.reminders import run_reminders  # noqa: PLC0415

    reporter = ServiceChat(service, 1001)
    await file_case(reporter, vault, uow_factory)
    clock.advance(hours=73)
    stop = asyncio.Event()
    loop = asyncio.create_task(
        run_reminders(
            uow_factory, clock, stop, interval=INTERVAL, default_locale="en", poll_seconds=0.01
        )
    )
    for _ in range(500):
        news = [keys(i)[0] for i in await outbox_for(uow_factory, reporter.chat)]
        if REMINDER in news:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, 10)
    news = [keys(i)[0] for i in await outbox_for(uow_factory, reporter.chat)]
    assert news.count(REMINDER) == 1
