"""The evidence vault: files kept by content hash, typed from their bytes, never executable.

Files are written once, atomically, under ``<evidence_dir>/<aa>/<sha256>`` with owner-only
permissions; the name the user gave is kept only as data (sanitized), never as a path.

Durability: a file's bytes are synced to disk before it takes its name (written to a temporary
name, synced, renamed), so a name never stands for bytes that are not there, even after a power
loss; stored by content hash, a torn file would otherwise stand in for every later upload of
the same bytes. The rename itself, and the folder's entry in the evidence root, become durable
only once those directories are synced: that runs on a worker thread in the background, so the
chat that sent the file does not wait for it. A case must not commit before its files are
durable: filing, and adding files to a case, call ``settle`` with them first, which waits for
their syncs (normally long finished) or syncs the directories itself (files kept before a
restart).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

import filetype

from disputebot.policy.evidence import DEFAULT_ALLOWED_MIMES, EvidenceFile

# Hard ceiling for anything the vault reads, whatever a flow allows: Telegram's cloud Bot API
# serves files up to 20 MB, and nothing bigger needs to pass through memory here.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def sniff(head: bytes) -> str | None:
    """The MIME type the bytes themselves announce, or ``None``."""
    kind = filetype.guess(head)
    return str(kind.mime) if kind is not None else None


def safe_name(name: str) -> str:
    """A display name: no folders, no control or bidi characters, at most 120 characters."""
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c) != "Cf"
    )
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:120] or "file"


# The file's bytes and what it takes to read them back (its size and blocks): ``fdatasync``
# flushes exactly that, skipping only timestamps, which nobody reads. For a file just written
# the size changed, so it costs about what ``fsync`` does (0.24 against 0.24–0.35 ms here);
# it is used for saying what is needed, not for speed. macOS has no ``fdatasync``.
_sync_data = getattr(os, "fdatasync", os.fsync)


def _sync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` durable (a rename into it, a new subfolder)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_names(path: Path) -> None:
    """Make ``path``'s name durable: its folder's entry for it, and the root's for the folder.

    fsync of a file never covers the directory entries that name it. Both are synced every
    time: a folder made by another keep may not be synced yet (or no longer remembered)."""
    _sync_dir(path.parent)
    _sync_dir(path.parent.parent)


def _start_sync(path: Path) -> asyncio.Future[None]:
    sync = asyncio.ensure_future(asyncio.to_thread(_sync_names, path))
    sync.add_done_callback(_report_failure)
    return sync


def _failed(sync: asyncio.Future[None]) -> bool:
    return sync.done() and (sync.cancelled() or sync.exception() is not None)


def _report_failure(sync: asyncio.Future[None]) -> None:
    # A background sync that failed is tried again by settle(); say so meanwhile.
    if not sync.cancelled() and (error := sync.exception()) is not None:
        log.warning("syncing an evidence file failed: %s", error)


# How many recently synced files the vault remembers, so filing need not sync them again.
_REMEMBERED = 4096


class EvidenceVault:
    """Stores evidence bytes; returns the ``EvidenceFile`` the engine checks."""

    def __init__(
        self,
        root: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allowed_mimes: frozenset[str] = DEFAULT_ALLOWED_MIMES,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.allowed_mimes = allowed_mimes
        # A path's sync while it runs (or failed), None once it is done.
        self._syncs: OrderedDict[str, asyncio.Future[None] | None] = OrderedDict()

    async def settle(self, paths: Iterable[str]) -> None:
        """Return once the files at ``paths`` (``EvidenceFile.stored_path``) are on disk.

        A file that is gone (lost before a restart, or purged) is logged and skipped: the
        report it belongs to is not held back for it; its card shows the file missing."""
        for path in dict.fromkeys(paths):
            if path in self._syncs and self._syncs[path] is None:
                continue  # synced
            sync = self._syncs.get(path)
            if sync is None or _failed(sync):
                if not await asyncio.to_thread(Path(path).is_file):
                    log.warning("evidence file %s is missing", path)
                    continue
                sync = self._remember(path, _start_sync(Path(path)))
            await asyncio.shield(sync)

    def _synced_later(self, kept: tuple[EvidenceFile, bool]) -> EvidenceFile:
        """The file, its name's sync started if this keep wrote it (or nobody remembers it)."""
        evidence, wrote = kept
        path = evidence.stored_path
        if path is not None and (wrote or path not in self._syncs):
            self._remember(path, _start_sync(Path(path)))
        return evidence

    def _remember(self, path: str, sync: asyncio.Future[None]) -> asyncio.Future[None]:
        self._syncs[path] = sync
        self._syncs.move_to_end(path)

        def done(finished: asyncio.Future[None]) -> None:
            # Once synced only the fact is kept, not the finished task.
            if self._syncs.get(path) is finished and not _failed(finished):
                self._syncs[path] = None

        sync.add_done_callback(done)
        while len(self._syncs) > _REMEMBERED:
            self._syncs.popitem(last=False)
        return sync

    async def keep_bytes(
        self,
        data: bytes,
        name: str,
        *,
        declared_mime: str | None = None,
        file_id: str | None = None,
    ) -> EvidenceFile:
        kept = await asyncio.to_thread(self._keep, data, name, declared_mime, file_id)
        return self._synced_later(kept)

    async def keep_path(self, path: Path) -> EvidenceFile:
        """Read a local file (the console's way of giving evidence)."""
        return self._synced_later(await asyncio.to_thread(self._keep_path, path))

    def refused_unread(
        self, size: int, name: str, declared_mime: str | None = None, file_id: str | None = None
    ) -> EvidenceFile:
        """A file too large to fetch: described, never downloaded."""
        return EvidenceFile(None, size, None, safe_name(name), None, file_id, declared_mime)

    def _keep_path(self, path: Path) -> tuple[EvidenceFile, bool]:
        size = path.stat().st_size
        if size > self.max_bytes:
            return self.refused_unread(size, path.name), False
        return self._keep(path.read_bytes(), path.name, None, None)

    def _keep(
        self, data: bytes, name: str, declared_mime: str | None, file_id: str | None
    ) -> tuple[EvidenceFile, bool]:
        """The file, and whether this call wrote it (its name then needs syncing)."""
        if len(data) > self.max_bytes:
            return self.refused_unread(len(data), name, declared_mime, file_id), False
        digest = hashlib.sha256(data).hexdigest()
        mime = sniff(data[:8192])
        target = self.root / digest[:2] / digest
        if mime not in self.allowed_mimes:
            # It will be refused; an executable or a page has no business on our disk.
            evidence = EvidenceFile(
                digest, len(data), mime, safe_name(name), None, file_id, declared_mime
            )
            return evidence, False
        wrote = False
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Unique per writer: two chats may send the same file at the same moment.
            tmp = target.with_name(f".{digest}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                _sync_data(out.fileno())
            tmp.replace(target)
            wrote = True
        evidence = EvidenceFile(
            sha256=digest,
            size=len(data),
            mime=mime,
            name=safe_name(name),
            stored_path=str(target),
            file_id=file_id,
            declared_mime=declared_mime,
        )
        return evidence, wrote
