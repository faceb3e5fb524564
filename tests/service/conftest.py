from __future__ import annotations

from pathlib import Path

import pytest

from disputebot.engine.context import Policies
from disputebot.engine.spec import FlowBook
from disputebot.i18n.catalog import Catalogs
from disputebot.ports import UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from tests.service.driver import service_for
from tests.service.test_authorization import World, make_desk_service, make_world
from tests.support import ROOT, FixedClock


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def service(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> BotService:
    return service_for(uow_factory, book, policies, clock)


@pytest.fixture
def vault(tmp_path: Path) -> EvidenceVault:
    return EvidenceVault(tmp_path / "evidence")


# The staff desk's world (tests/service/test_authorization.py builds it), shared by the
# modules that test the desk and the features on it.


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs.load(ROOT / "locales")


@pytest.fixture
def desk_service(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    catalogs: Catalogs,
) -> BotService:
    return make_desk_service(uow_factory, book, policies, clock, catalogs)


@pytest.fixture
async def world(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> World:
    return await make_world(uow_factory, book, policies, clock)
