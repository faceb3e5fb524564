"""Rendering messages from small catalogs written for each test."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from disputebot.engine.effects import Msg
from disputebot.errors import ConfigError
from disputebot.i18n import Catalogs

EN_PLURAL = "nplurals=2; plural=(n != 1);"
ZH_PLURAL = "nplurals=1; plural=0;"

EN = r"""
msgid "greet"
msgstr "Hello, {name}!"

msgid "case.filed"
msgstr "Case {case_id} filed: {category}."

msgid "category.fake"
msgstr "Fake logistics"

msgid "bold"
msgstr "<b>{name}</b> & co"

msgid "files"
msgid_plural "files"
msgstr[0] "{count} file"
msgstr[1] "{count} files"

msgid "only.en"
msgstr "Only in English"

msgid "braces"
msgstr "Use {{curly}} braces, {name}"

msgid "broken.unknown"
msgstr "Case {case_id} by {who}"

msgid "broken.malformed"
msgstr "Done: {count} of {total"

msgid "broken.attribute"
msgstr "Hi {name.__class__}"

msgid "broken.spec"
msgstr "Number {name:d}"

msgid "multi"
msgstr ""
"First line, "
"same paragraph."
"""

ZH = r"""
msgid "greet"
msgstr "你好，{name}！"

msgid "case.filed"
msgstr "案件 {case_id} 已提交：{category}。"

msgid "category.fake"
msgstr "虚假物流"

msgid "files"
msgid_plural "files"
msgstr[0] "{count} 个文件"

msgid "untranslated"
msgstr ""

