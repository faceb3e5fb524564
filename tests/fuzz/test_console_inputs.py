"""Fuzzing the console's JSON-lines protocol, in process, over a SQLite file.

Hypothesis writes sessions of input lines: ``{"text": …}`` (commands, injections, unicode,
texts of tens of thousands of characters), ``{"button": …}`` (one the bot just showed, or junk),
``{"files": […]}`` (real images, an executable, an empty file, a 25 MB file, missing paths,
directories, names too long for the file system, NUL bytes, traversal), each with or without an
``"id"`` drawn from a small pool so that ids repeat — and lines that are not the protocol at all
(other JSON values, nested junk, lone surrogates, not JSON).

What must hold: the channel never raises; every line it prints is one JSON object of the DESIGN
§3 shape; an id already applied in this chat is not applied again (the line gets no answer and
the draft does not change); a line that is not understood gets a notice and changes nothing.
Every example is a new console user on the same database, so ids also repeat across users, who
must not be confused with one another.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from disputebot.bootstrap import App, build
from disputebot.channels.console.channel import ConsoleChannel
from disputebot.config import Settings
from disputebot.engine.effects import Msg
from tests.support import elf_bytes, pdf_bytes, png_bytes

STORE = "https://www.aliexpress.com/store/1102345678"
FACTS = (
    "Order 8161234567890123 was marked delivered on 2026-03-04, but tracking "
    "LP00123456789012 shows the parcel never left the origin facility."
)
EXPECTS = {"text", "choice", "files", "confirm", None}


CAMPAIGN = os.environ.get("DISPUTEBOT_FUZZ_EXAMPLES", "").strip()


def budget(default: int) -> int:
    """``max_examples``: the CI default, or ``DISPUTEBOT_FUZZ_EXAMPLES`` for a long campaign.

    CI draws the same examples every run; a campaign draws new ones each time (a failure
    prints the ``@reproduce_failure`` line that replays it).
    """
    return int(CAMPAIGN) if CAMPAIGN else default


# --- input lines -----------------------------------------------------------------------------

texts = st.one_of(
    st.sampled_from(
        [
            "/report",
            "/start",
            "/back",
            "/cancel",
            "/done",
            "/status",
            "/help",
            "/language zh_Hans",
            "/language 123",
            STORE,
            "Mega Deals Shop",
            FACTS,
            FACTS + " The seller is an idiot.",
            "<b>x</b> *y* [z](http://evil.example)",
            "'; DROP TABLE sessions; --",
            "Best\u202eGadget\u200b",
            "",
            "   ",
            "line one\nline two\r\n",
            "\u2028\u2029\x85",
        ]
    ),
    st.text(max_size=80),
    st.builds(lambda n: "é😀<&" * n, st.integers(1000, 30_000)),
)
# Event ids: a small pool so they repeat, plus values that are not ids at all.
ids = st.one_of(
    st.none(),
    st.integers(1, 4),
    st.sampled_from(["a", "b", "1", ""]),
    st.sampled_from([True, 1.5, [1], {"n": 1}, None]),
)
PATHS = ["png", "png2", "pdf", "elf", "empty", "huge", "missing", "dir", "long", "nul", "dots"]
paths = st.lists(st.sampled_from(PATHS), max_size=4)
junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
lines = st.one_of(
    st.tuples(st.just("text"), texts, ids),
    st.tuples(st.just("text"), texts, ids),
    st.tuples(st.just("shown"), st.integers(0, 9), ids),
    st.tuples(st.just("shown"), st.integers(0, 9), ids),
    st.tuples(st.just("button"), st.text(max_size=70), ids),
    st.tuples(st.just("files"), paths, ids),
    st.tuples(st.just("files"), paths, ids),
    st.tuples(st.just("json"), junk, st.none()),
    st.tuples(
        st.just("raw"),
        st.sampled_from(
            [
                "not json",
                "{",
                "[]",
                "null",
                '"text"',
                '{"text": "\\ud800 lone surrogate"}',
                '{"text": "/report", "id": "\\udfff"}',
                '{"button": "\\ud83d"}',
                '{"files": ["\\udc80.png"]}',
                '{"text": 1, "button": 2, "files": 3}',
                '{"files": "not a list"}',
                '{"files": [1, 2]}',
                '{"text": null, "button": "1:o:other"}',
                "{" * 500 + "}" * 500,
                "[" * 100_000 + "]" * 100_000,
                '{"text": "/report", "id": ' + "[" * 5000 + "]" * 5000 + "}",
                "\x00",
            ]
        ),
        st.none(),
    ),
)
sessions = st.lists(lines, min_size=1, max_size=10)


# --- the harness -----------------------------------------------------------------------------


def make_files(root: Path) -> dict[str, str]:
    root.mkdir()
    made = {
        "png": root / "proof.png",
        "png2": root / "proof 2.png",
        "pdf": root / "order.pdf",
        "elf": root / "receipt.png",
        "empty": root / "empty.png",
        "huge": root / "huge.pdf",
        "dir": root / "folder.png",
    }
    made["png"].write_bytes(png_bytes(1))
    made["png2"].write_bytes(png_bytes(2))
    made["pdf"].write_bytes(pdf_bytes())
    made["elf"].write_bytes(elf_bytes())
    made["empty"].write_bytes(b"")
    with made["huge"].open("wb") as sparse:
        sparse.truncate(25 << 20)
    made["dir"].mkdir()
    names = {kind: str(path) for kind, path in made.items()}
    names["missing"] = str(root / "missing.png")
    names["long"] = str(root / ("x" * 300 + ".png"))
    names["nul"] = str(root / "a\x00b.png")
    names["dots"] = str(root / ".." / ".." / "etc" / "passwd")
    return names


def id_key(raw: Any) -> str | None:
    """The event id a line carries: a non-empty string or an integer (DESIGN §3)."""
    if isinstance(raw, str | int) and raw != "":
        return str(raw)
    return None


class ScriptedStdin:
    """Hands the channel one line at a time, writing each when it is asked for.

    ``shown`` lines press a button of the last message printed so far, as a user would; the
    output printed in answer to each line is recorded (the channel finishes a line before it
    reads the next one).
    """

    def __init__(
        self,
        script: list[tuple[Any, ...]],
        out: io.StringIO,
        files: dict[str, str],
        draft: Callable[[], str | None],
    ) -> None:
        self.script = script
        self.out = out
        self.files = files
        self.draft = draft
        self.sent: list[tuple[tuple[Any, ...], str]] = []
        self.marks: list[int] = []
        self.drafts: list[str | None] = []

    def readline(self) -> str:
        self.marks.append(self.out.tell())
        self.drafts.append(self.draft())
        if len(self.sent) == len(self.script):
            return ""
        spec = self.script[len(self.sent)]
        line = self.render(spec)
        self.sent.append((spec, line))
        return line + "\n"

    def render(self, spec: tuple[Any, ...]) -> str:
        kind, value, raw_id = spec
        if kind == "raw":
            return str(value)
        if kind == "json":
            return json.dumps(value)
        obj: dict[str, Any]
        if kind == "text":
            obj = {"text": value}
        elif kind == "button":
            obj = {"button": value}
        elif kind == "files":
            obj = {"files": [self.files[p] for p in value]}
        else:
            shown = self.last_buttons()
            obj = {"button": shown[value % len(shown)]} if shown else {"text": "/report"}
        if raw_id is not None:
            obj["id"] = raw_id
        return json.dumps(obj, ensure_ascii=False)

    def last_buttons(self) -> list[str]:
        printed = [json.loads(line) for line in self.out.getvalue().split("\n") if line]
        for message in reversed(printed):
            if message["buttons"]:
                return [b["data"] for row in message["buttons"] for b in row]
        return []

    def answers(self) -> list[list[dict[str, Any]]]:
        """What was printed in answer to each line sent, in order."""
        text = self.out.getvalue()
        spans = zip(self.marks, self.marks[1:], strict=False)
        return [[json.loads(x) for x in text[a:b].split("\n") if x] for a, b in spans]

    def changes(self) -> list[tuple[str | None, str | None]]:
        """The stored draft before and after each line sent."""
        return list(zip(self.drafts, self.drafts[1:], strict=False))


def check_shape(message: Any) -> None:
    assert isinstance(message, dict)
    assert set(message) == {"chat", "text", "buttons", "step", "expects"}, message
    assert type(message["chat"]) is int
    assert isinstance(message["text"], str)
    assert message["text"].strip(), "every message says something"
    assert isinstance(message["step"], str | None)
    assert message["expects"] in EXPECTS
    assert isinstance(message["buttons"], list)
    for row in message["buttons"]:
        assert isinstance(row, list)
        for button in row:
            assert set(button) == {"label", "data"}
            assert isinstance(button["label"], str)
            assert button["label"]
            assert isinstance(button["data"], str)
            assert len(button["data"].encode()) <= 64


class Console:
    """The app under test, the files lines may name, and fresh user ids (one per example)."""

    def __init__(self, app: App, database: Path, files: dict[str, str]) -> None:
        self.app = app
        self.database = database
        self.files = files
        self.users = itertools.count(5_000_001)

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return f"Console({self.database})"

    def draft(self, user_id: int) -> str | None:
        """The chat's stored session, read from the file directly (called between lines)."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            row = db.execute(
                "SELECT data FROM sessions WHERE channel = 'console' AND chat_id = ?", (user_id,)
            ).fetchone()
        return None if row is None else str(row[0])


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    database = tmp_path / "console.db"
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{database}",
        evidence_dir=tmp_path / "evidence",
    )
    app = await build(settings)
    try:
        yield Console(app, database, make_files(tmp_path / "files"))
    finally:
        await app.close()


