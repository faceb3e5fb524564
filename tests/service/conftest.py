from __future__ import annotations

from pathlib import Path

import pytest

from disputebot.engine.context import Policies
from disputebot.engine.spec import FlowBook
from disputebot.i18n.negotiate import negotiate
from disputebot.ports import UnitOfWorkFactory
from disputebot.service.bot import BotService, LocaleChoice
from disputebot.service.evidence import EvidenceVault
from tests.support import FixedClock


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
