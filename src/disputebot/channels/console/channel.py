"""The console channel: the same bot in a terminal or a pipe.

Human mode shows buttons as numbered choices (type the number) and takes evidence as file
paths; ``--jsonl`` mode speaks the JSON-lines protocol of DESIGN §3, plus an optional
``"user"`` key on input lines to act as another user of the same console. Both read until the
end of input and exit cleanly. Notifications for any console chat (receipts and the like) are
printed as they are delivered from the outbox, with their own chat id.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from pathlib import Path
from typing import Any, TextIO

from disputebot.channels.console.render import as_json, as_text, flat_buttons
from disputebot.delivery.drain import drain_once
from disputebot.engine.effects import Msg, Say, say_from_json
from disputebot.engine.events import ButtonPressed, Event, FilesReceived, text_event
from disputebot.i18n.catalog import Catalogs
from disputebot.ports import ChatKey, Clock, OutboxItem, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Inbound, Reply

CHANNEL = "console"


class ConsoleChannel:
    def __init__(
        self,
        service: BotService,
        vault: EvidenceVault,
        catalogs: Catalogs,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        *,
        user_id: int = 1,
        jsonl: bool = False,
        stdin: TextIO,
        stdout: TextIO,
        language_code: str | None = None,
    ) -> None:
        self._service = service
        self._vault = vault
        self._catalogs = catalogs
        self._uow_factory = uow_factory
        self._clock = clock
        self._chat = ChatKey(CHANNEL, user_id)
        self._jsonl = jsonl
        self._in = stdin
        self._out = stdout
        self._language_code = language_code
        self._last: Say | None = None
        self._locale = catalogs.default_locale

    async def run(self) -> None:
        self._show(await self._service.opening(self._chat, self._language_code))
        await self._deliver()
        while True:
            line = await asyncio.to_thread(self._in.readline)
            if not line:
                return
            if not line.strip():
                continue
            inbound = await self._inbound(line.rstrip("\n"))
            if inbound is None:
                continue
            self._show(await self._service.handle(inbound))
            await self._deliver()

    async def _inbound(self, line: str) -> Inbound | None:
        if self._jsonl:
            return await self._from_json(line)
        event = await self._from_text(line)
        return Inbound(self._chat, event, None, self._language_code) if event else None

    async def _from_text(self, line: str) -> Event | None:
        stripped = line.strip()
        choices = flat_buttons(self._last) if self._last else []
        if stripped.isdigit() and choices:
            index = int(stripped)
            if 1 <= index <= len(choices):
                return ButtonPressed(choices[index - 1].data)
        paths = _paths(stripped)
        if paths:
            return await self._files(paths)
        return text_event(_valid_text(line))

    async def _from_json(self, line: str) -> Inbound | None:
        try:
            obj: Any = json.loads(line)
            # Lone surrogates are valid JSON escapes but not text any store or terminal takes.
            json.dumps(obj, ensure_ascii=False).encode()
        except (ValueError, RecursionError):  # not JSON, not text, or nested too deep
            obj = None
        event: Event | None = None
        if isinstance(obj, dict):
            if isinstance(obj.get("text"), str):
                event = text_event(obj["text"])
            elif isinstance(obj.get("button"), str):
                event = ButtonPressed(obj["button"])
            elif isinstance(obj.get("files"), list) and all(
                isinstance(p, str) for p in obj["files"]
            ):
                missing = await asyncio.to_thread(_missing, obj["files"])
                if missing:
                    self._notice(Msg("console.file_missing", {"path": ", ".join(missing)}))
                    return None
                event = await self._files([Path(p) for p in obj["files"]])
        if event is None:
            self._notice(Msg("console.bad_line"))
            return None
        raw_id = obj.get("id")
        # One console can speak for several people (a reporter and a reviewer, say).
        user = obj.get("user")
        chat = ChatKey(CHANNEL, user) if type(user) is int else self._chat
        # Ids are numbered per console user, so they are kept apart per chat.
        event_id = (
            f"{chat.chat_id}:{raw_id}" if isinstance(raw_id, str | int) and raw_id != "" else None
        )
        return Inbound(chat, event, event_id, self._language_code)

    async def _files(self, paths: list[Path]) -> FilesReceived:
        return FilesReceived(tuple([await self._vault.keep_path(p) for p in paths]))

    def _notice(self, msg: Msg) -> None:
        self._show([Reply(self._chat, Say((msg,)), self._locale)], remember=False)

    def _show(self, replies: list[Reply], *, remember: bool = True) -> None:
        for reply in replies:
            own = reply.chat == self._chat
            if own and remember:
                self._locale = reply.locale
                if reply.say.buttons or reply.say.expects:
                    self._last = reply.say
            self._print(reply.say, reply.chat.chat_id, reply.locale, own_chat=own)

    def _print(self, say: Say, chat_id: int, locale: str, *, own_chat: bool) -> None:
        if self._jsonl:
            text = as_json(say, chat_id, locale, self._catalogs)
        else:
            text = as_text(say, chat_id, locale, self._catalogs, own_chat=own_chat) + "\n"
        self._out.write(text + "\n")
        self._out.flush()

    async def _deliver(self) -> None:
        async def send(item: OutboxItem) -> None:
            say = say_from_json(item.payload)
            self._print(say, item.chat.chat_id, item.locale, own_chat=item.chat == self._chat)

        await drain_once(self._uow_factory, send, self._clock, channel=CHANNEL)


def _valid_text(line: str) -> str:
    """``line`` with input bytes that were not UTF-8 (read as lone surrogates) as U+FFFD."""
    try:
        return line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return line.encode("utf-8", "replace").decode("utf-8")


def _missing(paths: list[str]) -> list[str]:
    return [p for p in paths if not _is_file(Path(p))]


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, and the like
        return False


def _paths(line: str) -> list[Path]:
    """The files a line names, if every word of it is an existing file; else nothing."""
    try:
        words = shlex.split(line)
        paths = [Path(w).expanduser() for w in words]
    except (ValueError, RuntimeError):  # an open quote; "~name" for a user that does not exist
        return []
    return paths if paths and all(_is_file(p) for p in paths) else []
