"""Reporter standing through the service (DSA Art. 23): a reporter whose reports are rejected
as manifestly unfounded is proposed for a warning and then a suspension on the case card, and
nothing reaches them until someone on staff confirms each step; a suspension refuses ``/report``
with its end date until it ends or is lifted, and can be appealed with ``/appeal suspension``."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from disputebot.cases.lifecycle import ActorRole
from disputebot.cases.records import StandingEvent, StandingKind, Status
from disputebot.engine.effects import Button, Msg, say_from_json
from disputebot.engine.events import ButtonPressed
from disputebot.engine.prompts import when
from disputebot.ports import ConflictError, OutboxItem, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Reply
from disputebot.service.review import Actor
from disputebot.service.standing import StandingDesk
from tests.databases import postgres_param
from tests.service.driver import ServiceChat, to_summary
from tests.service.test_authorization import (
    ADMIN,
    OUTSIDER,
    REPORTER,
    REVIEWER,
    STAFF_GROUP,
    World,
    chat_of,
    keys,
    press_in_group,
    ref,
)
from tests.support import T0, FixedClock

SUSPENSION = timedelta(days=30)  # the default of ``StandingRules``


async def unfounded(world: World, count: int, *, first: int = 0) -> list[str]:
    """``count`` reports by REPORTER rejected as false, against different stores, a day apart
    and before T0 (so the false-report cooldown is not what refuses anything later)."""
    return [
        await world.case(
            Status.REJECTED,
            reason="false_report",
            store_id=f"22000000{first + n:02d}",
            at=T0 - timedelta(days=40 - first - n),
        )
        for n in range(count)
    ]


def standing_news(items: list[OutboxItem]) -> list[Msg]:
    return [
        m for i in items for m in say_from_json(i.payload).text if m.key.startswith("standing.")
    ]


async def history(world: World) -> list[StandingEvent]:
    async with world.uow_factory() as uow:
        return await uow.standing.history(ref(REPORTER))


def buttons(replies: list[Reply]) -> list[Button]:
    return [b for r in replies for row in r.say.buttons for b in row]


def param(replies: list[Reply], key: str, name: str) -> object:
    (value,) = [m.params[name] for r in replies for m in r.say.text if m.key == key]
    return value


async def test_a_warning_and_a_suspension_wait_for_staff_and_suspension_refuses_reports(
    desk_service: BotService, world: World, clock: FixedClock
) -> None:
    reviewer = ServiceChat(desk_service, REVIEWER)
    admin = ServiceChat(desk_service, ADMIN)
    reporter = ServiceChat(desk_service, REPORTER)
    first = await unfounded(world, 3)

    # Three rejections as false: a warning is proposed on the card, nothing is sent yet.
    assert standing_news(await world.outbox(chat_of(REPORTER))) == []
    await reviewer.text(f"/case {first[-1]}")
    assert "standing.propose.warn" in reviewer.said()
    assert param(reviewer.last, "standing.line", "unfounded") == 3
    assert standing_news(await world.outbox(chat_of(REPORTER))) == []
    assert await history(world) == []

    await reviewer.click("standing.button.warn")
    assert "standing.done.warn" in reviewer.said()
    (warning,) = standing_news(await world.outbox(chat_of(REPORTER)))
    assert warning.key == "standing.notify.warned_until"
    assert warning.params["count"] == 3
    # When a suspension taken now would end: a date, never "0 days".
    assert warning.params["until"] == when(T0 + SUSPENSION)
    assert set(str(warning.params["cases"]).split(", ")) == set(first)
    assert warning.params["more"] == 2
    (warned,) = await history(world)
    assert (warned.kind, warned.actor, warned.unfounded_at) == (
        StandingKind.WARN,
        ref(REVIEWER),
        3,
    )
    assert set(warned.cases) == set(first)

    # Two more: a suspension is proposed, and again nothing happens until staff confirm.
    more = await unfounded(world, 2, first=3)
    await reporter.text("/report")  # no step is automatic: reporting still works
    assert reporter.step == "category"
    await reporter.text("/cancel")
    await reporter.click("engine.cancel.yes")
    await admin.text(f"/case {more[-1]}")
    assert "standing.propose.suspend" in admin.said()
    assert param(admin.last, "standing.line", "state") == Msg(
        "standing.state.warned", {"at": when(T0)}
    )
    assert len(standing_news(await world.outbox(chat_of(REPORTER)))) == 1

    await admin.click("standing.button.suspend")
    until = T0 + SUSPENSION
    assert "standing.done.suspend" in admin.said()
    news = standing_news(await world.outbox(chat_of(REPORTER)))
    assert [m.key for m in news] == ["standing.notify.warned_until", "standing.notify.suspended"]
    assert news[1].params["until"] == when(until)
    assert set(str(news[1].params["cases"]).split(", ")) == {*first, *more}
    suspended = (await history(world))[-1]
    assert (suspended.kind, suspended.until, suspended.unfounded_at) == (
        StandingKind.SUSPEND,
        until,
        5,
    )

    # /report is refused with the end date (the text names the appeal route).
    await reporter.text("/report")
    assert reporter.said() == ["policy.abuse.suspended"]
    assert param(reporter.last, "policy.abuse.suspended", "until") == when(until)
    async with world.uow_factory() as uow:
        assert await uow.sessions.get(chat_of(REPORTER)) is None

    # The card shows the suspension and offers to lift it; no new proposal while it runs.
    await admin.text(f"/case {more[-1]}")
    assert "standing.propose.suspend" not in admin.said()
    assert [b.label.key for b in buttons(admin.last) if b.data.startswith("sf:st")] == [
        "standing.button.lift"
    ]

    # Once the suspension has ended, reporting works again.
    clock.advance(days=30, seconds=1)
    await reporter.text("/report")
    assert "policy.abuse.suspended" not in reporter.said()
    assert reporter.step == "category"


async def test_a_draft_begun_before_the_suspension_is_refused_at_submit(
    desk_service: BotService,
    world: World,
    vault: EvidenceVault,
    clock: FixedClock,
) -> None:
    admin = ServiceChat(desk_service, ADMIN)
    reporter = ServiceChat(desk_service, REPORTER)
    cases = await unfounded(world, 5)
    submit = await to_summary(reporter, vault)
    await admin.text(f"/case {cases[0]}")
    await admin.click("standing.button.warn")
    await admin.text(f"/case {cases[0]}")
    # The warning was confirmed at five: two more are needed before a suspension.
    assert "standing.button.suspend" not in [b.label.key for b in buttons(admin.last)]
    more = await unfounded(world, 2, first=5)
    await admin.text(f"/case {more[0]}")
    await admin.click("standing.button.suspend")

    await reporter.send(ButtonPressed(submit.data))

    assert "policy.abuse.suspended" in reporter.said()
    async with world.uow_factory() as uow:
        assert len(await uow.cases.list(reporter_id=ref(REPORTER))) == 7


async def test_lifting_a_suspension_lets_the_reporter_report_again(
    desk_service: BotService, world: World
) -> None:
    reviewer = ServiceChat(desk_service, REVIEWER)
    reporter = ServiceChat(desk_service, REPORTER)
    await reporter.text("/language zh_Hans")
    cases = await unfounded(world, 5)
    await reviewer.text(f"/case {cases[0]}")
    await reviewer.click("standing.button.warn")
    await reviewer.text(f"/case {cases[0]}")
    # Confirmed at five unfounded, the warning needs two more for a suspension: none yet.
    assert "standing.propose.suspend" not in reviewer.said()
    more = await unfounded(world, 2, first=5)
    await reviewer.text(f"/case {more[1]}")
    await reviewer.click("standing.button.suspend")
    await reporter.text("/report")
    assert reporter.said() == ["policy.abuse.suspended"]

    await reviewer.text(f"/case {more[1]}")
    await reviewer.click("standing.button.lift")

    assert "standing.done.lift" in reviewer.said()
    items = await world.outbox(chat_of(REPORTER))
    lifted = [i for i in items if "standing.notify.lifted" in keys([say_from_json(i.payload)])]
    assert len(lifted) == 1
    assert lifted[0].locale == "zh_Hans"
    assert [e.kind for e in await history(world)] == [
        StandingKind.WARN,
        StandingKind.SUSPEND,
        StandingKind.LIFT,
    ]
    await reporter.text("/report")
    assert reporter.step == "category"


async def test_a_stale_proposal_does_nothing(desk_service: BotService, world: World) -> None:
    reviewer = ServiceChat(desk_service, REVIEWER)
    admin = ServiceChat(desk_service, ADMIN)
    cases = await unfounded(world, 3)
    await reviewer.text(f"/case {cases[0]}")
    stale_card = reviewer.buttons()
    await admin.text(f"/case {cases[1]}")
    await admin.click("standing.button.warn")

    (warn,) = [b for b in stale_card if b.label.key == "standing.button.warn"]
    replies = await reviewer.send(ButtonPressed(warn.data))

    assert keys(replies) == ["standing.stale"]
    assert [e.kind for e in await history(world)] == [StandingKind.WARN]
    news = standing_news(await world.outbox(chat_of(REPORTER)))
    assert [m.key for m in news] == ["standing.notify.warned_until"]
    # Lifting a suspension that is not running is stale too.
    replies = await reviewer.send(ButtonPressed(f"sf:stl:{cases[0]}"))
    assert keys(replies) == ["standing.stale"]
    assert len(await history(world)) == 1


@pytest.mark.parametrize("who", [OUTSIDER, REPORTER])
async def test_someone_not_on_staff_cannot_confirm_a_step(
    desk_service: BotService, world: World, who: int
) -> None:
    cases = await unfounded(world, 3)
    chat = ServiceChat(desk_service, who)
    before = await world.outbox()

    for verb in ("stw", "sts", "stl"):
        replies = await chat.send(ButtonPressed(f"sf:{verb}:{cases[0]}"))
        assert keys(replies) == ["engine.stale_button"]
    unknown = keys(await chat.text("/nosuchcommand"))
    replies = await chat.text(f"/standing {REPORTER}")
    assert keys(replies) == unknown  # as for any unknown command

    assert await history(world) == []
    assert await world.outbox() == before


async def test_the_standing_command_shows_the_summary_and_history_and_lifts(
    desk_service: BotService, world: World
) -> None:
    reviewer = ServiceChat(desk_service, REVIEWER)
    cases = await unfounded(world, 3)

    await reviewer.text(f"/standing {REPORTER}")
    assert keys(reviewer.last)[:2] == ["standing.title", "standing.propose.warn"]
    assert "standing.history.none" in reviewer.said()
    await reviewer.click("standing.button.warn")
    assert "standing.done.warn" in reviewer.said()

    for who in (ref(REPORTER), cases[1]):  # a reference, or one of their cases
        await reviewer.text(f"/standing {who}")
        assert param(reviewer.last, "standing.title", "reporter") == ref(REPORTER)
        assert param(reviewer.last, "standing.history", "count") == 1
        line = param(reviewer.last, "standing.history.line", "kind")
        assert line == Msg("standing.kind.warn")

    await reviewer.text(f"/standing {REPORTER} lift")
    assert keys(reviewer.last) == ["standing.stale"]
    for bad in ("", "someone", f"{REPORTER} warn", f"{REPORTER} lift now"):
        await reviewer.text(f"/standing {bad}".strip())
        assert keys(reviewer.last) == ["standing.usage"], bad
    assert len(await history(world)) == 1


async def suspend(world: World, service: BotService) -> list[str]:
    admin = ServiceChat(service, ADMIN)
    cases = await unfounded(world, 5)
    async with world.uow_factory() as uow:
        await uow.standing.record(
            StandingEvent(ref(REPORTER), StandingKind.WARN, T0 - timedelta(days=1), ref(ADMIN), 3)
        )
        await uow.commit()
    await admin.text(f"/case {cases[0]}")
    await admin.click("standing.button.suspend")
    assert "standing.done.suspend" in admin.said()
    return cases


async def test_a_suspension_can_be_appealed_once_and_staff_can_lift_it_from_the_alert(
    desk_service: BotService, world: World
) -> None:
    reporter = ServiceChat(desk_service, REPORTER)
    await reporter.text("/appeal")
    assert keys(reporter.last) == ["standing.appeal.nothing"]
    assert await history(world) == []

    cases = await suspend(world, desk_service)
    await reporter.text("/appeal suspension")
    assert "standing.appeal.reason.prompt" in reporter.said()
    await reporter.text(
        "Two of those reports were about real fake tracking numbers; the carrier confirms."
    )
    await reporter.click("standing.appeal.submit")

    assert "standing.appeal.received" in reporter.said()
    appeal = (await history(world))[-1]
    assert appeal.kind is StandingKind.APPEAL
    assert appeal.actor == ref(REPORTER)
    assert appeal.note.startswith("Two of those reports")
    (alert,) = [
        say_from_json(i.payload)
        for i in await world.outbox(chat_of(STAFF_GROUP))
        if say_from_json(i.payload).text[0].key == "standing.appeal.staff"
    ]
    assert alert.text[0].params["reporter"] == ref(REPORTER)
    lift = alert.buttons[0][0]
    assert lift.data == f"sf:stl:{cases[-1]}"

    # A second appeal against the same suspension is not taken.
    await reporter.text("/appeal")
    assert keys(reporter.last) == ["standing.appeal.already"]

    # Someone not on staff pressing the alert's button in the group changes nothing.
    assert await press_in_group(desk_service, STAFF_GROUP, OUTSIDER, lift.data) == []
    assert (await history(world))[-1].kind is StandingKind.APPEAL
    await press_in_group(desk_service, STAFF_GROUP, REVIEWER, lift.data)
    assert (await history(world))[-1].kind is StandingKind.LIFT
    news = standing_news(await world.outbox(chat_of(REPORTER)))
    assert news[-1].key == "standing.notify.lifted"
    done = [say_from_json(i.payload).text[0].key for i in await world.outbox(chat_of(REVIEWER))]
    assert "standing.done.lift" in done

    await reporter.text("/appeal suspension")
    assert keys(reporter.last) == ["standing.appeal.nothing"]


async def test_an_appeal_begun_before_the_suspension_ended_is_not_sent_after(
    desk_service: BotService, world: World, clock: FixedClock
) -> None:
    reporter = ServiceChat(desk_service, REPORTER)
    await suspend(world, desk_service)
    await reporter.text("/appeal")
    await reporter.text("I only reported what the carrier's page showed at the time.")
    clock.advance(days=31)

    await reporter.click("standing.appeal.submit")

    assert "standing.appeal.nothing" in reporter.said()
    assert (await history(world))[-1].kind is StandingKind.SUSPEND


async def test_an_appeal_against_a_decision_is_not_taken_for_a_suspension_appeal(
    desk_service: BotService, world: World
) -> None:
    reporter = ServiceChat(desk_service, REPORTER)
    await suspend(world, desk_service)

    await reporter.text("/appeal DR-00000000")

    assert "standing.appeal.reason.prompt" not in reporter.said()
    assert (await history(world))[-1].kind is StandingKind.SUSPEND


async def test_staff_take_no_step_on_their_own_standing(
    desk_service: BotService, world: World
) -> None:
    # A reviewer who also reports, suspended for reports rejected as manifestly unfounded.
    async def rejected(n: int) -> str:
        return await world.case(
            Status.REJECTED,
            reporter=REVIEWER,
            reason="false_report",
            store_id=f"22000000{n:02d}",
            at=T0 - timedelta(days=40 - n),
        )

    cases = [await rejected(n) for n in range(3)]
    admin = ServiceChat(desk_service, ADMIN)
    await admin.text(f"/standing {REVIEWER}")
    await admin.click("standing.button.warn")
    cases += [await rejected(n) for n in range(3, 5)]
    await admin.text(f"/standing {REVIEWER}")
    await admin.click("standing.button.suspend")
    assert "standing.done.suspend" in admin.said()

    async def steps() -> list[StandingKind]:
        async with world.uow_factory() as uow:
            return [e.kind for e in await uow.standing.history(ref(REVIEWER))]

    reviewer = ServiceChat(desk_service, REVIEWER)
    for attempt in (f"/standing {REVIEWER} lift", f"/standing {cases[0]} lift"):
        assert keys(await reviewer.text(attempt)) == ["standing.own"], attempt
    replies = await reviewer.send(ButtonPressed(f"sf:stl:{cases[-1]}"))
    assert keys(replies) == ["standing.own"]
    assert await steps() == [StandingKind.WARN, StandingKind.SUSPEND]

    # Another member of staff may.
    await admin.text(f"/standing {REVIEWER} lift")
    assert keys(admin.last) == ["standing.done.lift"]
    assert await steps() == [StandingKind.WARN, StandingKind.SUSPEND, StandingKind.LIFT]


def _session_of(uow: object) -> AsyncSession:
    return cast("AsyncSession", uow.cases._session)  # type: ignore[attr-defined]


async def _wait_until_blocked(uow_factory: UnitOfWorkFactory, pid: int) -> None:
    """Wait until the backend ``pid`` waits for a lock (polled; the count only keeps a broken
    test from hanging)."""
    for _ in range(1000):
        async with uow_factory() as uow:
            waiting = await _session_of(uow).scalar(
                text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the second confirmation never waited for the first one's lock")


@pytest.mark.parametrize("uow_factory", [postgres_param], indirect=True)
async def test_two_staff_confirming_a_warning_at_once_warn_once(
    desk_service: BotService, world: World
) -> None:
    await unfounded(world, 3)
    desk = next(a for a in desk_service._addons if isinstance(a, StandingDesk))
    factory = world.uow_factory
    reviewer = Actor(chat_of(REVIEWER), ActorRole.REVIEWER)
    admin = Actor(chat_of(ADMIN), ActorRole.ADMIN)
    async with factory() as first, factory() as second:
        pid = await _session_of(second).scalar(text("SELECT pg_backend_pid()"))
        done = await desk._take_step(first, reviewer, ref(REPORTER), StandingKind.WARN, "a")
        assert [m.key for s in done for m in s.text] == ["standing.done.warn"]
        racer = asyncio.ensure_future(
            desk._take_step(second, admin, ref(REPORTER), StandingKind.WARN, "b")
        )
        await _wait_until_blocked(factory, pid)
        await first.commit()
        with pytest.raises(ConflictError):  # the service retries it, and then it is stale
            await racer

    assert [e.kind for e in await history(world)] == [StandingKind.WARN]
    news = standing_news(await world.outbox(chat_of(REPORTER)))
    assert [m.key for m in news] == ["standing.notify.warned_until"]
    # Pressed again (as the service retries it): stale, nothing more.
    async with factory() as uow:
        again = await desk._take_step(uow, admin, ref(REPORTER), StandingKind.WARN, "b")
        await uow.commit()
    assert [m.key for s in again for m in s.text] == ["standing.stale"]
    assert len(await history(world)) == 1
