"""Appeals on a decision (DSA Art. 20), as changes to the decision a case records.

A case's ``decision`` mapping holds the standing decision (``outcome``, ``measures``,
``duration``, ``reason``, ``department``, ``note``, ``decided_by``, ``decided_at``) and, under
``appeals``, every appeal made against the case's decisions, oldest first::

    {"side": "reporter" | "party", "by": "<chat ref>", "at": "<iso time>", "reason": "…",
     "against": "upheld" | "rejected", "ruling": None | "confirmed" | "reversed",
     "ruled_by": "<chat ref>", "ruled_at": "<iso time>", "grounds": "…"}

Each side may appeal a case once. A reversal of an upheld decision rejects the report and
records the measures it lifts under ``lifted_measures``; a reversal of a rejection leaves no
outcome (the case is reviewed again and decided anew, keeping the appeals).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from disputebot.cases.records import Audience

__all__ = [
    "REVERSED_REASON",
    "appeal_deadline",
    "appealed",
    "can_appeal",
    "carry_appeals",
    "open_appeal",
    "ruled",
]

# The rejection reason recorded when an appeal reverses an upheld decision.
REVERSED_REASON = "reversed_on_appeal"
_APPEALABLE = frozenset({"upheld", "rejected"})


def appeal_deadline(decision: Mapping[str, Any], window: timedelta) -> datetime | None:
    """Until when the standing decision may be appealed (``None``: nothing to appeal)."""
    if decision.get("outcome") not in _APPEALABLE or not decision.get("decided_at"):
        return None
    return datetime.fromisoformat(str(decision["decided_at"])) + window


def can_appeal(
    decision: Mapping[str, Any], side: Audience, now: datetime, window: timedelta
) -> str | None:
    """Why ``side`` may not appeal now (``"nothing"``, ``"late"``, ``"again"``), or ``None``."""
    deadline = appeal_deadline(decision, window)
    if deadline is None:
        return "nothing"
    if now > deadline:
        return "late"
    if any(a.get("side") == side.value for a in decision.get("appeals", ())):
        return "again"
    return None


def open_appeal(decision: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The appeal awaiting a ruling, if any."""
    pending = [a for a in decision.get("appeals", ()) if a.get("ruling") is None]
    return pending[-1] if pending else None


def appealed(
    decision: Mapping[str, Any], side: Audience, by: str, at: datetime, reason: str
) -> dict[str, Any]:
    """The decision with a new appeal from ``side`` recorded on it."""
    appeal = {
        "side": side.value,
        "by": by,
        "at": at.isoformat(),
        "reason": reason,
        "against": str(decision.get("outcome", "")),
        "ruling": None,
    }
    return {**decision, "appeals": [*decision.get("appeals", ()), appeal]}


def ruled(
    decision: Mapping[str, Any], *, reverse: bool, by: str, at: datetime, grounds: str
) -> dict[str, Any]:
    """The decision after the pending appeal is ruled on (confirmed, or reversed)."""
    appeals = [dict(a) for a in decision.get("appeals", ())]
    for appeal in reversed(appeals):
        if appeal.get("ruling") is None:
            appeal.update(
                ruling="reversed" if reverse else "confirmed",
                ruled_by=by,
                ruled_at=at.isoformat(),
                grounds=grounds,
            )
            break
    if not reverse:
        return {**decision, "appeals": appeals}
    previous = {k: v for k, v in decision.items() if k != "appeals"}
    if decision.get("outcome") == "upheld":
        return {
            "outcome": "rejected",
            "reason": REVERSED_REASON,
            "note": grounds,
            "decided_by": by,
            "decided_at": at.isoformat(),
            "lifted_measures": list(decision.get("measures", ())),
            "previous": previous,
            "appeals": appeals,
        }
    return {"previous": previous, "appeals": appeals}


def carry_appeals(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A new decision keeps the case's appeal history (each side appeals a case once)."""
    if not old.get("appeals"):
        return dict(new)
    return {**new, "appeals": list(old["appeals"])}
