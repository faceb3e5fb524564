"""Telegram, framework-neutral: what both adapters share (rendering, ordering, polling, webhook).

The adapters under ``channels/telegram_ptb`` and ``channels/telegram_aiogram`` only turn their
framework's typed updates into ``TgUpdate`` and carry out ``BotApi`` calls.
"""
