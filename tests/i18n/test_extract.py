"""Finding message ids in conversation files and Python sources."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from babel.messages.extract import extract
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

import disputebot.i18n
from disputebot.errors import ConfigError
from disputebot.i18n.catalog import Catalogs
from disputebot.i18n.extract import extract_conversation, extract_messages, is_message_key

ROOT = Path(__file__).resolve().parents[2]

CONVERSATION = """\
# A flow with every kind of place a message id can sit.
flow: sample
version: 2
title: sample.title
steps:
  - id: intro
    kind: message
    prompt: sample.intro
    button_label: "sample.intro.continue"

  - id: pick
    kind: choice
    prompt: 'sample.pick.prompt'
    summary_label: sample.pick.label
    options:
      - value: a
        label: sample.pick.a
      - {value: b, label: sample.pick.b}
    expects: text
    labels_count: not.a.message
    label_count: 3
    done_label: null
    cancel_label: ""
  - id: notes
    kind: text
    prompt: >-
      sample.notes.prompt
    hints:
      nested:
        deeper:
          - text: sample.notes.hint
    text: [sample.notes.one, sample.notes.two]
    attestation: sample.notes.attestation
"""

EXPECTED = [
    (4, "sample.title", "title"),
    (8, "sample.intro", "steps[intro].prompt"),
    (9, "sample.intro.continue", "steps[intro].button_label"),
    (13, "sample.pick.prompt", "steps[pick].prompt"),
    (14, "sample.pick.label", "steps[pick].summary_label"),
    (17, "sample.pick.a", "steps[pick].options[a].label"),
    (18, "sample.pick.b", "steps[pick].options[b].label"),
    (26, "sample.notes.prompt", "steps[notes].prompt"),
    (31, "sample.notes.hint", "steps[notes].hints.nested.deeper[0].text"),
    (32, "sample.notes.one", "steps[notes].text[0]"),
    (32, "sample.notes.two", "steps[notes].text[1]"),
    (33, "sample.notes.attestation", "steps[notes].attestation"),
]


def test_conversation_ids_with_line_numbers_and_paths() -> None:
    found = list(extract_conversation(io.BytesIO(CONVERSATION.encode()), (), (), {}))
    assert [(line, msgid, comments) for line, _, msgid, comments in found] == [
        (line, msgid, [where]) for line, msgid, where in EXPECTED
    ]
    assert all(funcname is None for _, funcname, _, _ in found)


def test_extractor_fits_babels_protocol() -> None:
    found = list(extract(extract_conversation, io.BytesIO(CONVERSATION.encode())))
    assert [(line, msgid) for line, msgid, _, _ in found] == [(n, m) for n, m, _ in EXPECTED]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("prompt", True),
        ("title", True),
        ("attestation", True),
        ("text", True),
        ("label", True),
        ("submit_label", True),
        ("labels", False),
        ("kind", False),
        ("prompts", False),
    ],
)
def test_message_keys(key: str, expected: bool) -> None:
    assert is_message_key(key) is expected


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - prompt: [unclosed\n", encoding="utf-8")
    with path.open("rb") as fileobj, pytest.raises(ConfigError, match=r"bad\.yaml.*line 3"):
        list(extract_conversation(fileobj, (), (), {}))


def test_empty_file_has_no_messages() -> None:
    assert list(extract_conversation(io.BytesIO(b""), (), (), {})) == []


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_extract_messages_reads_python_and_conversations(tmp_path: Path) -> None:
    write(
        tmp_path / "src/disputebot/service/replies.py",
        """\
        from disputebot.engine.effects import Msg
        from disputebot.i18n import N_

        TABLE = {"a": N_("table.a")}


        def reply(key: str, n: int) -> list[Msg]:
            # i18n: shown after the report is filed
            filed = Msg("receipt.filed", {"case": Msg("receipt.case", {"id": n})})
            return [filed, Msg(key), Msg("sample.title")]
        """,
    )
    write(tmp_path / "src/disputebot/other/not_python.txt", 'Msg("not.extracted")')
    write(tmp_path / "conversations/sample.yaml", CONVERSATION)
    write(tmp_path / "conversations/archive/sample_v1.yaml", "title: archive.title\n")
    write(tmp_path / "tests/test_x.py", 'Msg("tests.are.not.scanned")')

    catalog = extract_messages(tmp_path)
    ids = {m.id: m for m in catalog if m.id}
    assert set(ids) == {
        "table.a",
        "receipt.filed",
        "receipt.case",
        "archive.title",
        *(msgid for _, msgid, _ in EXPECTED),
    }
    assert ids["table.a"].locations == [("src/disputebot/service/replies.py", 4)]
    assert ids["receipt.filed"].auto_comments == ["shown after the report is filed"]
    assert ids["sample.title"].locations == [
        ("src/disputebot/service/replies.py", 10),
        ("conversations/sample.yaml", 4),
    ]
    assert ids["archive.title"].locations == [("conversations/archive/sample_v1.yaml", 1)]
    assert ids["sample.pick.b"].auto_comments == ["steps[pick].options[b].label"]


def test_n_marks_and_returns_the_key() -> None:
    assert disputebot.i18n.N_("some.key") == "some.key"
    assert disputebot.i18n.Catalogs is Catalogs
    assert set(disputebot.i18n.__all__) == {"N_", "Catalogs", "negotiate"}
    with pytest.raises(AttributeError):
        _ = disputebot.i18n.nothing_here


@pytest.mark.slow
def test_importing_the_package_does_not_load_catalog_machinery() -> None:
    code = "import sys, disputebot.i18n; print(sorted(m for m in sys.modules if 'messages' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.skipif(
    not entry_points(group="babel.extractors", name="disputebot_conversation"),
    reason="the package's entry points are not installed",
)
def test_babel_cfg_extracts_the_same_as_extract_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pot = tmp_path / "cli.pot"
    monkeypatch.chdir(ROOT)  # the patterns in babel.cfg are relative to the directory scanned
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", "babel.cfg", "-o", str(pot), "."]
    )
    with pot.open("rb") as fileobj:
        cli = {m.id: (m.locations, m.auto_comments) for m in read_po(fileobj) if m.id}
    ours = {m.id: (m.locations, m.auto_comments) for m in extract_messages(ROOT) if m.id}
    assert cli == ours
