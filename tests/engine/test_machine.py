"""Transcripts of the report flow, straight through the engine (no I/O, no fakes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from disputebot.engine import machine
from disputebot.engine.context import Checks, Context
from disputebot.engine.events import ButtonPressed, CommandReceived, Event, TextReceived
from disputebot.engine.spec import FlowBook
from disputebot.engine.state import Session
from disputebot.policy.abuse import ReporterFacts
from tests.engine.transcript import Chat, evidence
from tests.support import T0, elf_bytes, pdf_bytes, png_bytes

STORE_URL = "https://www.aliexpress.com/store/1102345678"
FACTS = (
    "Order 8161234567890123 was marked delivered on 2026-03-04, but tracking "
    "LP00123456789012 shows the parcel never left the sorting centre. The seller then "
    "opened a dispute claiming I had received it."
)


def to_evidence(chat: Chat) -> Chat:
    chat.cmd("report")
    chat.click("report.category.fake_logistics")
    chat.text(STORE_URL)
    chat.text(FACTS)
    assert chat.step == "evidence"
    return chat


def to_confirm(chat: Chat) -> Chat:
    to_evidence(chat)
    chat.files(evidence(png_bytes(1), "a.png"), evidence(pdf_bytes(), "b.pdf", "application/pdf"))
    chat.click("report.evidence.done")
    assert chat.step == "confirm"
    return chat


def test_report_start_shows_intro_then_category(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    out = chat.cmd("report")
    assert [say.text[-1].key for say in out.says] == ["report.intro", "report.category.prompt"]
    assert chat.step == "category"
    assert out.says[-1].expects == "choice"
    assert [b.label.key for b in chat.buttons()] == [
        "report.category.fake_logistics",
        "report.category.concealed_info",
        "report.category.created_dispute",
        "report.category.other",
    ]


def test_complete_report_files_a_case_with_every_answer(book: FlowBook, ctx: Context) -> None:
    chat = to_confirm(Chat(book, ctx))
    summary = chat.said()
    assert "engine.summary.title" in summary
    assert "report.confirm.attestation" in summary
    chat.click("report.confirm.submit")
    assert chat.session is None
    action = chat.filed
    assert action.flow == "report"
    assert action.version == 1
    assert action.answers["category"] == "fake_logistics"
    assert action.answers["account"]["key"] == "aliexpress:store:1102345678"
    assert action.answers["description"] == FACTS
    assert [f["name"] for f in action.answers["evidence"]] == ["a.png", "b.pdf"]
    assert action.attestation == "report.confirm.attestation@report.v1"


@pytest.mark.parametrize(
    ("at", "event", "expected"),
    [
        ("category", TextReceived("fake logistics"), "engine.expects.choice"),
        ("category", CommandReceived("done"), "engine.expects.choice"),
        ("account", ButtonPressed("x"), "engine.stale_button"),
        ("description", TextReceived("too short"), "engine.text.too_short"),
        ("description", TextReceived("x" * 3001), "engine.text.too_long"),
        ("evidence", TextReceived("here are my photos"), "engine.expects.files"),
        ("evidence", CommandReceived("done"), "engine.files.missing"),
        ("confirm", TextReceived("yes"), "engine.expects.confirm"),
        ("confirm", ButtonPressed("1:s"), "engine.stale_button"),
    ],
)
def test_wrong_input_is_explained_and_changes_nothing(
    book: FlowBook, ctx: Context, at: str, event: object, expected: str
) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    steps = {
        "category": lambda: None,
        "account": lambda: chat.click("report.category.other"),
        "description": lambda: (chat.click("report.category.other"), chat.text(STORE_URL)),
        "evidence": lambda: (
            chat.click("report.category.other"),
            chat.text(STORE_URL),
            chat.text(FACTS),
        ),
        "confirm": lambda: to_confirm(Chat(book, ctx)),
    }
    if at == "confirm":
        chat = to_confirm(Chat(book, ctx))
    else:
        steps[at]()
    assert chat.step == at
    before = chat.session
    out = chat.send(event)  # type: ignore[arg-type]
    assert not out.changed
    assert chat.session == before
    assert expected in chat.said()
    assert out.says[-1].step == at  # the same question is asked again


@pytest.mark.parametrize("kind", ["sticker", "voice", "location", "video_note"])
@pytest.mark.parametrize("at", ["category", "account", "description", "evidence"])
def test_unsupported_input_at_every_step(book: FlowBook, ctx: Context, kind: str, at: str) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    answers = [
        lambda: chat.click("report.category.other"),
        lambda: chat.text(STORE_URL),
        lambda: chat.text(FACTS),
    ]
    for answer in answers[: ["category", "account", "description", "evidence"].index(at)]:
        answer()
    before = chat.session
    out = chat.unsupported(kind)
    assert not out.changed
    assert chat.session == before
    assert any(k.startswith("engine.expects.") for k in chat.said())


def test_files_where_text_is_expected(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.click("report.category.other")
    out = chat.files(evidence(png_bytes()))
    assert not out.changed
    assert "engine.expects.text" in chat.said()


def test_back_returns_one_step_and_keeps_answers(book: FlowBook, ctx: Context) -> None:
    chat = to_evidence(Chat(book, ctx))
    chat.cmd("back")
    assert chat.step == "description"
    assert "engine.current_answer" in chat.said()
    chat.cmd("back")
    chat.cmd("back")
    assert chat.step == "category"
    out = chat.cmd("back")
    assert not out.changed
    assert "engine.back.first" in chat.said()
    assert chat.session is not None
    assert chat.session.answers["description"] == FACTS


def test_cancel_asks_first_and_keeps_the_draft_on_no(book: FlowBook, ctx: Context) -> None:
    chat = to_evidence(Chat(book, ctx))
    chat.cmd("cancel")
    assert "engine.cancel.ask" in chat.said()
    chat.click("engine.cancel.no")
    assert chat.step == "evidence"
    assert chat.session is not None
    assert chat.session.answers["description"] == FACTS
    chat.cmd("cancel")
    chat.click("engine.cancel.yes")
    assert chat.session is None
    assert "engine.cancel.done" in chat.said()


def test_other_input_while_cancel_is_asked_continues_the_flow(
    book: FlowBook, ctx: Context
) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.click("report.category.other")
    chat.cmd("cancel")
    chat.text(STORE_URL)
    assert chat.step == "description"
    assert chat.session is not None
    assert chat.session.pending is None


def test_cancel_button_from_an_old_question_is_stale(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.cmd("cancel")
    yes = chat.button("engine.cancel.yes")
    chat.click("engine.cancel.no")
    out = chat.send(ButtonPressed(yes.data))
    assert not out.changed
    assert chat.session is not None
    assert "engine.stale_button" in chat.said()


def test_edit_from_summary_returns_to_summary(book: FlowBook, ctx: Context) -> None:
    chat = to_confirm(Chat(book, ctx))
    chat.click("report.confirm.edit", label="report.description.label")
    assert chat.step == "description"
    new_text = FACTS.replace("2026-03-04", "2026-03-05")
    chat.text(new_text)
    assert chat.step == "confirm"
    chat.click("report.confirm.edit", label="report.category.label")
    chat.click("report.category.created_dispute")
    assert chat.step == "confirm"
    chat.click("report.confirm.submit")
    assert chat.filed.answers["description"] == new_text
    assert chat.filed.answers["category"] == "created_dispute"


def test_back_while_editing_returns_to_summary(book: FlowBook, ctx: Context) -> None:
    chat = to_confirm(Chat(book, ctx))
    chat.click("report.confirm.edit", label="report.account.label")
    chat.cmd("back")
    assert chat.step == "confirm"


def test_stale_button_from_an_earlier_step(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    old = chat.button("report.category.concealed_info")
    chat.click("report.category.other")
    out = chat.send(ButtonPressed(old.data))
    assert not out.changed
    assert "engine.stale_button" in chat.said()
    assert chat.session is not None
    assert chat.session.answers["category"] == "other"


@pytest.mark.parametrize(
    "data",
    ["", "1", "abc", "1:o", "999999999999:o:other", "2:o:../../etc", "2:zz:other", "2:o:OTHER"],
)
def test_forged_button_data_is_refused(book: FlowBook, ctx: Context, data: str) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    out = chat.send(ButtonPressed(data))
    assert not out.changed
    assert chat.step == "category"


def test_unknown_option_with_the_right_nonce_is_refused(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    assert chat.session is not None
    out = chat.send(ButtonPressed(f"{chat.session.nonce}:o:refund_please"))
    assert not out.changed
    assert "engine.stale_button" in chat.said()


def test_item_link_asks_for_the_store_and_keeps_the_item(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.click("report.category.concealed_info")
    chat.text("https://www.aliexpress.com/item/1005006123456789.html?spm=a2g0o")
    assert chat.step == "account"
    assert "policy.account.item_link" in chat.said()
    chat.text("1102345678")
    assert chat.step == "description"
    assert chat.session is not None
    account = chat.session.answers["account"]
    assert account["store_id"] == "1102345678"
    assert account["item_id"] == "1005006123456789"
    assert "item_id" not in chat.session.scratch


def test_seller_name_is_accepted_with_a_note(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.click("report.category.other")
    chat.text("Best Gadgets Official Store")
    assert chat.step == "description"
    assert "policy.account.low_confidence" in chat.said()


def test_open_case_against_the_same_store_is_refused(book: FlowBook, ctx: Context) -> None:
    facts = ReporterFacts(open_cases={"aliexpress:store:1102345678": "DR-0000ABCD"})
    chat = Chat(book, replace(ctx, facts=facts))
    chat.cmd("report")
    chat.click("report.category.other")
    out = chat.text("aliexpress.com/store/1102345678/pages/all-items.html")
    assert not out.changed
    assert chat.step == "account"
    (refusal,) = [m for say in out.says for m in say.text if m.key == "policy.abuse.open_case"]
    assert refusal.params["case_id"] == "DR-0000ABCD"
    chat.text("https://aliexpress.ru/store/2209876")
    assert chat.step == "description"


def test_daily_limit_refuses_a_new_report(book: FlowBook, ctx: Context) -> None:
    facts = ReporterFacts(reports_last_24h=5, oldest_report_last_24h=T0 - timedelta(hours=3))
    chat = Chat(book, replace(ctx, facts=facts))
    out = chat.cmd("report")
    assert chat.session is None
    assert not out.changed
    (msg,) = out.says[0].text
    assert msg.key == "policy.abuse.daily_limit"
    assert msg.params["until"] == "2026-12-01 06:00 UTC"


def test_submit_rechecks_the_limits(book: FlowBook, ctx: Context) -> None:
    chat = to_confirm(Chat(book, ctx))
    chat.ctx = replace(ctx, facts=ReporterFacts(reports_last_24h=9))
    out = chat.click("report.confirm.submit")
    assert not out.actions
    assert chat.step == "confirm"
    assert "policy.abuse.daily_limit" in chat.said()


def test_insulting_description_is_quoted_and_refused(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.click("report.category.created_dispute")
    chat.text(STORE_URL)
    out = chat.text(FACTS + " This seller is an idiot and a scammer.")
    assert not out.changed
    assert chat.step == "description"
    findings = [m for say in out.says for m in say.text if m.key == "policy.objectivity.finding"]
    quotes = {str(m.params["quote"]).lower() for m in findings}
    assert "idiot" in quotes
    assert "policy.objectivity.blocking" in chat.said()


def test_warning_only_description_can_be_kept(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.cmd("report")
    chat.click("report.category.created_dispute")
    chat.text(STORE_URL)
    shouting = FACTS + " THE PARCEL NEVER ARRIVED AND NOBODY ANSWERS MY MESSAGES!!!"
    out = chat.text(shouting)
    assert out.changed  # the text is held so that one tap can keep it
    assert chat.step == "description"
    assert "policy.objectivity.warning" in chat.said()
    chat.click("report.description.keep")
    assert chat.step == "evidence"
    assert chat.session is not None
    assert chat.session.answers["description"] == shouting


def test_evidence_checks_types_duplicates_and_minimum(book: FlowBook, ctx: Context) -> None:
    chat = to_evidence(Chat(book, ctx))
    exe = evidence(elf_bytes(), "receipt.png", "application/x-executable")
    out = chat.files(exe)
    assert not out.changed
    assert "policy.evidence.type" in chat.said()
    photo = evidence(png_bytes(7), "one.png")
    chat.files(photo, evidence(png_bytes(7), "copy-of-one.png"))
    assert "policy.evidence.duplicate" in chat.said()
    assert chat.session is not None
    assert len(chat.session.answers["evidence"]) == 1
    out = chat.files(photo)
    assert not out.changed
    chat.click("report.evidence.clear")
    assert chat.session.answers["evidence"] == []
    chat.cmd("done")
    assert "engine.files.missing" in chat.said()
    chat.files(photo)
    chat.cmd("done")
    assert chat.step == "confirm"


def test_evidence_beyond_the_maximum_is_refused(book: FlowBook, ctx: Context) -> None:
    chat = to_evidence(Chat(book, ctx))
    chat.files(*[evidence(png_bytes(i), f"{i}.png") for i in range(12)])
    assert chat.session is not None
    assert len(chat.session.answers["evidence"]) == 10
    assert "policy.evidence.too_many" in chat.said()


def test_start_resumes_a_draft(book: FlowBook, ctx: Context) -> None:
    chat = to_evidence(Chat(book, ctx))
    out = chat.cmd("start")
    assert not out.changed
    assert out.says[-1].step == "evidence"
    assert "engine.resumed" in chat.said()


def test_text_without_a_draft_points_to_report(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    out = chat.text("hello")
    assert not out.changed
    assert chat.said() == ["engine.idle"]


def test_unknown_command_mid_flow_repeats_the_question(book: FlowBook, ctx: Context) -> None:
    chat = to_evidence(Chat(book, ctx))
    out = chat.cmd("refund")
    assert not out.changed
    assert "engine.unknown_command" in chat.said()
    assert out.says[-1].step == "evidence"


def test_session_on_a_retired_version_moves_to_the_current_one(
    book: FlowBook, ctx: Context
) -> None:
    old = Session(
        flow="report",
        version=0,
        step="gone",
        answers={"category": "other", "description": FACTS, "obsolete": 1},
        nonce=4,
    )
    chat = Chat(book, ctx, old)
    out = chat.cmd("start")
    assert out.changed  # the move to version 1 is kept
    assert out.says[-1].step == "account"
    chat.text(STORE_URL)
    assert chat.session is not None
    assert chat.session.version == 1
    assert chat.session.answers["description"] == FACTS
    assert "obsolete" not in chat.session.answers
    assert chat.step == "description"  # the flow goes on in order; earlier text is offered


def test_needs_facts_only_where_abuse_is_checked(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    assert machine.needs_facts(book, None, CommandReceived("report"))
    assert not machine.needs_facts(book, None, TextReceived("hi"))
    chat.cmd("report")
    assert not machine.needs_facts(book, chat.session, TextReceived("hi"))
    chat.click("report.category.other")
    assert machine.needs_facts(book, chat.session, TextReceived(STORE_URL))


# Facts that refuse every check: the suspension refuses a start, the open case the account.
_REFUSE_ALL = ReporterFacts(
    suspended_until=T0 + timedelta(days=1),
    open_cases={"aliexpress:store:1102345678": "DR-0000ABCD"},
)


def test_facts_needed_names_the_checks_each_event_runs(book: FlowBook, ctx: Context) -> None:
    """Regression (issue 8): facts were loaded for every event at the account and confirm
    steps, and all of them for each. The facts an event is not said to need must not change
    its outcome, so loading fewer weakens no check."""
    chat = Chat(book, replace(ctx, facts=None))
    walk: list[tuple[Session | None, Event]] = []

    def probe(*events: Event) -> None:
        walk.extend((chat.session, event) for event in events)

    probe(CommandReceived("report"), TextReceived("hi"))
    chat.cmd("report")
    chat.click("report.category.other")
    probe(TextReceived(STORE_URL), TextReceived("nonsense"), CommandReceived("back"))
    chat.text(STORE_URL)
    chat.text(FACTS)
    chat.files(evidence(png_bytes(1), "a.png"))
    probe(CommandReceived("done"), TextReceived(STORE_URL))
    chat.click("report.evidence.done")
    assert chat.step == "confirm"
    submit = chat.button("report.confirm.submit").data
    edit = next(b.data for b in chat.buttons() if b.data.split(":")[1] == "e")
    probe(ButtonPressed(submit), ButtonPressed(edit), TextReceived("yes"))

    needed = [machine.facts_needed(book, session, event) for session, event in walk]
    assert needed == [
        Checks.START,
        Checks.NONE,
        Checks.ACCOUNT,
        Checks.ACCOUNT,
        Checks.NONE,
        Checks.NONE,
        Checks.NONE,
        Checks.START | Checks.ACCOUNT,
        Checks.NONE,
        Checks.NONE,
    ]
    for (session, event), checks in zip(walk, needed, strict=True):
        # Only the halves named are loaded; the rest stays empty.
        loaded = ReporterFacts(
            suspended_until=_REFUSE_ALL.suspended_until if Checks.START in checks else None,
            open_cases=_REFUSE_ALL.open_cases if Checks.ACCOUNT in checks else {},
        )
        full = machine.handle(book, session, event, replace(ctx, facts=_REFUSE_ALL))
        partial = machine.handle(book, session, event, replace(ctx, facts=loaded))
        assert partial == full, (event, checks)
