"""The evidence vault: typed from bytes, stored by hash, owner-only, names kept only as data."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from disputebot.service import evidence
from disputebot.service.evidence import EvidenceVault, safe_name
from tests.support import elf_bytes, pdf_bytes, png_bytes, sha


async def test_files_are_owner_only_and_named_by_hash(tmp_path: Path) -> None:
    vault = EvidenceVault(tmp_path / "evidence")
    kept = await vault.keep_bytes(png_bytes(5), "../../etc/passwd.png")
    path = Path(kept.stored_path or "")
    assert path.name == sha(png_bytes(5))
    assert path.parent.parent == tmp_path / "evidence"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert kept.name == "passwd.png"


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (png_bytes(1), "image/png"),
        (pdf_bytes(), "application/pdf"),
        (elf_bytes(), "application/x-executable"),
        (b"<html><script>alert(1)</script></html>", None),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', None),
    ],
)
async def test_type_comes_from_the_bytes(tmp_path: Path, data: bytes, mime: str | None) -> None:
    kept = await EvidenceVault(tmp_path).keep_bytes(data, "photo.png", declared_mime="image/png")
    assert kept.mime == mime
    assert kept.declared_mime == "image/png"


async def test_too_large_is_never_read(tmp_path: Path) -> None:
    vault = EvidenceVault(tmp_path / "ev", max_bytes=10)
    big = tmp_path / "big.pdf"
    big.write_bytes(pdf_bytes())
    kept = await vault.keep_path(big)
    assert kept.sha256 is None
    assert kept.stored_path is None
    assert not (tmp_path / "ev").exists()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("receipt.png", "receipt.png"),
        ("..\\..\\windows\\evil.png", "evil.png"),
        ("photo\u202egnp.exe", "photognp.exe"),
        ("a\x00b.png", "a_b.png"),
        ("", "file"),
        ("...", "file"),
        ("x" * 300 + ".png", "x" * 120),
    ],
)
def test_display_names_are_sanitized(name: str, shown: str) -> None:
    assert safe_name(name) == shown


async def test_refused_types_are_never_written(tmp_path: Path) -> None:
    vault = EvidenceVault(tmp_path / "ev")
    kept = await vault.keep_bytes(elf_bytes(), "receipt.png")
    assert kept.mime == "application/x-executable"
    assert kept.sha256 == sha(elf_bytes())
    assert kept.stored_path is None
    assert not (tmp_path / "ev").exists()


class SyncLog:
    """Records what the vault asks the disk to sync: files (the name each had when synced)
    and folders."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
        self.files: list[str] = []
        self.folders: list[Path] = []
        self.fail = fail
        monkeypatch.setattr(evidence, "_sync_data", self._file)
        monkeypatch.setattr(evidence, "_sync_dir", self._folder)

    def _file(self, fd: int) -> None:
        self.files.append(os.readlink(f"/proc/self/fd/{fd}"))

    def _folder(self, path: Path) -> None:
        if self.fail:
            raise OSError(5, "Input/output error")
        self.folders.append(Path(path))


async def test_bytes_are_synced_before_the_file_takes_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = SyncLog(monkeypatch)
    kept = await EvidenceVault(tmp_path / "evidence").keep_bytes(png_bytes(7), "a.png")
    assert kept.stored_path is not None
    (synced_as,) = synced.files
    # Synced under its temporary name: the hash names only bytes that are on disk.
    assert Path(synced_as).parent == Path(kept.stored_path).parent
    assert Path(synced_as).name.startswith(".")
    assert Path(synced_as) != Path(kept.stored_path)


async def test_kept_files_are_durable_once_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = SyncLog(monkeypatch)
    root = tmp_path / "evidence"
    vault = EvidenceVault(root)
    kept = await vault.keep_bytes(png_bytes(8), "a.png")
    assert kept.stored_path is not None
    await vault.settle([kept.stored_path])
    stored = Path(kept.stored_path)
    # The folder's entry names the file; the root's names the folder.
    assert synced.folders == [stored.parent, root]
    # Settled once: filing it again (another case, the same bytes) syncs nothing more.
    await vault.settle([kept.stored_path])
    assert synced.folders == [stored.parent, root]


async def test_files_kept_before_a_restart_are_synced_when_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = EvidenceVault(tmp_path / "evidence")
    kept = await before.keep_bytes(png_bytes(9), "a.png")
    assert kept.stored_path is not None
    await before.settle([kept.stored_path])
    synced = SyncLog(monkeypatch)
    await EvidenceVault(tmp_path / "evidence").settle([kept.stored_path])
    assert synced.folders == [Path(kept.stored_path).parent, tmp_path / "evidence"]


async def test_a_file_written_again_after_a_purge_is_synced_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = SyncLog(monkeypatch)
    vault = EvidenceVault(tmp_path / "evidence")
    kept = await vault.keep_bytes(png_bytes(11), "a.png")
    assert kept.stored_path is not None
    await vault.settle([kept.stored_path])
    Path(kept.stored_path).unlink()  # `disputebot purge`, from another process
    again = await vault.keep_bytes(png_bytes(11), "a.png")
    await vault.settle([kept.stored_path])
    assert again.stored_path == kept.stored_path
    assert len(synced.files) == 2
    assert len(synced.folders) == 4


async def test_a_failed_sync_fails_settle_and_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = SyncLog(monkeypatch, fail=True)
    vault = EvidenceVault(tmp_path / "evidence")
    kept = await vault.keep_bytes(png_bytes(10), "a.png")
    assert kept.stored_path is not None
    with pytest.raises(OSError, match="Input/output"):
        await vault.settle([kept.stored_path])
    synced.fail = False
    await vault.settle([kept.stored_path])
    assert synced.folders == [Path(kept.stored_path).parent, tmp_path / "evidence"]


async def test_a_missing_file_does_not_hold_its_report_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kept = await EvidenceVault(tmp_path / "evidence").keep_bytes(png_bytes(12), "a.png")
    assert kept.stored_path is not None
    Path(kept.stored_path).unlink()  # lost before a restart
    await EvidenceVault(tmp_path / "evidence").settle([kept.stored_path])
    assert f"evidence file {kept.stored_path} is missing" in caplog.text
