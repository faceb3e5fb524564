"""Fakes for the worker tests: a clock that sleeping steps, a sender that plays a script."""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from disputebot.engine.effects import Msg, Say
from disputebot.errors import DeliveryError
from disputebot.ports import ChatKey, OutboxItem, UnitOfWorkFactory
from tests.contract.builders import T0

_SETTLE_TURNS = 20


class SteppingClock:
    """Virtual time: ``sleep`` moves it forward at once, so waits cost no wall time.

    Only the worker's coordinating loop sleeps (sends do not) and the memory store never waits
    on I/O, so once every other task has had its turns, stepping time is the same as waiting.
    """

    def __init__(self, start: datetime = T0) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        # Whole microseconds, rounded up: a wait never ends before it should.
        self._now += timedelta(microseconds=math.ceil(seconds * 1_000_000))

    async def sleep(self, seconds: float) -> None:
        # Let every task that can run go first (a send finishing wakes the worker, which then
        # cancels this sleep): time moves only when nothing else would happen before it.
        for _ in range(_SETTLE_TURNS):
            await asyncio.sleep(0)
        self.advance(seconds)

    def seconds(self, moment: datetime) -> float:
        """``moment`` as seconds since the clock's start of day, for readable assertions."""
        return (moment - T0).total_seconds()


@dataclass(frozen=True)
class Call:
    at: float  # seconds since T0
    item_id: int
    chat_id: int
    text: str


def text_of(item: OutboxItem) -> str:
    from disputebot.engine.effects import say_from_json  # noqa: PLC0415

    say = say_from_json(item.payload)
    return str(say.text[0].params.get("code", say.text[0].key))


def message(text: str) -> Say:
    return Say((Msg("bot.language.code", {"code": text}),))


class ScriptedSender:
    """Records every call; answers a chat's calls in turn from its script (None: accepted)."""

    def __init__(
        self,
        clock: SteppingClock,
        script: dict[int, Iterable[DeliveryError | None]] | None = None,
    ) -> None:
        self.clock = clock
        self.calls: list[Call] = []
        self._script = {chat: list(answers) for chat, answers in (script or {}).items()}
        self.gate: asyncio.Event | None = None
        self.in_flight: set[int] = set()
        self.peak_in_flight = 0
        self.same_chat_overlap = False
        self.unleased: list[int] = []

    async def __call__(self, item: OutboxItem) -> None:
        chat = item.chat.chat_id
        now = self.clock.now()
        self.calls.append(Call(self.clock.seconds(now), item.id, chat, text_of(item)))
        if item.lease_until is None or item.lease_until <= now:
            self.unleased.append(item.id)  # sent without a running claim: could go twice
        if chat in self.in_flight:
            self.same_chat_overlap = True
        self.in_flight.add(chat)
        self.peak_in_flight = max(self.peak_in_flight, len(self.in_flight))
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
        finally:
            self.in_flight.discard(chat)
        answers = self._script.get(chat)
        if answers:
            answer = answers.pop(0)
            if answer is not None:
                raise answer

    def to(self, chat_id: int) -> list[Call]:
        return [c for c in self.calls if c.chat_id == chat_id]


def peak(times: Iterable[float], seconds: float) -> int:
    """The most of ``times`` in any half-open window ``[t, t + seconds)``."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


async def fill(
    uow_factory: UnitOfWorkFactory, chats: dict[ChatKey, int], now: datetime = T0
) -> dict[ChatKey, list[int]]:
    """``count`` messages to each chat, interleaved across chats as a burst would be."""
    ids: dict[ChatKey, list[int]] = defaultdict(list)
    async with uow_factory() as uow:
        for n in range(max(chats.values(), default=0)):
            for chat, count in chats.items():
                if n < count:
                    text = f"{chat.chat_id}#{n}"
                    ids[chat].append(await uow.outbox.put(chat, message(text), "en", now=now))
        await uow.commit()
    return dict(ids)
