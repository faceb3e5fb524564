"""Statements of reasons (DSA Art. 17) as data: what one side of a case is told of a decision.

``statement_body`` builds the JSON-able body the service keeps on the case (``Statement.body``)
and renders per locale (``service.statements``). A body holds::

    {"case_id": "DR-…", "kind": "decision" | "appeal", "audience": "reporter" | "party",
     "outcome": "upheld" | "rejected" | "escalated" | "appeal_confirmed" | "appeal_reversed",
     "result": "upheld" | "rejected" | "escalated" | "in_review",   # where the case stands now
     "decided_at": "<iso>", "category": "<category>",
     "facts": "<the facts relied on: the decision's note, or the ruling's grounds>",
     "ground": {"rule": "<category>"} | {"reason": "<reason id>"} | {"department": "<id>"}
               | {"ruling": "confirmed" | "reversed", "against": "upheld" | "rejected",
                  "side": "reporter" | "party", + the standing decision's rule or reason},
     "measures": […], "duration": "<duration id>", "lifted_measures": […],
     "scope": {"account_key": "…", "account": {…}},
     "appeal": {"open": bool, "why": None | "nothing" | "late" | "again",
                "deadline": "<iso>" | None, "command": "/appeal DR-…"},
     "automated": False}

The reported party's body never holds the reporter's identity: it names no reporter, carries
no appeal reason (the appellant's own words), and any free text staff wrote is scrubbed of the
reporter ids it is given (``hide``) before it is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from disputebot.cases import appeals
from disputebot.cases.records import Audience, CaseRecord

__all__ = [
    "APPEAL_OUTCOMES",
    "DECISION_OUTCOMES",
    "REDACTED",
    "appeal_command",
    "last_ruling",
    "redact",
    "statement_body",
]

DECISION_OUTCOMES = frozenset({"upheld", "rejected", "escalated"})
APPEAL_OUTCOMES = frozenset({"appeal_confirmed", "appeal_reversed"})
REDACTED = "[…]"


def appeal_command(case_id: str) -> str:
    return f"/appeal {case_id}"


def last_ruling(decision: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The most recent appeal that has been ruled on."""
    ruled = [a for a in decision.get("appeals", ()) if a.get("ruling")]
    return ruled[-1] if ruled else None


def statement_body(
    case: CaseRecord,
    audience: Audience,
    *,
    kind: str,
    now: datetime,
    window: timedelta,
    hide: Iterable[str] = (),
) -> dict[str, Any]:
    """The statement of reasons for ``audience`` on ``case``'s recorded decision.

    ``kind`` is ``"decision"`` (the decision just taken) or ``"appeal"`` (the ruling just made
    on an appeal). ``hide`` are reporter ids that must not reach ``audience``: for the party,
    besides the case's own, the reporters of cases merged into this one; for one reporter, the
    other reporters. ``ValueError`` when the case records nothing of that kind to explain.
    """
    decision = case.decision
    body: dict[str, Any] = {
        "case_id": case.public_id,
        "kind": kind,
        "audience": audience.value,
        "category": case.category,
        "scope": {"account_key": case.account_key, "account": dict(case.account)},
        "automated": False,
    }
    if kind == "decision":
        body |= _decision_part(decision, case.category)
    elif kind == "appeal":
        body |= _ruling_part(decision, case.category)
    else:
        msg = f"unknown statement kind {kind!r}"
        raise ValueError(msg)
    body["appeal"] = _appeal_route(case, audience, now, window)
    # The party never sees a reporter; a reporter never sees the other reporters in ``hide``.
    secrets = [case.reporter_id, *hide] if audience is Audience.PARTY else list(hide)
    return _scrubbed(body, secrets)


def _decision_part(decision: Mapping[str, Any], category: str) -> dict[str, Any]:
    outcome = str(decision.get("outcome", ""))
    if outcome not in DECISION_OUTCOMES:
        msg = f"no decision to explain (outcome {outcome!r})"
        raise ValueError(msg)
    return {
        "outcome": outcome,
        "result": outcome,
        "decided_at": decision.get("decided_at"),
        "facts": str(decision.get("note", "")),
        "ground": _ground(decision, category),
        "measures": [str(m) for m in decision.get("measures", ())],
        "duration": str(decision.get("duration", "")),
        "lifted_measures": [],
    }


def _ground(decision: Mapping[str, Any], category: str) -> dict[str, str]:
    outcome = decision.get("outcome")
    if outcome == "upheld":
        return {"rule": category}
    if outcome == "rejected":
        return {"reason": str(decision.get("reason", ""))}
    if outcome == "escalated":
        return {"department": str(decision.get("department", ""))}
    return {}


def _ruling_part(decision: Mapping[str, Any], category: str) -> dict[str, Any]:
    ruling = last_ruling(decision)
    if ruling is None:
        msg = "no ruling on an appeal to explain"
        raise ValueError(msg)
    reversed_ = ruling.get("ruling") == "reversed"
    outcome = str(decision.get("outcome", ""))
    standing = decision if outcome in DECISION_OUTCOMES else {}
    ground: dict[str, str] = {
        "ruling": str(ruling.get("ruling")),
        "against": str(ruling.get("against", "")),
        "side": str(ruling.get("side", "")),
        **_ground(standing, category),
    }
    return {
        "outcome": "appeal_reversed" if reversed_ else "appeal_confirmed",
        "result": outcome if standing else "in_review",
        "decided_at": ruling.get("ruled_at"),
        "facts": str(ruling.get("grounds", "")),
        "ground": ground,
        # What stands after the ruling: confirmed measures stay; lifted ones are gone.
        "measures": [str(m) for m in standing.get("measures", ())],
        "duration": str(standing.get("duration", "")),
        "lifted_measures": [str(m) for m in decision.get("lifted_measures", ())],
    }


def _appeal_route(
    case: CaseRecord, audience: Audience, now: datetime, window: timedelta
) -> dict[str, Any]:
    deadline = appeals.appeal_deadline(case.decision, window)
    why = appeals.can_appeal(case.decision, audience, now, window)
    return {
        "open": why is None,
        "why": why,
        "deadline": deadline.isoformat() if deadline is not None else None,
        "command": appeal_command(case.public_id),
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every reporter id in ``secrets`` (``telegram:123``, and the bare ``123``)
    replaced, as in the party's statements: for other free text staff write for the party."""
    pattern = _pattern(secrets)
    return text if pattern is None else pattern.sub(REDACTED, text)


def _pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    words: set[str] = set()
    for ref in secrets:
        if ref:
            words.add(ref)
            raw = ref.rpartition(":")[2]
            if raw:
                words.add(raw)
    if not words:
        return None
    return re.compile(
        "|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in sorted(words, key=len, reverse=True))
    )


def _scrubbed(body: dict[str, Any], secrets: Iterable[str]) -> dict[str, Any]:
    """``body`` with every reporter id (``telegram:123``, and the bare ``123``) in its text
    replaced; the case id and the account are the case's own and left as they are."""
    pattern = _pattern(secrets)
    if pattern is None:
        return body
    kept = {"case_id", "scope"}
    return {k: v if k in kept else _scrub(v, pattern) for k, v in body.items()}


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {k: _scrub(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, pattern) for v in value]
    return value