@settings(
    max_examples=budget(150),
    deadline=None,
    derandomize=not CAMPAIGN,
    print_blob=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(script=sessions)
# Bugs this test found, kept as fixed examples: each crashed the console.
@example(script=[("files", ["long"], None)])
@example(script=[("raw", '{"text": "\\ud800 lone surrogate"}', None)])
@example(script=[("raw", "[" * 100_000 + "]" * 100_000, None)])
# Two console users, the same ids: each user's lines are their own.
@example(script=[("text", "/report", 1), ("shown", 3, 2), ("text", "/report", 1)])
@example(script=[("text", "/report", 1), ("text", "/help", 2)])
async def test_console_lines_never_break_the_protocol(
    console: Console, script: list[tuple[Any, ...]]
) -> None:
    user_id = next(console.users)
    out = io.StringIO()
    stdin = ScriptedStdin(script, out, console.files, lambda: console.draft(user_id))
    channel = ConsoleChannel(
        console.app.service,
        console.app.vault,
        console.app.content.catalogs,
        console.app.uow_factory,
        console.app.clock,
        user_id=user_id,
        jsonl=True,
        stdin=stdin,  # type: ignore[arg-type]
        stdout=out,
    )
    await channel.run()  # the first invariant: it returns

    printed = [x for x in out.getvalue().split("\n") if x]
    assert printed, "the console greets"
    for line in printed:
        check_shape(json.loads(line))

    catalogs = console.app.content.catalogs
    notices = tuple(  # how a notice begins, in every language (a line may switch it)
        text
        for locale in catalogs.locales
        for text in (
            catalogs.render(Msg("console.bad_line"), locale),
            catalogs.render(Msg("console.file_missing", {"path": "\x00"}), locale).split("\x00")[
                0
            ],
        )
    )
    applied: set[str] = set()
    history = zip(stdin.sent, stdin.answers(), stdin.changes(), strict=True)
    for (spec, line), answer, (before, after) in history:
        event(f"line: {spec[0]}")
        own = [m for m in answer if m["chat"] == user_id]
        understood = not (
            len(own) == 1 and own[0]["step"] is None and own[0]["text"].startswith(notices)
        )
        obj = json.loads(line) if spec[0] not in {"raw", "json"} else None
        key = id_key(obj.get("id")) if isinstance(obj, dict) else None
        if key is not None and key in applied:
            event("repeated id")
            # Not applied again: no answer at all (or only the notice a broken line gets).
            assert own == [] or not understood, f"id {key!r} applied twice: {answer}"
            assert after == before
            continue
        if line.strip():
            assert own, f"no answer to {line[:200]!r}: another chat's id taken for this one's?"
        if understood and key is not None:
            applied.add(key)
        if not understood:
            event("notice")
            assert not own[0]["buttons"]
            assert after == before, "a line that was not understood changed the draft"


human_lines = st.lists(
    st.one_of(
        texts.filter(lambda t: "\n" not in t and "\r" not in t),
        st.sampled_from(
            [
                "x" * 300,  # one word longer than a file name may be
                "~/" + "y" * 300 + ".png",
                "'unclosed quote",
                "1",
                "2",
                "99",
                "0",
                "-1",
                "/dev/null",
                ".",
                "~",
                "~nobody_here/x.png",
            ]
        ),
        st.builds(" ".join, st.lists(st.sampled_from(PATHS), min_size=1, max_size=3)),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=budget(40),
    deadline=None,
    derandomize=not CAMPAIGN,
    print_blob=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=human_lines)
@example(script=["x" * 300])  # a word too long to be a file name crashed the console
@example(script=["/report", "4", "Best \udcff Shop"])  # a byte that is not UTF-8 on stdin
@example(script=["~0"])  # "~name" of a user that does not exist (found by a campaign)
async def test_human_mode_takes_any_line(console: Console, script: list[str]) -> None:
    """Typing mode reads numbers as choices and existing paths as files; nothing else breaks."""
    typed = [" ".join(console.files.get(w, w) for w in line.split(" ")) for line in script]
    out = io.StringIO()
    channel = ConsoleChannel(
        console.app.service,
        console.app.vault,
        console.app.content.catalogs,
        console.app.uow_factory,
        console.app.clock,
        user_id=next(console.users),
        jsonl=False,
        stdin=io.StringIO("".join(f"{line}\n" for line in typed)),
        stdout=out,
    )
    await channel.run()
    answered = out.getvalue().count("\nbot:") + out.getvalue().startswith("bot:")
    assert answered >= 1 + sum(1 for line in typed if line.strip()), out.getvalue()[-2000:]
