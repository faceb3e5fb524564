"""Conversation files are checked when loaded; errors name the file, the line and the step."""

from __future__ import annotations

import pytest

from disputebot.engine.spec import FlowBook, message_ids, parse_flow
from disputebot.errors import ConfigError
from tests.support import ROOT

REPORT = (ROOT / "conversations" / "report.yaml").read_text(encoding="utf-8")


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
