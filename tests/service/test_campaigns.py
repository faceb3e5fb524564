"""Coordinated reports through the service: reports against one account within the window from
reporters with no earlier report are flagged on every case of the group, with one staff-group
alert; duplicates are merged into one case, whose news then reaches every reporter."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from disputebot.cases.lifecycle import Action, ActorRole
from disputebot.cases.records import CaseRecord, Status
from disputebot.engine.effects import Msg, Say, say_from_json
from disputebot.engine.events import ButtonPressed
from disputebot.ports import ConflictError, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.campaigns import FLAG_KIND, Campaigns
from disputebot.service.evidence import EvidenceVault
from disputebot.service.review import Actor, CaseActions
from tests.databases import postgres_param
from tests.service.driver import ServiceChat, to_summary
from tests.service.test_authorization import (
    ADMIN,
    OUTSIDER,
    REVIEWER,
    STAFF_GROUP,
    World,
    chat_of,
    keys,
    ref,
)
from tests.support import T0, FixedClock

FRESH = (2001, 2002, 2003, 2004)
DRIVER_STORE_ID = "1102345678"  # the store the driver's reports name


async def report(service: BotService, vault: EvidenceVault, world: World, user: int) -> str:
    """``user`` files a report through the flow against the driver's store; its case id."""
    chat = ServiceChat(service, user)
    submit = await to_summary(chat, vault)
    await chat.send(ButtonPressed(submit.data))
    async with world.uow_factory() as uow:
        cases = await uow.cases.list(reporter_id=ref(user), limit=1)
    return cases[0].public_id


def flagged(case: CaseRecord) -> list[str]:
    return [e.note for e in case.events if e.kind == FLAG_KIND]


async def alerts(world: World) -> list[Say]:
    says = [say_from_json(i.payload) for i in await world.outbox(chat_of(STAFF_GROUP))]
    return [s for s in says if s.text[0].key == "campaign.alert"]


