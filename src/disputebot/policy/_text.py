"""Text helpers shared by the policy checks: invisible characters and index-preserving folding.

Users paste text from apps and web pages that carry zero-width and bidi-control characters,
sometimes on purpose to slip a word past a filter. Both the account parser and the description
linter remove them first; the linter must still quote the text exactly as written, so folding
here keeps a map from every folded character back to the original index.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Zero-width, bidi-control and word-joiner characters (U+200B-U+200F, U+202A-U+202E,
# U+2060-U+2064, U+2066-U+2069) and the byte-order mark U+FEFF.
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

# Typographic apostrophes fold to ASCII so "you’ll" and "you'll" read alike.
_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\uff07": "'"})


def strip_invisible(text: str) -> str:
    """Return ``text`` without zero-width, bidi-control and byte-order-mark characters."""
    return INVISIBLE.sub("", text)


@dataclass(frozen=True, slots=True)
class Folded:
    """``text`` with invisible characters removed, NFKC-normalized and casefolded.

    ``origin[i]`` is the index in the original text of the character that produced
    ``folded[i]``; folding is done one character at a time so that map stays exact even when
    NFKC or casefolding turns one character into several ("ﬁ" → "fi", "ß" → "ss").
    """

    original: str
    folded: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of ``folded`` back to a span of ``original``."""
        return self.origin[start], self.origin[end - 1] + 1

    def quote(self, start: int, end: int) -> str:
        """The original text behind a ``[start, end)`` span of ``folded``."""
        first, last = self.span(start, end)
        return self.original[first:last]


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if INVISIBLE.match(char):
        return ""
    return unicodedata.normalize("NFKC", char).casefold().translate(_APOSTROPHES)


def fold(text: str) -> Folded:
    """Fold ``text`` for matching while remembering where each folded character came from."""
    if text.isascii():
        # Nothing to normalize and nothing invisible: casefolding ASCII is lowering it.
        return Folded(original=text, folded=text.lower(), origin=tuple(range(len(text))))
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        piece = _fold_char(char)
        out.append(piece)
        origin.extend([index] * len(piece))
    return Folded(original=text, folded="".join(out), origin=tuple(origin))
