"""The report flow on aiogram: a ``StatesGroup`` on ``MemoryStorage``, as its docs teach.

One router; handlers filtered by state; answers in the FSM data; each handler stores the new
state (``drafts.save``) before it replies, and files the case on submit. Photos are fetched
and hashed (the receipt shows each file's fingerprint, as the product's does).
"""

from __future__ import annotations

import io
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.base import BaseSession
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bench.baselines import flow
from bench.baselines.drafts import Drafts
from bench.baselines.flow import Draft


class Report(StatesGroup):
    category = State()
    account = State()
    description = State()
    evidence = State()
    confirm = State()


def markup(keyboard: flow.Keyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
            for row in keyboard
        ]
    )


def build(  # noqa: PLR0915  (one handler per step, laid out as aiogram's docs lay out a bot)
    token: str, session: BaseSession, drafts: Drafts
) -> tuple[Bot, Dispatcher]:
    """The bot and its dispatcher; feed updates with ``dispatcher.feed_raw_update``."""
    router = Router()

    async def draft_of(state: FSMContext) -> Draft:
        data: dict[str, Any] = await state.get_data()
        draft = data.get("draft")
        if draft is None:
            draft = Draft()
            await state.update_data(draft=draft)
        return draft

    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=None)

    async def send(
        bot: Bot, chat_id: int, text: str, keyboard: flow.Keyboard | None = None
    ) -> None:
        await bot.send_message(
            chat_id, text, parse_mode="HTML", reply_markup=markup(keyboard) if keyboard else None
        )

    # First: a command beats the state's text handlers.
    @router.message(Command("cancel"))
    async def cancel(message: Message, state: FSMContext, bot: Bot) -> None:
        await state.clear()
        await send(bot, message.chat.id, "Your draft was discarded.")

    @router.message(CommandStart())
    @router.message(Command("report"))
    async def start(message: Message, state: FSMContext, bot: Bot) -> None:
        draft = Draft()
        await state.set_state(Report.category)
        await state.set_data({"draft": draft})
        await drafts.save(message.chat.id, "category", draft)
        await send(bot, message.chat.id, flow.INTRO, flow.CATEGORY_KEYBOARD)

    @router.callback_query(Report.category, F.data.startswith("cat:"))
    async def category(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        await pressed(query)
        draft = await draft_of(state)
        draft.category = (query.data or "").removeprefix("cat:")
        await state.set_state(Report.account)
        chat_id = query.message.chat.id if query.message else query.from_user.id
        await drafts.save(chat_id, "account", draft)
        await send(bot, chat_id, flow.ASK_ACCOUNT)

    @router.message(Report.account, F.text)
    async def account(message: Message, state: FSMContext, bot: Bot) -> None:
        store = flow.parse_store(message.text or "")
        if store is None:
            await send(bot, message.chat.id, flow.BAD_ACCOUNT)
            return
        draft = await draft_of(state)
        draft.store = store
        await state.set_state(Report.description)
        await drafts.save(message.chat.id, "description", draft)
        await send(bot, message.chat.id, flow.ASK_DESCRIPTION)

    @router.message(Report.description, F.text)
    async def description(message: Message, state: FSMContext, bot: Bot) -> None:
        text = (message.text or "").strip()
        if not flow.MIN_DESCRIPTION <= len(text) <= flow.MAX_DESCRIPTION:
            await send(bot, message.chat.id, flow.SHORT_DESCRIPTION)
            return
        draft = await draft_of(state)
        draft.description = text
        await state.set_state(Report.evidence)
        await drafts.save(message.chat.id, "evidence", draft)
        await send(bot, message.chat.id, flow.ASK_EVIDENCE)

    @router.message(Report.evidence, F.photo)
    async def photo(message: Message, state: FSMContext, bot: Bot) -> None:
        largest = (message.photo or [])[-1]
        file = await bot.get_file(largest.file_id)
        buffer = io.BytesIO()
        await bot.download_file(file.file_path or "", destination=buffer)
        draft = await draft_of(state)
        draft.add_file(largest.file_id, buffer.getvalue())
        await drafts.save(message.chat.id, "evidence", draft)
        await send(bot, message.chat.id, flow.added(draft), flow.EVIDENCE_KEYBOARD)

    async def finish_evidence(chat_id: int, state: FSMContext, bot: Bot) -> None:
        draft = await draft_of(state)
        if not draft.files:
            await send(bot, chat_id, flow.NEED_FILE)
            return
        await state.set_state(Report.confirm)
        await drafts.save(chat_id, "confirm", draft)
        await send(bot, chat_id, flow.summary(draft), flow.CONFIRM_KEYBOARD)

    @router.message(Report.evidence, Command("done"))
    async def done_command(message: Message, state: FSMContext, bot: Bot) -> None:
        await finish_evidence(message.chat.id, state, bot)

    @router.callback_query(Report.evidence, F.data == "ev:done")
    async def done_button(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        await pressed(query)
        chat_id = query.message.chat.id if query.message else query.from_user.id
        await finish_evidence(chat_id, state, bot)

    @router.callback_query(Report.confirm, F.data == "cf:submit")
    async def submit(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        await pressed(query)
        draft = await draft_of(state)
        chat_id = query.message.chat.id if query.message else query.from_user.id
        case_id = await drafts.file_case(chat_id, draft)
        await state.clear()
        await send(bot, chat_id, flow.receipt(case_id, draft))

    bot = Bot(token, session=session)
    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(router)
    return bot, dispatcher
