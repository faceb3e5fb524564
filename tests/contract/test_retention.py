"""Data retention: purging finished cases, and a reporter's /forgetme."""

from __future__ import annotations

from disputebot.cases.records import Status
from disputebot.ports import UnitOfWorkFactory
from tests.contract.builders import ALICE, BOB, T0, at, decided, evidence, new_case, say, submitted


async def _finish(uow_factory: UnitOfWorkFactory, public_id: str, when: int) -> None:
    async with uow_factory() as uow:
        await uow.cases.transition(
            public_id, Status.CLOSED, decided(at(days=when), Status.SUBMITTED, Status.CLOSED, "x")
        )
        await uow.commit()


async def test_purge_drops_old_finished_cases_only(uow_factory: UnitOfWorkFactory) -> None:
    shared, own, fresh = evidence(1), evidence(2), evidence(3)
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-OLD", evidence_files=(shared, own)), submitted())
        await uow.cases.add(new_case("DR-NEW", evidence_files=(fresh,)), submitted())
        await uow.cases.add(
            new_case("DR-OPEN", account_key="store:2", evidence_files=(shared,)), submitted()
        )
        await uow.outbox.put(ALICE, say(), "en", now=T0, case_id="DR-OLD")
        await uow.outbox.put(ALICE, say(), "en", now=T0, case_id="DR-OPEN")
        await uow.commit()
    await _finish(uow_factory, "DR-OLD", 1)
    await _finish(uow_factory, "DR-NEW", 30)
    async with uow_factory() as uow:
        purged, unused = await uow.cases.purge_finished(at(days=10))
        await uow.commit()
    assert purged == ["DR-OLD"]
    assert unused == {own.stored_path}  # the shared file still belongs to an open case
    async with uow_factory() as uow:
        assert await uow.cases.get("DR-OLD") is None
        assert await uow.cases.get("DR-NEW") is not None
        assert await uow.cases.get("DR-OPEN") is not None
        left = [item.case_id for item in await uow.outbox.list()]
    assert left == ["DR-OPEN"]


async def test_purge_with_nothing_to_do(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1"), submitted())
        assert await uow.cases.purge_finished(at(days=365)) == ([], set())


async def test_forget_drops_the_language_choice(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.reporters.set_locale(ALICE, "zh_Hans", T0)
        await uow.reporters.set_locale(BOB, "en", T0)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.reporters.forget(ALICE)
        await uow.reporters.forget(ALICE)  # twice is fine
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.reporters.locale(ALICE) is None
        assert await uow.reporters.locale(BOB) == "en"
