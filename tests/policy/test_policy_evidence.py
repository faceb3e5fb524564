"""check_evidence / missing_evidence: type from bytes, sizes, counts, duplicates, input order."""

from __future__ import annotations

import hashlib

import pytest

from disputebot.policy.evidence import (
    DEFAULT_ALLOWED_MIMES,
    EvidenceFile,
    EvidenceRefusal,
    EvidenceRules,
    EvidenceVerdict,
    check_evidence,
    missing_evidence,
)

MB = 1024 * 1024
RULES = EvidenceRules()


def sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def ev(
    name: str,
    *,
    mime: str | None = "image/jpeg",
    size: int = 245_760,
    seed: str | None = None,
    downloaded: bool = True,
    declared: str | None = None,
) -> EvidenceFile:
    return EvidenceFile(
        sha256=sha(seed or name) if downloaded else None,
        size=size,
        mime=mime,
        name=name,
        stored_path=f"evidence/{sha(seed or name)[:2]}/{name}" if downloaded else None,
        file_id=f"AgACAgIAAxkBAAI{len(name)}",
        declared_mime=declared,
    )


@pytest.mark.parametrize(
    ("file", "code"),
    [
        (ev("IMG_20260304_101512.jpg"), None),
        (ev("Screenshot_2026-03-04-10-15-12.png", mime="image/png"), None),
        (ev("tracking.webp", mime="image/webp"), None),
        (ev("unboxing.gif", mime="image/gif", size=8 * MB), None),
        (ev("IMG_4821.HEIC", mime="image/heic", size=3 * MB), None),
        (ev("order-8161234567890123.pdf", mime="application/pdf", size=180_000), None),
        (ev("exactly-at-limit.jpg", size=20 * MB), None),
        (ev("one-byte.png", mime="image/png", size=1), None),
        # The type is what the bytes say, never the name or the client's declaration.
        (ev("photo.jpg", mime="application/x-msdownload", declared="image/jpeg"), "type"),
        (ev("invoice.pdf", mime="application/zip", declared="application/pdf"), "type"),
        (ev("scan.exe", mime="image/png", declared="application/octet-stream"), None),
        (ev("chat.txt.jpg", mime="text/plain"), "type"),
        (ev("video.mp4", mime="video/mp4", size=12 * MB), "type"),
        (ev("voice.ogg", mime="audio/ogg"), "type"),
        (ev("page.html", mime="text/html"), "type"),
        (ev("mystery.bin", mime=None), "type"),
        (ev("drawing.svg", mime="image/svg+xml"), "type"),
        (ev("IMG_0001.JPG", mime="IMAGE/JPEG"), "type"),
        (ev("over-limit.jpg", size=20 * MB + 1), "too_large"),
        (ev("huge.pdf", mime="application/pdf", size=300 * MB), "too_large"),
        (ev("huge-video.mp4", mime="video/mp4", size=300 * MB), "too_large"),
        (ev("empty.jpg", size=0), "empty"),
        (ev("empty.mp4", mime="video/mp4", size=0), "empty"),
        (ev("never-fetched.jpg", downloaded=False), "not_downloaded"),
        (ev("never-fetched.pdf", mime=None, downloaded=False), "not_downloaded"),
        (ev("declared-huge.jpg", size=50 * MB, downloaded=False), "too_large"),
        (ev("declared-at-limit.jpg", size=20 * MB, downloaded=False), "not_downloaded"),
    ],
)
def test_one_file(file: EvidenceFile, code: str | None) -> None:
    verdict = check_evidence([file], [], RULES)

    if code is None:
        assert verdict == EvidenceVerdict(accepted=(file,), duplicates=(), refused=())
    else:
        assert verdict == EvidenceVerdict(
            accepted=(), duplicates=(), refused=(EvidenceRefusal(file, code),)
        )


A = ev("a.jpg")
B = ev("b.png", mime="image/png")
C = ev("c.pdf", mime="application/pdf")
A_AGAIN = ev("a-forwarded-again.jpg", seed="a.jpg")
B_AGAIN = ev("b (1).png", mime="image/png", seed="b.png")
VIDEO = ev("clip.mp4", mime="video/mp4")
EMPTY = ev("zero.jpg", size=0)


@pytest.mark.parametrize(
    ("new", "already", "accepted", "duplicates", "refused"),
    [
        ([A, B, C], [], [A, B, C], [], []),
        ([C, A, B], [], [C, A, B], [], []),
        ([A, A_AGAIN], [], [A], [A_AGAIN], []),
        ([A_AGAIN], [A], [], [A_AGAIN], []),
        ([B, A_AGAIN, C], [A], [B, C], [A_AGAIN], []),
        ([A, B, A_AGAIN, B_AGAIN], [], [A, B], [A_AGAIN, B_AGAIN], []),
        ([VIDEO, A, EMPTY], [], [A], [], [(VIDEO, "type"), (EMPTY, "empty")]),
        ([VIDEO, VIDEO], [], [], [], [(VIDEO, "type"), (VIDEO, "type")]),
        ([A, A_AGAIN, A], [B], [A], [A_AGAIN, A], []),
    ],
)
def test_batches(
    new: list[EvidenceFile],
    already: list[EvidenceFile],
    accepted: list[EvidenceFile],
    duplicates: list[EvidenceFile],
    refused: list[tuple[EvidenceFile, str]],
) -> None:
    verdict = check_evidence(new, already, RULES)

    assert verdict.accepted == tuple(accepted)
    assert verdict.duplicates == tuple(duplicates)
    assert verdict.refused == tuple(EvidenceRefusal(f, c) for f, c in refused)


