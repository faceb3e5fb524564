"""Telegram's HTML parse mode, reimplemented closely enough to reject what Telegram rejects.

The walk follows TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp): the same tag list, the
same attribute grammar, the same error sentences with UTF-8 byte offsets, entity offsets and
lengths in UTF-16 code units, and the same trimming of surrounding whitespace afterwards.

One deliberate difference, on by default (``strict=True``): Telegram shows a bare ``&`` (or an
entity it does not know, such as ``&laquo;``) literally, while this parser rejects it. A bot that
forgets to escape user text then fails loudly in tests instead of mangling a message one day.
Pass ``strict=False`` for Telegram's exact leniency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HtmlParseError", "ParsedText", "parse_html", "plain_text", "utf16_len"]

# Tag name -> Bot API entity type; span and tg-emoji are checked for their attribute below.
_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = frozenset(" \t\r\n\v\0")
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")
_SURROGATE_MESSAGE = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is Telegram's sentence."""


@dataclass(frozen=True)
class ParsedText:
    """Visible text and its Bot API ``MessageEntity`` dicts (offsets in UTF-16 units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Open:
    name: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset of the entity start in the output
    language: str | None = None


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of every Bot API entity offset and length."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def plain_text(text: str) -> ParsedText:
    """A text sent without parse_mode: no entities, surrounding whitespace trimmed."""
    return _trim(text, [])


def parse_html(text: str, *, strict: bool = True) -> ParsedText:
    """Parse ``text`` like Telegram's HTML parse mode or raise ``HtmlParseError``."""
    return _Parser(text, strict=strict).run()


