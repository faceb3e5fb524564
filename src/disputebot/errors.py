"""The one exception root. A bad answer from a user is never an exception."""

from __future__ import annotations

from typing import Literal


class DisputebotError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(DisputebotError):
    """A settings value, conversation file, profile or catalog is unusable."""


class DeliveryError(DisputebotError):
    """A channel could not deliver a message.

    Adapters map their transport's failures here, in one place each; the outbox worker decides
    from these attributes whether to try again:

    Args:
        retryable: the same message may succeed later (5xx, timeouts, 429).
        retry_after: the API asked to wait this many seconds (429); honoured exactly.
        unreachable: the chat cannot be written to at all (403: the user blocked the bot or
            was deactivated, the bot was removed from the group); the worker marks the chat
            and dead-letters what is pending for it. Implies not ``retryable``.
        scope: what a ``retry_after`` is about, when the API says so: ``"chat"`` or
            ``"global"`` (the whole bot). ``None`` when unknown, as with Telegram.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        unreachable: bool = False,
        scope: Literal["chat", "global"] | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable and not unreachable
        self.retry_after = retry_after
        self.unreachable = unreachable
        self.scope = scope
