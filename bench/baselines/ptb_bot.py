"""The report flow on python-telegram-bot: a ``ConversationHandler``, as its docs teach.

States are the flow's steps; answers live in ``context.user_data``; each handler stores the
new state (``drafts.save``) before it replies, and files the case on submit. Photos are
fetched with ``getFile`` and hashed (the receipt shows each file's fingerprint, as the
product's does).
"""

from __future__ import annotations

import warnings
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bench.baselines import flow
from bench.baselines.drafts import Drafts
from bench.baselines.flow import Draft

CATEGORY, ACCOUNT, DESCRIPTION, EVIDENCE, CONFIRM = range(5)
NAMES = ("category", "account", "description", "evidence", "confirm")

Context = ContextTypes.DEFAULT_TYPE


def markup(keyboard: flow.Keyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in keyboard
        ]
    )


def build(  # noqa: PLR0915  (one callback per state, laid out as PTB's examples lay out a bot)
    token: str, request: BaseRequest, drafts: Drafts
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The application, with the flow's handlers; ``initialize()`` it before use."""

    def draft_of(context: Context) -> Draft:
        data = context.user_data
        assert data is not None
        draft = data.get("draft")
        if draft is None:
            draft = data["draft"] = Draft()
        return draft

    async def reply(update: Update, text: str, keyboard: flow.Keyboard | None = None) -> None:
        chat = update.effective_chat
        assert chat is not None
        await chat.send_message(
            text, parse_mode=ParseMode.HTML, reply_markup=markup(keyboard) if keyboard else None
        )

    async def pressed(update: Update) -> str:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_reply_markup(None)
        return query.data or ""

    async def start(update: Update, context: Context) -> int:
        assert context.user_data is not None
        context.user_data["draft"] = Draft()
        await drafts.save(update.effective_chat.id, NAMES[CATEGORY], draft_of(context))  # type: ignore[union-attr]
        await reply(update, flow.INTRO, flow.CATEGORY_KEYBOARD)
        return CATEGORY

    async def category(update: Update, context: Context) -> int:
        data = await pressed(update)
        draft = draft_of(context)
        draft.category = data.removeprefix("cat:")
        await drafts.save(update.effective_chat.id, NAMES[ACCOUNT], draft)  # type: ignore[union-attr]
        await reply(update, flow.ASK_ACCOUNT)
        return ACCOUNT

    async def account(update: Update, context: Context) -> int:
        store = flow.parse_store(update.message.text or "")  # type: ignore[union-attr]
        if store is None:
            await reply(update, flow.BAD_ACCOUNT)
            return ACCOUNT
        draft = draft_of(context)
        draft.store = store
        await drafts.save(update.effective_chat.id, NAMES[DESCRIPTION], draft)  # type: ignore[union-attr]
        await reply(update, flow.ASK_DESCRIPTION)
        return DESCRIPTION

    async def description(update: Update, context: Context) -> int:
        text = (update.message.text or "").strip()  # type: ignore[union-attr]
        if not flow.MIN_DESCRIPTION <= len(text) <= flow.MAX_DESCRIPTION:
            await reply(update, flow.SHORT_DESCRIPTION)
            return DESCRIPTION
        draft = draft_of(context)
        draft.description = text
        await drafts.save(update.effective_chat.id, NAMES[EVIDENCE], draft)  # type: ignore[union-attr]
        await reply(update, flow.ASK_EVIDENCE)
        return EVIDENCE

    async def photo(update: Update, context: Context) -> int:
        message = update.message
        assert message is not None
        largest = message.photo[-1]
        file = await largest.get_file()
        data = bytes(await file.download_as_bytearray())
        draft = draft_of(context)
        draft.add_file(largest.file_id, data)
        await drafts.save(message.chat.id, NAMES[EVIDENCE], draft)
        await reply(update, flow.added(draft), flow.EVIDENCE_KEYBOARD)
        return EVIDENCE

    async def done(update: Update, context: Context) -> int:
        if update.callback_query is not None:
            await pressed(update)
        draft = draft_of(context)
        if not draft.files:
            await reply(update, flow.NEED_FILE)
            return EVIDENCE
        await drafts.save(update.effective_chat.id, NAMES[CONFIRM], draft)  # type: ignore[union-attr]
        await reply(update, flow.summary(draft), flow.CONFIRM_KEYBOARD)
        return CONFIRM

    async def submit(update: Update, context: Context) -> int:
        await pressed(update)
        draft = draft_of(context)
        case_id = await drafts.file_case(update.effective_chat.id, draft)  # type: ignore[union-attr]
        context.user_data.pop("draft", None)  # type: ignore[union-attr]
        await reply(update, flow.receipt(case_id, draft))
        return ConversationHandler.END

    async def cancel(update: Update, context: Context) -> int:
        context.user_data.pop("draft", None)  # type: ignore[union-attr]
        await reply(update, "Your draft was discarded.")
        return ConversationHandler.END

    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # per_message=False is what this flow wants: one conversation per chat, whatever
        # message a button sits on; PTB warns about it all the same.
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[CommandHandler(["start", "report"], start)],
            states={
                CATEGORY: [CallbackQueryHandler(category, pattern=r"^cat:")],
                ACCOUNT: [MessageHandler(text, account)],
                DESCRIPTION: [MessageHandler(text, description)],
                EVIDENCE: [
                    MessageHandler(filters.PHOTO, photo),
                    CommandHandler("done", done),
                    CallbackQueryHandler(done, pattern=r"^ev:done$"),
                ],
                CONFIRM: [CallbackQueryHandler(submit, pattern=r"^cf:submit$")],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
        )
    application = (
        Application.builder()
        .token(token)
        .request(request)
        .get_updates_request(request)
        .updater(None)
        .build()
    )
    application.add_handler(conversation)
    return application
