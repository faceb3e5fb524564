"""Multiple choice: options toggle, "done" accepts within the bounds, answers keep option order."""

from __future__ import annotations

import pytest

from disputebot.engine.context import Context
from disputebot.engine.effects import Msg
from disputebot.engine.events import ButtonPressed, TextReceived
from disputebot.engine.spec import FlowBook, MultiChoiceStep, message_ids
from tests.engine.flows import DECIDE, flow, small_book
from tests.engine.transcript import Chat

SELECTED = "engine.multichoice.selected"


@pytest.fixture
def book() -> FlowBook:
    return small_book()


def marks(chat: Chat) -> dict[str, bool]:
    """Each option of the prompt on screen: whether it is shown as chosen."""
    shown: dict[str, bool] = {}
    for button in chat.buttons():
        label = button.label
        if label.key == SELECTED:
            inner = label.params["label"]
            assert isinstance(inner, Msg)
            shown[inner.key] = True
        elif label.key.startswith("t.measure."):
            shown[label.key] = False
    return shown


def toggle(chat: Chat, label: str) -> None:
    if label in [b.label.key for b in chat.buttons()]:
        chat.click(label)
    else:
        chat.click(SELECTED, label=label)


def test_prompt_offers_a_toggle_per_option_and_done(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    out = chat.begin("decide")
    assert chat.step == "measures"
    assert out.says[-1].expects == "choice"
    assert [b.label.key for b in chat.buttons()] == [
        "t.measure.restrict",
        "t.measure.remove",
        "t.measure.warning",
        "t.measures.done",
    ]
    assert all(":t:" in b.data for b in chat.buttons()[:3])


def test_toggling_marks_and_unmarks_an_option(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    out = chat.click("t.measure.remove")
    assert out.changed
    assert chat.step == "measures"
    assert marks(chat) == {
        "t.measure.restrict": False,
        "t.measure.remove": True,
        "t.measure.warning": False,
    }
    chat.click(SELECTED, label="t.measure.remove")
    assert not any(marks(chat).values())
    assert chat.session is not None
    assert "measures" not in chat.session.answers  # nothing is accepted before "done"


def test_a_toggle_from_an_earlier_prompt_is_stale(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    old = chat.button("t.measure.warning")
    chat.click("t.measure.restrict")
    out = chat.send(ButtonPressed(old.data))
    assert not out.changed
    assert "engine.stale_button" in chat.said()
    assert marks(chat)["t.measure.restrict"] is True
    assert marks(chat)["t.measure.warning"] is False


def test_answer_keeps_option_order_not_tap_order(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.warning")
    chat.click("t.measure.restrict")
    chat.click("t.measures.done")
    assert chat.step == "note"
    assert chat.session is not None
    assert chat.session.answers["measures"] == ["restrict", "warning"]
    assert "selection" not in chat.session.scratch


def test_done_with_too_few_is_refused_with_the_counts(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    before = chat.session
    out = chat.click("t.measures.done")
    assert not out.changed
    assert chat.session == before
    (reason,) = [m for say in out.says for m in say.text if m.key == "engine.multichoice.too_few"]
    assert reason.params == {"min": 1, "count": 0}
    assert out.says[-1].step == "measures"


def test_done_with_too_many_is_refused_with_the_counts(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    for label in ("t.measure.restrict", "t.measure.remove", "t.measure.warning"):
        chat.click(label)
    out = chat.click("t.measures.done")
    assert not out.changed
    assert chat.step == "measures"
    (reason,) = [m for say in out.says for m in say.text if m.key == "engine.multichoice.too_many"]
    assert reason.params == {"max": 2, "count": 3}
    # The toggles are still there: untick one and go on.
    chat.click(SELECTED, label="t.measure.remove")
    chat.click("t.measures.done")
    assert chat.step == "note"
    assert chat.session is not None
    assert chat.session.answers["measures"] == ["restrict", "warning"]


def test_done_command_works_like_the_button(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    out = chat.cmd("done")
    assert not out.changed
    assert "engine.multichoice.too_few" in chat.said()
    chat.click("t.measure.remove")
    chat.cmd("done")
    assert chat.step == "note"


@pytest.mark.parametrize(
    "event",
    [TextReceived("restrict"), ButtonPressed("9:o:restrict")],
    ids=["text", "choice-verb"],
)
def test_other_input_is_explained(book: FlowBook, ctx: Context, event: object) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    if isinstance(event, ButtonPressed):
        assert chat.session is not None
        event = ButtonPressed(f"{chat.session.nonce}:o:restrict")
    out = chat.send(event)  # type: ignore[arg-type]
    assert not out.changed
    assert "engine.expects.choice" in chat.said()


def test_unknown_option_with_the_right_nonce_is_refused(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    assert chat.session is not None
    out = chat.send(ButtonPressed(f"{chat.session.nonce}:t:suspend"))
    assert not out.changed
    assert "engine.stale_button" in chat.said()


def test_summary_lists_the_chosen_labels(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.restrict")
    chat.click("t.measure.warning")
    chat.click("t.measures.done")
    chat.click("t.note.skip")
    assert chat.step == "confirm"
    (line,) = [
        m
        for m in chat.prompt.text
        if m.key == "engine.summary.line" and m.params["label"] == Msg("t.measures.label")
    ]
    assert line.params["value"] == Msg(
        "engine.list.join", {"first": Msg("t.measure.restrict"), "rest": Msg("t.measure.warning")}
    )


def test_a_longer_list_nests_the_joins_in_order(book: FlowBook, ctx: Context) -> None:
    text = DECIDE.replace("max_selected: 2", "max_selected: 3")
    chat = Chat(FlowBook.of(flow(text)), ctx)
    chat.begin("decide")
    for label in ("t.measure.warning", "t.measure.remove", "t.measure.restrict"):
        chat.click(label)
    chat.click("t.measures.done")
    chat.click("t.note.skip")
    (line,) = [m for m in chat.prompt.text if m.params.get("label") == Msg("t.measures.label")]
    value = line.params["value"]
    labels = []
    while isinstance(value, Msg) and value.key == "engine.list.join":
        first = value.params["first"]
        assert isinstance(first, Msg)
        labels.append(first.key)
        value = value.params["rest"]
    assert isinstance(value, Msg)
    assert [*labels, value.key] == ["t.measure.restrict", "t.measure.remove", "t.measure.warning"]


def test_none_chosen_where_allowed(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("tags")
    chat.click("t.tags.done")
    assert chat.step == "confirm"
    assert chat.session is not None
    assert chat.session.answers["tags"] == []
    assert "engine.multichoice.none" in chat.said()
    chat.click("t.submit")
    assert chat.finished.answers == {"tags": []}


def test_editing_starts_from_the_answer(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.remove")
    chat.click("t.measures.done")
    chat.text("Thanks for the report.")
    assert chat.step == "confirm"
    chat.click("t.edit", label="t.measures.label")
    assert chat.step == "measures"
    assert marks(chat) == {
        "t.measure.restrict": False,
        "t.measure.remove": True,
        "t.measure.warning": False,
    }
    chat.click("t.measure.warning")
    chat.click("t.measures.done")
    assert chat.step == "confirm"  # back to the summary, not on to the note
    chat.click("t.submit")
    assert chat.finished.answers["measures"] == ["remove", "warning"]
    assert chat.finished.answers["note"] == "Thanks for the report."


def test_toggles_left_without_done_are_dropped(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.remove")
    chat.click("t.measures.done")
    chat.click("t.note.skip")
    chat.click("t.edit", label="t.measures.label")
    toggle(chat, "t.measure.remove")
    toggle(chat, "t.measure.restrict")
    chat.cmd("back")  # leave the edit without "done"
    assert chat.step == "confirm"
    assert chat.session is not None
    assert chat.session.answers["measures"] == ["remove"]
    assert "selection" not in chat.session.scratch
    chat.click("t.edit", label="t.measures.label")
    assert marks(chat)["t.measure.remove"] is True
    assert marks(chat)["t.measure.restrict"] is False


def test_back_to_the_step_shows_the_accepted_answer(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.warning")
    chat.click("t.measures.done")
    chat.cmd("back")
    assert chat.step == "measures"
    assert marks(chat) == {
        "t.measure.restrict": False,
        "t.measure.remove": False,
        "t.measure.warning": True,
    }


def test_cancel_kept_keeps_the_toggles(book: FlowBook, ctx: Context) -> None:
    chat = Chat(book, ctx)
    chat.begin("decide")
    chat.click("t.measure.restrict")
    chat.cmd("cancel")
    chat.click("engine.cancel.no")
    assert chat.step == "measures"
    assert marks(chat)["t.measure.restrict"] is True


def test_spec_lists_option_labels_and_done_label() -> None:
    parsed = flow(DECIDE)
    step = parsed.step("measures")
    assert isinstance(step, MultiChoiceStep)
    assert (step.min_selected, step.max_selected) == (1, 2)
    ids = set(message_ids(parsed))
    assert {"t.measure.restrict", "t.measure.warning", "t.measures.done"} <= ids
    assert step in set(parsed.input_steps())


def test_defaults_are_at_least_one_and_no_upper_limit() -> None:
    text = DECIDE.replace("    min_selected: 1\n", "").replace("    max_selected: 2\n", "")
    step = flow(text).step("measures")
    assert isinstance(step, MultiChoiceStep)
    assert (step.min_selected, step.max_selected) == (1, None)
