"""ReporterStore and StaffStore contracts."""

from __future__ import annotations

from disputebot.ports import ChatKey, Role, UnitOfWorkFactory
from tests.contract.builders import ALICE, BIG, BOB, T0, at


async def test_locale_is_created_then_updated(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.reporters.locale(ALICE) is None
        await uow.reporters.set_locale(ALICE, "zh", T0)
        await uow.reporters.set_locale(BIG, "en", T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.reporters.locale(ALICE) == "zh"
        await uow.reporters.set_locale(ALICE, "zh-Hant", at(5))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.reporters.locale(ALICE) == "zh-Hant"
        assert await uow.reporters.locale(BIG) == "en"
        assert await uow.reporters.locale(BOB) is None
        assert await uow.reporters.locale(ChatKey("console", ALICE.chat_id)) is None


async def test_uncommitted_locale_is_rolled_back(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.reporters.set_locale(ALICE, "ru", T0)
    async with uow_factory() as uow:
        assert await uow.reporters.locale(ALICE) is None


async def test_staff_roles_set_change_list_remove(uow_factory: UnitOfWorkFactory) -> None:
    console = ChatKey("console", 1)
    async with uow_factory() as uow:
        assert await uow.staff.role(ALICE) is None
        assert await uow.staff.list() == []
        await uow.staff.set_role(BOB, Role.REVIEWER, T0)
        await uow.staff.set_role(ALICE, Role.ADMIN, T0)
        await uow.staff.set_role(BIG, Role.REVIEWER, T0)
        await uow.staff.set_role(console, Role.ADMIN, T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.staff.role(ALICE) is Role.ADMIN
        assert await uow.staff.list() == [
            (console, Role.ADMIN),
            (BIG, Role.REVIEWER),
            (ALICE, Role.ADMIN),
            (BOB, Role.REVIEWER),
        ]
        await uow.staff.set_role(BOB, Role.ADMIN, at(1))
        await uow.staff.remove(BIG)
        await uow.staff.remove(ChatKey("telegram", 404))  # not staff: nothing to do
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.staff.role(BOB) is Role.ADMIN
        assert await uow.staff.role(BIG) is None
        assert [chat for chat, _ in await uow.staff.list()] == [console, ALICE, BOB]
