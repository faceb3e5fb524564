"""Accepted answers as JSON-compatible values, and back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from disputebot.policy.evidence import EvidenceFile

_FIELDS = ("sha256", "size", "mime", "name", "stored_path", "file_id", "declared_mime")


def evidence_to_json(file: EvidenceFile) -> dict[str, Any]:
    return {name: getattr(file, name) for name in _FIELDS}


def evidence_from_json(data: Mapping[str, Any]) -> EvidenceFile:
    return EvidenceFile(
        sha256=data.get("sha256"),
        size=int(data.get("size", 0)),
        mime=data.get("mime"),
        name=str(data.get("name", "")),
        stored_path=data.get("stored_path"),
        file_id=data.get("file_id"),
        declared_mime=data.get("declared_mime"),
    )


def evidence_list(value: Any) -> tuple[EvidenceFile, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return ()
    return tuple(evidence_from_json(item) for item in value if isinstance(item, Mapping))


def fingerprint(file: EvidenceFile) -> str:
    """The short content fingerprint users see on summaries and receipts."""
    return (file.sha256 or "-")[:12]
