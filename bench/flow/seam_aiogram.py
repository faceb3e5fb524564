"""aiogram's seam: a ``BaseSession`` whose "socket" is the in-process fake.

Each call's fields are prepared with the session's own ``prepare_value`` (what
``AiohttpSession.build_form_data`` puts in the form), and the answer goes through
``check_response``, which parses and validates it into aiogram's types.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from bench.flow.fakeapi import API_URL, FakeTelegram


class FakeSession(BaseSession):
    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(api=TelegramAPIServer.from_base(API_URL))
        self._fake = fake

    async def close(self) -> None:
        return None

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109  (aiogram's signature)
    ) -> TelegramType:
        files: dict[str, Any] = {}
        fields: dict[str, str] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                fields[key] = prepared
        name = method.__api_method__
        if name == "getUpdates":
            await asyncio.sleep(0.05)  # long polling, shortened: the workload is not polled
        status, body = self._fake.response(name, fields)
        response = self.check_response(
            bot=bot, method=method, status_code=status, content=body.decode()
        )
        return response.result  # type: ignore[return-value]

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109  (aiogram's signature)
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield self._fake.download(url)
