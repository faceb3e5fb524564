from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from disputebot.engine.context import Policies
from disputebot.engine.spec import FlowBook
from disputebot.i18n.negotiate import negotiate
from disputebot.ports import UnitOfWorkFactory
from disputebot.service.bot import BotService, LocaleChoice
from disputebot.service.evidence import EvidenceVault
from disputebot.store.database import make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from disputebot.testing.memory import MemoryUnitOfWorkFactory
from tests.databases import postgres_param, sql_database
from tests.support import FixedClock


@pytest.fixture(params=["memory", "sqlite", postgres_param])
async def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[UnitOfWorkFactory]:
    """The service on every store: memory, a SQLite file, a PostgreSQL schema."""
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    async for database in sql_database(request.param, tmp_path):
        yield SqlUnitOfWorkFactory(make_session_factory(database.engine))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def service(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> BotService:
    locales = LocaleChoice(available=("en", "zh_Hans"), default="en", negotiate=negotiate)
    return BotService(uow_factory, book, policies, clock=clock, locales=locales)


@pytest.fixture
def vault(tmp_path: Path) -> EvidenceVault:
    return EvidenceVault(tmp_path / "evidence")
