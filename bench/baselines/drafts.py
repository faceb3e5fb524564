"""Where a baseline keeps drafts and filed cases: in memory, or in SQLite through SQLAlchemy.

``SqlDrafts`` runs one short transaction per update, before the bot replies: the new state
and answers (an upsert), or, on submit, the case row with the draft's deletion.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, String, Text, delete, event, func, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.baselines.flow import Draft

LOCKED = "database is locked"


class Base(DeclarativeBase):
    pass


class DraftRow(Base):
    __tablename__ = "drafts"
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseRow(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(String(16), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    category: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)
    attested: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MemoryDrafts:
    """The in-memory variant: the framework keeps the state; filed cases stay in a list."""

    def __init__(self) -> None:
        self.cases: list[tuple[str, int, dict[str, Any]]] = []
        self.locked = 0
        self._ids = itertools.count(1)

    async def open(self) -> None:
        return None

    async def save(self, chat_id: int, state: str, draft: Draft) -> None:
        return None

    async def file_case(self, chat_id: int, draft: Draft) -> str:
        case_id = f"DR-{next(self._ids):07d}"
        self.cases.append((case_id, chat_id, draft.to_json()))
        return case_id

    async def filed(self) -> int:
        return len(self.cases)

    async def close(self) -> None:
        return None


class SqlDrafts:
    """The durable variant: one transaction per update on SQLite (WAL, synchronous=NORMAL)."""

    def __init__(self, path: str) -> None:
        self._url = f"sqlite+aiosqlite:///{path}"
        self.locked = 0
        self._ids = itertools.count(1)
        self.engine: AsyncEngine | None = None

    async def open(self) -> None:
        engine = create_async_engine(self._url)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def save(self, chat_id: int, state: str, draft: Draft) -> None:
        data = json.dumps(draft.to_json())
        now = datetime.now(UTC)
        upsert = insert(DraftRow).values(chat_id=chat_id, state=state, data=data, updated_at=now)
        upsert = upsert.on_conflict_do_update(
            index_elements=[DraftRow.chat_id],
            set_={"state": state, "data": data, "updated_at": now},
        )
        try:
            async with self._sessions.begin() as session:
                await session.execute(upsert)
        except Exception as exc:
            self._saw(exc)
            raise

    async def file_case(self, chat_id: int, draft: Draft) -> str:
        case_id = f"DR-{next(self._ids):07d}"
        try:
            async with self._sessions.begin() as session:
                session.add(
                    CaseRow(
                        case_id=case_id,
                        chat_id=chat_id,
                        category=draft.category,
                        account=f"aliexpress:store:{draft.store}",
                        description=draft.description,
                        evidence=json.dumps(draft.files),
                        attested=True,
                        created_at=datetime.now(UTC),
                    )
                )
                await session.execute(delete(DraftRow).where(DraftRow.chat_id == chat_id))
        except Exception as exc:
            self._saw(exc)
            raise
        return case_id

    async def filed(self) -> int:
        async with self._sessions() as session:
            return int((await session.scalar(select(func.count()).select_from(CaseRow))) or 0)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()

    def _saw(self, exc: Exception) -> None:
        if LOCKED in str(exc):
            self.locked += 1


Drafts = MemoryDrafts | SqlDrafts
