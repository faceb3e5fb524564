"""Flows that finish instead of filing a case, and optional texts that can be skipped."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from disputebot.engine import machine
from disputebot.engine.context import Context
from disputebot.engine.effects import Finish, Msg
from disputebot.engine.events import ButtonPressed, CommandReceived, TextReceived
from disputebot.engine.spec import FlowBook
from disputebot.engine.state import Session
from disputebot.policy.abuse import ReporterFacts
from tests.engine.flows import small_book
from tests.engine.transcript import Chat
from tests.support import T0

STORE_URL = "https://www.aliexpress.com/store/1102345678"
STORE_KEY = "aliexpress:store:1102345678"
# Every check there is would refuse this reporter if it applied.
BARRED = ReporterFacts(
    reports_last_24h=50,
    oldest_report_last_24h=T0 - timedelta(hours=1),
    open_cases={STORE_KEY: "DR-0000ABCD"},
)


@pytest.fixture
def book() -> FlowBook:
    return small_book()


def to_summary(chat: Chat, note: str | None = "Measures were taken.") -> Chat:
    chat.begin("decide", context={"case_id": "DR-7K3M9Q2A", "seen_status": "in_review"})
    chat.click("t.measure.restrict")
    chat.click("t.measures.done")
    if note is None:
        chat.click("t.note.skip")
    else:
        chat.text(note)
    assert chat.step == "confirm"
    return chat


def test_submit_finishes_with_answers_and_context(book: FlowBook, ctx: Context) -> None:
    chat = to_summary(Chat(book, ctx))
    out = chat.click("t.submit")
    assert out.changed
    assert chat.session is None
    assert out.says == ()
    assert chat.finished == Finish(
        flow="decide",
        version=1,
        answers={"measures": ["restrict"], "note": "Measures were taken."},
        context={"case_id": "DR-7K3M9Q2A", "seen_status": "in_review"},
    )


def test_context_is_carried_unchanged_through_the_flow(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide", context={"case_id": "DR-7K3M9Q2A"})
    chat.click("t.measure.remove")
    chat.click("t.measures.done")
    chat.cmd("back")
    chat.cmd("cancel")
    chat.click("engine.cancel.no")
    assert chat.session is not None
    assert chat.session.context == {"case_id": "DR-7K3M9Q2A"}


def test_without_context_finish_has_an_empty_one(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("tags")
    chat.click("t.tags.done")
    chat.click("t.submit")
    assert chat.finished.context == {}


def test_summary_of_a_finish_flow_has_no_attestation(book: FlowBook, ctx: Context) -> None:
    chat = to_summary(Chat(book, ctx))
    prompt = chat.prompt
    assert prompt.expects == "confirm"
    keys = [m.key for m in prompt.text]
    assert keys[0] == "engine.summary.title"
    assert prompt.text[0].params["title"] == Msg("t.decide.title")
    assert keys[-1] == "t.decide.confirm"
    assert keys.count("engine.summary.line") == 2
    assert not any("attestation" in k for k in keys)
    labels = [b.label.key for b in chat.buttons()]
    assert labels == ["t.submit", "t.edit", "t.edit", "t.cancel"]
    assert chat.button("t.edit", label="t.measures.label").data.endswith(":e:measures")


def test_report_summary_still_shows_the_attestation(book: FlowBook) -> None:
    out = machine.resume(book, Session(flow="report", version=1, step="confirm"))
    keys = [m.key for m in out.says[-1].text]
    assert keys[-2:] == ["report.confirm.prompt", "report.confirm.attestation"]


def test_cancel_of_a_finish_flow_drops_it(book: FlowBook, ctx: Context) -> None:
    chat = to_summary(Chat(book, ctx))
    chat.click("t.cancel")
    out = chat.click("engine.cancel.yes")
    assert chat.session is None
    assert out.actions == ()
    assert chat.said() == ["engine.cancel.done"]


def test_finish_flows_never_need_facts(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("review")
    checked = [machine.needs_facts(book, chat.session, TextReceived(STORE_URL))]
    chat.click("t.verdict.fine")
    checked.append(machine.needs_facts(book, chat.session, TextReceived(STORE_URL)))
    chat.click("t.comment.skip")
    assert chat.step == "account"
    checked.append(machine.needs_facts(book, chat.session, TextReceived(STORE_URL)))
    chat.text(STORE_URL)
    assert chat.step == "confirm"
    checked.append(machine.needs_facts(book, chat.session, ButtonPressed("1:s")))
    assert checked == [False, False, False, False]
    # The report flow still asks at the same steps as before.
    report = Chat(book, ctx)
    report.cmd("report")
    report.click("report.category.other")
    assert machine.needs_facts(book, report.session, TextReceived(STORE_URL))


def test_abuse_checks_do_not_apply_to_finish_flows(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, replace(ctx, facts=BARRED))
    out = chat.begin("review")
    assert out.changed
    chat.click("t.verdict.other")
    chat.click("t.comment.skip")
    chat.text(STORE_URL)  # an account with an open case: fine outside a report
    assert chat.step == "confirm"
    chat.click("t.submit")
    assert chat.finished.answers["account"]["key"] == STORE_KEY


def test_abuse_checks_still_apply_to_the_report(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, replace(ctx, facts=BARRED))
    out = chat.begin("report")
    assert not out.changed
    assert chat.session is None
    assert chat.said() == ["policy.abuse.daily_limit"]


# --- skipping an optional text ----------------------------------------------------------------


def test_skip_answers_empty_and_moves_on(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.warning")
    chat.click("t.measures.done")
    assert chat.step == "note"
    assert [b.label.key for b in chat.buttons()] == ["t.note.skip"]
    assert chat.prompt.expects == "text"
    chat.click("t.note.skip")
    assert chat.step == "confirm"
    assert chat.session is not None
    assert chat.session.answers["note"] == ""
    (line,) = [m for m in chat.prompt.text if m.params.get("label") == Msg("t.note.label")]
    assert line.params["value"] == Msg("engine.text.skipped")
    chat.click("t.submit")
    assert chat.finished.answers["note"] == ""


def test_a_skipped_answer_can_be_replaced(book: FlowBook, ctx: Context) -> None:
    chat = to_summary(Chat(book, ctx), note=None)
    chat.click("t.edit", label="t.note.label")
    assert chat.step == "note"
    (current,) = [m for m in chat.prompt.text if m.key == "engine.current_answer"]
    assert current.params["value"] == Msg("engine.text.skipped")
    chat.text("A note after all.")
    assert chat.step == "confirm"
    chat.click("t.submit")
    assert chat.finished.answers["note"] == "A note after all."


def test_skip_is_not_linted(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("review")
    chat.click("t.verdict.fine")
    assert chat.step == "comment"
    # A typed comment is still checked …
    out = chat.text("This seller is an idiot.")
    assert not out.changed
    assert "policy.objectivity.blocking" in chat.said()
    # … and a comment held on warnings gives way to a skip.
    chat.text("THE PARCEL NEVER ARRIVED AND NOBODY ANSWERS MY MESSAGES!!!")
    assert "policy.objectivity.warning" in chat.said()
    assert [b.label.key for b in chat.buttons()] == ["t.comment.keep", "t.comment.skip"]
    assert chat.session is not None
    assert "pending_text" in chat.session.scratch
    chat.click("t.comment.skip")
    assert chat.step == "account"
    assert chat.session.answers["comment"] == ""
    assert "pending_text" not in chat.session.scratch


def test_skip_button_on_a_required_text_is_refused(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.click("report.category.other")
    chat.text(STORE_URL)
    assert chat.step == "description"
    assert chat.buttons() == []  # the report's description has no skip
    assert chat.session is not None
    out = chat.send(ButtonPressed(f"{chat.session.nonce}:sk"))
    assert not out.changed
    assert chat.step == "description"
    assert "engine.expects.text" in chat.said()


def test_skip_from_an_older_prompt_is_stale(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.warning")
    chat.click("t.measures.done")
    skip = chat.button("t.note.skip")
    chat.text("Written instead.")
    chat.cmd("back")
    assert chat.step == "note"
    out = chat.send(ButtonPressed(skip.data))
    assert not out.changed
    assert "engine.stale_button" in chat.said()
    assert chat.session is not None
    assert chat.session.answers["note"] == "Written instead."


def test_commands_in_a_finish_flow(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    out = chat.send(CommandReceived("back"))
    assert not out.changed
    assert "engine.back.first" in chat.said()
    out = chat.cmd("report")
    assert not out.changed
    assert out.says[-1].step == "measures"
    assert "engine.resumed" in chat.said()
