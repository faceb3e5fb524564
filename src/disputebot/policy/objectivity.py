"""Objectivity precaution: lint a dispute description for what a factual report leaves out.

The platform asks reporters for facts (order number, dates, what happened), not labels or
feelings. :func:`lint_description` finds insults, threats, personal grudges, defamation markers
(word lists per language, edited by operators in ``locales/<lang>/objectivity.yaml``),
shouting, and third parties' phone numbers and e-mail addresses. Each finding quotes the text
exactly as the user wrote it, so the bot can show what it flagged and ask for a rephrase.

Matching works on a folded copy of the text (invisible characters removed, NFKC, casefolded,
simple digit-for-letter obfuscation undone) whose every character maps back to the original,
so "id<U+200B>iot" and "ID1OT" are both caught and both quoted as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from types import MappingProxyType

from disputebot.policy._text import INVISIBLE, Folded, fold

__all__ = [
    "RULES",
    "TERM_RULES",
    "Finding",
    "Lexicon",
    "ObjectivityRules",
    "lint_description",
]

RULES = ("insult", "threat", "grudge", "defamation", "shouting", "phone", "email")
TERM_RULES = ("insult", "threat", "grudge", "defamation")


def _normalize_term(term: str) -> str:
    return " ".join(fold(term).folded.split())


@dataclass(frozen=True, slots=True)
class Lexicon:
    """One language's word lists: ``terms`` maps a rule in :data:`TERM_RULES` to phrases.

    Phrases are stored folded (NFKC, casefolded, single spaces) so matching and
    de-duplication do not depend on how an operator typed them.
    """

    language: str
    terms: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_mapping(cls, language: str, data: Mapping[str, object]) -> Lexicon:
        """Validate a word list loaded from ``locales/<language>/objectivity.yaml``.

        Args:
            language: The locale directory name, e.g. ``"en"`` or ``"zh_Hans"``.
            data: ``{rule: [phrase, ...]}`` for rules in :data:`TERM_RULES`; a rule may be
                left out.

        Returns:
            The lexicon, phrases folded and de-duplicated in file order.

        Raises:
            ValueError: An unknown rule, a value that is not a list of strings, or an empty
                phrase or one without a letter; the message names the key.
        """
        # ValueError throughout, wrong types included: the loader turns exactly that into a
        # configuration error naming the file.
        if not isinstance(data, Mapping):
            raise ValueError(  # noqa: TRY004
                f"objectivity {language}: expected a mapping of rule to phrases"
            )
        terms: dict[str, tuple[str, ...]] = {}
        for key, value in data.items():
            if key not in TERM_RULES:
                raise ValueError(
                    f"objectivity {language}: unknown rule {key!r}"
                    f" (expected one of {', '.join(TERM_RULES)})"
                )
            items = [] if value is None else value
            if not isinstance(items, list | tuple):
                raise ValueError(  # noqa: TRY004
                    f"objectivity {language}: {key!r} must be a list of phrases"
                )
            phrases: list[str] = []
            for position, item in enumerate(items, start=1):
                if not isinstance(item, str):
                    raise ValueError(  # noqa: TRY004
                        f"objectivity {language}: {key!r} entry {position} must be a string,"
                        f" not {type(item).__name__}"
                    )
                phrase = _normalize_term(item)
                if not any(unicodedata.category(char).startswith("L") for char in phrase):
                    raise ValueError(
                        f"objectivity {language}: {key!r} entry {position} ({item!r})"
                        " has no letter"
                    )
                if phrase not in phrases:
                    phrases.append(phrase)
            terms[key] = tuple(phrases)
        return cls(
            language=language,
            terms=MappingProxyType({rule: terms.get(rule, ()) for rule in TERM_RULES}),
        )


@dataclass(frozen=True, slots=True)
class ObjectivityRules:
    """The operator's objectivity settings.

    Attributes:
        blocking: Rules the user must fix; the others are warnings they may override.
            Every name must be one of :data:`RULES` (a typo would silently unblock a rule).
        caps_ratio: Share of upper-case letters at which text counts as shouting.
        min_letters_for_caps: Below this many cased letters, case is not judged.
        max_exclamations: More ``!`` than this in a row is shouting.
    """

    blocking: frozenset[str] = frozenset({"insult", "threat", "defamation", "phone", "email"})
    caps_ratio: float = 0.6
    min_letters_for_caps: int = 20
    max_exclamations: int = 2

    def __post_init__(self) -> None:
        unknown = sorted(self.blocking - set(RULES))
        if unknown:
            raise ValueError(f"objectivity rules: unknown rule {unknown[0]!r} in blocking")
        if not 0 < self.caps_ratio <= 1:
            raise ValueError(
                f"objectivity rules: caps_ratio must be in (0, 1], not {self.caps_ratio}"
            )
        if self.min_letters_for_caps < 1:
            raise ValueError("objectivity rules: min_letters_for_caps must be >= 1")
        if self.max_exclamations < 0:
            raise ValueError("objectivity rules: max_exclamations must be >= 0")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a description.

    Attributes:
        rule: One of :data:`RULES`.
        quote: The offending text exactly as written (original case, invisible characters
            kept), for quoting back to the user.
        blocking: Whether the user must rephrase (``False``: a warning they may override).
    """

    rule: str
    quote: str
    blocking: bool


