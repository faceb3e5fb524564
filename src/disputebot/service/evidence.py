"""The evidence vault: files kept by content hash, typed from their bytes, never executable.

Files are written once, atomically, under ``<evidence_dir>/<aa>/<sha256>`` with owner-only
permissions; the name the user gave is kept only as data (sanitized), never as a path.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import unicodedata
from pathlib import Path

import filetype

from disputebot.policy.evidence import DEFAULT_ALLOWED_MIMES, EvidenceFile

# Hard ceiling for anything the vault reads, whatever a flow allows: Telegram's cloud Bot API
# serves files up to 20 MB, and nothing bigger needs to pass through memory here.
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
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

    async def keep_bytes(
        self,
        data: bytes,
        name: str,
        *,
        declared_mime: str | None = None,
        file_id: str | None = None,
    ) -> EvidenceFile:
        return await asyncio.to_thread(self._keep, data, name, declared_mime, file_id)

    async def keep_path(self, path: Path) -> EvidenceFile:
        """Read a local file (the console's way of giving evidence)."""
        return await asyncio.to_thread(self._keep_path, path)

    def refused_unread(
        self, size: int, name: str, declared_mime: str | None = None, file_id: str | None = None
    ) -> EvidenceFile:
        """A file too large to fetch: described, never downloaded."""
        return EvidenceFile(None, size, None, safe_name(name), None, file_id, declared_mime)

    def _keep_path(self, path: Path) -> EvidenceFile:
        size = path.stat().st_size
        if size > self.max_bytes:
            return self.refused_unread(size, path.name)
        return self._keep(path.read_bytes(), path.name, None, None)

    def _keep(
        self, data: bytes, name: str, declared_mime: str | None, file_id: str | None
    ) -> EvidenceFile:
        if len(data) > self.max_bytes:
            return self.refused_unread(len(data), name, declared_mime, file_id)
        digest = hashlib.sha256(data).hexdigest()
        mime = sniff(data[:8192])
        target = self.root / digest[:2] / digest
        if mime not in self.allowed_mimes:
            # It will be refused; an executable or a page has no business on our disk.
            return EvidenceFile(
                digest, len(data), mime, safe_name(name), None, file_id, declared_mime
            )
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Unique per writer: two chats may send the same file at the same moment.
            tmp = target.with_name(f".{digest}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(target)
        return EvidenceFile(
            sha256=digest,
            size=len(data),
            mime=mime,
            name=safe_name(name),
            stored_path=str(target),
            file_id=file_id,
            declared_mime=declared_mime,
        )
