"""Bot API request parameters from a query string, JSON, urlencoded or multipart body.

Clients differ in how they encode: PTB posts a urlencoded form (multipart once a file is
attached) with nested objects and numbers JSON-encoded; aiogram always posts multipart/form-data
and may upload a top-level file as ``photo=attach://<part>``. Values are kept as received and
converted on access, so both encodings (and plain JSON bodies) read the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from disputebot.testing.fake_bot_api.state import ApiError, bad_request

__all__ = ["Params", "Upload", "read_multipart", "read_request"]


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str
    content_type: str | None
    data: bytes


async def read_multipart(
    reader: aiohttp.MultipartReader,
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Split a multipart body into text fields and file parts."""
    values: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
            continue
        data = await part.read(decode=True)
        if part.filename is not None:
            ctype = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            files[part.name] = Upload(part.name, part.filename, ctype, bytes(data))
        else:
            values[part.name] = bytes(data).decode("utf-8")
    return values, files


async def read_request(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """All parameters of a Bot API request: query string first, then the body on top."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if not request.body_exists:
        return values, files
    ctype = request.content_type
    if ctype == "multipart/form-data":
        fields, files = await read_multipart(await request.multipart())
        values.update(fields)
    elif ctype == "application/json":
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("JSON object expected")
        values.update(body)
    else:
        # Telegram reads any other body as a urlencoded form.
        values.update(parse_qsl(await request.text(), keep_blank_values=True))
    return values, files


class Params:
    """Typed access to request parameters, failing with Telegram's 400 sentences."""

    def __init__(self, values: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def has(self, name: str) -> bool:
        """Whether the parameter was sent with a non-empty value."""
        return self.values.get(name) not in (None, "")

    def get_str(self, name: str) -> str | None:
        """A string parameter; numbers sent as JSON come back as their text."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    def get_int(self, name: str) -> int | None:
        """An integer parameter (JSON number or decimal string)."""
        value = self.values.get(name)
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f'field "{name}" must be of type Integer') from None

    def get_float(self, name: str) -> float | None:
        """A number parameter."""
        value = self.values.get(name)
        if value in (None, ""):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be of type Float') from None

    def get_bool(self, name: str) -> bool:
        """A Boolean parameter; absent means False."""
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in ("true", "1")

    def get_json(self, name: str) -> Any:
        """A nested object: already parsed in a JSON body, JSON text in a form."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def chat_id(self) -> int | str:
        """The chat_id parameter: an integer id or an @username."""
        value = self.values.get("chat_id")
        if value in (None, ""):
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None

    def required_int(self, name: str, missing: str) -> int:
        """An integer parameter that must be present; ``missing`` is the 400 description."""
        value = self.get_int(name)
        if value is None:
            raise bad_request(missing)
        return value

    def input_file(self, name: str) -> Upload | str | None:
        """A file parameter: an uploaded part (directly or via attach://) or a file_id/URL."""
        if name in self.files:
            return self.files[name]
        value = self.get_str(name)
        if not value:
            return None
        return self.resolve_attach(value)

    def resolve_attach(self, value: str) -> Upload | str:
        """Turn ``attach://<part>`` into that uploaded part; anything else is returned as is."""
        if value.startswith("attach://"):
            part = self.files.get(value.removeprefix("attach://"))
            if part is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return part
        return value