def photos(count: int, prefix: str = "IMG_") -> list[EvidenceFile]:
    return [ev(f"{prefix}{n:04d}.jpg") for n in range(count)]


@pytest.mark.parametrize(
    ("already", "new", "max_files", "accepted", "too_many"),
    [
        (0, 3, 3, 3, 0),
        (0, 4, 3, 3, 1),
        (2, 3, 3, 1, 2),
        (3, 1, 3, 0, 1),
        (9, 2, 10, 1, 1),
        (10, 5, 10, 0, 5),
        (0, 12, 10, 10, 2),
        (0, 1, 1, 1, 0),
    ],
)
def test_max_files(already: int, new: int, max_files: int, accepted: int, too_many: int) -> None:
    rules = EvidenceRules(max_files=max_files)
    kept = photos(already, "kept_")
    batch = photos(new, "new_")

    verdict = check_evidence(batch, kept, rules)

    assert verdict.accepted == tuple(batch[:accepted])
    assert verdict.refused == tuple(EvidenceRefusal(f, "too_many") for f in batch[accepted:])
    assert len(verdict.accepted) + too_many == new


def test_refused_files_do_not_use_up_the_count() -> None:
    rules = EvidenceRules(max_files=2)
    batch = [VIDEO, EMPTY, A, B]

    verdict = check_evidence(batch, [], rules)

    assert verdict.accepted == (A, B)
    assert [r.code for r in verdict.refused] == ["type", "empty"]


def test_a_copy_of_a_file_refused_for_the_count_is_a_duplicate() -> None:
    verdict = check_evidence([A, B, A_AGAIN], [], EvidenceRules(max_files=1))

    assert verdict.accepted == (A,)
    assert verdict.refused == (EvidenceRefusal(B, "too_many"),)
    assert verdict.duplicates == (A_AGAIN,)


def test_every_file_lands_in_exactly_one_list() -> None:
    batch = [A, VIDEO, A_AGAIN, B, EMPTY, ev("x.jpg", downloaded=False), C, *photos(12)]

    verdict = check_evidence(batch, [B_AGAIN], RULES)

    out = [*verdict.accepted, *verdict.duplicates, *(r.file for r in verdict.refused)]
    assert sorted(out, key=batch.index) == batch


@pytest.mark.parametrize(
    ("rules", "file", "code"),
    [
        (EvidenceRules(max_bytes=5 * MB), ev("six.jpg", size=6 * MB), "too_large"),
        (EvidenceRules(max_bytes=5 * MB), ev("five.jpg", size=5 * MB), None),
        (EvidenceRules(allowed_mimes=frozenset({"application/pdf"})), ev("p.jpg"), "type"),
        (
            EvidenceRules(allowed_mimes=frozenset({"video/mp4"})),
            ev("clip.mp4", mime="video/mp4"),
            None,
        ),
        (
            EvidenceRules(allowed_mimes=DEFAULT_ALLOWED_MIMES | {"video/mp4"}),
            ev("clip.mp4", mime="video/mp4"),
            None,
        ),
    ],
)
def test_operator_rules(rules: EvidenceRules, file: EvidenceFile, code: str | None) -> None:
    verdict = check_evidence([file], [], rules)

    assert [r.code for r in verdict.refused] == ([] if code is None else [code])
    assert verdict.accepted == (() if code else (file,))


def test_default_types() -> None:
    assert (
        frozenset(
            {"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic", "application/pdf"}
        )
        == DEFAULT_ALLOWED_MIMES
    )
    assert EvidenceRules() == EvidenceRules(1, 10, 20 * MB, DEFAULT_ALLOWED_MIMES)


@pytest.mark.parametrize(
    ("kept", "min_files", "missing"),
    [
        (0, 1, 1),
        (1, 1, 0),
        (0, 3, 3),
        (1, 3, 2),
        (3, 3, 0),
        (7, 3, 0),
        (0, 0, 0),
    ],
)
def test_missing_evidence(kept: int, min_files: int, missing: int) -> None:
    assert missing_evidence(photos(kept), EvidenceRules(min_files=min_files)) == missing


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_files": -1}, "min_files"),
        ({"min_files": 5, "max_files": 3}, "max_files"),
        ({"max_files": 0}, "max_files"),
        ({"max_bytes": 0}, "max_bytes"),
    ],
)
def test_impossible_rules(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EvidenceRules(**kwargs)
