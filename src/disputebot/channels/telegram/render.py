"""Rendering a ``Say`` for Telegram: HTML-escaped text within the size limits, and a keyboard.

The catalogs hold plain text, so the whole rendered message is escaped for HTML parse mode:
nothing a user typed (or a translator wrote) can open a tag or break the message.
"""

from __future__ import annotations

import html
import re

from disputebot.channels.telegram.model import Keyboard
from disputebot.engine.effects import Say
from disputebot.i18n.catalog import Catalogs

MAX_TEXT = 4096
MAX_CAPTION = 1024
# Bidi embeddings, overrides and isolates: in a value a user gave they would reorder the bot's
# own words around it, so they are dropped from every parameter before it is shown.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def split_html(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Escape ``text`` and cut it into messages of at most ``limit`` characters each.

    Cuts fall between paragraphs, else between lines, else between words; only a word longer
    than a whole message is cut inside. An escape sequence (``&amp;``) is never cut.
    """
    pieces = _split(text.strip(), limit)
    return [_escape(piece) for piece in pieces if piece.strip()] or [""]


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _fits(text: str, limit: int) -> bool:
    return len(_escape(text)) <= limit


def _split(text: str, limit: int) -> list[str]:
    if _fits(text, limit):
        return [text]
    for separator in ("\n\n", "\n", " "):
        if separator not in text:
            continue
        chunks: list[str] = []
        current: str | None = None
        for part in text.split(separator):
            for piece in [part] if _fits(part, limit) else _split(part, limit):
                candidate = piece if current is None else current + separator + piece
                if _fits(candidate, limit):
                    current = candidate
                else:
                    if current is not None:
                        chunks.append(current)
                    current = piece
        if current is not None:
            chunks.append(current)
        return chunks
    # One unbroken run: the longest prefix whose escaped form fits, found by bisection.
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(text[:middle], limit):
            low = middle
        else:
            high = middle - 1
    return [text[:low], *_split(text[low:], limit)]


def _neutral(value: str) -> str:
    return _BIDI_CONTROLS.sub("", value)


def render(say: Say, locale: str, catalogs: Catalogs) -> tuple[list[str], Keyboard | None]:
    """Message texts (HTML) and the keyboard, which goes under the last one."""
    chunks = split_html(catalogs.render_all(say.text, locale, _neutral))
    keyboard = [
        [(catalogs.render(button.label, locale, _neutral), button.data) for button in row]
        for row in say.buttons
    ]
    return chunks, keyboard or None
