"""Per-chat ordering, parallel chats, albums gathered into one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from disputebot.channels.telegram.model import TgFile, TgUpdate
from disputebot.channels.telegram.sequencer import Sequencer


def message(update_id: int, chat_id: int, group: str | None = None) -> TgUpdate:
    files = (TgFile(f"f{update_id}", 10, "p.jpg", None),) if group else ()
    return TgUpdate(
        update_id,
        chat_id,
        "private",
        chat_id,
        text=None if group else "hi",
        files=files,
        media_group_id=group,
    )


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.active: set[int] = set()
        self.overlap: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, batch: Sequence[TgUpdate]) -> None:
        chat = batch[0].chat_id or 0
        if chat in self.active:
            self.overlap.append(chat)
        self.active.add(chat)
        await self.gate.wait()
        await asyncio.sleep(0)
        self.batches.append([u.update_id for u in batch])
        self.active.discard(chat)


async def test_one_chat_in_order_and_never_two_at_once() -> None:
    recorder = Recorder()
    sequencer = Sequencer(recorder, album_wait=0.05)
    futures = [sequencer.submit(message(i, 7)) for i in range(1, 6)]
    await asyncio.gather(*futures)
    assert recorder.batches == [[1], [2], [3], [4], [5]]
    assert recorder.overlap == []
    await sequencer.close()


async def test_chats_run_in_parallel() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    sequencer = Sequencer(recorder, album_wait=0.05)
    first = sequencer.submit(message(1, 100))
    second = sequencer.submit(message(2, 200))
    await asyncio.sleep(0.01)
    assert recorder.active == {100, 200}  # both started though neither finished
    recorder.gate.set()
    await asyncio.gather(first, second)
    await sequencer.close()


async def test_album_items_form_one_batch_and_later_updates_follow() -> None:
    recorder = Recorder()
    sequencer = Sequencer(recorder, album_wait=0.2)
    futures = [sequencer.submit(message(i, 5, group="g1")) for i in (1, 2, 3)]
    futures.append(sequencer.submit(message(4, 5)))
    await asyncio.gather(*futures)
    assert recorder.batches == [[1, 2, 3], [4]]
    await sequencer.close()


async def test_album_items_arriving_slowly_within_the_wait() -> None:
    recorder = Recorder()
    sequencer = Sequencer(recorder, album_wait=0.3)
    first = sequencer.submit(message(1, 5, group="g"))
    await asyncio.sleep(0.1)
    second = sequencer.submit(message(2, 5, group="g"))
    await asyncio.gather(first, second)
    assert recorder.batches == [[1, 2]]
    await sequencer.close()


async def test_a_failing_update_is_completed_and_the_chat_goes_on() -> None:
    seen: list[int] = []

    async def handler(batch: Sequence[TgUpdate]) -> None:
        seen.append(batch[0].update_id)
        if batch[0].update_id == 1:
            raise RuntimeError("boom")

    sequencer = Sequencer(handler, album_wait=0.05)
    await asyncio.gather(sequencer.submit(message(1, 9)), sequencer.submit(message(2, 9)))
    assert seen == [1, 2]
    await sequencer.close()