# --- word lists --------------------------------------------------------------------------------

# Letters and digits of alphabetic scripts: a Latin phrase must not touch one of these on
# either side. CJK characters are not in the class, so "骗子scammer" still finds "scammer".
_WORD_CHAR = "0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u052f"
# Digits and symbols standing in for letters inside a word ("1d1ot", "$cammer", "l0ser").
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_LEET_TOKEN = re.compile(r"[a-z0-9@$]+")
_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")


def _deobfuscate(folded: str) -> str:
    # Only words that are mostly letters: "LP00123456789012" and "RU123456789CN" stay as they
    # are, so tracking numbers never turn into words. The mapping is one character for one,
    # which keeps the folded-to-original index map valid.
    def swap(match: re.Match[str]) -> str:
        token = match[0]
        letters = sum(char.isalpha() for char in token)
        if letters >= 2 and len(token) - letters < letters:
            return token.translate(_LEET)
        return token

    return _LEET_TOKEN.sub(swap, folded)


def _latin_word(word: str) -> str:
    parts: list[str] = []
    for char, run in groupby(word):
        count = len(list(run))
        if char.isalpha():
            escaped = re.escape(char)
            # Stretched letters ("stuuupid") match, but a single letter does not match a
            # doubled one, so "loser" never matches "looser".
            if count == 1:
                parts.append(f"{escaped}(?:{escaped}{{2,}})?")  # one, or three and more
            else:
                parts.append(f"{escaped}{{{count},}}")
        elif char == "-":
            parts.append("[-\\s]?" * count)
        elif char == "'":
            parts.append("'?" * count)
        else:
            parts.append(re.escape(char) * count)
    return "".join(parts)


def _latin_phrase(phrase: str) -> str:
    body = r"\s+".join(_latin_word(word) for word in phrase.split())
    # Plurals come free ("scammers", "liars"), so word lists stay short.
    return body + ("(?:e?s)?" if phrase[-1].isalpha() else "")


def _cjk_phrase(phrase: str) -> str:
    return r"\s*".join(re.escape(word) for word in phrase.split())


def _first_chars(phrases: Iterable[str]) -> str:
    return "".join(sorted({re.escape(phrase[0]) for phrase in phrases}))


