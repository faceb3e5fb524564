"""From Telegram updates to the service and back: the bot's behaviour on Telegram.

Files are fetched with ``getFile`` right away (Telegram's links expire) and kept in the evidence
vault; a file whose declared size is over the limit is never downloaded. The replies to an
update are sent after its effect is committed; one the Bot API still refuses after its retries
goes to the outbox with those after it (applying the update again would answer nothing, its id
being recorded). A callback query is always answered, and the keyboard of the message it came
from is removed, since its question has been answered or is no longer the current one — except
on messages whose buttons stay useful (a case card, a queue page, the staff group's
announcements; see ``BotService.keeps_keyboard``).

Over a webhook, Telegram sends a chat's next update only after the previous one was answered,
so an album cannot be gathered before its first item is acknowledged. There each item is
applied (and committed) on its own, and the replies to the items of one album are merged and
sent once the album has been quiet for ``album_reply_wait`` seconds: one acknowledgement, with
every note (a refused or repeated file) kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TypeVar

from disputebot.channels.telegram.model import (
    CHANNEL,
    BotApi,
    TgFile,
    TgMedia,
    TgUpdate,
)
from disputebot.channels.telegram.render import render
from disputebot.engine.effects import Media, Msg, Say
from disputebot.engine.events import (
    ButtonPressed,
    Event,
    FilesReceived,
    UnsupportedReceived,
    text_event,
)
from disputebot.errors import DeliveryError
from disputebot.i18n.catalog import Catalogs
from disputebot.logs import log_context
from disputebot.metrics import Metrics
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Inbound, Reply

log = logging.getLogger(__name__)
T = TypeVar("T")

_SEND_ATTEMPTS = 4
_HANDLE_ATTEMPTS = 4


class UpdateHandler:
    def __init__(
        self,
        api: BotApi,
        service: BotService,
        vault: EvidenceVault,
        catalogs: Catalogs,
        *,
        on_committed: asyncio.Event | None = None,
        album_reply_wait: float | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._api = api
        self._service = service
        self._vault = vault
        self._catalogs = catalogs
        self._on_committed = on_committed
        # Chats whose replies were left to the outbox: theirs go there too until it is empty.
        self._behind: set[ChatKey] = set()
        self._album_reply_wait = album_reply_wait
        self._albums: dict[tuple[int, str], _AlbumReplies] = {}
        self.bot_username: str | None = None  # known once connected
        self._metrics = metrics

    async def __call__(self, batch: Sequence[TgUpdate]) -> None:
        first = batch[0]
        if first.chat_id is None:
            return
        chat = ChatKey(CHANNEL, first.chat_id)
        with log_context(update_id=first.update_id, chat_id=first.chat_id):
            await self._handle_batch(chat, batch)

    async def _handle_batch(self, chat: ChatKey, batch: Sequence[TgUpdate]) -> None:
        first = batch[0]
        if first.callback_id:
            # Answered first: the button stops spinning whatever happens next.
            await self._quietly(self._api.answer_callback(first.callback_id))
        replies = await self._apply_retrying(chat, batch)
        if replies is None:
            return
        if first.media_group_id is not None and self._album_reply_wait is not None:
            self._defer(chat.chat_id, first.media_group_id, replies)
            return
        # Committed: from here on a failure is the Bot API's, never a reason to apply again.
        try:
            await self._deliver(replies)
        except Exception:
            log.exception("replies to update %s in chat %s failed", first.update_id, chat.chat_id)
            await self._apologize(chat, first)
            raise

    async def _apply_retrying(
        self, chat: ChatKey, batch: Sequence[TgUpdate]
    ) -> list[Reply] | None:
        first = batch[0]
        for attempt in range(1, _HANDLE_ATTEMPTS + 1):
            try:
                return await self._apply(chat, batch)
            except Exception as exc:
                final = attempt == _HANDLE_ATTEMPTS or (
                    isinstance(exc, DeliveryError) and not exc.retryable
                )
                if final:
                    log.exception("update %s in chat %s failed", first.update_id, chat.chat_id)
                    await self._apologize(chat, first)
                    raise
                # A file download or the database failing for a moment: the update is not
                # committed yet, so trying again loses nothing and applies nothing twice.
                log.warning("update %s failed (%s); retrying", first.update_id, exc)
                delay = 0.5 * 2 ** (attempt - 1)
                if isinstance(exc, DeliveryError) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _apply(self, chat: ChatKey, batch: Sequence[TgUpdate]) -> list[Reply] | None:
        """Apply the update (or album) and commit; its replies, or ``None`` if not for us."""
        first = batch[0]
        if (
            not first.private
            and first.callback_data is None
            and not self._for_us(first.text or "")
        ):
            return None  # group chatter is not for the bot; commands get pointed to a private chat
        if len(batch) > 1:
            # Some items of an album may have been applied on their own before a restart;
            # only the others are applied now (the service checks the first id itself).
            fresh = await self._service.unseen(chat.channel, [str(u.update_id) for u in batch])
            batch = [u for u in batch if str(u.update_id) in fresh]
            if not batch:
                return None
        first = batch[0]
        event = await self._event(batch)
        inbound = Inbound(
            chat,
            event,
            str(first.update_id),
            first.language_code,
            private=first.private,
            edited=first.edited,
            forwarded=first.forwarded,
            also_ids=tuple(str(u.update_id) for u in batch[1:]),
            user_id=first.user_id,
        )
        replies = await self._service.handle(inbound)
        if self._on_committed is not None:
            self._on_committed.set()
        if (
            first.callback_id
            and first.message_id is not None
            and not self._service.keeps_keyboard(first.callback_data or "", private=first.private)
        ):
            await self._quietly(self._api.clear_keyboard(first.chat_id or 0, first.message_id))
        return replies

    async def _deliver(self, replies: Sequence[Reply]) -> None:
        """Send the replies to an applied update, in order.

        The update's id is recorded with its effect, so applying it again would answer nothing:
        a reply the Bot API still refuses after every retry (5xx, 429) goes to the outbox
        instead, with the replies after it, and the delivery worker sends them at least once.
        A reply refused for good (400, 403) raises ``DeliveryError``. Until the outbox holds
        nothing more for that chat, its later replies go there too, so none overtakes another.
        """
        for index, reply in enumerate(replies):
            if reply.chat in self._behind:
                # Earlier replies to this chat wait in the outbox: these go after them.
                if await self._service.waiting_replies(reply.chat):
                    await self._send_later(replies[index:])
                    return
                self._behind.discard(reply.chat)
            try:
                await self.send(reply)
            except DeliveryError as exc:
                if not exc.retryable:
                    raise
                log.warning(
                    "reply to chat %s not sent (%s); left to the outbox", reply.chat.chat_id, exc
                )
                self._behind.add(reply.chat)
                await self._send_later(replies[index:])
                return

    async def _send_later(self, replies: Sequence[Reply]) -> None:
        await self._service.send_later(replies)
        if self._on_committed is not None:
            self._on_committed.set()  # wakes the delivery worker

    def _defer(self, chat_id: int, group: str, replies: list[Reply]) -> None:
        key = (chat_id, group)
        album = self._albums.setdefault(key, _AlbumReplies())
        if album.timer is not None:
            album.timer.cancel()
        album.replies += replies
        album.timer = asyncio.create_task(self._send_album(key, album))

    async def _send_album(self, key: tuple[int, str], album: _AlbumReplies) -> None:
        await asyncio.sleep(self._album_reply_wait or 0)
        del self._albums[key]
        merged = merge_replies(album.replies)
        if merged is None:
            return
        try:
            await self._deliver([merged])
        except Exception:
            log.exception("the album reply to chat %s failed", key[0])

    async def close(self) -> None:
        """Send the album replies still waiting for quiet."""
        timers = [a.timer for a in self._albums.values() if a.timer is not None]
        await asyncio.gather(*timers, return_exceptions=True)

    def _for_us(self, text: str) -> bool:
        """A group message the bot answers: a command, addressed to no bot or to this one."""
        command = text.split(maxsplit=1)[0] if text.startswith("/") else ""
        if len(command) < 2:
            return False
        _, at, username = command.partition("@")
        return not at or username.lower() == (self.bot_username or "").lower()

    async def _event(self, batch: Sequence[TgUpdate]) -> Event:
        first = batch[0]
        if first.callback_data is not None:
            return ButtonPressed(first.callback_data)
        files = [f for update in batch for f in update.files]
        if files:
            return FilesReceived(tuple([await self._fetch(f) for f in files]))
        if first.text is not None:
            return text_event(first.text)
        return UnsupportedReceived(first.unsupported or "unknown")

    async def _fetch(self, file: TgFile) -> EvidenceFile:
        if file.size is not None and file.size > self._vault.max_bytes:
            return self._vault.refused_unread(
                file.size, file.name, file.declared_mime, file.file_id
            )
        try:
            # Retried on its own (honouring retry_after), as sends are: a 429 or 5xx on
            # getFile costs a wait, not one of the update's few tries.
            data = await self._retrying(partial(self._api.download, file.file_id), _SEND_ATTEMPTS)
        except DeliveryError as exc:
            if exc.retryable:
                raise
            # Refused for good (over 20 MB with no size declared, an unknown file id): the
            # user is told this file could not be fetched instead of getting a generic error.
            log.info("file %s not downloaded: %s", file.file_id, exc)
            return self._vault.refused_unread(
                file.size or 0, file.name, file.declared_mime, file.file_id
            )
        return await self._vault.keep_bytes(
            data, file.name, declared_mime=file.declared_mime, file_id=file.file_id
        )

    async def send(
        self, reply: Reply, *, attempts: int = _SEND_ATTEMPTS, sent: set[int] | None = None
    ) -> None:
        """Send one reply, waiting out ``retry_after`` and retrying transient failures.

        A reply may take several API calls (albums, then text over 4,096 characters). With
        ``sent``, the indexes of the calls that went through are added to it and calls already
        in it are skipped, so a reply retried after a failure part-way resumes where it
        stopped instead of sending its first parts again.
        """
        chat_id = reply.chat.chat_id
        calls: list[Callable[[], Awaitable[object]]] = [
            partial(self._api.send_media, chat_id, group)
            for group in await _media_groups(reply.say.media)
        ]
        chunks, keyboard = render(reply.say, reply.locale, self._catalogs)
        calls += [
            partial(
                self._api.send_text, chat_id, chunk, keyboard if i == len(chunks) - 1 else None
            )
            for i, chunk in enumerate(chunks)
        ]
        done = sent if sent is not None else set()
        for index, call in enumerate(calls):
            if index in done:
                continue
            await self._retrying(call, attempts)
            done.add(index)

    async def _retrying(self, call: Callable[[], Awaitable[T]], attempts: int) -> T:
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except DeliveryError as exc:
                self.saw(exc)
                if not exc.retryable or attempt == attempts:
                    raise
                await asyncio.sleep(exc.retry_after if exc.retry_after is not None else attempt)
        raise AssertionError("unreachable")

    async def _apologize(self, chat: ChatKey, update: TgUpdate) -> None:
        sorry = Reply(chat, Say((Msg("bot.error"),)), self._catalogs.default_locale)
        await self._quietly(self.send(sorry))

    async def _quietly(self, call: Awaitable[object]) -> None:
        try:
            await call
        except DeliveryError as exc:
            self.saw(exc)
            log.info("ignored Bot API error: %s", exc)

    def saw(self, exc: DeliveryError) -> None:
        """Count a Bot API answer that asked us to slow down (429 with ``retry_after``)."""
        if exc.retry_after is not None and self._metrics is not None:
            self._metrics.throttled()


class _AlbumReplies:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.timer: asyncio.Task[None] | None = None


def merge_replies(replies: Sequence[Reply]) -> Reply | None:
    """Every distinct note of every reply, then the last reply's question."""
    if not replies:
        return None
    notes: list[Msg] = []
    for reply in replies:
        for note in reply.say.text[: reply.say.notes]:
            if note not in notes:
                notes.append(note)
    last = replies[-1]
    question = last.say.text[last.say.notes :]
    say = replace(last.say, text=(*notes, *question), notes=len(notes))
    return Reply(last.chat, say, last.locale)


_ALBUM = 10  # Telegram's largest media group


async def _media_groups(media: Sequence[Media]) -> list[list[TgMedia]]:
    """Files as Telegram albums: photos and documents apart (an album cannot mix them), ten
    at most each; an evidence file goes by its ``file_id`` so nothing is uploaded again."""
    groups: list[list[TgMedia]] = []
    for kind in ("photo", "document"):
        items: list[TgMedia] = []
        for m in media:
            if m.kind != kind:
                continue
            ref: str | bytes | None = m.file_id or m.data
            if ref is None and m.path:
                ref = await asyncio.to_thread(_read, m.path)
            if ref is not None:
                items.append(TgMedia(m.kind, ref, m.name))
        groups += [items[i : i + _ALBUM] for i in range(0, len(items), _ALBUM)]
    return groups


def _read(path: str) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None  # a purged or moved file: the rest is still worth sending
