"""A fake Telegram Bot API server for end-to-end tests of Telegram bots.

It speaks the real HTTP protocol on 127.0.0.1, so the bot under test uses its usual client
library (python-telegram-bot, aiogram, ...) unchanged. Test code drives users in-process::

    async with FakeBotApi() as server:
        alice = server.user(1001, first_name="Alice", language_code="en")
        bot = telegram.Bot(server.token, base_url=f"{server.url}/bot",
                           base_file_url=f"{server.url}/file/bot")
        await alice.send_text("/start")
        ...  # run the bot against the server
        reply = await alice.wait_for(lambda m: "Welcome" in m["text"])
        await alice.press(reply, "Report")

It validates what Telegram validates (HTML markup, text and caption length, callback data size,
blocked users, edits that change nothing, unknown file ids, files over 20 MB), keeps updates
until they are confirmed, long-polls, pushes to webhooks with retries, and can inject failures
(``fail_next``, ``chaos``) and flood limits: ``rate_limit`` for a quick 429, or
``enforce_limits`` for Telegram's per-chat, per-group and global send limits with a record of
every 429 and of every request that came before its ``retry_after`` had elapsed.
"""

from disputebot.testing.fake_bot_api.flood import (
    Delivery,
    FloodControl,
    Throttle,
    Unhonoured,
)
from disputebot.testing.fake_bot_api.html_check import (
    HtmlParseError,
    ParsedText,
    parse_html,
    utf16_len,
)
from disputebot.testing.fake_bot_api.server import DEFAULT_TOKEN, FakeBotApi
from disputebot.testing.fake_bot_api.state import (
    ApiCall,
    ApiError,
    CallbackAnswer,
    GetUpdatesCall,
    WebhookDelivery,
)
from disputebot.testing.fake_bot_api.users import BotMessage, TestChat, TestUser
from disputebot.testing.fake_bot_api.webhook import SECRET_HEADER

__all__ = [
    "DEFAULT_TOKEN",
    "SECRET_HEADER",
    "ApiCall",
    "ApiError",
    "BotMessage",
    "CallbackAnswer",
    "Delivery",
    "FakeBotApi",
    "FloodControl",
    "GetUpdatesCall",
    "HtmlParseError",
    "ParsedText",
    "TestChat",
    "TestUser",
    "Throttle",
    "Unhonoured",
    "WebhookDelivery",
    "parse_html",
    "utf16_len",
]