@lru_cache(maxsize=64)
def _rule_regex(phrases: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so "他妈的" wins over "妈的" and "piece of shit" over "shit". The shared
    # boundaries and the first-character lookahead keep the engine from trying every phrase
    # at every position (a 4,096-character description is linted in a few milliseconds).
    ordered = sorted(phrases, key=len, reverse=True)
    latin = [phrase for phrase in ordered if not _CJK.search(phrase)]
    cjk = [phrase for phrase in ordered if _CJK.search(phrase)]
    branches = []
    if latin:
        branches.append(
            f"(?<![{_WORD_CHAR}])(?=[{_first_chars(latin)}])"
            f"(?:{'|'.join(map(_latin_phrase, latin))})(?![{_WORD_CHAR}])"
        )
    if cjk:
        branches.append(f"(?=[{_first_chars(cjk)}])(?:{'|'.join(map(_cjk_phrase, cjk))})")
    return re.compile("|".join(branches))


def _term_spans(text: str, lexicons: Sequence[Lexicon]) -> Iterator[tuple[str, int, int]]:
    for rule in TERM_RULES:
        phrases = tuple(
            dict.fromkeys(phrase for lexicon in lexicons for phrase in lexicon.terms.get(rule, ()))
        )
        if not phrases:
            continue
        for match in _rule_regex(phrases).finditer(text):
            if match.end() > match.start():
                yield rule, match.start(), match.end()


# --- private data ------------------------------------------------------------------------------

# A phone number must not be glued to a letter or digit, nor be one group of a longer run of
# separated digits: that is how order numbers (8161234567890123), tracking numbers
# (LP00123456789012, RU123456789CN), dates (2026-03-04) and store ids (1102345678) stay out.
_PHONE_START = r"(?<![0-9a-z+])(?<!\d[ ./-])"
_PHONE_END = r"(?![0-9a-z])(?![ ./-]?\d)"
_PHONE_SHAPES = (
    r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}",  # +7 912 345-67-89, +44 20 7946 0958, +8613800138000
    r"\(\d{3}\)[ ]?\d{3}[ .-]\d{4}",  # (555) 123-4567
    r"\d{3}([.-])\d{3}\1\d{4}",  # 555-123-4567, 555.123.4567
    r"\d{3} \d{3} \d{4}",  # 555 123 4567
    r"1[3-9]\d(?:[ -]?\d{4}){2}",  # Chinese mobile: 13800138000, 138-0013-8000
    r"8[ -]?\(?9\d{2}\)?[ -]?\d{3}[ -]?\d{2}[ -]?\d{2}",  # Russian mobile: 8 (912) 345-67-89
    r"0\d{1,4}[ -]\d{3,4}[ -]?\d{3,4}",  # trunk-0 landline: 0755-12345678, 020 7946 0958
)
_PHONE = re.compile(
    _PHONE_START + "(?:" + "|".join(f"(?:{shape})" for shape in _PHONE_SHAPES) + ")" + _PHONE_END
)
_MIN_INTERNATIONAL_DIGITS = 8
_MAX_PHONE_DIGITS = 15  # E.164

_EMAIL = re.compile(
    r"(?<![a-z0-9._%+-])[a-z0-9][a-z0-9._%+-]*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}(?![a-z0-9-])"
)


def _private_spans(text: str) -> Iterator[tuple[str, int, int]]:
    emails = [(match.start(), match.end()) for match in _EMAIL.finditer(text)]
    for start, end in emails:
        yield "email", start, end
    for match in _PHONE.finditer(text):
        digits = sum(char.isdigit() for char in match[0])
        if digits > _MAX_PHONE_DIGITS:
            continue
        if match[0].startswith("+") and digits < _MIN_INTERNATIONAL_DIGITS:
            continue
        if any(start <= match.start() < end for start, end in emails):
            continue  # "13800138000@163.com" is one e-mail address, not also a phone
        yield "phone", match.start(), match.end()


# --- shouting ----------------------------------------------------------------------------------

_SENTENCE = re.compile(r"[^.!?。！？\n]+")
_MAX_CAPS_QUOTE = 80
_EXCLAMATION_CONTEXT_WORDS = 5
_CONTEXT_CHARS = 40
_CLAUSE_MARKS = ".!?。！？\n,，;；"


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    upper: int
    lower: int


def _tokens(clean: str, start: int, end: int) -> list[_Token]:
    tokens = []
    for match in re.finditer(r"\S+", clean[start:end]):
        word = match[0]
        if any(char.isdigit() for char in word):
            # Order and tracking numbers (LP00123456789012) are upper case by nature.
            upper = lower = 0
        else:
            upper = sum(char.isupper() for char in word)
            lower = sum(char.islower() for char in word)
        tokens.append(_Token(start + match.start(), start + match.end(), upper, lower))
    return tokens


def _is_shouting(tokens: Iterable[_Token], rules: ObjectivityRules) -> bool:
    upper = lower = 0
    for token in tokens:
        upper += token.upper
        lower += token.lower
    letters = upper + lower
    return letters >= rules.min_letters_for_caps and upper >= rules.caps_ratio * letters


def _loudest_run(tokens: Sequence[_Token]) -> tuple[int, int] | None:
    best: tuple[int, int, int] | None = None  # (upper letters, start, end)
    first: _Token | None = None
    last: _Token | None = None
    upper = 0
    for token in [*tokens, None]:
        if token is not None and token.upper and not token.lower:
            first = first or token
            last = token
            upper += token.upper
            continue
        if token is not None and not token.upper and not token.lower and first is not None:
            continue  # numbers and punctuation do not end a shouted run
        if first is not None and last is not None and (best is None or upper > best[0]):
            best = (upper, first.start, last.end)
        first = last = None
        upper = 0
    return None if best is None else (best[1], best[2])


