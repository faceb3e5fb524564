"""A flow started over another one runs on its own and, when it ends, hands the chat back."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from disputebot.engine import machine
from disputebot.engine.context import Context
from disputebot.engine.effects import FileCase, Finish
from disputebot.engine.events import ButtonPressed, TextReceived
from disputebot.engine.spec import FlowBook
from disputebot.engine.state import Session
from disputebot.policy.abuse import ReporterFacts
from tests.engine.flows import DECIDE, flow, small_book
from tests.engine.transcript import Chat, evidence
from tests.support import T0, png_bytes

STORE_URL = "https://www.aliexpress.com/store/1102345678"
FACTS = (
    "Order 8161234567890123 was marked delivered on 2026-03-04, but tracking "
    "LP00123456789012 shows the parcel never left the sorting centre."
)
CASE = {"case_id": "DR-7K3M9Q2A", "seen_status": "awaiting_info"}


@pytest.fixture
def book() -> FlowBook:
    return small_book()


def draft(chat: Chat) -> Session:
    """A report draft waiting at the description step."""
    chat.cmd("report")
    chat.click("report.category.other")
    chat.text(STORE_URL)
    assert chat.step == "description"
    assert chat.session is not None
    return chat.session


def nested_summary(chat: Chat) -> None:
    chat.begin("decide", context=CASE, nested=True)
    chat.click("t.measure.remove")
    chat.click("t.measures.done")
    chat.text("Products removed.")
    assert chat.step == "confirm"


def test_start_over_a_draft_keeps_it_as_outer(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    outer = draft(chat)
    out = chat.begin("decide", context=CASE, nested=True)
    assert out.changed
    session = chat.session
    assert session is not None
    assert (session.flow, session.step) == ("decide", "measures")
    assert session.outer == outer
    assert session.context == CASE
    assert session.nonce > outer.nonce
    assert out.says[-1].step == "measures"


def test_finish_returns_to_the_outer_prompt(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    outer = draft(chat)
    nested_summary(chat)
    inner = chat.session
    assert inner is not None
    out = chat.click("t.submit")
    assert out.changed
    assert chat.finished == Finish(
        flow="decide",
        version=1,
        answers={"measures": ["remove"], "note": "Products removed."},
        context=CASE,
    )
    back = chat.session
    assert back is not None
    assert back == replace(outer, nonce=back.nonce)
    assert back.nonce > inner.nonce > outer.nonce
    assert out.says[-1].step == "description"
    assert out.says[-1].expects == "text"
    assert "engine.resumed" in chat.said()
    # The draft goes on where it was.
    chat.text(FACTS)
    assert chat.step == "evidence"
    assert chat.session is not None
    assert chat.session.answers["account"]["key"] == "aliexpress:store:1102345678"


def test_outer_buttons_are_stale_inside_and_after(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    category = chat.button("report.category.other")
    # The review flow's first step has an option with the same value, "other".
    chat.begin("review", nested=True)
    assert chat.step == "verdict"
    out = chat.send(ButtonPressed(category.data))
    assert not out.changed
    assert "engine.stale_button" in chat.said()
    assert chat.step == "verdict"
    verdict = chat.button("t.verdict.fine")
    chat.cmd("cancel")
    chat.click("engine.cancel.yes")
    assert chat.session is not None
    assert (chat.session.flow, chat.step) == ("report", "category")
    for old in (category, verdict):
        out = chat.send(ButtonPressed(old.data))
        assert not out.changed
        assert "engine.stale_button" in chat.said()
    chat.click("report.category.other")
    assert chat.step == "account"


def test_cancel_says_done_then_the_outer_prompt(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    outer = draft(chat)
    chat.begin("decide", context=CASE, nested=True)
    chat.click("t.measure.warning")
    chat.cmd("cancel")
    out = chat.click("engine.cancel.yes")
    assert out.actions == ()
    assert [say.text[0].key for say in out.says] == ["engine.cancel.done", "engine.resumed"]
    assert out.says[-1].step == "description"
    assert chat.session is not None
    assert chat.session.flow == "report"
    assert chat.session.answers == outer.answers
    assert chat.session.outer is None


def test_cancel_kept_stays_in_the_nested_flow(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    draft(chat)
    chat.begin("decide", nested=True)
    chat.cmd("cancel")
    chat.click("engine.cancel.no")
    assert chat.session is not None
    assert (chat.session.flow, chat.step) == ("decide", "measures")
    assert chat.session.outer is not None


def test_cancel_button_on_the_nested_summary(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    draft(chat)
    nested_summary(chat)
    chat.click("t.cancel")
    chat.click("engine.cancel.yes")
    assert chat.session is not None
    assert (chat.session.flow, chat.step) == ("report", "description")


@pytest.mark.parametrize("command", ["start", "report"])
def test_start_and_report_show_the_nested_prompt(
    book: FlowBook, ctx: Context, command: str
) -> None:
    chat = Chat(book, ctx)
    draft(chat)
    chat.begin("decide", nested=True)
    chat.click("t.measure.restrict")
    before = chat.session
    out = chat.cmd(command)
    assert not out.changed
    assert chat.session == before
    assert out.says[-1].step == "measures"
    assert "engine.resumed" in chat.said()


def test_back_and_edit_work_inside(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    draft(chat)
    chat.begin("decide", nested=True)
    out = chat.cmd("back")
    assert not out.changed
    assert "engine.back.first" in chat.said()  # the outer flow's steps are not "back"
    chat.click("t.measure.restrict")
    chat.click("t.measures.done")
    chat.cmd("back")
    assert chat.step == "measures"
    chat.click("t.measures.done")
    chat.click("t.note.skip")
    chat.click("t.edit", label="t.note.label")
    chat.text("Restricted for 30 days.")
    assert chat.step == "confirm"
    chat.click("t.submit")
    assert chat.finished.answers["note"] == "Restricted for 30 days."
    assert chat.step == "description"


def test_nested_sessions_never_need_facts(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    draft(chat)
    chat.begin("report", nested=True)
    chat.click("report.category.other")
    assert chat.step == "account"
    assert not machine.needs_facts(book, chat.session, TextReceived(STORE_URL))
    assert chat.session is not None
    assert chat.session.outer is not None
    outer_at_account = replace(chat.session.outer, step="account")
    assert machine.needs_facts(book, outer_at_account, TextReceived(STORE_URL))


def test_a_nested_report_files_and_returns(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("tags")
    chat.begin("report", nested=True, context={"via": "tags"})
    chat.click("report.category.fake_logistics")
    chat.text(STORE_URL)
    chat.text(FACTS)
    chat.files(evidence(png_bytes(3), "a.png"))
    chat.click("report.evidence.done")
    out = chat.click("report.confirm.submit")
    (action,) = out.actions
    assert isinstance(action, FileCase)
    assert action.attestation == "report.confirm.attestation@report.v1"
    assert chat.session is not None
    assert (chat.session.flow, chat.step) == ("tags", "tags")
    assert out.says[-1].step == "tags"


def test_refused_start_leaves_the_chat_in_the_outer_session(book: FlowBook, ctx: Context) -> None:
    facts = ReporterFacts(reports_last_24h=9, oldest_report_last_24h=T0 - timedelta(hours=1))
    chat = Chat(book, replace(ctx, facts=facts))
    chat.begin("tags")
    outer = chat.session
    out = chat.begin("report", nested=True)
    assert not out.changed
    assert out.session == outer
    assert chat.said() == ["policy.abuse.daily_limit"]


def test_finishing_clears_a_pending_cancel_of_the_outer(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    draft(chat)
    chat.cmd("cancel")  # "discard the draft?" … and then staff's question arrives
    assert chat.session is not None
    assert chat.session.pending == "cancel"
    nested_summary(chat)
    chat.click("t.submit")
    assert chat.session is not None
    assert chat.session.pending is None
    assert [b.label.key for b in chat.buttons()] == []  # the description prompt, no buttons
    assert chat.step == "description"


def test_nesting_two_deep_unwinds_one_level_at_a_time(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    draft(chat)
    chat.begin("decide", nested=True)
    chat.begin("tags", nested=True)
    assert chat.session is not None
    assert chat.session.outer is not None
    assert chat.session.outer.outer is not None
    assert Session.from_json(chat.session.to_json()) == chat.session
    chat.click("t.tags.done")
    chat.click("t.submit")
    assert chat.finished.flow == "tags"
    assert chat.session is not None
    assert (chat.session.flow, chat.step) == ("decide", "measures")
    chat.cmd("cancel")
    chat.click("engine.cancel.yes")
    assert chat.session is not None
    assert (chat.session.flow, chat.step) == ("report", "description")


def test_a_retired_version_keeps_context_and_outer(book: FlowBook, ctx: Context) -> None:
    outer = Session(flow="report", version=1, step="description", nonce=3)
    stored = Session(
        flow="decide",
        version=0,
        step="gone",
        answers={"measures": ["warning"]},
        nonce=7,
        context=CASE,
        outer=outer,
    )
    chat = Chat(book, ctx, stored)
    out = chat.cmd("start")
    assert out.changed  # the move to version 1 is kept
    moved = chat.session
    assert moved is not None
    assert (moved.version, moved.step) == (1, "note")
    assert moved.context == CASE
    assert moved.outer == outer
    chat.click("t.note.skip")
    chat.click("t.submit")
    assert chat.finished.context == CASE
    assert chat.session is not None
    assert chat.session.flow == "report"


def test_outer_on_a_retired_version_moves_on_return(ctx: Context) -> None:
    v2 = flow(DECIDE.replace("version: 1", "version: 2"))
    book = FlowBook.of(v2, flow(DECIDE.replace("flow: decide", "flow: inner")))
    outer = Session(
        flow="decide", version=1, step="note", answers={"measures": ["remove"]}, nonce=5
    )
    chat = Chat(book, ctx, outer)
    chat.begin("inner", nested=True)
    chat.cmd("cancel")
    out = chat.click("engine.cancel.yes")
    assert chat.session is not None
    assert (chat.session.flow, chat.session.version, chat.step) == ("decide", 2, "note")
    assert chat.session.answers == {"measures": ["remove"]}
    assert out.says[-1].step == "note"
