"""The table of Bot API methods the fake answers, keyed case-insensitively like Telegram."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from disputebot.testing.fake_bot_api.params import Params
    from disputebot.testing.fake_bot_api.server import FakeBotApi

__all__ = ["HANDLERS", "Handler", "api_method", "lookup"]

Handler = Callable[["FakeBotApi", "Params"], Awaitable[Any]]

# lower-case name -> (canonical name, handler)
HANDLERS: dict[str, tuple[str, Handler]] = {}


def api_method(*names: str) -> Callable[[Handler], Handler]:
    """Register a handler under one or more Bot API method names."""

    def register(handler: Handler) -> Handler:
        for name in names:
            HANDLERS[name.lower()] = (name, handler)
        return handler

    return register


def lookup(method: str) -> tuple[str, Handler] | None:
    """The canonical name and handler of ``method``, or None when the fake lacks it."""
    return HANDLERS.get(method.lower())