def _shorten(clean: str, start: int, end: int) -> tuple[int, int]:
    if end - start <= _MAX_CAPS_QUOTE:
        return start, end
    cut = clean.rfind(" ", start, start + _MAX_CAPS_QUOTE)
    return start, cut if cut > start else start + _MAX_CAPS_QUOTE


def _caps_spans(clean: str, rules: ObjectivityRules) -> Iterator[tuple[int, int]]:
    flagged = False
    for sentence in _SENTENCE.finditer(clean):
        tokens = _tokens(clean, sentence.start(), sentence.end())
        if _is_shouting(tokens, rules):
            flagged = True
            run = _loudest_run(tokens) or (tokens[0].start, tokens[-1].end)
            yield _shorten(clean, *run)
    if not flagged:
        # Many short shouted sentences ("REFUND NOW. THIS IS WRONG.") add up.
        tokens = _tokens(clean, 0, len(clean))
        if _is_shouting(tokens, rules):
            run = _loudest_run(tokens) or (tokens[0].start, tokens[-1].end)
            yield _shorten(clean, *run)


def _exclamation_spans(clean: str, rules: ObjectivityRules) -> Iterator[tuple[int, int]]:
    pattern = re.compile(f"[!！]{{{rules.max_exclamations + 1},}}")
    for match in pattern.finditer(clean):
        # Quote the few words of the clause before the run, so the user sees what is meant.
        start = match.start()
        sentence_start = max(clean.rfind(mark, 0, start) for mark in _CLAUSE_MARKS) + 1
        words = list(re.finditer(r"\S+", clean[sentence_start:start]))
        words = words[-_EXCLAMATION_CONTEXT_WORDS:]
        while len(words) > 1 and start - (sentence_start + words[0].start()) > _CONTEXT_CHARS:
            words.pop(0)
        if words:
            # One long "word" is Chinese or Japanese without spaces: quote its tail.
            start = max(sentence_start + words[0].start(), start - _CONTEXT_CHARS)
        yield start, match.end()


def _without_invisible(text: str) -> tuple[str, Sequence[int]]:
    if not INVISIBLE.search(text):
        return text, range(len(text))
    kept = [(index, char) for index, char in enumerate(text) if not INVISIBLE.match(char)]
    return "".join(char for _, char in kept), [index for index, _ in kept]


def _shouting(text: str, rules: ObjectivityRules) -> Iterator[tuple[int, int]]:
    clean, origin = _without_invisible(text)
    spans = [*_caps_spans(clean, rules), *_exclamation_spans(clean, rules)]
    for start, end in spans:
        yield origin[start], origin[end - 1] + 1


# --- the linter --------------------------------------------------------------------------------


_DEFAULT_RULES = ObjectivityRules()


def lint_description(
    text: str, lexicons: Sequence[Lexicon], rules: ObjectivityRules = _DEFAULT_RULES
) -> tuple[Finding, ...]:
    """Find what keeps a dispute description from being factual and impartial.

    Args:
        text: The description as the user wrote it.
        lexicons: Word lists to apply, usually every language the bot ships (people mix
            languages, and a Chinese insult in an English text is still an insult).
        rules: The operator's settings.

    Returns:
        Findings ordered by where they start in ``text``, one per distinct rule and quote;
        empty when the description is fine.
    """
    folded: Folded = fold(text)
    found: list[tuple[int, int, str]] = []
    for rule, start, end in _term_spans(_deobfuscate(folded.folded), lexicons):
        found.append((*folded.span(start, end), rule))
    for rule, start, end in _private_spans(folded.folded):
        found.append((*folded.span(start, end), rule))
    found.extend((start, end, "shouting") for start, end in _shouting(text, rules))
    found.sort(key=lambda item: (item[0], RULES.index(item[2]), -item[1]))
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for start, end, rule in found:
        quote = text[start:end]
        if (rule, quote) in seen:
            continue
        seen.add((rule, quote))
        findings.append(Finding(rule=rule, quote=quote, blocking=rule in rules.blocking))
    return tuple(findings)