class _Parser:
    def __init__(self, text: str, *, strict: bool) -> None:
        self.src = text
        self.strict = strict
        self.i = 0
        self.out: list[str] = []
        self.u16 = 0
        self.nested: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    # -- helpers --------------------------------------------------------------------------

    def _byte(self, pos: int) -> int:
        return len(self.src[:pos].encode("utf-8", "surrogatepass"))

    def _at_end(self) -> bool:
        return self.i >= len(self.src)

    def _peek(self) -> str:
        return self.src[self.i] if self.i < len(self.src) else "\0"

    def _skip_spaces(self) -> None:
        while not self._at_end() and self.src[self.i] in _SPACES:
            self.i += 1

    def _emit(self, chunk: str) -> None:
        self.out.append(chunk)
        self.u16 += utf16_len(chunk)

    def _entity(self, pos: int) -> tuple[str | None, int]:
        """Decode the HTML entity at ``pos`` like TDLib: (character, end) or (None, pos)."""
        src = self.src
        end = pos + 1
        if src[end : end + 1] == "#":
            end += 1
            if src[end : end + 1] == "x":
                end += 1
                start = end
                while end < len(src) and src[end] in "0123456789abcdefABCDEF":
                    end += 1
                value = int(src[start:end], 16) if end > start else 0
            else:
                start = end
                while end < len(src) and src[end].isascii() and src[end].isdigit():
                    end += 1
                value = int(src[start:end]) if end > start else 0
            # TDLib gives up on zero, out-of-range and overlong references.
            if value == 0 or value >= 0x10FFFF or end - pos >= 10:
                return None, pos
            if 0xD800 <= value <= 0xDFFF:
                raise HtmlParseError(_SURROGATE_MESSAGE)
            char = chr(value)
        else:
            while end < len(src) and src[end].isascii() and src[end].isalpha():
                end += 1
            named = _NAMED_ENTITIES.get(src[pos + 1 : end])
            if named is None:
                return None, pos
            char = named
        if src[end : end + 1] == ";":
            return char, end + 1
        if self.strict:
            # Telegram accepts "&lt" without the semicolon; escaping code never writes that.
            return None, pos
        return char, end

    # -- the walk -------------------------------------------------------------------------

    def run(self) -> ParsedText:
        src = self.src
        while not self._at_end():
            ch = src[self.i]
            if ch == "&":
                char, end = self._entity(self.i)
                if char is not None:
                    self._emit(char)
                    self.i = end
                    continue
                if self.strict:
                    raise HtmlParseError(
                        f'Unescaped "&" at byte offset {self._byte(self.i)}: write &amp; '
                        "(strict fake Bot API; Telegram would show it literally)"
                    )
            if ch != "<":
                self._emit(ch)
                self.i += 1
                continue
            if src[self.i + 1 : self.i + 2] == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.nested:
            raise HtmlParseError(
                f'Can\'t find end tag corresponding to start tag "{self.nested[-1].name}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return _trim("".join(self.out), self.entities)

    def _start_tag(self) -> None:
        src = self.src
        begin = self.i
        self.i += 1
        while not self._at_end() and src[self.i] not in _SPACES and src[self.i] != ">":
            self.i += 1
        if self._at_end():
            raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        name = src[begin + 1 : self.i].lower()
        if name not in _TAGS:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {self._byte(begin)}'
            )
        attrs = self._attributes(name, begin)
        self.i += 1  # the closing ">"
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte(begin)}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise HtmlParseError("Invalid custom emoji identifier specified")
        self.nested.append(_Open(name, attrs, self.u16))

    def _attributes(self, tag: str, begin: int) -> dict[str, str]:
        src = self.src
        attrs: dict[str, str] = {}
        unclosed = f'Unclosed start tag "{tag}" at byte offset {self._byte(begin)}'
        while self._peek() != ">":
            self._skip_spaces()
            if self._at_end():
                raise HtmlParseError(unclosed)
            if src[self.i] == ">":
                break
            start = self.i
            while not self._at_end() and src[self.i] not in _SPACES and src[self.i] not in "=>":
                self.i += 1
            attr = src[start : self.i].lower()
            if not attr:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self._byte(begin)}'
                )
            self._skip_spaces()
            if self._at_end():
                raise HtmlParseError(unclosed)
            if src[self.i] != "=":
                if tag == "blockquote" and attr == "expandable":
                    attrs[attr] = ""
                    continue
                raise HtmlParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag}" at byte offset {self._byte(begin)}'
                )
            self.i += 1
            self._skip_spaces()
            if self._at_end():
                raise HtmlParseError(unclosed)
            attrs[attr] = self._attribute_value(begin)
            if self._at_end():
                raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        return attrs

    def _attribute_value(self, begin: int) -> str:
        src = self.src
        quote = src[self.i]
        if quote not in "'\"":
            token = _NAME_TOKEN.match(src, self.i)
            end = token.end() if token else self.i
            value = src[self.i : end].lower()
            token_start, self.i = self.i, end
            if self._at_end():
                raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
            if src[self.i] not in _SPACES and src[self.i] != ">":
                raise HtmlParseError(
                    f"Unexpected end of name token at byte offset {self._byte(token_start)}"
                )
            return value
        self.i += 1
        chars: list[str] = []
        while not self._at_end() and src[self.i] != quote:
            if src[self.i] == "&":
                # Attribute values are decoded leniently, as Telegram does, even when strict.
                strict, self.strict = self.strict, False
                try:
                    char, end = self._entity(self.i)
                finally:
                    self.strict = strict
                if char is not None:
                    chars.append(char)
                    self.i = end
                    continue
            chars.append(src[self.i])
            self.i += 1
        if self._at_end():
            raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        self.i += 1
        return "".join(chars)

    def _end_tag(self) -> None:
        src = self.src
        begin = self.i
        if not self.nested:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self._byte(begin)}")
        self.i += 2
        while not self._at_end() and src[self.i] not in _SPACES and src[self.i] != ">":
            self.i += 1
        end_name = src[begin + 2 : self.i].lower()
        self._skip_spaces()
        if self._at_end() or src[self.i] != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {self._byte(begin)}")
        self.i += 1
        opened = self.nested[-1]
        if end_name and end_name != opened.name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self._byte(begin)}, "
                f'expected "</{opened.name}>", found "</{end_name}>"'
            )
        self.nested.pop()
        self._close(opened)

    def _close(self, opened: _Open) -> None:
        length = self.u16 - opened.offset
        if length <= 0:
            return
        kind = _TAGS[opened.name]
        entity: dict[str, Any] = {"type": kind, "offset": opened.offset, "length": length}
        if kind == "code":
            language = opened.attrs.get("class", "")
            parent = self.nested[-1] if self.nested else None
            # <pre><code class="language-x"> is one pre entity carrying the language.
            if (
                parent is not None
                and parent.name == "pre"
                and language.startswith("language-")
                and language != "language-"
            ):
                parent.language = language.removeprefix("language-")
                return
        elif kind == "pre" and opened.language:
            entity["language"] = opened.language
        elif kind == "text_link":
            url = _normalize_url(
                opened.attrs.get("href") or _visible_since(self.out, opened.offset)
            )
            if url is None:
                return
            entity["url"] = url
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = opened.attrs["emoji-id"]
        elif kind == "blockquote" and "expandable" in opened.attrs:
            entity["type"] = "expandable_blockquote"
        self.entities.append(entity)


def _visible_since(out: list[str], u16_offset: int) -> str:
    text = "".join(out)
    count = 0
    for index, ch in enumerate(text):
        if count >= u16_offset:
            return text[index:]
        count += 2 if ord(ch) > 0xFFFF else 1
    return ""


def _normalize_url(url: str) -> str | None:
    """Telegram keeps a URL with a scheme and prefixes "http://" to a bare host."""
    url = url.strip()
    if not url or any(ch in _SPACES for ch in url):
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:", url):
        return url
    if "." not in url.split("/", 1)[0]:
        return None
    return "http://" + (url if "/" in url else url + "/")


def _trim(text: str, entities: list[dict[str, Any]]) -> ParsedText:
    """Drop leading and trailing whitespace and clip the entities to what stays."""
    stripped = text.strip()
    if stripped == text:
        return ParsedText(text, entities)
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, kept)
