"""Button data: ``<nonce>:<verb>[:<value>]``, short and checked when it comes back.

The nonce ties a button to the prompt that showed it, so a button from an earlier step or an
old message is recognised as stale instead of being applied out of context. Button data comes
from the client and is untrusted: anything that does not parse is simply stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Verbs: o=option, t=toggle an option of a multiple choice, go=continue, d=done (files or a
# multiple choice), x=clear files, k=keep text despite warnings, sk=skip an optional text,
# s=submit, e=edit a step, c=cancel, cy/cn=confirm or keep when cancelling.
VERBS = frozenset({"o", "t", "go", "d", "x", "k", "sk", "s", "e", "c", "cy", "cn"})
_PATTERN = re.compile(r"^(\d{1,9}):([a-z]{1,2})(?::([a-z0-9_]{1,32}))?$")


@dataclass(frozen=True, slots=True)
class Press:
    nonce: int
    verb: str
    value: str = ""


def encode(nonce: int, verb: str, value: str = "") -> str:
    return f"{nonce}:{verb}:{value}" if value else f"{nonce}:{verb}"


def decode(data: str) -> Press | None:
    match = _PATTERN.match(data)
    if match is None or match.group(2) not in VERBS:
        return None
    return Press(int(match.group(1)), match.group(2), match.group(3) or "")
