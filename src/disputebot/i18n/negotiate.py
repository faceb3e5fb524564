"""Choosing a catalog for a chat user's language code.

Telegram sends IETF tags as typed by the client (``en``, ``en-US``, ``zh-hans``, ``zh-CN``,
``pt-br``) or nothing. Babel's ``negotiate_locale`` matches identifiers and strips territories,
but knows nothing of scripts: it cannot tell that ``zh-CN`` wants ``zh_Hans`` and ``zh-TW``
Traditional Chinese. So each tag is parsed with ``Locale.parse``, which fills in the likely script
from CLDR (``zh-TW`` → ``zh_Hant_TW``), and catalogs of the same language are ranked: same
script first, then same territory, then a catalog for no particular territory. A reader of
Traditional Chinese gets ``zh_Hans`` when there is no ``zh_Hant`` catalog: the same language in
the other script is far easier for them than English. Other languages get the default.
"""

from __future__ import annotations

from collections.abc import Sequence

from babel.core import Locale, UnknownLocaleError, get_global, parse_locale

_Parts = tuple[str, str | None, str | None]  # language, script, territory
# "Undetermined" and the C locale say nothing about the reader; Babel maps both to en_US.
_NO_PREFERENCE = frozenset({"und", "c", "posix"})


def _likely_script(language: str) -> str | None:
    likely = get_global("likely_subtags").get(language)
    return parse_locale(likely)[2] if likely else None


def _parts(code: str) -> _Parts | None:
    code = code.strip().replace("-", "_")
    try:
        language, territory, script, *_ = parse_locale(code)
    except ValueError:
        return None
    if language in _NO_PREFERENCE:
        return None
    try:
        locale = Locale.parse(code)
    except UnknownLocaleError:  # a language CLDR does not know: compare the tags as written
        return (language, script, territory)
    except ValueError:
        return None
    script = locale.script or _likely_script(locale.language)
    return (locale.language, script, locale.territory)


def negotiate(language_code: str | None, available: Sequence[str], default: str) -> str:
    """The catalog in ``available`` that best suits a user's ``language_code``.

    Returns ``default`` when the code is empty, malformed, or of a language no catalog has.
    Among catalogs of the user's language the order of preference is: same script, same
    territory, no territory; ties go to the earlier one in ``available``.
    """
    wanted = _parts(language_code) if language_code else None
    if wanted is None:
        return default
    language, script, territory = wanted
    best: tuple[bool, bool, bool] | None = None
    choice = default
    for name in available:
        offered = _parts(name)
        if offered is None or offered[0] != language:
            continue
        rank = (offered[1] == script, offered[2] == territory, offered[2] is None)
        if best is None or rank > best:
            best, choice = rank, name
    return choice


def display_name(locale: str) -> str:
    """A language's name in that language, for a language menu ("English", "简体中文")."""
    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return locale
    name = parsed.languages.get(str(parsed)) or parsed.get_display_name(parsed) or locale
    return name[:1].upper() + name[1:]
