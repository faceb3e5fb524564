"""The shipped catalogs hold a text for every message id the code and conversations use.

These read the real ``locales/`` and the real sources: a new ``Msg("…")`` or conversation step
without its English and Chinese texts fails here, naming the ids and where they are used.
``make messages`` adds the missing ids (empty) and drops unused ones; then fill them in.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message

from disputebot.i18n.catalog import Catalogs, read_catalog
from disputebot.i18n.extract import extract_messages
from disputebot.i18n.template import placeholders
from disputebot.i18n.tools import LOCALES, SOURCE_LOCALE, po_path

ROOT = Path(__file__).resolve().parents[2]
PLURAL_FORMS = {"en": "nplurals=2; plural=(n != 1);", "zh_Hans": "nplurals=1; plural=0;"}


def key_of(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def forms(message: Message) -> tuple[str, ...]:
    return (message.string,) if isinstance(message.string, str) else tuple(message.string or ())


def where(message: Message) -> str:
    return ", ".join(f"{path}:{line}" for path, line in message.locations[:2])


@pytest.fixture(scope="module")
def used() -> dict[str, Message]:
    return {key_of(m): m for m in extract_messages(ROOT) if m.id}


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    return {locale: read_catalog(po_path(ROOT, locale), locale) for locale in LOCALES}


def entries(catalog: Catalog) -> Iterator[tuple[str, Message]]:
    for message in catalog:
        if message.id:
            yield key_of(message), message


def fail_on(locale: str, problem: str, lines: list[str]) -> None:
    """Fail with one line per finding, without a traceback: the list is the message."""
    if lines:
        listing = "\n  ".join(sorted(lines))
        pytest.fail(f"{locale}: {len(lines)} {problem}:\n  {listing}", pytrace=False)


def test_shipped_catalogs_load() -> None:
    assert Catalogs.load(ROOT / "locales").locales == LOCALES


@pytest.mark.parametrize("locale", LOCALES)
def test_headers(catalogs: dict[str, Catalog], locale: str) -> None:
    headers = dict(catalogs[locale].mime_headers)
    assert headers["Language"] == locale
    assert headers["Plural-Forms"] == PLURAL_FORMS[locale]
    assert "charset=utf-8" in headers["Content-Type"].lower()


@pytest.mark.parametrize("locale", LOCALES)
def test_every_used_message_has_a_text(
    used: dict[str, Message], catalogs: dict[str, Catalog], locale: str
) -> None:
    catalog = catalogs[locale]
    lacking = []
    for key, message in used.items():
        entry = catalog.get(key)
        if entry is None:
            lacking.append(f"{key}  (no entry; used at {where(message)})")
        elif not all(forms(entry)):
            lacking.append(f"{key}  (empty; used at {where(message)})")
    fail_on(locale, "message ids have no text", lacking)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_fuzzy_entries(catalogs: dict[str, Catalog], locale: str) -> None:
    fuzzy = [key for key, message in entries(catalogs[locale]) if message.fuzzy]
    fail_on(locale, "fuzzy entries (check, then drop the flag)", fuzzy)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_unused_entries(
    used: dict[str, Message], catalogs: dict[str, Catalog], locale: str
) -> None:
    catalog = catalogs[locale]
    unused = [key for key, _ in entries(catalog) if key not in used]
    unused += [f"{key_of(m)}  (obsolete #~ entry)" for m in catalog.obsolete.values()]
    fail_on(locale, "entries used nowhere in code or conversations", unused)


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_entries_match_english(catalogs: dict[str, Catalog], locale: str) -> None:
    catalog, english = catalogs[locale], catalogs[SOURCE_LOCALE]
    wrong = []
    for key, message in entries(catalog):
        source = english.get(key)
        if source is not None and source.pluralizable != message.pluralizable:
            wrong.append(f"{key}  ({'plural' if source.pluralizable else 'singular'} in English)")
        elif message.pluralizable and len(forms(message)) != catalog.num_plurals:
            wrong.append(f"{key}  ({len(forms(message))} forms, not {catalog.num_plurals})")
    fail_on(locale, "entries with the wrong plural shape", wrong)


def sample_counts(plural: Callable[[int], int], count: int) -> list[int]:
    """For each plural form, the smallest n that selects it."""
    return [next(n for n in range(1000) if plural(n) == form) for form in range(count)]


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match_english(catalogs: dict[str, Catalog], locale: str) -> None:
    catalog, english = catalogs[locale], catalogs[SOURCE_LOCALE]
    english_plural = gettext.c2py(english.plural_expr)
    wrong = []
    for key, message in entries(catalog):
        source = english.get(key)
        if source is None or source.pluralizable != message.pluralizable:
            continue  # reported by the tests above
        if message.pluralizable:
            counts = sample_counts(gettext.c2py(catalog.plural_expr), len(forms(message)))
            pairs = [
                (text, forms(source)[min(english_plural(n), len(forms(source)) - 1)], f"n={n}")
                for text, n in zip(forms(message), counts, strict=True)
            ]
        else:
            pairs = [(forms(message)[0], forms(source)[0], "")]
        for text, reference, form in pairs:
            if not text or not reference:
                continue  # reported as missing
            try:
                names, expected = placeholders(text), placeholders(reference)
            except ValueError as exc:
                wrong.append(f"{key} {form} malformed: {exc}")
                continue
            if names != expected:
                wrong.append(f"{key} {form} has {sorted(names)}, English has {sorted(expected)}")
    fail_on(locale, "translations with wrong placeholders", wrong)
