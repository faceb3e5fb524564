"""Suite-wide: ``--db`` picks the store backends; the shipped flows and policies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from disputebot.engine.context import Policies
from disputebot.engine.spec import FlowBook
from disputebot.loading import load_flows, load_lexicons, load_profile
from disputebot.ports import UnitOfWorkFactory
from disputebot.store.database import make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from disputebot.testing.memory import MemoryUnitOfWorkFactory
from tests.databases import postgres_param, sql_database
from tests.support import ROOT

BACKENDS = ("memory", "sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default="all",
        help="comma-separated store backends to test: memory, sqlite, postgres, or all "
        "(PostgreSQL from DISPUTEBOT_TEST_PG_URL)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = str(config.getoption("--db"))
    if chosen == "all":
        return
    wanted = {part.strip() for part in chosen.split(",")}
    unknown = wanted - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"--db: unknown backend(s) {sorted(unknown)}")
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        backends = {
            value
            for value in (params.params.values() if params else ())
            if isinstance(value, str) and value in BACKENDS
        }
        (drop if backends and not backends & wanted else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def book() -> FlowBook:
    """The shipped conversation files."""
    return load_flows(ROOT / "conversations")


@pytest.fixture(scope="session")
def policies() -> Policies:
    """The shipped platform profile and word lists."""
    return Policies(
        profile=load_profile(ROOT / "platform" / "aliexpress.yaml"),
        lexicons=load_lexicons(ROOT / "locales"),
    )


@pytest.fixture(params=["memory", "sqlite", postgres_param])
async def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[UnitOfWorkFactory]:
    """Units of work on an empty store of each backend: memory, a SQLite file, a PostgreSQL
    schema (``--db`` narrows the choice)."""
    if request.param == "memory":
        yield MemoryUnitOfWorkFactory()
        return
    async for database in sql_database(request.param, tmp_path):
        yield SqlUnitOfWorkFactory(make_session_factory(database.engine))
