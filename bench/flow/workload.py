"""The workload every contender runs: one definition, as raw Bot API update JSON.

``users`` private chats each file one report: ``/start``, a category button, the store's link,
a factual description (order number, dates), one to three photos, ``/done`` or the evidence
"Done" button, and the summary's submit button — 7 to 9 updates per user. Buttons are pressed
the way a person presses them: the update carries the callback data of the keyboard the chat
last received (row ``row``, column ``col``), so the same script drives the product (whose button
data carries a nonce) and the baselines (whose data is their own). Every photo is a distinct,
valid PNG, registered with the fake Bot API for ``getFile``.

Two ways to run it (``drive``): ``seq`` sends one update at a time, round-robin over the users
(every user's first update, then every user's second, …), which leaves every draft open at
once; ``conc`` runs one task per user, each sending its next update once the previous one was
acknowledged, with at most ``in_flight`` updates (64) being processed at any time.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.flow.fakeapi import DATE, FakeTelegram

FIRST_USER = 500_000_001
IN_FLIGHT = 64
CATEGORIES = 4  # rows of the category keyboard

Feed = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # "text" | "press" | "photo"
    text: str = ""
    row: int = 0
    col: int = 0
    photo: str = ""  # file_id


ACCOUNTS = (
    "https://www.aliexpress.com/store/{store}",
    "aliexpress.com/store/{store}",
    "https://m.aliexpress.us/store/{store}/pages/all-items.html",
    "https://aliexpress.ru/store/{store}?spm=a2g2w.detail.0.0",
)

FACTS = (
    "Order {order} was marked delivered on 2026-03-04, but tracking LP{track} shows the "
    "parcel never left the origin facility. The seller opened a dispute on 2026-03-09 "
    "claiming I had received it.",
    "The listing for order {order} did not mention that the charger is not included. I asked "
    "the seller on 2026-02-11 and they confirmed it only on 2026-02-20, after the dispute "
    "window had started. Tracking LP{track}.",
    "On 2026-01-15 the seller opened a dispute on order {order} saying I refused the parcel. "
    "Tracking LP{track} shows it was returned on 2026-01-12 by the carrier, not by me.",
    "Order {order}: the seller changed the tracking number to LP{track} on 2026-04-02, a "
    "number that belongs to another delivery, and then closed the dispute on 2026-04-06.",
)


def script(index: int) -> tuple[Action, ...]:
    """User ``index``'s updates, 7 to 9 of them."""
    store = 1_102_000_000 + index
    order = 8_161_000_000_000_000 + index * 7919
    photos = 1 + index % 3
    actions = [
        Action("text", "/start"),
        Action("press", row=index % CATEGORIES),
        Action("text", ACCOUNTS[index % len(ACCOUNTS)].format(store=store)),
        Action("text", FACTS[index % len(FACTS)].format(order=order, track=f"{index:012d}")),
        *(Action("photo", photo=photo_id(index, k)) for k in range(photos)),
        Action("text", "/done") if index % 2 else Action("press", row=0, col=0),
        Action("press", row=0, col=0),  # the summary's first button: submit
    ]
    return tuple(actions)


def photo_id(index: int, k: int) -> str:
    return f"AgAD{index:07d}x{k}"


def png(seed: int, size: int = 4) -> bytes:
    """A valid PNG whose pixels spell ``seed``: every photo of the workload is distinct."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    pixels = (struct.pack(">Q", seed) * size)[: size * 3]
    raw = b"".join(b"\x00" + pixels for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class Workload:
    def __init__(self, users: int) -> None:
        self.users = users
        self.scripts = [script(i) for i in range(users)]
        self.updates = sum(len(s) for s in self.scripts)

    def register_files(self, fake: FakeTelegram) -> None:
        for index, actions in enumerate(self.scripts):
            for k, action in enumerate(a for a in actions if a.kind == "photo"):
                fake.files[action.photo] = png(index * 16 + k)


class Sender:
    """Builds each update from the chat's state in the fake, as a Telegram client would."""

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake
        self._update_id = 0

    def build(self, index: int, action: Action) -> bytes:
        user_id = FIRST_USER + index
        self._update_id += 1
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{index}",
            "language_code": "en",
        }
        chat = {"id": user_id, "type": "private", "first_name": f"User{index}"}
        update: dict[str, object] = {"update_id": self._update_id}
        if action.kind == "press":
            log = self._fake.chat(user_id)
            if not log.keyboard or log.keyboard_message is None:
                raise RuntimeError(f"user {index}: no keyboard to press (last: {log.last_text!r})")
            update["callback_query"] = {
                "id": f"{user_id}{self._update_id}",
                "from": user,
                "message": log.keyboard_message,
                "chat_instance": str(user_id),
                "data": log.keyboard[action.row][action.col],
            }
            return json.dumps(update).encode()
        message: dict[str, object] = {
            "message_id": self._fake.next_message_id(),
            "date": DATE,
            "chat": chat,
            "from": user,
        }
        if action.kind == "photo":
            size = len(self._fake.files[action.photo])
            message["photo"] = [
                {
                    "file_id": f"{action.photo}s",
                    "file_unique_id": f"{action.photo}s",
                    "width": 4,
                    "height": 4,
                    "file_size": size,
                },
                {
                    "file_id": action.photo,
                    "file_unique_id": f"u{action.photo}",
                    "width": 90,
                    "height": 90,
                    "file_size": size,
                },
            ]
        else:
            message["text"] = action.text
            if action.text.startswith("/"):
                length = len(action.text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        update["message"] = message
        return json.dumps(update).encode()


@dataclass
class Timings:
    seconds: float  # wall time, first update to last acknowledgement
    latencies: list[float]  # per update, submitted to acknowledged

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    workload: Workload,
    fake: FakeTelegram,
    feed: Feed,
    mode: str,
    *,
    in_flight: int = IN_FLIGHT,
    checkpoint: Callable[[], None] | None = None,
) -> Timings:
    """Run the workload through ``feed`` (which returns once the update is acknowledged).

    In ``seq`` mode every user's last update (the submit) waits until every other update has
    been applied, so ``checkpoint`` is called with every user's draft open and complete.
    """
    sender = Sender(fake)
    latencies: list[float] = []
    clock = time.perf_counter
    scripts = workload.scripts
    start = clock()
    if mode == "seq":
        for k in range(max(len(s) for s in scripts) - 1):
            for index, actions in enumerate(scripts):
                if k < len(actions) - 1:
                    body = sender.build(index, actions[k])
                    t0 = clock()
                    await feed(body)
                    latencies.append(clock() - t0)
        if checkpoint is not None:
            paused = clock()
            checkpoint()
            start += clock() - paused
        for index, actions in enumerate(scripts):
            body = sender.build(index, actions[-1])
            t0 = clock()
            await feed(body)
            latencies.append(clock() - t0)
    else:
        gate = asyncio.Semaphore(in_flight)

        async def user(index: int, actions: tuple[Action, ...]) -> None:
            for action in actions:
                async with gate:
                    body = sender.build(index, action)
                    t0 = clock()
                    await feed(body)
                    latencies.append(clock() - t0)

        async with asyncio.TaskGroup() as group:
            for index, actions in enumerate(scripts):
                group.create_task(user(index, actions))
    return Timings(clock() - start, latencies)
