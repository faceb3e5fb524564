"""Choosing a catalog for Telegram's language codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputebot.i18n import negotiate
from disputebot.i18n.negotiate import display_name

SHIPPED = ("en", "zh_Hans")
MANY = ("en", "en_GB", "zh_Hans", "zh_Hant", "pt", "pt_BR")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("EN_us", "en"),
        ("en-GB", "en"),
        ("zh-hans", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("ZH_hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-SG", "zh_Hans"),
        ("zh", "zh_Hans"),
        # Traditional Chinese readers: Simplified is far closer for them than English.
        ("zh-TW", "zh_Hans"),
        ("zh-HK", "zh_Hans"),
        ("zh-hant", "zh_Hans"),
        ("pt-br", "en"),
        ("ru", "en"),
        ("tlh", "en"),
        ("und", "en"),
        ("", "en"),
        ("  ", "en"),
        (None, "en"),
        ("123", "en"),
        ("en--US", "en"),
        ("-", "en"),
    ],
)
def test_shipped_catalogs(code: str | None, expected: str) -> None:
    assert negotiate(code, SHIPPED, "en") == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [(None, "zh_Hans"), ("", "zh_Hans"), ("fr", "zh_Hans"), ("und", "zh_Hans"), ("en", "en")],
)
def test_unknown_goes_to_the_given_default(code: str | None, expected: str) -> None:
    assert negotiate(code, SHIPPED, "zh_Hans") == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-TW", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("zh-hant", "zh_Hant"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("pt-br", "pt_BR"),
        ("pt-PT", "pt"),
        ("pt", "pt"),
        ("en-GB", "en_GB"),
        ("en-AU", "en"),
        ("en", "en"),
    ],
)
def test_best_of_many_catalogs(code: str, expected: str) -> None:
    assert negotiate(code, MANY, "en") == expected


def test_same_language_in_another_script_beats_the_default() -> None:
    assert negotiate("zh-CN", ("en", "zh_Hant"), "en") == "zh_Hant"


def test_ties_go_to_the_earlier_catalog() -> None:
    assert negotiate("en-US", ("en_GB", "en_AU"), "zh_Hans") == "en_GB"


@given(st.one_of(st.none(), st.text(max_size=20)))
def test_never_raises_and_answers_from_the_choices(code: str | None) -> None:
    assert negotiate(code, MANY, "en") in MANY


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "English"),
        ("zh_Hans", "简体中文"),
        ("zh_Hant", "繁體中文"),
        ("es", "Español"),
        ("ru", "Русский"),
        ("pt_BR", "Português (Brasil)"),
        ("xx", "xx"),
    ],
)
def test_display_name_is_in_the_language_itself(locale: str, expected: str) -> None:
    assert display_name(locale) == expected
