"""The translated texts, read from ``locales/<locale>/LC_MESSAGES/<domain>.po``.

Catalogs are read from the ``.po`` sources with Babel (compiled ``.mo`` files are not
committed). A message id is looked up in the reader's locale, then in the default locale, and
last the id itself is shown; every such miss, and every placeholder a translation gets wrong, is
recorded in ``missing`` and ``broken`` instead of failing the conversation.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from babel.core import UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po

from disputebot.engine.effects import Msg
from disputebot.errors import ConfigError
from disputebot.i18n.extract import extract_messages, message_ids
from disputebot.i18n.template import fill, placeholders

DOMAIN = "disputebot"

Entry = str | tuple[str, ...]

# Babel's parser quietly drops or empties lines it does not understand (an unterminated string
# becomes an empty one), so the lines are checked first and a slip is reported with its line.
_STRING = r'"(?:[^"\\]|\\.)*"'
_LINE = re.compile(rf"(?:(?:msgctxt|msgid|msgid_plural|msgstr|msgstr\[\d+\])\s+)?{_STRING}")


def _unchanged(text: str) -> str:
    return text


def _key(msgid: str | Sequence[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _names(entry: Entry) -> frozenset[str]:
    """Placeholders of every form of an entry (a singular form may leave out ``{count}``)."""
    forms = (entry,) if isinstance(entry, str) else entry
    return frozenset().union(*(placeholders(form) for form in forms if form))


def read_catalog(path: Path, locale: str | None, domain: str = DOMAIN) -> Catalog:
    """Read one ``.po`` file strictly; raises ``ConfigError`` naming the file and line."""
    data = path.read_bytes()
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}:{number}: catalogs must be UTF-8: {exc}") from exc
        if line.startswith("#~") and not line.startswith("#~|"):
            line = line[2:].strip()
        if line and not line.startswith("#") and not _LINE.fullmatch(line):
            raise ConfigError(f"{path}:{number}: cannot parse catalog line: {line}")
    try:
        return read_po(io.BytesIO(data), locale=locale, domain=domain, abort_invalid=True)
    except PoFileError as exc:
        reason = str(exc).removesuffix(f" on {exc.lineno}")
        raise ConfigError(f"{path}:{exc.lineno + 1}: cannot parse catalog: {reason}") from exc
    except (UnknownLocaleError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot parse catalog: {exc}") from exc


@dataclass(frozen=True, slots=True)
class _Table:
    entries: Mapping[str, Entry]
    plural: Callable[[int], int]


def _table(path: Path, locale: str, domain: str) -> _Table:
    catalog = read_catalog(path, locale, domain)
    try:
        plural = gettext.c2py(catalog.plural_expr)
    except ValueError as exc:
        raise ConfigError(f"{path}: bad Plural-Forms {catalog.plural_expr!r}: {exc}") from exc
    entries: dict[str, Entry] = {}
    for message in catalog:
        # Untranslated and fuzzy entries are left out, as msgfmt does: the default locale shows.
        if not message.id or message.context is not None or message.fuzzy:
            continue
        key = _key(message.id)
        string = message.string
        if isinstance(string, tuple | list):
            if any(string):
                entries[key] = tuple(string)
        elif string:
            entries[key] = string
    return _Table(entries, plural)


class Catalogs:
    """Every locale's messages, and what went wrong rendering them.

    Attributes:
        default_locale: the locale shown when the reader's locale lacks a message.
        missing: ``(locale, key)`` pairs looked up and not found (the default locale's entry,
            or the key itself, was shown instead).
        broken: ``(locale, key, problem)`` for translations whose placeholders could not all
            be filled; the text was shown with the placeholder left as written.
    """

    def __init__(self, tables: Mapping[str, _Table], default_locale: str) -> None:
        self._tables = dict(tables)
        self.default_locale = default_locale
        self.missing: set[tuple[str, str]] = set()
        self.broken: set[tuple[str, str, str]] = set()

    @classmethod
    def load(cls, locales_dir: Path, default_locale: str = "en", domain: str = DOMAIN) -> Catalogs:
        """Read ``<locales_dir>/<locale>/LC_MESSAGES/<domain>.po`` for every locale there.

        Raises:
            ConfigError: a catalog cannot be parsed (the error names the file and line), or
                there is no catalog for ``default_locale``.
        """
        if not locales_dir.is_dir():
            raise ConfigError(f"{locales_dir}: no such locales directory")
        tables = {
            po.parents[1].name: _table(po, po.parents[1].name, domain)
            for po in sorted(locales_dir.glob(f"*/LC_MESSAGES/{domain}.po"))
        }
        if default_locale not in tables:
            raise ConfigError(
                f"{locales_dir}: no catalog for the default locale {default_locale!r} "
                f"(expected {default_locale}/LC_MESSAGES/{domain}.po)"
            )
        return cls(tables, default_locale)

    @property
    def locales(self) -> tuple[str, ...]:
        """The loaded locales, the default one first, then the others alphabetically."""
        others = sorted(name for name in self._tables if name != self.default_locale)
        return (self.default_locale, *others)

    def has(self, key: str, locale: str) -> bool:
        """Whether ``locale`` itself has a (non-empty, non-fuzzy) text for ``key``."""
        table = self._tables.get(locale)
        return table is not None and key in table.entries

    def render(self, msg: Msg, locale: str, escape: Callable[[str], str] = _unchanged) -> str:
        """The text of ``msg`` in ``locale``, its ``str``/``int`` parameters escaped.

        Falls back to the default locale, then to the key itself; never raises for a missing
        or broken translation (see ``missing`` and ``broken``).
        """
        for where in dict.fromkeys((locale, self.default_locale)):
            table = self._tables.get(where)
            entry = table.entries.get(msg.key) if table else None
            # A plural entry may lack the one form this count needs: that too is a miss.
            template = self._choose(entry, table, msg, where) if table and entry else ""
            if not template:
                self.missing.add((where, msg.key))
                continue
            text, problems = fill(
                template, msg.params, escape, lambda inner: self.render(inner, locale, escape)
            )
            self.broken.update((where, msg.key, problem) for problem in problems)
            return text
        return msg.key

    def render_all(
        self, msgs: Sequence[Msg], locale: str, escape: Callable[[str], str] = _unchanged
    ) -> str:
        """Render several messages as paragraphs separated by a blank line."""
        return "\n\n".join(self.render(msg, locale, escape) for msg in msgs)

    def check_templates(self) -> list[str]:
        """Texts whose placeholders do not parse, or differ from the default locale's text."""
        problems: list[str] = []
        reference: dict[str, frozenset[str]] = {}
        for locale in self.locales:  # the default locale comes first: its text is the reference
            for key, entry in sorted(self._tables[locale].entries.items()):
                try:
                    names = _names(entry)
                except ValueError as exc:
                    problems.append(f"{locale}: {key}: malformed text: {exc}")
                    continue
                expected = reference.setdefault(key, names)
                if names != expected:
                    problems.append(
                        f"{locale}: {key}: placeholders {sorted(names)}, "
                        f"{self.default_locale} has {sorted(expected)}"
                    )
        return problems

    def _choose(self, entry: Entry, table: _Table, msg: Msg, locale: str) -> str:
        if isinstance(entry, str):
            return entry
        count = msg.params.get("count")
        if isinstance(count, str) and count.strip().lstrip("-").isdigit():
            count = int(count)
        if isinstance(count, int):
            index = table.plural(count)
        else:
            self.broken.add((locale, msg.key, "plural message without an integer {count}"))
            index = len(entry) - 1
        return entry[min(max(index, 0), len(entry) - 1)]


class _Flow(Protocol):
    def model_dump(self) -> dict[str, Any]: ...


class _FlowBook(Protocol):
    @property
    def flows(self) -> Mapping[tuple[str, int], _Flow]: ...


def check_catalogs(catalogs: Catalogs, book: _FlowBook, project_root: Path) -> list[str]:
    """What ``disputebot check`` reports about the catalogs; empty when all is well.

    Every message id used by the sources under ``project_root`` (see ``extract_messages``) and
    by the loaded flows needs a text in every locale; every text's placeholders must parse
    and match the default locale's (``Catalogs.check_templates``).
    """
    used: dict[str, str] = {}
    for message in extract_messages(project_root):
        if message.id and message.locations:
            path, line = message.locations[0]
            used.setdefault(_key(message.id), f"{path}:{line}")
    for (name, version), flow in sorted(book.flows.items()):
        for where, key in message_ids(flow.model_dump()):
            used.setdefault(key, f"flow {name} v{version}, {where}")
    problems = [
        f"{locale}: no text for {key} (used at {used[key]})"
        for locale in catalogs.locales
        for key in sorted(used)
        if not catalogs.has(key, locale)
    ]
    return problems + catalogs.check_templates()
