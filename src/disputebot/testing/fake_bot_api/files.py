"""Files the fake server knows: what users sent and what the bot uploaded, by file_id and path."""

from __future__ import annotations

import mimetypes
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FileStore", "StoredFile", "image_size"]

# Telegram's file_ids start with a type-dependent prefix; mimicking it makes logs look familiar.
_PREFIX = {
    "photo": "AgACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
    "sticker": "CAACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
}
_FOLDER = {"photo": "photos", "document": "documents", "sticker": "stickers", "voice": "voice"}
# Photo sizes Telegram derives from an upload: the largest side of each thumbnail.
_THUMB_SIDES = (90, 320)
_DEFAULT_SIZE = (1280, 960)


@dataclass
class StoredFile:
    """One file_id: its bytes and what getFile reports about it."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    size: int
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    # A photo file knows the whole PhotoSize list it belongs to, so it can be re-sent by id.
    photo_sizes: list[dict[str, Any]] = field(default_factory=list)

    def document_json(self) -> dict[str, Any]:
        """The Bot API Document object."""
        doc: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name:
            doc["file_name"] = self.file_name
        if self.mime_type:
            doc["mime_type"] = self.mime_type
        doc["file_size"] = self.size
        return doc


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, GIF or JPEG; a plausible camera size for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data) or _DEFAULT_SIZE
    return _DEFAULT_SIZE


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + length
    return None


class FileStore:
    """Every file_id the fake has handed out."""

    def __init__(self) -> None:
        self.by_id: dict[str, StoredFile] = {}
        self.by_path: dict[str, StoredFile] = {}
        self._count = 0

    def get(self, file_id: str) -> StoredFile | None:
        """The file behind ``file_id``, or None when the fake never issued it."""
        return self.by_id.get(file_id)

    def add(
        self,
        kind: str,
        data: bytes,
        *,
        size: int | None = None,
        mime_type: str | None = None,
        file_name: str | None = None,
    ) -> StoredFile:
        """Register bytes under a fresh file_id; ``size`` may claim more than ``data`` holds."""
        self._count += 1
        if kind == "photo":
            ext = ".jpg"  # Telegram re-encodes photos as JPEG
        elif kind == "voice":
            ext = ".oga"
        elif kind == "sticker":
            ext = ".webp"
        else:
            guessed = mimetypes.guess_extension(mime_type or "") if mime_type else None
            suffix = "." + file_name.rsplit(".", 1)[1] if file_name and "." in file_name else ""
            ext = suffix or guessed or ".bin"
        stored = StoredFile(
            file_id=_PREFIX.get(kind, "BQACAgIAAxkBAAI") + secrets.token_urlsafe(24),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            kind=kind,
            data=data,
            size=len(data) if size is None else size,
            file_path=f"{_FOLDER.get(kind, 'documents')}/file_{self._count}{ext}",
            mime_type=mime_type,
            file_name=file_name,
        )
        self.by_id[stored.file_id] = stored
        self.by_path[stored.file_path] = stored
        return stored

    def add_photo(self, data: bytes) -> list[dict[str, Any]]:
        """Register a photo as Telegram does: two thumbnails plus the full image, smallest first.

        The thumbnails get their own file_ids and smaller byte strings (prefixes of the real
        bytes); only the last PhotoSize downloads the bytes that were sent.
        """
        width, height = image_size(data)
        sizes: list[dict[str, Any]] = []
        for index, side in enumerate(_THUMB_SIDES):
            scale = min(1.0, side / max(width, height, 1))
            thumb = data[: max(1, len(data) * (index + 1) // 4)]
            stored = self.add("photo", thumb, mime_type="image/jpeg")
            sizes.append(
                _photo_size(stored, max(1, round(width * scale)), max(1, round(height * scale)))
            )
        sizes.append(_photo_size(self.add("photo", data, mime_type="image/jpeg"), width, height))
        for size in sizes:
            self.by_id[size["file_id"]].photo_sizes = sizes
        return sizes


def _photo_size(stored: StoredFile, width: int, height: int) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "width": width,
        "height": height,
        "file_size": stored.size,
    }
