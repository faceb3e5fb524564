"""Staff review over real HTTP: the real bot (python-telegram-bot and aiogram, polling and
webhook) against the fake Bot API server. A reporter files a report with a photo; a staff admin
opens it from /queue, takes it from the staff group's announcement, asks for information; the
reporter answers with text and a photo; the staff admin upholds with two measures for 30 days.
The reporter's chat gets a message at each step (the decision as a statement of reasons), the
evidence reaches staff as photos re-sent by ``file_id``, and the store's audit trail names every
actor."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from disputebot.cases.records import Status
from disputebot.testing.fake_bot_api import FakeBotApi, TestChat, TestUser
from tests.e2e.conftest import RunningBot, settings_for, start_bot
from tests.e2e.test_report_flow import labels, reach_evidence
from tests.support import png_bytes

REPORTER = 1001
STAFF = 7
STAFF_GROUP = -1001234567890
QUESTION = "Please send the carrier's tracking page for LP00123456789012."
ANSWER = "The carrier's page says the number does not exist; screenshot attached."
# A safety bound so a broken build fails instead of hanging; not a performance assertion.
PATIENCE = 30.0

Message = dict[str, Any]


@pytest.fixture
async def staffed_bot(
    telegram: FakeBotApi, tmp_path: Path, framework: str, mode: str
) -> AsyncIterator[RunningBot]:
    settings = settings_for(
        telegram, tmp_path, framework, mode, admin_ids=[STAFF], staff_chat_id=STAFF_GROUP
    )
    running = await start_bot(settings)
    try:
        yield running
    finally:
        await running.shutdown()


def says(part: str) -> Callable[[Message], bool]:
    return lambda m: part.lower() in m["text"].lower()


def is_card(m: Message) -> bool:
    return str(m["text"]).startswith("📁")


async def seen(chat: TestUser | TestChat, predicate: Callable[[Message], bool]) -> Message:
    return await chat.wait_for(predicate, timeout=PATIENCE)


def largest(photo: list[dict[str, Any]]) -> str:
    return str(max(photo, key=lambda size: size["width"] * size["height"])["file_id"])


async def test_case_goes_through_review_to_upheld(
    staffed_bot: RunningBot, telegram: FakeBotApi
) -> None:
    reporter = telegram.user(REPORTER, "Alice", language_code="en")
    staff = telegram.user(STAFF, "Sam", language_code="en")
    group = telegram.group(STAFF_GROUP, "Trust & safety")

    # submitted: a report with one photo; the receipt, and the announcement in the group.
    await reach_evidence(reporter)
    sent_first = await reporter.send_photo(png_bytes(1))
    await reporter.press(await seen(reporter, lambda m: "Done" in labels(m)), "Done")
    await reporter.press(await seen(reporter, says("summary")), "submit")
    receipt = await seen(reporter, says("has been filed"))
    case_id = next(w for w in receipt["text"].split() if w.startswith("DR-"))[:11]
    announced = await seen(group, says(case_id))
    assert "new report" in announced["text"].lower()

    # The staff member opens it from /queue and looks at the evidence: the reporter's photo,
    # sent again by its file_id.
    await staff.send_text("/queue")
    queue = await seen(staff, says(case_id))
    await staff.press(queue, case_id)
    card = await seen(staff, is_card)
    assert f"{case_id} — Submitted" in card["text"]
    await staff.press(card, "Evidence")
    photo = await seen(staff, lambda m: m["method"] == "sendPhoto")
    assert largest(photo["photo"]) == largest(sent_first["message"]["photo"])

    # in_review: taken from the staff group's announcement, by the staff member.
    await group.press(staff, announced, "Take")
    await seen(staff, says("is now In review"))
    card = await seen(staff, is_card)
    assert f"{case_id} — In review" in card["text"]
    assert f"Assignee: telegram:{STAFF}" in card["text"]
    in_review = await seen(reporter, says("being reviewed"))
    assert case_id in in_review["text"]
    assert [m for m in group.inbox if m is not announced] == [], "nothing is said in the group"

    # awaiting_info: the question, with an answer button.
    await staff.press(card, "Ask reporter")
    await staff.send_text(QUESTION)
    await staff.press(await seen(staff, says(QUESTION)), "Confirm")
    await seen(staff, says("is now More information needed"))
    card = await seen(staff, is_card)
    assert f"{case_id} — More information needed" in card["text"]
    asked = await seen(reporter, says(QUESTION))
    assert case_id in asked["text"]
    assert labels(asked) == ["✍️ Answer"]

    # The reporter answers with text and a photo; the staff member is told.
    await reporter.press(asked, "Answer")
    await seen(reporter, says("write your answer"))
    await reporter.send_text(ANSWER)
    await seen(reporter, says("send any files"))
    sent_second = await reporter.send_photo(png_bytes(9))
    await reporter.press(await seen(reporter, says("1 file added so far")), "Done")
    await reporter.press(await seen(reporter, says(ANSWER)), "Send answer")
    thanks = await seen(reporter, says("was added to the case"))
    assert case_id in thanks["text"]
    answered = await seen(staff, says("answered your question"))

    # The refreshed card holds both photos; they come back as one album of file_ids.
    await staff.press(answered, case_id)
    card = await seen(staff, is_card)
    assert f"{case_id} — In review" in card["text"]
    assert "Evidence (2)" in card["text"]
    await staff.press(card, "Evidence")
    album = [await seen(staff, lambda m: m["method"] == "sendMediaGroup") for _ in range(2)]
    assert [largest(m["photo"]) for m in album] == [
        largest(sent_first["message"]["photo"]),
        largest(sent_second["message"]["photo"]),
    ]

    # upheld, with two measures, from the card shown again (pressing Evidence took the
    # buttons off the last one: see test_evidence_button_leaves_the_card_usable).
    await staff.send_text(f"/case {case_id.lower()}")
    card = await seen(staff, is_card)
    await staff.press(card, "Uphold")
    measures = await seen(staff, says("which measures"))
    await staff.press(measures, "Restrict the account")
    measures = await seen(staff, says("which measures"))
    await staff.press(measures, "Remove non-compliant")
    measures = await seen(staff, says("which measures"))
    await staff.press(measures, "Done")
    await staff.press(await seen(staff, says("how long do the measures last")), "30 days")
    await staff.press(await seen(staff, lambda m: "No note" in labels(m)), "No note")
    await staff.press(await seen(staff, says("uphold the report")), "Confirm")
    await seen(staff, says("is now Upheld"))
    card = await seen(staff, is_card)
    assert f"{case_id} — Upheld" in card["text"]
    # The reporter's news of the decision is a statement of reasons (DSA Art. 17): the
    # measures, how long they last, and how to appeal, with an Appeal button.
    upheld = await seen(reporter, says("was upheld"))
    assert upheld["text"].startswith("📄 Statement of reasons")
    assert case_id in upheld["text"]
    assert "Restrict the account's functions" in upheld["text"]
    assert "Remove non-compliant products" in upheld["text"]
    assert "Duration of the measures: 30 days." in upheld["text"]
    assert "How to appeal" in upheld["text"]
    assert labels(upheld) == ["⚖️ Appeal"]

    # The reporter's chat, after the filing: one message per change of the case.
    news = [m["text"] for m in reporter.inbox if case_id in m["text"]]
    steps = ("has been filed", "being reviewed", "more information", "was added", "was upheld")
    assert [next((s for s in steps if s in t.lower()), t) for t in news] == list(steps)

    # Evidence went out by file_id: nothing was uploaded.
    media_calls = [c for c in telegram.calls if c.method in {"sendPhoto", "sendMediaGroup"}]
    assert [c.method for c in media_calls] == ["sendPhoto", "sendMediaGroup"]
    assert all(c.files == [] and c.status == 200 for c in media_calls)
    assert {c.params["chat_id"] for c in media_calls} <= {STAFF, str(STAFF)}
    items = media_calls[1].params["media"]
    items = json.loads(items) if isinstance(items, str) else items
    async with staffed_bot.app.uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    assert [i["media"] for i in items] == [e.file_id for e in case.evidence]
    assert media_calls[0].params["photo"] == case.evidence[0].file_id

    # The store: the decision and every actor in the trail.
    assert case.status is Status.UPHELD
    assert case.assignee == f"telegram:{STAFF}"
    assert case.decision["measures"] == ["restrict_functions", "remove_products"]
    assert case.decision["duration"] == "days_30"
    assert case.decision["decided_by"] == f"telegram:{STAFF}"
    assert [e.mime for e in case.evidence] == ["image/png", "image/png"]
    trail = [(e.actor, e.kind, e.to_status) for e in case.events]
    assert trail == [
        (f"telegram:{REPORTER}", "filed", Status.SUBMITTED),
        ("system", "party:unreachable", None),  # nobody is linked to the reported account
        (f"telegram:{STAFF}", "take", Status.IN_REVIEW),
        (f"telegram:{STAFF}", "ask_info", Status.AWAITING_INFO),
        (f"telegram:{REPORTER}", "info_received", Status.IN_REVIEW),
        (f"telegram:{STAFF}", "uphold", Status.UPHELD),
    ]
    assert case.events[3].note == QUESTION
    assert case.events[4].note == ANSWER
    assert telegram.internal_errors == []


async def file_case(reporter: TestUser, group: TestChat) -> tuple[str, Message]:
    """A filed report with one photo; its case id and the staff group's announcement."""
    await reach_evidence(reporter)
    await reporter.send_photo(png_bytes(1))
    await reporter.press(await seen(reporter, lambda m: "Done" in labels(m)), "Done")
    await reporter.press(await seen(reporter, says("summary")), "submit")
    receipt = await seen(reporter, says("has been filed"))
    case_id = next(w for w in receipt["text"].split() if w.startswith("DR-"))[:11]
    return case_id, await seen(group, says(case_id))


