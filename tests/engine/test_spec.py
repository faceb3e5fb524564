"""Conversation files are checked when loaded; errors name the file, the line and the step."""

from __future__ import annotations

import pytest

from disputebot.engine.spec import FlowBook, message_ids, parse_flow
from disputebot.errors import ConfigError
from tests.engine.flows import DECIDE, REPORT


def test_shipped_report_flow_has_the_contract_step_ids() -> None:
    flow = parse_flow(REPORT, "report.yaml")
    assert [s.id for s in flow.steps] == [
        "intro",
        "category",
        "account",
        "description",
        "evidence",
        "confirm",
    ]
    assert flow.version >= 1


@pytest.mark.parametrize(
    ("old", "new", "line", "step", "words"),
    [
        ("max_files: 10", "max_files: 100", 46, "evidence", "less than or equal to 50"),
        ("    min_length: 30", "    min_length: 5000", 32, "description", "min_length is larger"),
        ("      - value: other", "      - value: Other Things", 24, "category", "pattern"),
        ("    kind: account", "    kind: acount", 27, "account", "'acount'"),
        ("    keep_label: report.description.keep\n", "", 32, "description", "keep_label"),
        ("    prompt: report.account.prompt", "    prompt: Say it", 29, "account", "prompt"),
        ("    summary_label: report.account.label", "    colour: blue", 30, "account", "Extra"),
    ],
)
def test_errors_name_file_line_and_step(
    old: str, new: str, line: int, step: str, words: str
) -> None:
    assert old in REPORT
    with pytest.raises(ConfigError) as caught:
        parse_flow(REPORT.replace(old, new, 1), "conversations/report.yaml")
    message = str(caught.value)
    assert f"conversations/report.yaml:{line} (step '{step}')" in message
    assert words in message


def test_duplicate_step_ids_are_refused() -> None:
    text = REPORT.replace("  - id: account", "  - id: category")
    with pytest.raises(ConfigError, match="used twice"):
        parse_flow(text, "r.yaml")


def test_dangling_next_is_refused() -> None:
    text = REPORT.replace("    kind: account\n", "    kind: account\n    next: nowhere\n")
    with pytest.raises(ConfigError, match="'nowhere' is not a step"):
        parse_flow(text, "r.yaml")


def test_flow_must_end_with_confirm() -> None:
    head, _, _ = REPORT.partition("  - id: confirm")
    with pytest.raises(ConfigError, match="confirm step"):
        parse_flow(head, "r.yaml")


def test_yaml_syntax_error_names_the_line() -> None:
    text = REPORT.replace("flow: report", "flow: [report")
    with pytest.raises(ConfigError, match=r"^r\.yaml:\d+: not valid YAML"):
        parse_flow(text, "r.yaml")


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"r\.yaml:1"):
        parse_flow("- just\n- a list\n", "r.yaml")


def test_flow_book_keeps_versions_apart() -> None:
    v1 = parse_flow(REPORT, "a.yaml")
    v2 = parse_flow(REPORT.replace("version: 1", "version: 2"), "b.yaml")
    book = FlowBook.of(v1, v2)
    assert book.current("report").version == 2
    assert book.get("report", 1) is v1
    with pytest.raises(ConfigError, match="defined twice"):
        FlowBook.of(v1, v1)
    with pytest.raises(KeyError):
        book.current("appeal")


def test_message_ids_lists_every_text() -> None:
    ids = set(message_ids(parse_flow(REPORT, "r.yaml")))
    assert {"report.title", "report.intro", "report.category.other"} <= ids
    assert "report.confirm.attestation" in ids
    assert not any(" " in i or "/" in i for i in ids)


@pytest.mark.parametrize(
    ("old", "new", "line", "step", "words"),
    [
        ("    min_selected: 1", "    min_selected: 4", 5, "measures", "number of options"),
        ("    min_selected: 1", "    min_selected: 3", 5, "measures", "larger than max_selected"),
        ("    max_selected: 2", "    max_selected: 0", 10, "measures", "greater than or equal"),
        ("    done_label: t.measures.done\n", "", 5, "measures", "done_label: Field required"),
        ("      - value: warning", "      - value: remove", 5, "measures", "must be unique"),
        ("    kind: multichoice", "    kind: multi_choice", 5, "measures", "'multi_choice'"),
        ("    min_length: 0", "    min_length: 1", 20, "note", "skip_label needs min_length: 0"),
        ("    skip_label: t.note.skip", "    skip_label: Skip", 26, "note", "pattern"),
        ("    action: finish\n", "", 28, "confirm", "files a case needs attestation"),
        (
            "    action: finish",
            "    action: finish\n    attestation: t.attest",
            28,
            "confirm",
            "only with action: file_case",
        ),
        ("    action: finish", "    action: close", 30, "confirm", "'file_case' or 'finish'"),
    ],
)
def test_staff_dialog_errors_name_file_line_and_step(
    old: str, new: str, line: int, step: str, words: str
) -> None:
    assert old in DECIDE
    parse_flow(DECIDE, "decide.yaml")  # the unchanged text is fine
    with pytest.raises(ConfigError) as caught:
        parse_flow(DECIDE.replace(old, new, 1), "conversations/decide.yaml")
    message = str(caught.value)
    assert f"conversations/decide.yaml:{line} (step '{step}')" in message
    assert words in message


def test_report_confirm_still_needs_its_attestation() -> None:
    text = REPORT.replace("    attestation: report.confirm.attestation\n", "")
    with pytest.raises(ConfigError, match=r"\(step 'confirm'\).*needs attestation"):
        parse_flow(text, "r.yaml")
    confirm = parse_flow(REPORT, "r.yaml").confirm
    assert (confirm.action, confirm.attestation) == ("file_case", "report.confirm.attestation")


def test_message_ids_of_staff_dialogs() -> None:
    ids = set(message_ids(parse_flow(DECIDE, "d.yaml")))
    assert {"t.decide.title", "t.measures.done", "t.measure.warning", "t.note.skip"} <= ids
    assert {"t.submit", "t.edit", "t.cancel", "t.decide.confirm"} <= ids
    assert not any(i in {"restrict", "remove", "warning", "finish"} for i in ids)
