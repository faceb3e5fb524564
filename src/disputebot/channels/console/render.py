"""How the console shows a message: plain text with numbered choices, or one JSON line."""

from __future__ import annotations

import json
from typing import Any

from disputebot.engine.effects import Button, Media, Say
from disputebot.i18n.catalog import Catalogs


def flat_buttons(say: Say) -> list[Button]:
    return [button for row in say.buttons for button in row]


def as_text(say: Say, chat_id: int, locale: str, catalogs: Catalogs, *, own_chat: bool) -> str:
    body = catalogs.render_all(say.text, locale)
    head = "bot" if own_chat else f"bot → chat {chat_id}"
    lines = [f"{head}:", *(f"  {line}" if line else "" for line in body.splitlines())]
    lines += [f"  📎 {_where(m)}" for m in say.media]
    lines += [
        f"  [{i}] {catalogs.render(button.label, locale)}"
        for i, button in enumerate(flat_buttons(say), 1)
    ]
    return "\n".join(lines)


def _where(media: Media) -> str:
    if media.path:
        return f"{media.name} ({media.path})"
    if media.data is not None:
        return f"{media.name} ({len(media.data)} bytes)"
    return media.name


def _media(say: Say) -> dict[str, Any]:
    """Files go in a ``media`` key, only on messages that carry some."""
    if not say.media:
        return {}
    return {
        "media": [
            {
                "kind": m.kind,
                "name": m.name,
                "path": m.path,
                "bytes": len(m.data) if m.data is not None else None,
            }
            for m in say.media
        ]
    }


def as_json(say: Say, chat_id: int, locale: str, catalogs: Catalogs) -> str:
    return json.dumps(
        {
            "chat": chat_id,
            "text": catalogs.render_all(say.text, locale),
            "buttons": [
                [{"label": catalogs.render(b.label, locale), "data": b.data} for b in row]
                for row in say.buttons
            ],
            "step": say.step,
            "expects": say.expects,
            **_media(say),
        },
        ensure_ascii=False,
    )
