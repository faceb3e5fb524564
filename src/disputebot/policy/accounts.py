"""The reported party's account: parse what a user typed into one canonical account key.

Users give a store link (in any of the platform's many URL shapes, often pasted with the text
around it), a bare store id, or a seller's display name. The same store must always get the
same ``key``, because the abuse checks ("one open report per reporter and account") and the
staff view ("other cases against this account") group by it.

Every platform-specific pattern lives in ``platform/<name>.yaml`` and reaches this module as a
plain mapping validated by :class:`PlatformProfile`; nothing here reads files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from disputebot.policy._text import strip_invisible
from disputebot.policy.profile import PlatformProfile, load_profile

__all__ = [
    "Account",
    "AccountProblem",
    "PlatformProfile",
    "account_from_json",
    "account_to_json",
    "load_profile",
    "parse_account",
]

AccountKind = Literal["store", "seller_name"]
Confidence = Literal["high", "low"]
ProblemCode = Literal[
    "empty", "too_long", "item_link", "foreign_link", "unrecognized_link", "not_a_name"
]


@dataclass(frozen=True, slots=True)
class Account:
    """A reported party's account, normalized.

    Attributes:
        key: Canonical key, ``"<platform>:store:<id>"`` or ``"<platform>:seller:<casefolded
            name>"``; equal for every spelling of the same account.
        kind: ``"store"`` when a store id is known, ``"seller_name"`` otherwise.
        display: Short human form: the store id, or the cleaned seller name.
        store_id: The store id, for ``kind == "store"``.
        item_id: A product id remembered from an item link given earlier (context only).
        confidence: ``"high"`` for a store link or id, ``"low"`` for a seller name.
        source: What the user typed, invisible characters removed, trimmed.
    """

    key: str
    kind: AccountKind
    display: str
    store_id: str | None
    item_id: str | None
    confidence: Confidence
    source: str


@dataclass(frozen=True, slots=True)
class AccountProblem:
    """Why the text is not an account; ``item_id`` is the product id for ``"item_link"``."""

    code: ProblemCode
    item_id: str | None = None


# A link in free text, with or without a scheme. The path stops at whitespace and at
# non-ASCII characters, so a link glued to Chinese text ("链接https://…谢谢") still parses.
_LINK = re.compile(
    r"""
    (?<![A-Za-z0-9.@-])
    (?:(?P<scheme>https?)://)?
    (?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})\.?
    (?::\d{1,5})?
    (?P<rest>[/?\#][A-Za-z0-9\-._~:/?\#\[\]@!$&'()*+,;=%]*)?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_TRAILING = ".,;:!?'\"*"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»", "„": "“", "「": "」", "『": "』"}

_LinkKind = Literal["store", "item", "platform", "foreign"]


@dataclass(frozen=True, slots=True)
class _Link:
    kind: _LinkKind
    store_id: str | None = None
    item_id: str | None = None


def _trim_rest(rest: str) -> str:
    # Sentence punctuation after a link belongs to the sentence; a closing bracket belongs to
    # the link only when the link opened it (Wikipedia-style paths).
    while rest:
        last = rest[-1]
        if last in _TRAILING or (last in _PAIRS and rest.count(_PAIRS[last]) < rest.count(last)):
            rest = rest[:-1]
        else:
            break
    return rest


def _canonical_id(digits: str) -> str:
    return str(int(digits))


def _classify(host: str, rest: str, profile: PlatformProfile) -> _Link:
    host = host.lower().rstrip(".")
    if not profile.is_platform_host(host):
        return _Link("foreign")
    if profile.is_short_link_host(host):
        return _Link("platform")
    parts = urlsplit("//" + host + rest)
    path = parts.path.rstrip("/") or "/"
    query = dict(parse_qsl(parts.query, keep_blank_values=False))
    query_folded = {key.lower(): value for key, value in query.items()}
    for pattern in profile.store_paths:
        match = pattern.fullmatch(path)
        if match and profile.link_store_id.fullmatch(match["store"]):
            item = match.groupdict().get("item")
            return _Link("store", _canonical_id(match["store"]), item)
    if profile.store_query_paths is not None and profile.store_query_paths.fullmatch(path):
        for param in profile.store_query_params:
            value = query_folded.get(param.lower(), "").strip()
            if profile.link_store_id.fullmatch(value):
                return _Link("store", _canonical_id(value))
    for pattern in profile.item_paths:
        match = pattern.fullmatch(path)
        if match:
            return _Link("item", item_id=match["item"])
    for param in profile.item_query_params:
        value = query_folded.get(param.lower(), "").strip()
        if value.isdigit():
            return _Link("item", item_id=value)
    return _Link("platform")


def _find_links(text: str, profile: PlatformProfile) -> tuple[list[_Link], str]:
    """Links in ``text`` (in order) and the text with them cut out."""
    links: list[_Link] = []
    outside: list[str] = []
    position = 0
    for match in _LINK.finditer(text):
        host = match["host"].lower()
        rest = _trim_rest(match["rest"] or "")
        # Without a scheme, "Xiaomi.Official" is a name, not a host: only believe a bare host
        # that starts with www., is the platform's own, or has a path.
        if not (
            match["scheme"] or host.startswith("www.") or profile.is_platform_host(host) or rest
        ):
            continue
        links.append(_classify(host, rest, profile))
        outside.append(text[position : match.start()])
        position = match.start() + len(match[0]) - len(match["rest"] or "") + len(rest)
    outside.append(text[position:])
    return links, " ".join(outside)


_PRIORITY: dict[_LinkKind, int] = {"store": 0, "item": 1, "platform": 2, "foreign": 3}


def _clean_name(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # Control and format characters (soft hyphens, stray escapes) never belong in a name.
    text = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in {"Cc", "Cf"}
    )
    text = " ".join(text.split())
    while len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def _store(store_id: str, item_id: str | None, source: str, profile: PlatformProfile) -> Account:
    return Account(
        key=f"{profile.name}:store:{store_id}",
        kind="store",
        display=store_id,
        store_id=store_id,
        item_id=item_id,
        confidence="high",
        source=source,
    )


def parse_account(
    text: str, profile: PlatformProfile, *, item_id: str | None = None
) -> Account | AccountProblem:
    """Turn what a user typed as the reported party's account into an :class:`Account`.

    Accepts a store link in any shape the profile knows (with or without scheme, inside a
    sentence, with query strings and trailing punctuation), a store id (optionally after
    "store id:"), or a seller name.

    Args:
        text: The user's message.
        profile: The platform's patterns.
        item_id: A product id from an item link the user gave earlier; carried into the
            returned account so staff see which listing the report is about.

    Returns:
        The account, or the problem to explain to the user: ``"item_link"`` (with the product
        id) when the link is a product page, ``"foreign_link"`` for another site,
        ``"unrecognized_link"`` for a platform link that names no store (short links
        included), ``"empty"``, ``"too_long"``, or ``"not_a_name"``.
    """
    source = strip_invisible(text).strip()
    if not source:
        return AccountProblem("empty")
    if len(source) > profile.max_message_chars:
        return AccountProblem("too_long")
    links, outside = _find_links(source, profile)
    if len(outside.strip()) > profile.max_input_chars:
        return AccountProblem("too_long")
    if links:
        best = min(links, key=lambda link: _PRIORITY[link.kind])
        if best.kind == "store" and best.store_id is not None:
            linked_item = best.item_id or next(
                (link.item_id for link in links if link.kind == "item"), None
            )
            return _store(best.store_id, linked_item or item_id, source, profile)
        if best.kind == "item":
            return AccountProblem("item_link", item_id=best.item_id)
        if best.kind == "platform":
            return AccountProblem("unrecognized_link")
        return AccountProblem("foreign_link")

    name = _clean_name(source)
    if profile.item_id_text is not None:
        match = profile.item_id_text.fullmatch(name)
        if match:
            return AccountProblem("item_link", item_id=match["digits"])
    match = profile.id_text.fullmatch(name)
    if match:
        digits = match["digits"]
        if profile.bare_item_id.fullmatch(digits):
            return AccountProblem("item_link", item_id=digits)
        if profile.bare_store_id.fullmatch(digits):
            return _store(_canonical_id(digits), item_id, source, profile)
        return AccountProblem("not_a_name")
    if any(pattern.fullmatch(name) for pattern in profile.not_a_name_texts):
        return AccountProblem("not_a_name")
    has_letter = any(unicodedata.category(char).startswith("L") for char in name)
    if not has_letter or not profile.name_min_chars <= len(name) <= profile.name_max_chars:
        return AccountProblem("not_a_name")
    return Account(
        key=f"{profile.name}:seller:{name.casefold()}",
        kind="seller_name",
        display=name,
        store_id=None,
        item_id=item_id,
        confidence="low",
        source=source,
    )


_JSON_FIELDS = ("key", "kind", "display", "store_id", "item_id", "confidence", "source")


def account_to_json(account: Account) -> dict[str, str | None]:
    """A JSON-ready mapping of ``account``, read back by :func:`account_from_json`."""
    return {name: getattr(account, name) for name in _JSON_FIELDS}


def _required(data: Mapping[str, object], name: str) -> str:
    if name not in data:
        raise ValueError(f"account: missing key {name!r}")
    value = data[name]
    if not isinstance(value, str):
        # One exception type for every kind of bad saved data, so callers catch one thing.
        raise ValueError(  # noqa: TRY004
            f"account: {name!r} must be a string, not {type(value).__name__}"
        )
    return value


def _optional(data: Mapping[str, object], name: str) -> str | None:
    if data.get(name) is None:
        return None
    return _required(data, name)


def _kind(value: str) -> AccountKind:
    if value == "store":
        return "store"
    if value == "seller_name":
        return "seller_name"
    raise ValueError(f"account: 'kind' must be 'store' or 'seller_name', not {value!r}")


def _confidence(value: str) -> Confidence:
    if value == "high":
        return "high"
    if value == "low":
        return "low"
    raise ValueError(f"account: 'confidence' must be 'high' or 'low', not {value!r}")


def account_from_json(data: Mapping[str, object]) -> Account:
    """Rebuild an :class:`Account` saved with :func:`account_to_json`.

    Raises:
        ValueError: A key is missing, unknown, or holds a value of the wrong type; the message
            names the key.
    """
    unknown = sorted(set(data) - set(_JSON_FIELDS))
    if unknown:
        raise ValueError(f"account: unknown key {unknown[0]!r}")
    return Account(
        key=_required(data, "key"),
        kind=_kind(_required(data, "kind")),
        display=_required(data, "display"),
        store_id=_optional(data, "store_id"),
        item_id=_optional(data, "item_id"),
        confidence=_confidence(_required(data, "confidence")),
        source=_required(data, "source"),
    )
