"""The report flow written the way a competent user of each framework would write it.

``ptb_bot``: python-telegram-bot's ``ConversationHandler``; ``aiogram_bot``: aiogram's
``StatesGroup`` with ``MemoryStorage``. Each comes in two variants, chosen by the ``drafts``
store it is built with (``drafts.MemoryDrafts`` or ``drafts.SqlDrafts``): in memory only, or
with one SQLAlchemy + aiosqlite transaction per update (WAL, ``synchronous=NORMAL``) that
stores the conversation state and, at the end, the case row. The flow and its texts are shared
(``flow``), so both frameworks do the same work: the same steps, checks, keyboards and replies.
"""
