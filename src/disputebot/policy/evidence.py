"""Evidence precautions: allowed types (decided from bytes upstream), sizes, counts, duplicates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One file a user gave as evidence.

    ``mime`` is what the file's bytes say it is (``None`` when they say nothing known), never
    its name or the type a client declared. ``sha256`` is ``None`` when the file was refused
    before it was downloaded (for example a declared size over the limit).
    """

    sha256: str | None
    size: int
    mime: str | None
    name: str
    stored_path: str | None = None
    file_id: str | None = None
    declared_mime: str | None = None
