"""Appeals on a decision (DSA Art. 20), as changes to the decision a case records.

A case's ``decision`` mapping holds the standing decision (``outcome``, ``measures``,
``duration``, ``reason``, ``department``, ``note``, ``decided_by``, ``decided_at``) and, under
``appeals``, every appeal made against the case's decisions, oldest first::

    {"side": "reporter" | "party", "by": "<chat ref>", "at": "<iso time>", "reason": "…",
     "against": "upheld" | "rejected", "ruling": None | "confirmed" | "reversed",
     "ruled_by": "<chat ref>", "ruled_at": "<iso time>", "grounds": "…"}

Each side may appeal a decision once: ``appeals_since`` is the index in ``appeals`` of the first
appeal that concerns the standing decision (absent: 0). A ruling is final for the side that
appealed: a confirmed decision stands as it was, and the rejection a reversal of an upheld
decision records counts the reversed appeal as its own. A reversal of an upheld decision
rejects the report and records the measures it lifts under ``lifted_measures``; a reversal of a
rejection leaves no outcome (the case is reviewed again and decided anew, keeping the appeals);
that new decision may be appealed again by either side.

Once a case has been appealed, ``deciders`` lists everyone who took one of its earlier decisions
or ruled on one of its appeals: none of them may take, decide or rule on it again (see
``deciders`` and ``cases.lifecycle.check``), so a decision cannot go back to the one it was
taken from.
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
    "deciders",
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
    if any(a.get("side") == side.value for a in _against_standing(decision)):
        return "again"
    return None


def _against_standing(decision: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The appeals made against the standing decision (or ruled to give it)."""
    since = decision.get("appeals_since", 0)
    start = since if isinstance(since, int) and since >= 0 else 0
    return list(decision.get("appeals", ()))[start:]


def deciders(decision: Mapping[str, Any]) -> frozenset[str]:
    """Everyone who has decided the case or ruled on an appeal against it, once it has been
    appealed (before that, nobody is barred): who may not take, decide or rule on it again."""
    listed = decision.get("appeals")
    if not listed:
        return frozenset()
    return frozenset(_decider_list(decision))


def _decider_list(decision: Mapping[str, Any], *more: str) -> list[str]:
    """``deciders`` in the order they acted, plus ``more``."""
    refs = [str(r) for r in decision.get("deciders", ()) if r]
    if decision.get("decided_by"):
        refs.append(str(decision["decided_by"]))
    refs += [str(a["ruled_by"]) for a in decision.get("appeals", ()) if a.get("ruled_by")]
    refs += [r for r in more if r]
    return list(dict.fromkeys(refs))


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
    ruled_index = len(appeals)
    for index in range(len(appeals) - 1, -1, -1):
        if appeals[index].get("ruling") is None:
            appeals[index].update(
                ruling="reversed" if reverse else "confirmed",
                ruled_by=by,
                ruled_at=at.isoformat(),
                grounds=grounds,
            )
            ruled_index = index
            break
    who = _decider_list(decision, by)
    if not reverse:
        return {**decision, "appeals": appeals, "deciders": who}
    previous = {k: v for k, v in decision.items() if k not in {"appeals", "deciders"}}
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
            "deciders": who,
            # The reversal is the ruling on that appeal: final for the side that made it.
            "appeals_since": ruled_index,
        }
    return {"previous": previous, "appeals": appeals, "deciders": who}


def carry_appeals(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A new decision keeps the case's appeal history and everyone who decided or ruled on it
    before; no appeal has been made against the new decision yet."""
    if not old.get("appeals"):
        return dict(new)
    appeals = list(old["appeals"])
    return {
        **new,
        "appeals": appeals,
        "deciders": _decider_list(old),
        "appeals_since": len(appeals),
    }
