"""Firing due deadlines: "your report DR-… is still under review; we have not forgotten it".

``CaseActions.track_reminder`` sets a case's ``still_under_review`` deadline when it is filed
or comes back to staff (in review, escalated) and drops it when the reporter is awaited or the
case is finished. ``fire_due``, called periodically by a worker, turns due deadlines into
outbox messages to the reporter and sets the next one an interval later.

One unit of work does it all: claim the due deadlines, write the messages, mark the deadlines
done, set the next ones, commit. A crash before the commit leaves the deadlines pending, so
they fire later (never lost); after it, they are done (never repeated). Delivering the
messages is the outbox worker's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from disputebot.engine.effects import N_, Msg, Say
from disputebot.engine.prompts import when
from disputebot.ports import Clock, Deadline, UnitOfWork, UnitOfWorkFactory
from disputebot.service.review import REMIND_WHILE, REMINDER_KIND, chat_of

__all__ = ["REMINDER_KIND", "fire_due", "run_reminders"]

log = logging.getLogger(__name__)


async def fire_due(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    interval: timedelta | None,
    default_locale: str,
    limit: int = 100,
) -> int:
    """Fire up to ``limit`` due deadlines in one unit of work; returns the messages written.

    A reminder goes out only while the case waits on staff (submitted, in review,
    escalated); the next one is then due ``interval`` later. A deadline whose case moved on or
    was purged is just marked done. With no ``interval`` (``None``, as
    ``settings.review_reminder_after`` is when reminders are off, or zero), due deadlines are
    marked done without a message, so turning reminders off drains them.
    """
    now = clock.now()
    written = 0
    async with uow_factory() as uow:
        due = await uow.deadlines.claim_due(now, limit)
        # All done first: setting the next deadline replaces the case's pending one, and a
        # claimed deadline still counts as pending until it is marked.
        for deadline in due:
            await uow.deadlines.done(deadline.id, now)
        reminded: set[str] = set()
        for deadline in due:
            if deadline.case_id in reminded:
                continue  # a duplicate pending row (see store.deadlines): one message per case
            if await _remind(uow, deadline, now, interval, default_locale):
                written += 1
                reminded.add(deadline.case_id)
        await uow.commit()
    if due:
        log.info("deadlines: %d fired, %d reminders written", len(due), written)
    return written


async def _remind(
    uow: UnitOfWork,
    deadline: Deadline,
    now: datetime,
    interval: timedelta | None,
    default_locale: str,
) -> bool:
    """Write the reminder for one due deadline and set the next; whether a message went out."""
    if deadline.kind != REMINDER_KIND:
        # Nothing else sets deadlines yet; left pending, it would come first in every claim.
        log.warning(
            "deadline %d of case %s: unknown kind %r, dropped",
            deadline.id,
            deadline.case_id,
            deadline.kind,
        )
        return False
    if interval is None or interval <= timedelta(0):
        return False
    case = await uow.cases.get(deadline.case_id)
    if case is None or case.status not in REMIND_WHILE:
        return False
    reporter = chat_of(case.reporter_id)
    if reporter is None:
        log.warning("case %s: reporter %r has no chat to remind", case.public_id, case.reporter_id)
        return False
    locale = await uow.reporters.locale(reporter) or default_locale
    text = Msg(
        N_("notify.still_reviewing"),
        {"case_id": case.public_id, "filed": when(case.created_at)},
    )
    await uow.outbox.put(reporter, Say((text,)), locale, now=now, case_id=case.public_id)
    await uow.deadlines.schedule(case.public_id, REMINDER_KIND, now + interval, now=now)
    return True


async def run_reminders(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    stop: asyncio.Event,
    *,
    interval: timedelta | None,
    default_locale: str,
    poll_seconds: float = 30.0,
) -> None:
    """Fire due reminders every ``poll_seconds`` until ``stop`` is set.

    Several processes may run this at once: ``claim_due`` hands each deadline to one of them
    (``SKIP LOCKED`` on PostgreSQL), so nothing fires twice. A failed round is logged and the
    next one tries again; nothing it did is kept (one unit of work).
    """
    if interval is None:
        return
    while not stop.is_set():
        try:
            while await fire_due(
                uow_factory, clock, interval=interval, default_locale=default_locale
            ):
                pass  # a full batch may mean more are due
        except Exception:
            log.exception("firing reminders failed; trying again in %s s", poll_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_seconds)
