"""Keeping the catalogs in step with the code: ``disputebot i18n update`` / ``make messages``.

Extraction writes ``locales/disputebot.pot``; each shipped locale's ``.po`` is then merged by
hand rather than with ``Catalog.update``, for three reasons: Babel's merge guesses translations
for new ids from similar old ones and marks them fuzzy (we want new entries empty, never
guessed); it turns a plural entry into a fuzzy singular one when the template has no
``msgid_plural`` (and extraction cannot know which ids are plural); and it keeps unused entries as
``#~`` lines, which the catalog tests reject. Which ids are plural is decided in the English
catalog (an entry with ``msgid_plural``); new or empty entries of other locales follow it.
Output is sorted by message id, and a file is rewritten only when its content changed.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import write_po

from disputebot.i18n.catalog import DOMAIN, read_catalog
from disputebot.i18n.extract import extract_messages

LOCALES = ("en", "zh_Hans")
SOURCE_LOCALE = "en"
TEMPLATE = Path("locales") / f"{DOMAIN}.pot"
WIDTH = 76  # as pybabel writes, so both tools produce the same layout


@dataclass(frozen=True, slots=True)
class CatalogUpdate:
    """What ``update_catalogs`` did to one locale's catalog."""

    locale: str
    path: Path
    added: tuple[str, ...]
    removed: tuple[str, ...]
    untranslated: tuple[str, ...]
    written: bool


def po_path(project_root: Path, locale: str) -> Path:
    """Where a locale's catalog lives."""
    return project_root / "locales" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def _version() -> str:
    try:
        return version("disputebot")
    except PackageNotFoundError:
        return "0"


def new_catalog(locale: str) -> Catalog:
    """An empty catalog for ``locale`` with the headers Babel derives (``Plural-Forms`` …)."""
    name = Locale.parse(locale).get_display_name("en")
    return Catalog(
        locale=locale,
        domain=DOMAIN,
        project="disputebot",
        version=_version(),
        header_comment=(
            f"# {name} texts of disputebot.\n"
            "# Message ids are keys (report.intro); placeholders such as {case_id}\n"
            "# are filled as by Python's str.format. `make messages` adds new ids\n"
            "# here, empty, and drops unused ones."
        ),
        charset="utf-8",
        fuzzy=False,
    )


def _key(msgid: str | Sequence[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _translated(message: Message) -> bool:
    """Whether every form of ``message`` has a text."""
    string = message.string
    forms = [string] if isinstance(string, str) else list(string or [""])
    return all(forms)


def _empty(message: Message) -> bool:
    string = message.string
    forms = [string] if isinstance(string, str) else list(string or [""])
    return not any(forms)


def merge(
    catalog: Catalog, template: Catalog, plural: Collection[str] = ()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bring ``catalog``'s entries in line with ``template``; returns (added, removed) ids.

    Existing translations, flags and translator comments stay; locations and extracted
    comments come from the template; unused and obsolete entries go. Ids in ``plural`` are
    created (or, while still empty, reshaped) as plural entries.
    """
    wanted = {_key(m.id): m for m in template if m.id}
    removed = {_key(m.id) for m in catalog if m.id and _key(m.id) not in wanted}
    removed.update(_key(m.id) for m in catalog.obsolete.values())
    catalog.obsolete.clear()
    for key in removed:
        if key in catalog:
            catalog.delete(key)
    added: list[str] = []
    for key, source in wanted.items():
        old = catalog.get(key)
        if old is None:
            added.append(key)
        if old is None or (old.pluralizable != (key in plural) and _empty(old)):
            if old is not None:
                catalog.delete(key)
            msgid: str | tuple[str, str] = (key, key) if key in plural else key
            string: str | tuple[str, ...] = ("",) * catalog.num_plurals if key in plural else ""
            catalog.add(msgid, string)
        message = catalog[key]
        message.locations = list(source.locations)
        message.auto_comments = list(source.auto_comments)
    return tuple(sorted(added)), tuple(sorted(removed))


def _write(path: Path, catalog: Catalog, ignore_prefix: bytes | None = None) -> bool:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=WIDTH, sort_output=True, ignore_obsolete=True)
    data = buffer.getvalue()
    if path.exists():
        old = path.read_bytes()
        if _comparable(old, ignore_prefix) == _comparable(data, ignore_prefix):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _comparable(data: bytes, ignore_prefix: bytes | None) -> list[bytes]:
    lines = data.splitlines()
    return [line for line in lines if not ignore_prefix or not line.startswith(ignore_prefix)]


def update_catalogs(project_root: Path, locales: Sequence[str] = LOCALES) -> list[CatalogUpdate]:
    """Extract the template and merge it into every locale's catalog (created if missing).

    The template's creation date alone does not cause a rewrite. Returns one report per
    locale, the source locale (English) first: its plural entries shape the others.
    """
    template = extract_messages(project_root)
    template.header_comment = "# Message ids used by disputebot. Generated by `make messages`."
    template.version = _version()
    _write(project_root / TEMPLATE, template, ignore_prefix=b'"POT-Creation-Date:')
    ordered = sorted(locales, key=lambda loc: loc != SOURCE_LOCALE)
    plural: set[str] = set()
    updates: list[CatalogUpdate] = []
    for locale in ordered:
        path = po_path(project_root, locale)
        catalog = read_catalog(path, locale) if path.exists() else new_catalog(locale)
        if locale == SOURCE_LOCALE:
            plural = {_key(m.id) for m in catalog if m.id and m.pluralizable}
        added, removed = merge(catalog, template, plural)
        untranslated = tuple(sorted(_key(m.id) for m in catalog if m.id and not _translated(m)))
        written = _write(path, catalog)
        updates.append(CatalogUpdate(locale, path, added, removed, untranslated, written))
    return updates
