"""Telegram rendering: everything escaped, nothing over the limits, nothing lost."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputebot.channels.telegram.render import MAX_TEXT, split_html


def _plain(chunks: list[str]) -> str:
    return "".join(html.unescape(c) for c in chunks)


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    "text",
    [
        "short",
        "<b>bold</b> & <a href='x'>link</a>",
        "x" * 4500,
        "<" * 5000,
        ("paragraph " * 300 + "\n\n") * 5,
        "line\n" * 2000,
        "订单号 8161234567890123 " * 600,
    ],
)
def test_chunks_fit_and_keep_every_character(text: str) -> None:
    chunks = split_html(text)
    assert all(0 < len(c) <= MAX_TEXT for c in chunks)
    assert _squash(_plain(chunks)) == _squash(text)
    assert all("<" not in c and ">" not in c for c in chunks)


def test_cuts_fall_between_paragraphs_when_they_can() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert split_html(f"{first}\n\n{second}") == [first, second]


def test_escape_sequences_are_never_cut() -> None:
    chunks = split_html("&" * 3000)
    for chunk in chunks:
        assert html.unescape(chunk) == "&" * len(html.unescape(chunk))
        assert chunk.count("&amp;") * 5 == len(chunk)


@given(st.text(min_size=1, max_size=9000))
def test_any_text(text: str) -> None:
    chunks = split_html(text, limit=500)
    assert all(len(c) <= 500 for c in chunks)
    assert _squash(_plain(chunks)) == _squash(text.strip())
