"""One sender at a time across processes: a PostgreSQL advisory lock (``ports.SenderLock``).

Several ``disputebot worker`` (or ``run``) processes may share one PostgreSQL database; the one
holding this lock sends, the others stand by and try again every poll. The lock is taken at
session level on a connection of its own that lives as long as the lock: when the process dies
its connection closes and PostgreSQL releases the lock at once, so a standby takes over within
one poll, and the dead sender's claims come back when their leases run out.

The connection runs in autocommit, so holding the lock never holds a transaction (or its
snapshot) open. The lock key is derived from the schema and the lock's name, so bots in
different schemas of one database (tests do this) do not block each other.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from disputebot.store.database import create_engine, split_schema

__all__ = ["PgSenderLock", "lock_key"]

log = logging.getLogger(__name__)


def lock_key(schema: str | None, name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``."""
    digest = hashlib.blake2b(f"disputebot:{schema or ''}:{name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


class PgSenderLock:
    """``ports.SenderLock`` on ``pg_try_advisory_lock``; ``name`` is usually the channel."""

    def __init__(self, url: str, name: str) -> None:
        _, schema = split_schema(url)
        self.key = lock_key(schema, f"delivery:{name}")
        self._engine = create_engine(url, poolclass=NullPool)
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._connection is not None:
            return await self.held()
        connection = await self._engine.connect()
        try:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            )
        except BaseException:
            await connection.close()
            raise
        if not got:
            await connection.close()
            return False
        self._connection = connection
        return True

    async def held(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            await connection.scalar(text("SELECT 1"))
        except Exception as exc:
            # The session is gone, and its lock with it (the server released it).
            log.warning("lost the sender lock's connection: %s", exc)
            self._connection = None
            await _close_quietly(connection)
            return False
        return True

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except Exception as exc:
            log.warning("could not unlock the sender lock (closing its connection): %s", exc)
        await _close_quietly(connection)

    async def close(self) -> None:
        """Release the lock if held and dispose of the engine."""
        await self.release()
        await self._engine.dispose()


async def _close_quietly(connection: AsyncConnection) -> None:
    try:
        await connection.close()
    except Exception as exc:
        log.debug("closing the sender lock's connection failed: %s", exc)
