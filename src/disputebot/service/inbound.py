"""What a channel hands to the service, and what it gets back."""

from __future__ import annotations

from dataclasses import dataclass

from disputebot.engine.effects import Say
from disputebot.engine.events import Event
from disputebot.ports import ChatKey


@dataclass(frozen=True, slots=True)
class Inbound:
    """One chat update, translated by a channel.

    ``event_id`` identifies the update on its channel (Telegram's ``update_id``, the console's
    ``"id"``); an id seen before is not applied again. ``None`` means the channel cannot repeat
    updates and none is recorded. ``also_ids`` are further updates folded into this event
    (the other items of an album); they are recorded with it.
    """

    chat: ChatKey
    event: Event
    event_id: str | None = None
    language_code: str | None = None
    private: bool = True
    edited: bool = False
    forwarded: bool = False
    also_ids: tuple[str, ...] = ()
    user_id: int | None = None

    @property
    def sender(self) -> ChatKey:
        """The person who sent the event: in a private chat, the chat itself."""
        if self.user_id is None or self.user_id == self.chat.chat_id:
            return self.chat
        return ChatKey(self.chat.channel, self.user_id)


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for a chat, in the locale it is to be rendered in."""

    chat: ChatKey
    say: Say
    locale: str
