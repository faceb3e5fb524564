"""python-telegram-bot's seam: a ``BaseRequest`` whose "socket" is the in-process fake.

``Bot`` builds the ``RequestData`` and the request reads its ``json_parameters`` (what
``HTTPXRequest`` form-encodes), so the framework serializes every call as for HTTP; the body it
gets back is parsed by ``BaseRequest`` itself.
"""

from __future__ import annotations

import asyncio

from telegram.request import BaseRequest, RequestData

from bench.flow.fakeapi import FakeApiError, FakeTelegram


class FakeRequest(BaseRequest):
    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake

    @property
    def read_timeout(self) -> float | None:
        return 20.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(  # type: ignore[override]  # noqa: PLR0917  (PTB's signature)
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = None,
        write_timeout: object = None,
        connect_timeout: object = None,
        pool_timeout: object = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        if method == "GET":  # a file download
            try:
                return 200, self._fake.download(name)
            except FakeApiError as exc:
                return exc.status, b""
        fields = request_data.json_parameters if request_data is not None else {}
        if name == "getUpdates":
            await asyncio.sleep(0.05)  # long polling, shortened: the workload is not polled
        return self._fake.response(name, fields)
