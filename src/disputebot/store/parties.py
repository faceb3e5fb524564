"""``SqlPartyStore`` and ``SqlStandingStore``: reported parties' claim links and links, and the
audit log of the steps staff took on reporters' standing.

Part of ``disputebot.store.repositories`` (which re-exports them), kept apart for size, with the
same habits: times are checked for a zone before any SQL runs, spending a claim is a single
conditional ``UPDATE`` (two chats racing for one link: exactly one changes the row), and reads
use ``populate_existing``.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from disputebot.cases.records import ClaimLink, PartyLink, StandingEvent, StandingKind
from disputebot.ports import ConflictError
from disputebot.store.models import (
    PartyClaimRow,
    PartyLinkRow,
    StandingEventRow,
    require_aware,
)

__all__ = ["SqlPartyStore", "SqlStandingStore"]


def _optional(value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(value)


def _claim(row: PartyClaimRow) -> ClaimLink:
    return ClaimLink(
        token_hash=row.token_hash,
        account_key=row.account_key,
        account=row.account,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        used_by=row.used_by,
        revoked_at=row.revoked_at,
    )


def _link(row: PartyLinkRow) -> PartyLink:
    return PartyLink(
        account_key=row.account_key,
        account=row.account,
        chat_ref=row.chat_ref,
        linked_at=row.linked_at,
    )


async def _changed(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return cast("CursorResult[Any]", result).rowcount


class SqlPartyStore:
    """Claim links by token hash, and chats linked to accounts (active while not revoked)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_claim(self, claim: ClaimLink) -> None:
        values = {
            "token_hash": claim.token_hash,
            "account_key": claim.account_key,
            "account": dict(claim.account),
            "created_by": claim.created_by,
            "created_at": require_aware(claim.created_at),
            "expires_at": require_aware(claim.expires_at),
            "used_at": _optional(claim.used_at),
            "used_by": claim.used_by,
            "revoked_at": _optional(claim.revoked_at),
        }
        try:
            async with self._session.begin_nested():
                await self._session.execute(insert(PartyClaimRow).values(**values))
        except IntegrityError as exc:
            raise ConflictError("a claim link with this token already exists") from exc

    async def claim(self, token_hash: str) -> ClaimLink | None:
        row = await self._session.scalar(
            select(PartyClaimRow)
            .where(PartyClaimRow.token_hash == token_hash)
            .execution_options(populate_existing=True)
        )
        return None if row is None else _claim(row)

    async def use_claim(self, token_hash: str, chat_ref: str, now: datetime) -> bool:
        now = require_aware(now)
        # One conditional UPDATE: on PostgreSQL a racing redeemer waits for our row lock, then
        # re-checks the WHERE against the committed row and changes nothing.
        changed = await _changed(
            self._session,
            update(PartyClaimRow)
            .where(
                PartyClaimRow.token_hash == token_hash,
                PartyClaimRow.used_at.is_(None),
                PartyClaimRow.revoked_at.is_(None),
                PartyClaimRow.expires_at > now,
            )
            .values(used_at=now, used_by=chat_ref),
        )
        return changed == 1

    async def link(self, link: PartyLink) -> None:
        linked_at = require_aware(link.linked_at)
        active = await self._session.scalar(
            select(PartyLinkRow.id)
            .where(
                PartyLinkRow.account_key == link.account_key,
                PartyLinkRow.chat_ref == link.chat_ref,
                PartyLinkRow.revoked_at.is_(None),
            )
            .limit(1)
        )
        if active is not None:
            return
        await self._session.execute(
            insert(PartyLinkRow).values(
                account_key=link.account_key,
                account=dict(link.account),
                chat_ref=link.chat_ref,
                linked_at=linked_at,
                revoked_at=None,
            )
        )

    async def links(self, account_key: str) -> builtins.list[PartyLink]:
        return await self._active(PartyLinkRow.account_key == account_key)

    async def accounts_of(self, chat_ref: str) -> builtins.list[PartyLink]:
        return await self._active(PartyLinkRow.chat_ref == chat_ref)

    async def _active(self, condition: ColumnElement[bool]) -> builtins.list[PartyLink]:
        rows = await self._session.scalars(
            select(PartyLinkRow)
            .where(condition, PartyLinkRow.revoked_at.is_(None))
            .order_by(PartyLinkRow.linked_at, PartyLinkRow.id)
            .execution_options(populate_existing=True)
        )
        return [_link(row) for row in rows]

    async def revoke(self, account_key: str, now: datetime, *, chat_ref: str | None = None) -> int:
        now = require_aware(now)
        ended = 0
        if chat_ref is None:
            ended += await _changed(
                self._session,
                update(PartyClaimRow)
                .where(
                    PartyClaimRow.account_key == account_key,
                    PartyClaimRow.used_at.is_(None),
                    PartyClaimRow.revoked_at.is_(None),
                    PartyClaimRow.expires_at > now,
                )
                .values(revoked_at=now),
            )
        links = and_(PartyLinkRow.account_key == account_key, PartyLinkRow.revoked_at.is_(None))
        if chat_ref is not None:
            links = and_(links, PartyLinkRow.chat_ref == chat_ref)
        ended += await _changed(
            self._session, update(PartyLinkRow).where(links).values(revoked_at=now)
        )
        return ended


class SqlStandingStore:
    """Standing events, an append-only audit log per reporter."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, event: StandingEvent) -> int:
        row = StandingEventRow(
            reporter_id=event.reporter_id,
            kind=StandingKind(event.kind).value,
            at=require_aware(event.at),
            actor=event.actor,
            unfounded_at=event.unfounded_at,
            until=_optional(event.until),
            note=event.note,
            cases=list(event.cases),
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def history(self, reporter_id: str) -> builtins.list[StandingEvent]:
        rows = await self._session.scalars(
            select(StandingEventRow)
            .where(StandingEventRow.reporter_id == reporter_id)
            .order_by(StandingEventRow.at, StandingEventRow.id)
            .execution_options(populate_existing=True)
        )
        return [
            StandingEvent(
                reporter_id=row.reporter_id,
                kind=StandingKind(row.kind),
                at=row.at,
                actor=row.actor,
                unfounded_at=row.unfounded_at,
                until=row.until,
                note=row.note,
                cases=tuple(row.cases),
                id=row.id,
            )
            for row in rows
        ]
