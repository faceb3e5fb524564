"""Staff review in a real ``disputebot console --jsonl`` process: one console speaks for the
reporter (user 1001) and for a staff admin (user 7, through the ``"user"`` key). The case goes
submitted → in_review → awaiting_info → (the reporter answers with a file) → in_review → upheld
with two measures for 90 days; the reporter's chat gets a line at each step (the decision as a
statement of reasons), the staff side gets the card and the evidence files, and ``disputebot
cases show --json`` names every actor in the trail."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.channels.console_process import ConsoleProcess, button, cli
from tests.support import png_bytes, sha

pytestmark = pytest.mark.slow

REPORTER = 1001
STAFF = 7
STAFF_GROUP = -1001234
ENV = {"DISPUTEBOT_ADMIN_IDS": str(STAFF), "DISPUTEBOT_STAFF_CHAT_ID": str(STAFF_GROUP)}
STORE = "https://www.aliexpress.com/store/1102345678"
FACTS = (
    "Order 8161234567890123 shows delivered on 2026-03-04, but tracking LP00123456789012 "
    "never left the origin facility; the seller then opened a dispute saying I received it."
)
QUESTION = "Please send the carrier's tracking page for LP00123456789012."
ANSWER = "The carrier's page says the number does not exist; screenshot attached."
CASE_ID = re.compile(r"DR-[0-9A-Z]{8}")
# A message id shown instead of its text: "engine.list.join", "review.measure.warning", …
RAW_MSGID = re.compile(r"\b[a-z_]+(?:\.[a-z_]+){1,}\b")
MSGID_PREFIXES = (
    "engine.",
    "review.",
    "staff.",
    "notify.",
    "card.",
    "info.",
    "followup.",
    "sor.",
)

Message = dict[str, Any]


def to(chat: int, test: Callable[[Message], bool] = lambda m: True) -> Callable[[Message], bool]:
    return lambda m: m["chat"] == chat and test(m)


def says(part: str) -> Callable[[Message], bool]:
    return lambda m: part.lower() in m["text"].lower()


def is_card(m: Message) -> bool:
    return str(m["text"]).startswith("📁")


def raw_ids(m: Message) -> list[str]:
    shown = [m["text"], *(b["label"] for row in m["buttons"] for b in row)]
    return [
        word
        for text in shown
        for word in RAW_MSGID.findall(text)
        if word.startswith(MSGID_PREFIXES)
    ]


class Console:
    """One console process speaking for both people; staff lines carry ``"user": 7``."""

    def __init__(self, tmp: Path) -> None:
        self.proc = ConsoleProcess(tmp, user=REPORTER, env=ENV)

    def reporter(self, **line: Any) -> None:
        self.proc.send(**line)

    def staff(self, **line: Any) -> None:
        self.proc.send(**line, user=STAFF)

    def wait(self, predicate: Callable[[Message], bool]) -> Message:
        return self.proc.read_until(predicate)  # type: ignore[no-any-return]


def file_report(bot: Console, evidence: Path) -> tuple[str, Message]:
    bot.reporter(text="/report")
    bot.reporter(button=button(bot.proc.at_step("category"), "logistics"))
    bot.proc.at_step("account")
    bot.reporter(text=STORE)
    bot.proc.at_step("description")
    bot.reporter(text=FACTS)
    bot.proc.at_step("evidence")
    bot.reporter(files=[str(evidence)])
    bot.reporter(button=button(bot.proc.at_step("evidence"), "done"))
    bot.reporter(button=button(bot.proc.at_step("confirm"), "submit"))
    receipt = bot.wait(to(REPORTER, says("has been filed")))
    found = CASE_ID.search(receipt["text"])
    assert found is not None, receipt
    return found.group(), receipt


@dataclass(frozen=True)
class Reviewed:
    tmp: Path
    case_id: str
    seen: list[Message]
    files: list[Path]


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> Reviewed:
    """The scenario, run once for the tests of this module."""
    tmp = tmp_path_factory.mktemp("review")
    case_id, bot, files = review_to_upheld(tmp)
    return Reviewed(tmp, case_id, bot.proc.seen, files)


def review_to_upheld(tmp_path: Path) -> tuple[str, Console, list[Path]]:
    """The whole scenario; returns the case id, the finished console and the two files."""
    first, second = tmp_path / "order-page.png", tmp_path / "tracking.png"
    first.write_bytes(png_bytes(1))
    second.write_bytes(png_bytes(9))
    bot = Console(tmp_path)

    # submitted: the reporter gets the receipt, the staff group the announcement.
    case_id, receipt = file_report(bot, first)
    assert receipt["chat"] == REPORTER
    announced = bot.wait(to(STAFF_GROUP, says(case_id)))
    assert "new report" in announced["text"].lower()
    assert button(announced, "take") == f"sf:take:{case_id}"

    # The staff member finds it in /queue, opens the card and sees the evidence.
    bot.staff(text="/queue")
    queue = bot.wait(to(STAFF, says(case_id)))
    bot.staff(button=button(queue, case_id))
    card = bot.wait(to(STAFF, is_card))
    assert f"{case_id} — Submitted" in card["text"]
    assert "order-page.png" in card["text"]
    bot.staff(button=button(card, "📎 evidence"))
    files = bot.wait(to(STAFF, lambda m: "media" in m))
    assert [(m["kind"], m["name"]) for m in files["media"]] == [("photo", "order-page.png")]
    assert Path(files["media"][0]["path"]).read_bytes() == first.read_bytes()

    # in_review: taking it tells the reporter.
    bot.staff(button=button(card, "take"))
    bot.wait(to(STAFF, says("is now In review")))
    card = bot.wait(to(STAFF, is_card))
    assert f"{case_id} — In review" in card["text"]
    assert f"Assignee: console:{STAFF}" in card["text"]
    in_review = bot.wait(to(REPORTER, says("being reviewed")))
    assert case_id in in_review["text"]

    # awaiting_info: the question reaches the reporter with an answer button.
    bot.staff(button=button(card, "ask"))
    asking = bot.wait(to(STAFF, lambda m: m["step"] == "question"))
    assert asking["expects"] == "text"
    bot.staff(text=QUESTION)
    confirm = bot.wait(to(STAFF, lambda m: m["step"] == "confirm"))
    assert QUESTION in confirm["text"]
    bot.staff(button=button(confirm, "confirm"))
    bot.wait(to(STAFF, says("is now More information needed")))
    asked = bot.wait(to(REPORTER, says(QUESTION)))
    assert case_id in asked["text"]
    assert button(asked, "answer") == f"rp:ans:{case_id}"

    # The reporter answers with text and a file: back in review, the staff member is told.
    bot.reporter(button=button(asked, "answer"))
    bot.proc.at_step("answer")
    bot.reporter(text=ANSWER)
    bot.proc.at_step("files")
    bot.reporter(files=[str(second)])
    bot.reporter(button=button(bot.wait(to(REPORTER, lambda m: m["buttons"])), "done"))
    summary = bot.proc.at_step("confirm")
    assert ANSWER in summary["text"]
    assert "tracking.png" in summary["text"]
    bot.reporter(button=button(summary, "send answer"))
    thanks = bot.wait(to(REPORTER, says("was added to the case")))
    assert case_id in thanks["text"]
    answered = bot.wait(to(STAFF, says("answered your question")))

    # upheld with two measures.
    bot.staff(button=button(answered, case_id))
    card = bot.wait(to(STAFF, is_card))
    assert f"{case_id} — In review" in card["text"]
    assert "tracking.png" in card["text"]
    bot.staff(button=button(card, "uphold"))
    measures = bot.proc.at_step("measures")
    bot.staff(button=button(measures, "restrict"))
    measures = bot.proc.at_step("measures")
    bot.staff(button=button(measures, "remove non-compliant"))
    measures = bot.proc.at_step("measures")
    bot.staff(button=button(measures, "done"))
    bot.staff(button=button(bot.proc.at_step("duration"), "90 days"))
    bot.staff(button=button(bot.proc.at_step("note"), "no note"))
    bot.staff(button=button(bot.proc.at_step("confirm"), "confirm"))
    bot.wait(to(STAFF, says("is now Upheld")))
    card = bot.wait(to(STAFF, is_card))
    assert f"{case_id} — Upheld" in card["text"]
    assert "Restrict the account's functions" in card["text"]  # the decision
    # The reporter's news of the decision is its statement of reasons.
    upheld = bot.wait(to(REPORTER, says("was upheld")))
    assert upheld["text"].startswith("📄 Statement of reasons")
    assert case_id in upheld["text"]
    assert "Restrict the account's functions" in upheld["text"]
    assert "Remove non-compliant products" in upheld["text"]
    assert "Formal warning" not in upheld["text"]
    assert "Duration of the measures: 90 days." in upheld["text"]
    assert button(upheld, "appeal") == f"ap:{case_id}"
    assert bot.proc.close() == 0
    return case_id, bot, [first, second]


def test_case_goes_through_review_to_upheld_in_one_console(reviewed: Reviewed) -> None:
    case_id, seen = reviewed.case_id, reviewed.seen

    # The reporter's chat: exactly one line per step, in order.
    news = [m["text"] for m in seen if m["chat"] == REPORTER and case_id in m["text"]]
    steps = ("has been filed", "being reviewed", "more information", "was added", "was upheld")
    assert [next((s for s in steps if s in t.lower()), t) for t in news] == list(steps)
    # Nothing meant for one person went to another chat.
    assert {m["chat"] for m in seen} == {REPORTER, STAFF, STAFF_GROUP}
    assert [m for m in seen if "media" in m and m["chat"] != STAFF] == []

    shown = cli(reviewed.tmp, "cases", "show", case_id, "--json", env=ENV)
    assert shown.returncode == 0, shown.stderr
    case = json.loads(shown.stdout)
    assert case["status"] == "upheld"
    assert case["reporter"] == f"console:{REPORTER}"
    assert case["assignee"] == f"console:{STAFF}"
    assert case["decision"]["outcome"] == "upheld"
    assert case["decision"]["measures"] == ["restrict_functions", "remove_products"]
    assert case["decision"]["duration"] == "days_90"
    assert case["decision"]["decided_by"] == f"console:{STAFF}"
    assert case["first_response_at"] is not None
    assert case["decided_at"] is not None
    assert [e["sha256"] for e in case["evidence"]] == [sha(f.read_bytes()) for f in reviewed.files]
    assert [e["name"] for e in case["evidence"]] == ["order-page.png", "tracking.png"]
    trail = [(e["actor"], e["kind"], e["from"], e["to"]) for e in case["events"]]
    reporter, staff = f"console:{REPORTER}", f"console:{STAFF}"
    assert trail == [
        (reporter, "filed", None, "submitted"),
        ("system", "party:unreachable", None, None),  # nobody is linked to the account
        (staff, "take", "submitted", "in_review"),
        (staff, "ask_info", "in_review", "awaiting_info"),
        (reporter, "info_received", "awaiting_info", "in_review"),
        (staff, "uphold", "in_review", "upheld"),
    ]
    notes = {e["kind"]: e["note"] for e in case["events"]}
    assert notes["ask_info"] == QUESTION
    assert notes["info_received"] == ANSWER


def test_review_dialogs_show_texts_not_message_ids(reviewed: Reviewed) -> None:
    """Every line of the scenario, buttons included, is rendered text: a catalog entry left
    empty shows its message id (``engine.list.join``, ``engine.multichoice.selected`` …)."""
    raw = [(m["chat"], m["step"], ids) for m in reviewed.seen if (ids := raw_ids(m))]
    assert not raw, f"message ids shown as text (chat, step, ids): {raw}"
