"""`update_catalogs`: extraction merged into the shipped locales' catalogs."""

from __future__ import annotations

import textwrap
from pathlib import Path

from babel.messages.catalog import Catalog, Message

from disputebot.i18n.catalog import read_catalog
from disputebot.i18n.tools import TEMPLATE, po_path, update_catalogs

EN_BEFORE = """\
# English texts, kept by hand.
msgid ""
msgstr ""
"Language: en\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"
"Content-Type: text/plain; charset=UTF-8\\n"

# Translator's own note.
msgid "bot.hello"
msgstr "Hello!"

msgid "files.count"
msgid_plural "files.count"
msgstr[0] "{count} file"
msgstr[1] "{count} files"

#, fuzzy
msgid "bot.maybe"
msgstr "Maybe"

msgid "bot.gone"
msgstr "No longer used"

#~ msgid "bot.older"
#~ msgstr "Long gone"
"""


def entry(catalog: Catalog, key: str) -> Message:
    message = catalog.get(key)
    assert message is not None, key
    return message


def make_project(root: Path) -> None:
    source = root / "src/disputebot/service/replies.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        textwrap.dedent(
            """\
            from disputebot.engine.effects import Msg

            HELLO = Msg("bot.hello")
            MAYBE = Msg("bot.maybe")
            FILES = Msg("files.count", {"count": 2})
            NEW = Msg("bot.new")
            """
        ),
        encoding="utf-8",
    )
    flow = root / "conversations/report.yaml"
    flow.parent.mkdir()
    flow.write_text("title: report.title\n", encoding="utf-8")
    po_path(root, "en").parent.mkdir(parents=True)
    po_path(root, "en").write_text(EN_BEFORE, encoding="utf-8")


def test_update_merges_extraction_into_each_locale(tmp_path: Path) -> None:
    make_project(tmp_path)
    en, zh = update_catalogs(tmp_path)

    assert (en.locale, zh.locale) == ("en", "zh_Hans")
    assert en.added == ("bot.new", "report.title")
    assert en.removed == ("bot.gone", "bot.older")
    assert en.untranslated == ("bot.new", "report.title")
    assert zh.added == ("bot.hello", "bot.maybe", "bot.new", "files.count", "report.title")
    assert zh.removed == ()
    assert zh.untranslated == zh.added

    template = read_catalog(tmp_path / TEMPLATE, None)
    assert sorted(m.id for m in template if m.id) == sorted(zh.added)

    english = read_catalog(po_path(tmp_path, "en"), "en")
    assert entry(english, "bot.hello").string == "Hello!"
    assert entry(english, "bot.hello").user_comments == ["Translator's own note."]
    assert entry(english, "bot.hello").locations == [("src/disputebot/service/replies.py", 3)]
    assert entry(english, "bot.maybe").fuzzy  # a translator's flag stays
    assert entry(english, "files.count").string == ("{count} file", "{count} files")
    assert entry(english, "bot.new").string == ""
    assert not entry(english, "bot.new").fuzzy
    assert english.get("bot.gone") is None
    assert not english.obsolete

    chinese = read_catalog(po_path(tmp_path, "zh_Hans"), "zh_Hans")
    assert chinese.plural_forms == "nplurals=1; plural=0;"
    assert dict(chinese.mime_headers)["Language"] == "zh_Hans"
    assert entry(chinese, "files.count").id == ("files.count", "files.count")  # plural, as in en
    assert entry(chinese, "files.count").string == ("",)
    assert not any(m.fuzzy for m in chinese if m.id)


def test_second_update_changes_nothing(tmp_path: Path) -> None:
    make_project(tmp_path)
    update_catalogs(tmp_path)
    files = [tmp_path / TEMPLATE, po_path(tmp_path, "en"), po_path(tmp_path, "zh_Hans")]
    before = [path.read_bytes() for path in files]
    again = update_catalogs(tmp_path)
    assert [path.read_bytes() for path in files] == before
    assert [(u.added, u.removed, u.written) for u in again] == [((), (), False)] * 2


def test_empty_entry_takes_the_english_plural_shape(tmp_path: Path) -> None:
    make_project(tmp_path)
    update_catalogs(tmp_path)
    path = po_path(tmp_path, "en")
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'msgid "bot.new"\nmsgstr ""',
            'msgid "bot.new"\nmsgid_plural "bot.new"\nmsgstr[0] "{count} new"\n'
            'msgstr[1] "{count} new ones"',
        ),
        encoding="utf-8",
    )
    update_catalogs(tmp_path)
    chinese = read_catalog(po_path(tmp_path, "zh_Hans"), "zh_Hans")
    assert entry(chinese, "bot.new").id == ("bot.new", "bot.new")
