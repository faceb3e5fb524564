"""What happened in a chat, as the engine sees it. Facts in the past tense."""

from __future__ import annotations

from dataclasses import dataclass

from disputebot.policy.evidence import EvidenceFile


@dataclass(frozen=True, slots=True)
class TextReceived:
    text: str


@dataclass(frozen=True, slots=True)
class CommandReceived:
    """``/name args``; ``name`` is lower-case, without the slash or a ``@botname`` suffix."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    """An inline button's data came back. It is untrusted: it may be stale or forged."""

    data: str


@dataclass(frozen=True, slots=True)
class FilesReceived:
    files: tuple[EvidenceFile, ...]


@dataclass(frozen=True, slots=True)
class UnsupportedReceived:
    """Input the bot cannot use anywhere: a sticker, a voice note, a location, …"""

    kind: str


Event = TextReceived | CommandReceived | ButtonPressed | FilesReceived | UnsupportedReceived


def text_event(text: str) -> TextReceived | CommandReceived:
    """A typed line: ``/name@bot args`` is a command, anything else is text."""
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1 and not stripped[1].isspace():
        head, _, args = stripped[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if name and all(c.isalnum() or c == "_" for c in name):
            return CommandReceived(name, args.strip())
    return TextReceived(text)
