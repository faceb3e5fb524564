"""Evidence precautions: allowed types (decided from bytes upstream), sizes, counts, duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


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


DEFAULT_ALLOWED_MIMES: frozenset[str] = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "application/pdf"}
)

RefusalCode = Literal["type", "too_large", "empty", "too_many", "not_downloaded"]


@dataclass(frozen=True, slots=True)
class EvidenceRules:
    """The operator's limits on evidence for one report.

    Raises:
        ValueError: On construction, when the limits cannot all be met.
    """

    min_files: int = 1
    max_files: int = 10
    max_bytes: int = 20 * 1024 * 1024
    allowed_mimes: frozenset[str] = DEFAULT_ALLOWED_MIMES

    def __post_init__(self) -> None:
        if self.min_files < 0:
            raise ValueError(f"evidence rules: min_files must be >= 0, not {self.min_files}")
        if self.max_files < max(self.min_files, 1):
            raise ValueError(
                f"evidence rules: max_files ({self.max_files}) must be >= 1 and >= min_files"
                f" ({self.min_files})"
            )
        if self.max_bytes < 1:
            raise ValueError(f"evidence rules: max_bytes must be >= 1, not {self.max_bytes}")


@dataclass(frozen=True, slots=True)
class EvidenceRefusal:
    """A file that was not kept, and why."""

    file: EvidenceFile
    code: RefusalCode


@dataclass(frozen=True, slots=True)
class EvidenceVerdict:
    """What became of a batch of new files.

    Attributes:
        accepted: New, unique, allowed files, in input order.
        duplicates: Files with the same ``sha256`` as one already kept or earlier in the batch.
        refused: Files refused for their type, size, emptiness, count or missing download.
    """

    accepted: tuple[EvidenceFile, ...]
    duplicates: tuple[EvidenceFile, ...]
    refused: tuple[EvidenceRefusal, ...]


def _file_problem(file: EvidenceFile, rules: EvidenceRules) -> RefusalCode | None:
    if file.sha256 is None:
        # A declared size over the limit is why the file was never downloaded: say that.
        return "too_large" if file.size > rules.max_bytes else "not_downloaded"
    if file.size <= 0:
        return "empty"
    if file.size > rules.max_bytes:
        return "too_large"
    if file.mime not in rules.allowed_mimes:
        return "type"
    return None


def check_evidence(
    new: Sequence[EvidenceFile], already: Sequence[EvidenceFile], rules: EvidenceRules
) -> EvidenceVerdict:
    """Sort a batch of new evidence files into accepted, duplicate and refused.

    The type is ``file.mime``, decided from the file's bytes upstream; the file's name and the
    type the client declared are never trusted. Checks run in this order for each file: not
    downloaded, duplicate, empty, too large, type, too many.

    Args:
        new: The files just received, in the order the user sent them.
        already: The files kept so far for this report.
        rules: The operator's limits.

    Returns:
        The verdict; every file in ``new`` appears in exactly one of its three lists.
    """
    seen = {file.sha256 for file in already if file.sha256 is not None}
    accepted: list[EvidenceFile] = []
    duplicates: list[EvidenceFile] = []
    refused: list[EvidenceRefusal] = []
    for file in new:
        if file.sha256 is not None and file.sha256 in seen:
            duplicates.append(file)
            continue
        problem = _file_problem(file, rules)
        if problem is not None:
            refused.append(EvidenceRefusal(file, problem))
            continue
        assert file.sha256 is not None  # _file_problem refuses files without one
        # A second copy of a file refused only for the count is a duplicate, not "too many".
        seen.add(file.sha256)
        if len(already) + len(accepted) >= rules.max_files:
            refused.append(EvidenceRefusal(file, "too_many"))
            continue
        accepted.append(file)
    return EvidenceVerdict(tuple(accepted), tuple(duplicates), tuple(refused))


def missing_evidence(already: Sequence[EvidenceFile], rules: EvidenceRules) -> int:
    """How many more files are needed to reach ``rules.min_files`` (0 when there are enough)."""
    return max(0, rules.min_files - len(already))