async def test_fresh_reporters_against_one_account_are_flagged_with_one_alert(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    ids = []
    for user in FRESH[:2]:
        ids.append(await report(desk_service, vault, world, user))
        clock.advance(hours=5)
    assert [flagged(await world.get(i)) for i in ids] == [[], []]
    assert await alerts(world) == []

    ids.append(await report(desk_service, vault, world, FRESH[2]))

    note = " ".join(ids)
    assert [flagged(await world.get(i)) for i in ids] == [[note]] * 3
    (alert,) = await alerts(world)
    assert alert.text[0].params["count"] == 3
    assert alert.text[0].params["ids"] == ", ".join(ids)
    assert [b.data for row in alert.buttons for b in row] == [f"sf:card:{i}" for i in ids]

    # A fourth joins the flagged group: it is flagged, the others are not flagged twice, and
    # the staff group is not alerted again.
    clock.advance(hours=1)
    ids.append(await report(desk_service, vault, world, FRESH[3]))
    assert flagged(await world.get(ids[3])) == [" ".join(ids)]
    assert [len(flagged(await world.get(i))) for i in ids[:3]] == [1, 1, 1]
    assert len(await alerts(world)) == 1

    # The card shows the banner and offers to merge into the other open cases of the group.
    reviewer = ServiceChat(desk_service, REVIEWER)
    await reviewer.text(f"/case {ids[0]}")
    assert "campaign.banner" in reviewer.said()
    merges = [b.data for b in reviewer.buttons() if b.label.key == "campaign.button.merge"]
    assert merges == [f"sf:mgi:{ids[0]}:{i}" for i in ids[1:3]]


async def test_a_reporter_with_an_earlier_report_does_not_count(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    veteran = FRESH[0]
    await world.case(Status.UPHELD, reporter=veteran, at=T0 - timedelta(days=60))
    ids = [await report(desk_service, vault, world, user) for user in FRESH[:3]]

    assert [flagged(await world.get(i)) for i in ids] == [[], [], []]
    assert await alerts(world) == []

    clock.advance(hours=2)
    ids.append(await report(desk_service, vault, world, FRESH[3]))
    fresh_ids = ids[1:]
    assert flagged(await world.get(ids[0])) == []
    assert [flagged(await world.get(i)) for i in fresh_ids] == [[" ".join(fresh_ids)]] * 3
    assert len(await alerts(world)) == 1


async def test_reports_spread_wider_than_the_window_are_not_flagged(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    ids = []
    for user in FRESH[:3]:
        ids.append(await report(desk_service, vault, world, user))
        clock.advance(hours=13)  # the first and the third are 26 hours apart

    assert [flagged(await world.get(i)) for i in ids] == [[], [], []]
    assert await alerts(world) == []


async def flagged_group(
    service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> list[str]:
    ids = []
    for user in FRESH[:3]:
        ids.append(await report(service, vault, world, user))
        clock.advance(minutes=10)
    return ids


async def test_a_merged_reporter_follows_the_target_case(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    duplicate, target, _ = await flagged_group(desk_service, vault, world, clock)
    reviewer = ServiceChat(desk_service, REVIEWER)
    await reviewer.text(f"/case {duplicate}")

    await reviewer.send(ButtonPressed(f"sf:mgi:{duplicate}:{target}"))

    assert keys(reviewer.last) == ["campaign.merge.done"]
    merged = await world.get(duplicate)
    assert (merged.status, merged.merged_into) == (Status.MERGED, target)
    assert f"merged:{duplicate}" in [e.kind for e in (await world.get(target)).events]
    told = [say_from_json(i.payload) for i in await world.outbox(chat_of(FRESH[0]))]
    assert told[-1].text[0] == Msg("notify.merged", {"case_id": duplicate, "into": target})

    # The target's decision reaches both reporters, each in their own chat.
    actions = CaseActions(world.book, clock, default_locale="en")
    admin = Actor(chat_of(ADMIN), ActorRole.ADMIN)
    async with world.uow_factory() as uow:
        for action in (Action.TAKE, Action.UPHOLD):
            case = await uow.cases.get(target)
            assert case is not None
            await actions.act(uow, case, action, admin, detail={"measures": ["warning"]})
        await uow.commit()
    for user in FRESH[:2]:
        news = [say_from_json(i.payload).text[0] for i in await world.outbox(chat_of(user))]
        assert news[-1].key == "notify.upheld", user
    upheld = [say_from_json(i.payload).text[0] for i in await world.outbox(chat_of(FRESH[0]))]
    assert upheld[-1].params["case_id"] == f"{duplicate} → {target}"

    # /status shows the duplicate as merged.
    reporter = ServiceChat(desk_service, FRESH[0])
    await reporter.text("/status")
    (line,) = [m for r in reporter.last for m in r.say.text if m.key == "bot.status.line"]
    assert line.params["status"] == Msg("case.status.merged")

    # A merged case offers no more merges; the target's card still shows the banner.
    await reviewer.text(f"/case {duplicate}")
    assert not [b for b in reviewer.buttons() if b.label.key == "campaign.button.merge"]


async def test_merge_rules(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    first, second, third = await flagged_group(desk_service, vault, world, clock)
    elsewhere = await world.case(reporter=FRESH[3], store_id="2200000099")
    admin = ServiceChat(desk_service, ADMIN)
    await admin.text(f"/merge {third} {second}")
    assert keys(admin.last) == ["campaign.merge.done"]
    before = {i: await world.get(i) for i in (first, second, third, elsewhere)}

    refusals = {
        f"/merge {first} {first}": "campaign.merge.self",
        f"/merge {first} {elsewhere}": "campaign.merge.other_account",
        f"/merge {first} {third}": "campaign.merge.target_closed",  # itself merged
        f"/merge {first} DR-00000000": "staff.case.unknown",
        f"/merge DR-00000000 {first}": "staff.case.unknown",
        f"/merge {first}": "campaign.merge.usage",
        "/merge": "campaign.merge.usage",
        f"/merge {first} {second} {third}": "campaign.merge.usage",
    }
    for command, key in refusals.items():
        await admin.text(command)
        assert keys(admin.last)[0] == key, command
    # A duplicate already merged is refused by the lifecycle.
    await admin.send(ButtonPressed(f"sf:mgi:{third}:{first}"))
    assert keys(admin.last)[0] == "staff.illegal.status"
    assert {i: await world.get(i) for i in before} == before

    # Someone not on staff: as for any unknown command or stale button.
    outsider = ServiceChat(desk_service, OUTSIDER)
    unknown = keys(await outsider.text("/nosuchcommand"))
    assert keys(await outsider.text(f"/merge {first} {second}")) == unknown
    replies = await outsider.send(ButtonPressed(f"sf:mgi:{first}:{second}"))
    assert keys(replies) == ["engine.stale_button"]
    assert {i: await world.get(i) for i in before} == before


async def test_a_decided_duplicate_is_not_merged(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    first, second, _ = await flagged_group(desk_service, vault, world, clock)
    actions = CaseActions(world.book, clock, default_locale="en")
    admin = Actor(chat_of(ADMIN), ActorRole.ADMIN)
    async with world.uow_factory() as uow:
        for action in (Action.TAKE, Action.REJECT):
            case = await uow.cases.get(first)
            assert case is not None
            await actions.act(uow, case, action, admin, detail={"reason": "duplicate"})
        await uow.commit()
    before = await world.get(first)

    chat = ServiceChat(desk_service, ADMIN)
    await chat.text(f"/merge {first} {second}")

    assert keys(chat.last)[0] == "staff.illegal.status"
    assert await world.get(first) == before
    assert f"merged:{first}" not in [e.kind for e in (await world.get(second)).events]


async def test_merging_a_case_others_were_merged_into_moves_them_along(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    first, second, third = await flagged_group(desk_service, vault, world, clock)
    admin = ServiceChat(desk_service, ADMIN)
    await admin.text(f"/merge {first} {second}")
    await admin.text(f"/merge {second} {third}")
    assert keys(admin.last) == ["campaign.merge.done"]

    assert (await world.get(first)).merged_into == third
    assert (await world.get(second)).merged_into == third
    async with world.uow_factory() as uow:
        followers = [c.public_id for c in await uow.cases.merged_from(third)]
    assert sorted(followers) == sorted([first, second])
    actions = CaseActions(world.book, clock, default_locale="en")
    async with world.uow_factory() as uow:
        case = await uow.cases.get(third)
        assert case is not None
        await actions.act(uow, case, Action.TAKE, Actor(chat_of(ADMIN), ActorRole.ADMIN))
        await uow.commit()
    for user in FRESH[:3]:
        news = [say_from_json(i.payload).text[0] for i in await world.outbox(chat_of(user))]
        assert news[-1].key == "notify.in_review", user


async def test_an_appealed_case_takes_no_duplicates(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    duplicate, target, _ = await flagged_group(desk_service, vault, world, clock)
    actions = CaseActions(world.book, clock, default_locale="en")
    async with world.uow_factory() as uow:
        for action, actor in (
            (Action.TAKE, Actor(chat_of(ADMIN), ActorRole.ADMIN)),
            (Action.UPHOLD, Actor(chat_of(ADMIN), ActorRole.ADMIN)),
            (Action.APPEAL, Actor(chat_of(FRESH[1]), ActorRole.REPORTER)),
        ):
            case = await uow.cases.get(target)
            assert case is not None
            await actions.act(uow, case, action, actor, detail={"measures": ["warning"]})
        await uow.commit()
    assert (await world.get(target)).status is Status.APPEALED
    before = {i: await world.get(i) for i in (duplicate, target)}

    admin = ServiceChat(desk_service, ADMIN)
    await admin.text(f"/merge {duplicate} {target}")

    assert keys(admin.last)[0] == "campaign.merge.target_closed"
    assert {i: await world.get(i) for i in before} == before
    # Nor does its card offer itself as a target on the duplicate's card.
    await admin.text(f"/case {duplicate}")
    merges = [b.data for b in admin.buttons() if b.label.key == "campaign.button.merge"]
    assert f"sf:mgi:{duplicate}:{target}" not in merges


async def test_a_reopened_merged_case_is_its_own_again(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    duplicate, target, _ = await flagged_group(desk_service, vault, world, clock)
    admin = ServiceChat(desk_service, ADMIN)
    await admin.text(f"/merge {duplicate} {target}")
    assert keys(admin.last) == ["campaign.merge.done"]

    await admin.send(ButtonPressed(f"sf:ro:{duplicate}"))

    reopened = await world.get(duplicate)
    assert (reopened.status, reopened.merged_into) == (Status.IN_REVIEW, None)
    assert f"unmerged:{target}" in [e.kind for e in reopened.events]
    assert f"unmerged:{duplicate}" in [e.kind for e in (await world.get(target)).events]
    async with world.uow_factory() as uow:
        assert await uow.cases.merged_from(target) == []
    told = [say_from_json(i.payload).text[0] for i in await world.outbox(chat_of(FRESH[0]))]
    assert Msg("campaign.unmerged", {"case_id": duplicate, "target": target}) in told

    # The target's news no longer reaches the reopened case's reporter.
    before = len(await world.outbox(chat_of(FRESH[0])))
    actions = CaseActions(world.book, clock, default_locale="en")
    async with world.uow_factory() as uow:
        case = await uow.cases.get(target)
        assert case is not None
        await actions.act(uow, case, Action.TAKE, Actor(chat_of(ADMIN), ActorRole.ADMIN))
        await uow.commit()
    assert len(await world.outbox(chat_of(FRESH[0]))) == before


async def test_a_campaign_is_seen_past_the_first_page_of_recent_reports(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    # An earlier reporter (not fresh: their first report is long before the window) filed
    # fifty reports against the account within the window before the fresh ones came.
    await world.case(reporter=ADMIN, store_id="2200000099", at=T0 - timedelta(days=90))
    for n in range(50):
        when = clock.now() - timedelta(hours=1, minutes=n)
        await world.case(reporter=ADMIN, store_id=DRIVER_STORE_ID, at=when)
    ids = await flagged_group(desk_service, vault, world, clock)

    note = " ".join(ids)
    assert [flagged(await world.get(i)) for i in ids] == [[note]] * 3
    assert len(await alerts(world)) == 1


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
    pytest.fail("the second merge never waited for the first one's lock")


@pytest.mark.parametrize("uow_factory", [postgres_param], indirect=True)
async def test_two_merges_into_each_other_racing_leave_one_merge(
    desk_service: BotService, vault: EvidenceVault, world: World, clock: FixedClock
) -> None:
    first, second, _ = await flagged_group(desk_service, vault, world, clock)
    campaigns = next(a for a in desk_service._addons if isinstance(a, Campaigns))
    one = Actor(chat_of(ADMIN), ActorRole.ADMIN)
    other = Actor(chat_of(REVIEWER), ActorRole.ADMIN)
    factory = world.uow_factory
    async with factory() as u1, factory() as u2:
        pid = await _session_of(u2).scalar(text("SELECT pg_backend_pid()"))
        a1 = await u1.cases.get(first)
        b2 = await u2.cases.get(second)
        assert a1 is not None
        assert b2 is not None
        # Both see the other case open; the first merges its case into the other's...
        assert keys_of_says(await campaigns._merge(u1, one, a1, second)) == ["campaign.merge.done"]
        # ...while the second merges the other way and waits for the first's locks.
        racer = asyncio.ensure_future(campaigns._merge(u2, other, b2, first))
        await _wait_until_blocked(factory, pid)
        await u1.commit()
        with pytest.raises(ConflictError):
            await racer

    a, b = await world.get(first), await world.get(second)
    assert (a.status, a.merged_into) == (Status.MERGED, second)
    assert (b.status, b.merged_into) == (Status.SUBMITTED, None)


def keys_of_says(says: list[Say]) -> list[str]:
    return [m.key for s in says for m in s.text]
