"""How the console shows a message: plain text with numbered choices, or one JSON line."""

from __future__ import annotations

import json

from disputebot.engine.effects import Button, Say
from disputebot.i18n.catalog import Catalogs


def flat_buttons(say: Say) -> list[Button]:
    return [button for row in say.buttons for button in row]


def as_text(say: Say, chat_id: int, locale: str, catalogs: Catalogs, *, own_chat: bool) -> str:
    body = catalogs.render_all(say.text, locale)
    head = "bot" if own_chat else f"bot → chat {chat_id}"
    lines = [f"{head}:", *(f"  {line}" if line else "" for line in body.splitlines())]
    lines += [
        f"  [{i}] {catalogs.render(button.label, locale)}"
        for i, button in enumerate(flat_buttons(say), 1)
    ]
    return "\n".join(lines)


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
        },
        ensure_ascii=False,
    )
