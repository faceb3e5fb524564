"""The sliding-window limiter: pure, on plain float seconds."""

from __future__ import annotations

import pytest

from disputebot.delivery.limits import Limits, Pacer, Rate, Window


def test_a_rate_needs_a_positive_count_and_window() -> None:
    with pytest.raises(ValueError, match="positive"):
        Rate(0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        Rate(1, 0)


def test_window_admits_count_sends_then_waits_from_the_oldest_finish() -> None:
    window = Window(Rate(3, 1.0))
    for at in (0.0, 0.1, 0.2):
        assert window.wait(at) == 0
        window.start(at)
        window.finish(at + 0.05)
    # Full: the next slot frees a window after the oldest send finished (0.05 + 1.0).
    assert window.wait(0.3) == pytest.approx(0.75)
    assert window.wait(1.05) == 0
    window.start(1.05)
    assert window.wait(1.05) == pytest.approx(0.1)


def test_window_counts_from_the_finish_not_the_start() -> None:
    window = Window(Rate(1, 1.0))
    window.start(0.0)
    window.finish(0.8)  # a slow request: it may have reached the API at 0.79
    assert window.wait(1.0) == pytest.approx(0.8)
    assert window.wait(1.8) == 0


def test_a_send_in_flight_holds_its_slot_until_it_finishes() -> None:
    window = Window(Rate(2, 1.0))
    window.start(0.0)
    window.start(0.0)
    assert window.wait(5.0) is None  # no time is enough: only a finish frees a slot
    window.finish(5.0)
    assert window.wait(5.0) == pytest.approx(1.0)  # the finished one ages out like any
    window.finish(5.5)
    assert window.wait(6.0) == 0
    with pytest.raises(RuntimeError):
        Window(Rate(1, 1.0)).finish(0.0)


def test_start_refuses_a_send_the_window_has_no_room_for() -> None:
    window = Window(Rate(1, 1.0))
    window.start(0.0)
    with pytest.raises(RuntimeError, match="no free slot"):
        window.start(0.0)


def test_sends_never_exceed_the_window_whatever_their_timing() -> None:
    # A small event simulation: sends overlap, finish out of order, take 0 to 0.9 s.
    window = Window(Rate(5, 1.0))
    latencies = iter([0.01, 0.3, 0.0, 0.7, 0.05, 0.2, 0.0, 0.4, 0.1, 0.9] * 3)
    starts: list[float] = []
    flying: list[float] = []  # finish times
    now = 0.0
    while len(starts) < 30:
        wait = window.wait(now)
        if wait == 0:
            window.start(now)
            starts.append(now)
            flying.append(now + next(latencies))
            continue
        now = min([*flying, *([] if wait is None else [now + wait])])
        for finished in sorted(f for f in flying if f <= now):
            window.finish(finished)
            flying.remove(finished)
    # Each request reached the API some time between its start and its finish.
    assert max(sum(1 for s in starts if at <= s < at + 1.0) for at in starts) <= 5
    assert len(starts) == 30


def test_a_clock_stepping_back_shifts_what_was_recorded() -> None:
    window = Window(Rate(1, 10.0))
    window.start(100.0)
    window.finish(100.0)
    # The wall clock is corrected by -60 s: still 10 s after the send, not 70.
    assert window.wait(40.0) == pytest.approx(10.0)
    assert window.wait(45.0) == pytest.approx(5.0)


def test_window_goes_idle_once_its_sends_age_out() -> None:
    window = Window(Rate(1, 1.0))
    assert window.idle(0.0)
    window.start(0.0)
    assert not window.idle(5.0)
    window.finish(5.0)
    assert not window.idle(5.5)
    assert window.idle(6.0)


def test_groups_get_the_chat_and_the_group_window() -> None:
    limits = Limits(total=Rate(30, 1.0), per_chat=Rate(1, 1.0), per_group=Rate(20, 60.0))
    assert limits.for_chat(42) == (limits.per_chat,)
    assert limits.for_chat(-100123) == (limits.per_chat, limits.per_group)


def test_pacer_keeps_a_chat_to_its_rate_and_others_go_meanwhile() -> None:
    pacer = Pacer(Limits(total=Rate(30, 1.0), per_chat=Rate(1, 1.0)))
    pacer.start(1, 0.0)
    pacer.finish(1, 0.1)
    assert pacer.ready_in(1, 0.1) == pytest.approx(1.0)
    assert pacer.ready_in(2, 0.1) == 0
    pacer.start(2, 0.1)
    assert pacer.ready_in(2, 0.2) is None  # in flight
    pacer.finish(2, 0.2)
    assert pacer.ready_in(1, 1.1) == 0


def test_pacer_holds_a_group_to_twenty_a_minute() -> None:
    pacer = Pacer(Limits(per_chat=Rate(1, 1.0), per_group=Rate(20, 60.0)))
    group, now, starts = -100500, 0.0, []
    for _ in range(25):
        wait = pacer.ready_in(group, now)
        assert wait is not None
        now += wait
        pacer.start(group, now)
        starts.append(now)
        pacer.finish(group, now)
    assert starts[19] == pytest.approx(19.0)
    assert starts[20] == pytest.approx(60.0)  # a minute after the first
    assert max(sum(1 for s in starts if a <= s < a + 60) for a in starts) == 20


def test_pacer_bot_wide_limit_spans_chats() -> None:
    pacer = Pacer(Limits(total=Rate(2, 1.0), per_chat=Rate(1, 1.0)))
    for chat in (1, 2):
        pacer.start(chat, 0.0)
        pacer.finish(chat, 0.0)
    assert pacer.ready_in(3, 0.0) == pytest.approx(1.0)


def test_pause_all_holds_every_chat_and_never_shortens() -> None:
    pacer = Pacer(Limits())
    pacer.pause_all(10.0)
    pacer.pause_all(5.0)
    assert pacer.paused_until == 10.0
    assert pacer.ready_in(7, 4.0) == pytest.approx(6.0)
    with pytest.raises(RuntimeError, match="not ready"):
        pacer.start(7, 9.0)
    assert pacer.ready_in(-7, 10.0) == 0


def test_pacer_forgets_idle_chats() -> None:
    pacer = Pacer(Limits())
    for chat in (1, 2, 3):
        pacer.start(chat, 0.0)
        pacer.finish(chat, 0.0)
    pacer.start(4, 0.5)
    assert pacer.forget_idle(2.0) == 3
    assert pacer.forget_idle(2.0) == 0  # chat 4 is still in flight
