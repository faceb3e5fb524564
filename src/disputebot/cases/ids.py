"""Public case ids: short, unambiguous to read aloud, not guessable in sequence."""

from __future__ import annotations

import secrets
from collections.abc import Callable

# Crockford's base32: no I, L, O or U, so ids survive being read out over the phone.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "DR-"
# Letters people type for the digits they resemble.
_READ_AS = str.maketrans("ILO", "110")


def new_case_id(random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """``DR-`` and eight characters (40 random bits)."""
    value = int.from_bytes(random_bytes(5), "big")
    chars = [_ALPHABET[(value >> shift) & 31] for shift in range(35, -1, -5)]
    return PREFIX + "".join(chars)


def normalize_case_id(text: str) -> str | None:
    """Accept ``dr-7k3m9q2a``, ``DR7K3M9Q2A``, ``DR-7K3M-9Q2A``; ``None`` if not an id."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(_READ_AS)
    if not cleaned.startswith("DR"):
        return None
    body = cleaned[2:]
    if len(body) != 8 or any(c not in _ALPHABET for c in body):
        return None
    return PREFIX + body