#, fuzzy
msgid "bold"
msgstr "<b>{name}</b> 等"
"""


def write_po(locales: Path, locale: str, plural_forms: str, body: str) -> Path:
    path = locales / locale / "LC_MESSAGES" / "disputebot.po"
    path.parent.mkdir(parents=True)
    header = (
        'msgid ""\nmsgstr ""\n'
        f'"Language: {locale}\\n"\n'
        f'"Plural-Forms: {plural_forms}\\n"\n'
        '"Content-Type: text/plain; charset=UTF-8\\n"\n'
    )
    path.write_text(header + body, encoding="utf-8")
    return path


@pytest.fixture
def catalogs(tmp_path: Path) -> Catalogs:
    write_po(tmp_path, "en", EN_PLURAL, EN)
    write_po(tmp_path, "zh_Hans", ZH_PLURAL, ZH)
    return Catalogs.load(tmp_path)


def bracket(text: str) -> str:
    return f"[{text}]"


def test_locales_lists_the_default_first(catalogs: Catalogs) -> None:
    assert catalogs.locales == ("en", "zh_Hans")
    assert catalogs.default_locale == "en"


@pytest.mark.parametrize(
    ("locale", "expected"), [("en", "Hello, Ana!"), ("zh_Hans", "你好，Ana！")]
)
def test_renders_in_the_given_locale(catalogs: Catalogs, locale: str, expected: str) -> None:
    assert catalogs.render(Msg("greet", {"name": "Ana"}), locale) == expected
    assert not catalogs.missing
    assert not catalogs.broken


def test_escape_applies_to_params_not_to_catalog_text(catalogs: Catalogs) -> None:
    text = catalogs.render(Msg("bold", {"name": "<i>Tom & Jerry</i>"}), "en", html.escape)
    assert text == "<b>&lt;i&gt;Tom &amp; Jerry&lt;/i&gt;</b> & co"


def test_int_params_are_escaped_too(catalogs: Catalogs) -> None:
    text = catalogs.render(Msg("case.filed", {"case_id": 42, "category": "x"}), "en", bracket)
    assert text == "Case [42] filed: [x]."


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Case [7] filed: Hello, [<Ann>]!."),
        ("zh_Hans", "案件 [7] 已提交：你好，[<Ann>]！。"),
    ],
)
def test_nested_msg_is_rendered_in_the_same_locale_and_escaped_once(
    catalogs: Catalogs, locale: str, expected: str
) -> None:
    inner = Msg("greet", {"name": "<Ann>"})
    text = catalogs.render(Msg("case.filed", {"case_id": 7, "category": inner}), locale, bracket)
    assert text == expected


def test_nested_msg_label(catalogs: Catalogs) -> None:
    msg = Msg("case.filed", {"case_id": "A-1", "category": Msg("category.fake")})
    assert catalogs.render(msg, "zh_Hans", html.escape) == "案件 A-1 已提交：虚假物流。"


@pytest.mark.parametrize(
    ("locale", "count", "expected"),
    [
        ("en", 0, "0 files"),
        ("en", 1, "1 file"),
        ("en", 2, "2 files"),
        ("en", "21", "21 files"),
        ("zh_Hans", 0, "0 个文件"),
        ("zh_Hans", 1, "1 个文件"),
        ("zh_Hans", 5, "5 个文件"),
    ],
)
def test_plural_form_follows_the_locale_rule(
    catalogs: Catalogs, locale: str, count: int | str, expected: str
) -> None:
    assert catalogs.render(Msg("files", {"count": count}), locale) == expected
    assert not catalogs.broken


def test_plural_without_count_uses_the_last_form_and_is_recorded(catalogs: Catalogs) -> None:
    assert catalogs.render(Msg("files"), "en") == "{count} files"
    assert {(loc, key) for loc, key, _ in catalogs.broken} == {("en", "files")}


def test_missing_in_locale_falls_back_to_default(catalogs: Catalogs) -> None:
    assert catalogs.render(Msg("only.en"), "zh_Hans") == "Only in English"
    assert catalogs.missing == {("zh_Hans", "only.en")}


@pytest.mark.parametrize("key", ["untranslated", "bold"])
def test_empty_and_fuzzy_entries_count_as_missing(catalogs: Catalogs, key: str) -> None:
    catalogs.render(Msg(key, {"name": "x"}), "zh_Hans")
    assert ("zh_Hans", key) in catalogs.missing
    assert not catalogs.has(key, "zh_Hans")


def test_fuzzy_entry_shows_the_default_text(catalogs: Catalogs) -> None:
    assert catalogs.render(Msg("bold", {"name": "x"}), "zh_Hans") == "<b>x</b> & co"


def test_missing_everywhere_falls_back_to_the_key(catalogs: Catalogs) -> None:
    assert catalogs.render(Msg("no.such.key", {"x": 1}), "zh_Hans") == "no.such.key"
    assert catalogs.missing == {("zh_Hans", "no.such.key"), ("en", "no.such.key")}


def test_unknown_locale_falls_back_to_default(catalogs: Catalogs) -> None:
    assert catalogs.render(Msg("greet", {"name": "Zoé"}), "fr") == "Hello, Zoé!"
    assert catalogs.missing == {("fr", "greet")}


def test_has(catalogs: Catalogs) -> None:
    assert catalogs.has("greet", "zh_Hans")
    assert not catalogs.has("only.en", "zh_Hans")
    assert not catalogs.has("greet", "fr")


def test_doubled_braces_are_literal(catalogs: Catalogs) -> None:
    assert catalogs.render(Msg("braces", {"name": "a"}), "en") == "Use {curly} braces, a"


def test_continued_strings_are_joined(catalogs: Catalogs) -> None:
    assert catalogs.render(Msg("multi"), "en") == "First line, same paragraph."


@pytest.mark.parametrize(
    ("msg", "expected", "problem"),
    [
        (Msg("broken.unknown", {"case_id": 7}), "Case 7 by {who}", "{who}"),
        (Msg("broken.malformed", {"count": 3, "total": 5}), "Done: 3 of {total", "malformed"),
        (Msg("broken.attribute", {"name": "x"}), "Hi {name.__class__}", "{name.__class__}"),
        (Msg("broken.spec", {"name": "x"}), "Number {name:d}", "{name:d}"),
    ],
)
def test_broken_template_keeps_the_placeholder_visible_and_is_recorded(
    catalogs: Catalogs, msg: Msg, expected: str, problem: str
) -> None:
    assert catalogs.render(msg, "en") == expected
    [(locale, key, detail)] = catalogs.broken
    assert (locale, key) == ("en", msg.key)
    assert problem in detail


def test_render_all_separates_paragraphs_with_a_blank_line(catalogs: Catalogs) -> None:
    msgs = [Msg("greet", {"name": "<a>"}), Msg("category.fake")]
    assert catalogs.render_all(msgs, "zh_Hans", html.escape) == "你好，&lt;a&gt;！\n\n虚假物流"
    assert catalogs.render_all([], "en") == ""


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ('msgid "a"\nmsgstr "unterminated\n', 7, "cannot parse catalog line"),
        ('msgid "a"\nmsgstr b\n', 7, "cannot parse catalog line"),
        ('\n#-#-#-#-#  old.po  #-#-#-#-#\nmsgid "a"\nmsgstr "b"\n', 7, "conflicts"),
        ('msgid "a"\nmsgstr "@NOT-UTF-8@"\n', 7, "UTF-8"),
    ],
)
def test_unparsable_catalog_names_file_and_line(
    tmp_path: Path, body: str, line: int, reason: str
) -> None:
    path = write_po(tmp_path, "en", EN_PLURAL, body)
    path.write_bytes(path.read_bytes().replace(b"@NOT-UTF-8@", b"\xff\xfe"))
    with pytest.raises(ConfigError) as caught:
        Catalogs.load(tmp_path)
    assert f"{path}:{line}:" in str(caught.value)
    assert reason in str(caught.value)


def test_missing_default_catalog_is_a_config_error(tmp_path: Path) -> None:
    write_po(tmp_path, "zh_Hans", ZH_PLURAL, ZH)
    with pytest.raises(ConfigError, match="default locale 'en'"):
        Catalogs.load(tmp_path)


def test_missing_locales_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such locales directory"):
        Catalogs.load(tmp_path / "nowhere")


def test_other_default_and_domain(tmp_path: Path) -> None:
    path = write_po(tmp_path, "zh_Hans", ZH_PLURAL, ZH)
    path.rename(path.with_name("other.po"))
    catalogs = Catalogs.load(tmp_path, default_locale="zh_Hans", domain="other")
    assert catalogs.locales == ("zh_Hans",)
    assert catalogs.render(Msg("files", {"count": 3}), "en") == "3 个文件"
