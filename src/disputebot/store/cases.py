"""``SqlCaseStore``: cases with their evidence and audit trail, and the abuse-check facts.

Part of ``disputebot.store.repositories`` (which re-exports it), kept apart for size. The same
habits hold: a duplicate public id becomes ``ConflictError`` through a SAVEPOINT, times are
checked for a zone before any SQL runs, and reads use ``populate_existing``.
"""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from disputebot.cases.records import OPEN_STATUSES, CaseEvent, CaseRecord, NewCase, Status
from disputebot.policy.abuse import ReporterFacts
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ConflictError
from disputebot.store.models import (
    CaseEventRow,
    CaseRow,
    EvidenceRow,
    OutboxRow,
    require_aware,
)

__all__ = ["FALSE_REPORT_KIND", "REPORT_WINDOW", "SqlCaseStore"]

# The event kind staff decisions record when a report is rejected as a false report.
FALSE_REPORT_KIND = "rejected:false_report"
# Reports count against the daily limit for this long after they were filed.
REPORT_WINDOW = timedelta(hours=24)


def _evidence_row(position: int, item: EvidenceFile) -> EvidenceRow:
    return EvidenceRow(
        position=position,
        sha256=item.sha256,
        size=item.size,
        mime=item.mime,
        name=item.name,
        stored_path=item.stored_path,
        file_id=item.file_id,
        declared_mime=item.declared_mime,
    )


def _event_values(event: CaseEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "actor": event.actor,
        "kind": event.kind,
        "from_status": None if event.from_status is None else event.from_status.value,
        "to_status": None if event.to_status is None else event.to_status.value,
        "note": event.note,
    }


def _record(row: CaseRow) -> CaseRecord:
    return CaseRecord(
        public_id=row.public_id,
        status=Status(row.status),
        reporter_id=row.reporter_id,
        category=row.category,
        account_key=row.account_key,
        account=row.account,
        description=row.description,
        flow=row.flow,
        flow_version=row.flow_version,
        attestation=row.attestation,
        created_at=row.created_at,
        updated_at=row.updated_at,
        evidence=tuple(
            EvidenceFile(
                sha256=e.sha256,
                size=e.size,
                mime=e.mime,
                name=e.name,
                stored_path=e.stored_path,
                file_id=e.file_id,
                declared_mime=e.declared_mime,
            )
            for e in row.evidence
        ),
        events=tuple(
            CaseEvent(
                at=e.at,
                actor=e.actor,
                kind=e.kind,
                from_status=None if e.from_status is None else Status(e.from_status),
                to_status=None if e.to_status is None else Status(e.to_status),
                note=e.note,
            )
            for e in row.events
        ),
        answers=row.answers,
    )


