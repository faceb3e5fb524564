"""PartyStore and StandingStore contract, on memory, SQLite and PostgreSQL: claim links are
spent once (also by racing chats), links are idempotent and revocable, and the standing log
keeps every step staff took, oldest first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from disputebot.cases.records import ClaimLink, PartyLink, StandingEvent, StandingKind
from disputebot.ports import ConflictError, UnitOfWorkFactory
from disputebot.store import migrate
from disputebot.store.database import make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.contract.builders import T0, Database, at
from tests.databases import postgres_param, sql_database

STAFF = "telegram:9"
SELLER = "telegram:3003"
OTHER = "telegram:3004"
ACCOUNT = {"kind": "store_id", "value": "1", "name": "Шоп 店铺", "extra": [1, None, True]}


def claim(
    token_hash: str = "a" * 64,
    *,
    account_key: str = "store:1",
    hours: float = 72,
) -> ClaimLink:
    return ClaimLink(
        token_hash=token_hash,
        account_key=account_key,
        account=ACCOUNT,
        created_by=STAFF,
        created_at=T0,
        expires_at=at(hours=hours),
    )


def link(chat_ref: str = SELLER, account_key: str = "store:1", minutes: float = 0) -> PartyLink:
    return PartyLink(
        account_key=account_key, account=ACCOUNT, chat_ref=chat_ref, linked_at=at(minutes)
    )


# --- claim links -----------------------------------------------------------------------------


async def test_a_claim_round_trips(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.parties.claim("a" * 64)
        unknown = await uow.parties.claim("b" * 64)
    assert found == claim()
    assert found is not None
    assert found.expires_at.utcoffset() == timedelta(0)
    assert dict(found.account) == ACCOUNT
    assert unknown is None


async def test_a_token_hash_is_taken_once(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.parties.add_claim(claim(account_key="store:2"))
        # The unit of work stays usable after the conflict.
        await uow.parties.add_claim(claim("c" * 64, account_key="store:2"))
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.parties.claim("a" * 64)
        second = await uow.parties.claim("c" * 64)
    assert first is not None
    assert first.account_key == "store:1"
    assert second is not None
    assert second.account_key == "store:2"


async def test_a_claim_is_spent_once(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()
    async with uow_factory() as uow:
        won = await uow.parties.use_claim("a" * 64, SELLER, at(5))
        again = await uow.parties.use_claim("a" * 64, SELLER, at(6))
        await uow.commit()
    async with uow_factory() as uow:
        other = await uow.parties.use_claim("a" * 64, OTHER, at(7))
        found = await uow.parties.claim("a" * 64)
    assert (won, again, other) == (True, False, False)
    assert found is not None
    assert (found.used_at, found.used_by, found.revoked_at) == (at(5), SELLER, None)


async def test_an_expired_revoked_or_unknown_claim_is_not_spent(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim("e" * 64, hours=1))
        await uow.parties.add_claim(claim("r" * 64, account_key="store:2"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.parties.revoke("store:2", at(1)) == 1
        # Expired the moment its end comes.
        expired = await uow.parties.use_claim("e" * 64, SELLER, at(hours=1))
        revoked = await uow.parties.use_claim("r" * 64, SELLER, at(2))
        unknown = await uow.parties.use_claim("u" * 64, SELLER, at(2))
        just_in_time = await uow.parties.use_claim(
            "e" * 64, SELLER, at(hours=1) - timedelta(seconds=1)
        )
        found = await uow.parties.claim("r" * 64)
        with pytest.raises(ValueError, match="naive"):
            await uow.parties.use_claim("e" * 64, SELLER, T0.replace(tzinfo=None))
    assert (expired, revoked, unknown, just_in_time) == (False, False, False, True)
    assert found is not None
    assert (found.revoked_at, found.used_at) == (at(1), None)


async def test_a_spent_claim_is_rolled_back_without_commit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.parties.use_claim("a" * 64, SELLER, at(1))
    async with uow_factory() as uow:
        found = await uow.parties.claim("a" * 64)
        again = await uow.parties.use_claim("a" * 64, OTHER, at(2))
        await uow.commit()
    assert found is not None
    assert found.used_at is None
    assert again


async def _redeem(uow_factory: UnitOfWorkFactory, chat_ref: str) -> bool:
    async with uow_factory() as uow:
        won = await uow.parties.use_claim("a" * 64, chat_ref, at(1))
        if won:
            await uow.parties.link(link(chat_ref))
        await uow.commit()
        return won


async def test_racing_redeemers_one_wins(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()
    chats = [f"telegram:{n}" for n in range(8)]

    results = await asyncio.gather(*(_redeem(uow_factory, chat) for chat in chats))

    assert sum(results) == 1
    winner = chats[results.index(True)]
    async with uow_factory() as uow:
        found = await uow.parties.claim("a" * 64)
        links = await uow.parties.links("store:1")
    assert found is not None
    assert found.used_by == winner
    assert [x.chat_ref for x in links] == [winner]


@pytest.fixture(params=[postgres_param])
async def pg_uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[UnitOfWorkFactory]:
    """PostgreSQL only: two units of work open at once, each on its own connection."""
    async for database in sql_database(request.param, tmp_path):
        yield SqlUnitOfWorkFactory(make_session_factory(database.engine))


def _session_of(uow: object) -> AsyncSession:
    return cast("AsyncSession", uow.cases._session)  # type: ignore[attr-defined]


async def _wait_until_blocked(uow_factory: UnitOfWorkFactory, pid: int) -> None:
    """Wait until the backend ``pid`` waits for a lock (polled, no time limit on the test's
    outcome: the count only keeps a broken test from hanging)."""
    for _ in range(1000):
        async with uow_factory() as uow:
            waiting = await _session_of(uow).scalar(
                text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    pytest.fail("the second redeemer never waited for the first one's lock")


async def test_postgres_a_second_redeemer_waits_then_loses(
    pg_uow_factory: UnitOfWorkFactory,
) -> None:
    async with pg_uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()

    async with pg_uow_factory() as first, pg_uow_factory() as second:
        pid = await _session_of(second).scalar(text("SELECT pg_backend_pid()"))
        assert await first.parties.use_claim("a" * 64, SELLER, at(1))
        # The second UPDATE blocks on the first one's row lock until it commits.
        racer = asyncio.ensure_future(second.parties.use_claim("a" * 64, OTHER, at(1)))
        await _wait_until_blocked(pg_uow_factory, pid)
        assert not racer.done()
        await first.commit()
        lost = await racer
        await second.commit()

    async with pg_uow_factory() as uow:
        found = await uow.parties.claim("a" * 64)
    assert lost is False
    assert found is not None
    assert found.used_by == SELLER


async def test_postgres_a_rolled_back_winner_leaves_the_claim_to_the_waiter(
    pg_uow_factory: UnitOfWorkFactory,
) -> None:
    async with pg_uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()

    async with pg_uow_factory() as second:
        pid = await _session_of(second).scalar(text("SELECT pg_backend_pid()"))
        async with pg_uow_factory() as first:
            assert await first.parties.use_claim("a" * 64, SELLER, at(1))
            racer = asyncio.ensure_future(second.parties.use_claim("a" * 64, OTHER, at(1)))
            await _wait_until_blocked(pg_uow_factory, pid)
            # Leaving without commit rolls the first one back.
        won = await racer
        await second.commit()

    async with pg_uow_factory() as uow:
        found = await uow.parties.claim("a" * 64)
    assert won is True
    assert found is not None
    assert found.used_by == OTHER


# --- links -----------------------------------------------------------------------------------


async def test_links_are_idempotent_and_listed_oldest_first(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.parties.link(link(OTHER, minutes=5))
        await uow.parties.link(link(SELLER, minutes=1))
        await uow.parties.link(link(SELLER, minutes=9))  # already linked: nothing changes
        await uow.parties.link(link(SELLER, account_key="store:2", minutes=3))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.parties.link(link(SELLER, minutes=20))  # in a later transaction too
        await uow.commit()
    async with uow_factory() as uow:
        store1 = await uow.parties.links("store:1")
        store2 = await uow.parties.links("store:2")
        nobody = await uow.parties.links("store:404")
        seller = await uow.parties.accounts_of(SELLER)
        stranger = await uow.parties.accounts_of("telegram:404")
    assert store1 == [link(SELLER, minutes=1), link(OTHER, minutes=5)]
    assert dict(store1[0].account) == ACCOUNT
    assert store1[0].linked_at.utcoffset() == timedelta(0)
    assert store2 == [link(SELLER, account_key="store:2", minutes=3)]
    assert [(x.account_key, x.linked_at) for x in seller] == [
        ("store:1", at(1)),
        ("store:2", at(3)),
    ]
    assert nobody == []
    assert stranger == []


async def test_revoke_one_chat_keeps_claims_and_other_links(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.parties.link(link(SELLER, minutes=1))
        await uow.parties.link(link(OTHER, minutes=2))
        await uow.parties.link(link(SELLER, account_key="store:2", minutes=3))
        await uow.commit()
    async with uow_factory() as uow:
        ended = await uow.parties.revoke("store:1", at(10), chat_ref=SELLER)
        again = await uow.parties.revoke("store:1", at(11), chat_ref=SELLER)
        await uow.commit()
    async with uow_factory() as uow:
        left = await uow.parties.links("store:1")
        seller = await uow.parties.accounts_of(SELLER)
        spendable = await uow.parties.use_claim("a" * 64, OTHER, at(12))
    assert (ended, again) == (1, 0)
    assert [x.chat_ref for x in left] == [OTHER]
    assert [x.account_key for x in seller] == ["store:2"]
    assert spendable


async def test_revoke_an_account_ends_its_live_claims_and_links(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim("1" * 64))
        await uow.parties.add_claim(claim("2" * 64))
        await uow.parties.add_claim(claim("u" * 64))  # spent below: not ended again
        await uow.parties.add_claim(claim("x" * 64, hours=0.1))  # expired by then
        await uow.parties.add_claim(claim("o" * 64, account_key="store:2"))
        assert await uow.parties.use_claim("u" * 64, SELLER, at(1))
        await uow.parties.link(link(SELLER, minutes=1))
        await uow.parties.link(link(OTHER, minutes=2))
        await uow.parties.link(link(SELLER, account_key="store:2", minutes=3))
        await uow.commit()
    async with uow_factory() as uow:
        ended = await uow.parties.revoke("store:1", at(30))
        again = await uow.parties.revoke("store:1", at(31))
        await uow.commit()
    async with uow_factory() as uow:
        links = await uow.parties.links("store:1")
        other_account = await uow.parties.links("store:2")
        revoked = await uow.parties.claim("1" * 64)
        spent = await uow.parties.claim("u" * 64)
        spend_revoked = await uow.parties.use_claim("2" * 64, OTHER, at(32))
        spend_other = await uow.parties.use_claim("o" * 64, OTHER, at(32))
        # Linking again after a revocation makes a new link.
        await uow.parties.link(link(SELLER, minutes=40))
        relinked = await uow.parties.links("store:1")
    assert (ended, again) == (4, 0)  # two live claims, two links
    assert links == []
    assert [x.chat_ref for x in other_account] == [SELLER]
    assert revoked is not None
    assert revoked.revoked_at == at(30)
    assert spent is not None
    assert spent.revoked_at is None
    assert (spend_revoked, spend_other) == (False, True)
    assert relinked == [link(SELLER, minutes=40)]


async def test_links_are_rolled_back_without_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.parties.link(link())
        inside = await uow.parties.links("store:1")
    async with uow_factory() as uow:
        after = await uow.parties.links("store:1")
        with pytest.raises(ValueError, match="naive"):
            await uow.parties.link(PartyLink("store:1", ACCOUNT, SELLER, T0.replace(tzinfo=None)))
        with pytest.raises(ValueError, match="naive"):
            await uow.parties.revoke("store:1", T0.replace(tzinfo=None))
    assert len(inside) == 1
    assert after == []


# --- standing --------------------------------------------------------------------------------


async def test_standing_history_is_kept_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    reporter = "telegram:1001"
    suspend = StandingEvent(
        reporter_id=reporter,
        kind=StandingKind.SUSPEND,
        at=at(days=2),
        actor=STAFF,
        unfounded_at=5,
        until=at(days=32),
        note="Five reports rejected as manifestly unfounded — 五次",
        cases=("DR-1", "DR-2", "DR-3", "DR-4", "DR-5"),
    )
    warn = StandingEvent(
        reporter_id=reporter,
        kind=StandingKind.WARN,
        at=at(days=1),
        actor=STAFF,
        unfounded_at=3,
        cases=("DR-1", "DR-2", "DR-3"),
    )
    async with uow_factory() as uow:
        suspend_id = await uow.standing.record(suspend)
        warn_id = await uow.standing.record(warn)
        await uow.standing.record(
            StandingEvent(reporter_id="telegram:2", kind=StandingKind.WARN, at=T0, actor=STAFF)
        )
        lift_id = await uow.standing.record(
            StandingEvent(
                reporter_id=reporter, kind=StandingKind.LIFT, at=at(days=2), actor="telegram:8"
            )
        )
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.standing.history(reporter)
        nobody = await uow.standing.history("telegram:404")
        with pytest.raises(ValueError, match="naive"):
            await uow.standing.record(
                StandingEvent(reporter, StandingKind.APPEAL, T0.replace(tzinfo=None), reporter)
            )
    assert len({suspend_id, warn_id, lift_id}) == 3
    assert [e.id for e in found] == [warn_id, suspend_id, lift_id]
    first, second, third = found
    assert first == StandingEvent(
        reporter_id=reporter,
        kind=StandingKind.WARN,
        at=at(days=1),
        actor=STAFF,
        unfounded_at=3,
        until=None,
        note="",
        cases=("DR-1", "DR-2", "DR-3"),
        id=warn_id,
    )
    assert isinstance(first.kind, StandingKind)
    assert second == StandingEvent(
        reporter_id=reporter,
        kind=StandingKind.SUSPEND,
        at=at(days=2),
        actor=STAFF,
        unfounded_at=5,
        until=at(days=32),
        note="Five reports rejected as manifestly unfounded — 五次",
        cases=("DR-1", "DR-2", "DR-3", "DR-4", "DR-5"),
        id=suspend_id,
    )
    assert second.until is not None
    assert second.until.utcoffset() == timedelta(0)
    assert (third.kind, third.actor, third.cases) == (StandingKind.LIFT, "telegram:8", ())
    assert nobody == []


async def test_standing_is_rolled_back_without_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.standing.record(
            StandingEvent(reporter_id="telegram:1", kind=StandingKind.WARN, at=T0, actor=STAFF)
        )
    async with uow_factory() as uow:
        assert await uow.standing.history("telegram:1") == []


# --- migration (SQL only) --------------------------------------------------------------------


def _tables_and_evidence_columns(connection: Connection) -> tuple[set[str], set[str]]:
    found = inspect(connection)
    return set(found.get_table_names()), {c["name"] for c in found.get_columns("evidence")}


async def test_downgrade_from_0005_drops_the_new_tables_and_comes_back(
    database: Database,
) -> None:
    uow_factory = SqlUnitOfWorkFactory(make_session_factory(database.engine))
    async with uow_factory() as uow:
        await uow.parties.add_claim(claim())
        await uow.commit()
    await migrate.downgrade(database.url, "0004")
    assert await migrate.current(database.url) == "0004"
    async with database.engine.connect() as connection:
        tables, columns = await connection.run_sync(_tables_and_evidence_columns)
    assert not tables & {"statements", "party_claims", "party_links", "standing_events"}
    assert not columns & {"source", "shareable"}
    await migrate.upgrade(database.url)
    async with uow_factory() as uow:
        assert await uow.parties.claim("a" * 64) is None
        await uow.parties.add_claim(claim())
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.parties.claim("a" * 64) == claim()
