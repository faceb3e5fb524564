"""What the engine asks the world to do: say something, file a case, drop a draft.

Texts are never strings here: a ``Msg`` is a message id from the catalogs plus parameters, so
the channel renders it in the reader's language and escapes user-given parameters for its own
markup. Parameters may themselves be ``Msg`` (a category's label inside a summary).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Expects = Literal["text", "choice", "files", "confirm"]


@dataclass(frozen=True, slots=True)
class Msg:
    """A catalog message id with its parameters."""

    key: str
    params: Mapping[str, str | int | Msg] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button. ``data`` is opaque to users and validated when it comes back."""

    label: Msg
    data: str


@dataclass(frozen=True, slots=True)
class Media:
    """A file sent with a message: a stored evidence item or a generated image.

    Channels send ``file_id`` when they have one (Telegram re-sends without uploading), else
    the file at ``path``, else ``data``. ``kind`` decides how it is shown.
    """

    kind: Literal["photo", "document"]
    name: str
    file_id: str | None = None
    path: str | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class Say:
    """One message to one chat: paragraphs, optional buttons, and what the bot now expects.

    The first ``notes`` paragraphs remark on the last answer (received, refused because …);
    the rest is the question. A channel that merges several replies into one keeps every
    note and the last question.
    """

    text: tuple[Msg, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    step: str | None = None
    expects: Expects | None = None
    notes: int = 0
    media: tuple[Media, ...] = ()


@dataclass(frozen=True, slots=True)
class FileCase:
    """File the finished draft as a case.

    ``answers`` holds every answer of the flow by step id, as JSON-compatible values.
    ``attestation`` names the attestation text (message id and flow version) that was shown.
    """

    flow: str
    version: int
    answers: Mapping[str, Any]
    attestation: str


@dataclass(frozen=True, slots=True)
class Finish:
    """A flow whose confirm action is ``finish`` was submitted: carry out what it is for.

    ``answers`` holds every answer by step id (JSON-compatible values); ``context`` is the
    session's context as it was given when the flow started (``{"case_id": "DR-…"}``).
    """

    flow: str
    version: int
    answers: Mapping[str, Any]
    context: Mapping[str, str]


Action = FileCase | Finish


def _msg_to_obj(msg: Msg) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in msg.params.items():
        params[name] = {"$msg": _msg_to_obj(value)} if isinstance(value, Msg) else value
    return {"key": msg.key, "params": params}


def _msg_from_obj(obj: Mapping[str, Any]) -> Msg:
    params: dict[str, str | int | Msg] = {}
    for name, value in obj.get("params", {}).items():
        if isinstance(value, dict) and "$msg" in value:
            params[name] = _msg_from_obj(value["$msg"])
        else:
            params[name] = value
    return Msg(str(obj["key"]), params)


def say_to_json(say: Say) -> str:
    """Serialize a ``Say`` for the outbox."""
    return json.dumps(
        {
            "text": [_msg_to_obj(m) for m in say.text],
            "buttons": [
                [{"label": _msg_to_obj(b.label), "data": b.data} for b in row]
                for row in say.buttons
            ],
            "step": say.step,
            "expects": say.expects,
            "notes": say.notes,
            "media": [_media_to_obj(m) for m in say.media],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def say_from_json(data: str) -> Say:
    """Inverse of ``say_to_json``."""
    obj = json.loads(data)
    return Say(
        text=tuple(_msg_from_obj(m) for m in obj["text"]),
        buttons=tuple(
            tuple(Button(_msg_from_obj(b["label"]), str(b["data"])) for b in row)
            for row in obj.get("buttons", [])
        ),
        step=obj.get("step"),
        expects=obj.get("expects"),
        notes=int(obj.get("notes", 0)),
        media=tuple(_media_from_obj(m) for m in obj.get("media", [])),
    )


def _media_to_obj(media: Media) -> dict[str, Any]:
    return {
        "kind": media.kind,
        "name": media.name,
        "file_id": media.file_id,
        "path": media.path,
        "data": None if media.data is None else base64.b64encode(media.data).decode("ascii"),
    }


def _media_from_obj(obj: Mapping[str, Any]) -> Media:
    data = obj.get("data")
    return Media(
        kind="photo" if obj.get("kind") == "photo" else "document",
        name=str(obj.get("name", "")),
        file_id=obj.get("file_id"),
        path=obj.get("path"),
        data=None if data is None else base64.b64decode(data),
    )


def N_(key: str) -> str:
    """Mark a message id kept in a table so the catalog extractor finds it."""
    return key