class SqlCaseStore:
    """Cases with their evidence and audit trail."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, case: NewCase, first_event: CaseEvent) -> None:
        require_aware(case.created_at)
        require_aware(first_event.at)
        row = CaseRow(
            public_id=case.public_id,
            status=Status.SUBMITTED.value,
            reporter_id=case.reporter_id,
            category=case.category,
            account_key=case.account_key,
            account=dict(case.account),
            description=case.description,
            answers=dict(case.answers),
            flow=case.flow,
            flow_version=case.flow_version,
            attestation=case.attestation,
            created_at=case.created_at,
            updated_at=case.created_at,
            evidence=[_evidence_row(i, item) for i, item in enumerate(case.evidence)],
            events=[CaseEventRow(**_event_values(first_event))],
        )
        try:
            # Leaving the savepoint flushes, so a duplicate public id surfaces here.
            async with self._session.begin_nested():
                self._session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"case {case.public_id} already exists") from exc

    async def get(self, public_id: str) -> CaseRecord | None:
        rows = await self._load(select(CaseRow).where(CaseRow.public_id == public_id))
        return _record(rows[0]) if rows else None

    async def list(
        self, *, reporter_id: str | None = None, limit: int = 100
    ) -> builtins.list[CaseRecord]:
        statement = select(CaseRow).order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
        if reporter_id is not None:
            statement = statement.where(CaseRow.reporter_id == reporter_id)
        return [_record(row) for row in await self._load(statement.limit(limit))]

    async def _load(self, statement: Any) -> builtins.list[CaseRow]:
        # One query for the cases, one each for evidence and events: no N+1.
        statement = statement.options(
            selectinload(CaseRow.evidence), selectinload(CaseRow.events)
        ).execution_options(populate_existing=True)
        return list((await self._session.scalars(statement)).all())

    async def reporter_facts(self, reporter_id: str, now: datetime) -> ReporterFacts:
        require_aware(now)
        count, oldest = (
            await self._session.execute(
                select(func.count(), func.min(CaseRow.created_at)).where(
                    CaseRow.reporter_id == reporter_id,
                    CaseRow.created_at > now - REPORT_WINDOW,
                    CaseRow.created_at <= now,
                )
            )
        ).one()
        open_rows = await self._session.execute(
            select(CaseRow.account_key, CaseRow.public_id)
            .where(
                CaseRow.reporter_id == reporter_id,
                CaseRow.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(CaseRow.created_at, CaseRow.id)
        )
        # Ordered oldest first, so with several open cases on one account the newest wins.
        open_cases = {row.account_key: row.public_id for row in open_rows}
        last_false = await self._session.scalar(
            select(func.max(CaseEventRow.at))
            .join(CaseRow, CaseRow.id == CaseEventRow.case_id)
            .where(
                CaseRow.reporter_id == reporter_id,
                CaseEventRow.to_status == Status.REJECTED.value,
                CaseEventRow.kind == FALSE_REPORT_KIND,
            )
        )
        return ReporterFacts(
            reports_last_24h=int(count),
            oldest_report_last_24h=oldest,
            open_cases=open_cases,
            last_false_rejection_at=last_false,
            own_account_keys=frozenset(),
        )

    async def transition(self, public_id: str, to: Status, event: CaseEvent) -> None:
        require_aware(event.at)
        case_id = await self._session.scalar(
            select(CaseRow.id).where(CaseRow.public_id == public_id)
        )
        if case_id is None:
            raise KeyError(public_id)
        change = update(CaseRow).where(CaseRow.id == case_id)
        if event.from_status is not None:
            # Optimistic: two staff acting on one case at once cannot both move it.
            change = change.where(CaseRow.status == event.from_status.value)
        result = await self._session.execute(
            change.values(status=to.value, updated_at=event.at).execution_options(
                synchronize_session=False
            )
        )
        if getattr(result, "rowcount", 1) != 1:
            raise ConflictError(f"case {public_id} is no longer {event.from_status}")
        await self._session.execute(
            insert(CaseEventRow).values(case_id=case_id, **_event_values(event))
        )

    async def purge_finished(self, before: datetime) -> tuple[builtins.list[str], set[str]]:
        require_aware(before)
        finished = [s.value for s in Status if s not in OPEN_STATUSES]
        rows = (
            await self._session.execute(
                select(CaseRow.id, CaseRow.public_id).where(
                    CaseRow.status.in_(finished), CaseRow.updated_at < before
                )
            )
        ).all()
        if not rows:
            return [], set()
        ids = [row_id for row_id, _ in rows]
        public_ids = [public_id for _, public_id in rows]
        paths = set(
            (
                await self._session.scalars(
                    select(EvidenceRow.stored_path).where(
                        EvidenceRow.case_id.in_(ids), EvidenceRow.stored_path.is_not(None)
                    )
                )
            ).all()
        )
        # Children first: SQLite enforces the foreign keys only when asked to.
        await self._session.execute(delete(EvidenceRow).where(EvidenceRow.case_id.in_(ids)))
        await self._session.execute(delete(CaseEventRow).where(CaseEventRow.case_id.in_(ids)))
        await self._session.execute(delete(OutboxRow).where(OutboxRow.case_id.in_(public_ids)))
        await self._session.execute(delete(CaseRow).where(CaseRow.id.in_(ids)))
        still_used = set(
            (
                await self._session.scalars(
                    select(EvidenceRow.stored_path).where(EvidenceRow.stored_path.in_(paths))
                )
            ).all()
        )
        return public_ids, {p for p in paths if p is not None} - still_used