def current_labels(chat: TestUser | TestChat, message: Message) -> list[str]:
    record = chat.message(message["message_id"])
    return labels(record) if record else []


# The keyboard clearing below happens in the shared Telegram handler: one framework will do.
@pytest.mark.parametrize(("framework", "mode"), [("ptb", "polling")])
async def test_evidence_button_leaves_the_card_usable(
    staffed_bot: RunningBot, telegram: FakeBotApi
) -> None:
    """A card is not a question: looking at its evidence must not take away the buttons to act
    on the case (or the card must come again with them)."""
    reporter = telegram.user(REPORTER, "Alice", language_code="en")
    staff = telegram.user(STAFF, "Sam", language_code="en")
    case_id, _ = await file_case(reporter, telegram.group(STAFF_GROUP, "Trust & safety"))
    await staff.send_text(f"/case {case_id}")
    card = await seen(staff, is_card)
    assert "🙋 Take" in labels(card)
    await staff.press(card, "Evidence")
    await seen(staff, lambda m: m["method"] == "sendPhoto")
    await seen(staff, says("Evidence of"))
    later = staff.inbox[staff.inbox.index(card) + 1 :]
    offered = current_labels(staff, card) + [label for m in later for label in labels(m)]
    assert "🙋 Take" in offered, "no button left to act on the case after viewing its evidence"


@pytest.mark.parametrize(("framework", "mode"), [("ptb", "polling")])
async def test_opening_a_case_from_the_staff_group_leaves_take_for_the_others(
    staffed_bot: RunningBot, telegram: FakeBotApi
) -> None:
    """The announcement is for the whole staff group: one member opening the card (in a
    private chat) must not remove the announcement's buttons for everyone else."""
    reporter = telegram.user(REPORTER, "Alice", language_code="en")
    staff = telegram.user(STAFF, "Sam", language_code="en")
    group = telegram.group(STAFF_GROUP, "Trust & safety")
    case_id, announced = await file_case(reporter, group)
    await group.press(staff, announced, case_id)
    await seen(staff, is_card)
    assert current_labels(group, announced) == [f"📂 {case_id}", "🙋 Take"]
