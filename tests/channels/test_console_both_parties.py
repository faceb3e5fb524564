"""Both parties in a real ``disputebot console --jsonl`` process: one console speaks for the
reporter (user 1001), the seller (2002, who chooses Chinese), and two staff admins (7 and 8).
The seller is linked by a claim link and answers the report with a statement; staff 7 upholds
with a measure; each side gets a statement of reasons in their own language; the seller
appeals; staff 7 may not take the appeal, staff 8 reverses it; the measure is lifted, the
platform webhook event is queued and both sides are told. ``cases show --json`` exports the
statements."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from disputebot.config import PROJECT_ROOT
from tests.channels.console_process import ConsoleProcess, button, cli
from tests.support import png_bytes

pytestmark = pytest.mark.slow

REPORTER, SELLER, DECIDER, SECOND = 1001, 2002, 7, 8
STAFF_GROUP = -1001234
ENV = {
    "DISPUTEBOT_ADMIN_IDS": f"{DECIDER},{SECOND}",
    "DISPUTEBOT_STAFF_CHAT_ID": str(STAFF_GROUP),
    # Nothing listens there: the events stay queued in the outbox, where the test reads them.
    "DISPUTEBOT_PLATFORM_WEBHOOK_URL": "http://127.0.0.1:9/events",
    "DISPUTEBOT_PLATFORM_WEBHOOK_SECRET": "console-platform-secret",
}
STORE = "https://www.aliexpress.com/store/1102345678"
FACTS = (
    "Order 8161234567890123 shows delivered on 2026-03-04, but tracking LP00123456789012 "
    "never left the origin facility; the seller then opened a dispute saying I received it."
)
STATEMENT = "Order 8161234567890123 was handed to the carrier on 2026-03-02; waybill attached."
RELIED_ON = "The tracking number LP00123456789012 was never scanned after 2026-03-02."
APPEAL = "The carrier confirmed on 2026-03-20 that its scanner failed; the parcel was delivered."
GROUNDS = "The carrier's letter of 2026-03-20 shows the parcel was scanned and delivered."
CASE_ID = re.compile(r"DR-[0-9A-Z]{8}")

Message = dict[str, Any]


def _catalog(locale: str) -> dict[str, str]:
    path = PROJECT_ROOT / "locales" / locale / "LC_MESSAGES" / "disputebot.po"
    with path.open("rb") as fh:
        return {str(m.id): str(m.string) for m in read_po(fh, locale=locale) if m.id}


EN, ZH = _catalog("en"), _catalog("zh_Hans")


def lead(catalog: dict[str, str], msgid: str) -> str:
    return catalog[msgid].split("{", 1)[0].strip()


def to(chat: int, test: Callable[[Message], bool] = lambda m: True) -> Callable[[Message], bool]:
    return lambda m: m["chat"] == chat and test(m)


def says(part: str) -> Callable[[Message], bool]:
    return lambda m: part.lower() in m["text"].lower()


def is_card(m: Message) -> bool:
    return str(m["text"]).startswith("📁")


def test_both_parties_in_one_console(tmp_path: Path) -> None:
    photo = tmp_path / "order-page.png"
    photo.write_bytes(png_bytes(1))
    bot = ConsoleProcess(tmp_path, user=REPORTER, env=ENV)

    def send(user: int, **line: Any) -> None:
        bot.send(**line, user=user)

    def wait(predicate: Callable[[Message], bool]) -> Message:
        return bot.read_until(predicate)  # type: ignore[no-any-return]

    # The seller chooses Chinese, gets a claim link from staff and opens it.
    send(SELLER, text="/language zh_Hans")
    wait(to(SELLER))
    send(DECIDER, text=f"/claimlink {STORE}")
    created = wait(to(DECIDER, says("/start claim_")))
    token = re.search(r"claim_[A-Za-z0-9_-]+", created["text"])
    assert token is not None
    send(SELLER, text=f"/start {token.group()}")
    wait(to(SELLER, says(lead(ZH, "party.claim.linked"))))

    # The reporter files; the seller is told in Chinese and answers with a statement.
    send(REPORTER, text="/report")
    send(REPORTER, button=button(bot.at_step("category"), "logistics"))
    bot.at_step("account")
    send(REPORTER, text=STORE)
    bot.at_step("description")
    send(REPORTER, text=FACTS)
    bot.at_step("evidence")
    send(REPORTER, files=[str(photo)])
    send(REPORTER, button=button(bot.at_step("evidence"), "done"))
    send(REPORTER, button=button(bot.at_step("confirm"), "submit"))
    receipt = wait(to(REPORTER, says("has been filed")))
    found = CASE_ID.search(receipt["text"])
    assert found is not None
    case_id = found.group()
    notice = wait(to(SELLER, says(case_id)))
    assert lead(ZH, "party.notice") in notice["text"]
    send(SELLER, button=f"pt:st:{case_id}")
    wait(to(SELLER, lambda m: m["step"] == "text"))
    send(SELLER, text=STATEMENT)
    wait(to(SELLER, lambda m: m["step"] == "files"))
    send(SELLER, text="/done")
    send(SELLER, button=button(wait(to(SELLER, lambda m: m["step"] == "confirm")), "✅"))
    wait(to(SELLER, says(lead(ZH, "party.statement.sent"))))

    # Staff 7 takes the case, sees the statement and upholds with one measure for 30 days.
    send(DECIDER, text=f"/case {case_id}")
    card = wait(to(DECIDER, is_card))
    assert STATEMENT in card["text"]
    send(DECIDER, button=button(card, "take"))
    card = wait(to(DECIDER, lambda m: is_card(m) and "In review" in m["text"]))
    send(DECIDER, button=button(card, "uphold"))
    send(DECIDER, button=button(bot.at_step("measures"), "restrict"))
    send(DECIDER, button=button(bot.at_step("measures"), "done"))
    send(DECIDER, button=button(bot.at_step("duration"), "30"))
    bot.at_step("note")
    send(DECIDER, text=RELIED_ON)
    send(DECIDER, button=button(bot.at_step("confirm"), "confirm"))
    wait(to(DECIDER, says("is now Upheld")))
    for_reporter = wait(to(REPORTER, says(lead(EN, "sor.upheld.reporter"))))
    assert RELIED_ON in for_reporter["text"]
    assert "30 days" in for_reporter["text"]
    for_seller = wait(to(SELLER, says(lead(ZH, "sor.upheld.party"))))
    assert RELIED_ON in for_seller["text"]

    # The seller appeals; staff 7 may not take it; staff 8 takes it and reverses.
    send(SELLER, button=button(for_seller, ZH["sor.appeal.button"]))
    wait(to(SELLER, lambda m: m["step"] == "reason"))
    send(SELLER, text=APPEAL)
    wait(to(SELLER, lambda m: m["step"] == "files"))
    send(SELLER, text="/done")
    send(SELLER, button=button(wait(to(SELLER, lambda m: m["step"] == "confirm")), "⚖️"))
    wait(to(SELLER, says(lead(ZH, "appeal.filed"))))
    alert = wait(to(STAFF_GROUP, says(lead(EN, "appeal.staff.new"))))
    send(DECIDER, button=button(alert, "take"))
    wait(to(DECIDER, says("appeal against your own decision")))
    send(SECOND, button=button(alert, "take"))
    card = wait(to(SECOND, lambda m: is_card(m) and "Under appeal" in m["text"]))
    send(SECOND, button=button(card, "reverse"))
    bot.at_step("grounds")
    send(SECOND, text=GROUNDS)
    send(SECOND, button=button(bot.at_step("confirm"), "confirm"))
    wait(to(SECOND, says("is now Rejected")))
    reversed_reporter = wait(to(REPORTER, says(lead(EN, "sor.appeal_reversed.reporter"))))
    assert GROUNDS in reversed_reporter["text"]
    wait(to(SELLER, says(lead(ZH, "sor.appeal_reversed.party"))))
    assert bot.close() == 0

    # Nothing the seller saw names the reporter or carries a file.
    to_seller = [m for m in bot.seen if m["chat"] == SELLER]
    assert not [m for m in to_seller if str(REPORTER) in json.dumps(m) or "media" in m]

    # The export: the decision reversed, the four statements, the queued platform event.
    shown = cli(tmp_path, "cases", "show", case_id, "--json", env=ENV)
    assert shown.returncode == 0, shown.stderr
    case = json.loads(shown.stdout)
    assert case["status"] == "rejected"
    assert case["decision"]["lifted_measures"] == ["restrict_functions"]
    assert [(s["audience"], s["kind"], s["locale"]) for s in case["statements"]] == [
        ("reporter", "decision", "en"),
        ("party", "decision", "zh_Hans"),
        ("reporter", "appeal", "en"),
        ("party", "appeal", "zh_Hans"),
    ]
    party_bodies = json.dumps([s["body"] for s in case["statements"] if s["audience"] == "party"])
    assert f"console:{REPORTER}" not in party_bodies
    queued = cli(tmp_path, "outbox", "list", "--channel", "webhook", "--json", env=ENV)
    assert queued.returncode == 0, queued.stderr
    events = [item["payload"] for item in json.loads(queued.stdout)]
    reversal = [e for e in events if e["type"] == "case.reverse"]
    assert len(reversal) == 1
    assert reversal[0]["case_id"] == case_id
    assert reversal[0]["decision"]["lifted_measures"] == ["restrict_functions"]
