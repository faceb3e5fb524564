"""Statements of reasons as messages: a body from ``cases.reasons`` rendered to ``Msg`` lines.

One template per outcome and audience opens the statement (``sor.upheld.party``, …); the lines
after it are shared: the facts relied on, the ground, the measures with their scope and
duration (or those lifted), how to appeal and until when, and the redress beyond this bot.
Option values are shown by their labels in the decision flows (``labels(flow, step, value)``,
as ``CaseActions.label`` gives them), so an operator's wording applies here too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from disputebot.cases.appeals import REVERSED_REASON
from disputebot.engine.effects import N_, Button, Msg, Say
from disputebot.engine.prompts import account_value, when
from disputebot.service.replies import STATUS_LABELS

__all__ = ["APPEAL_PREFIX", "HEADS", "Labels", "appeal_button", "render_statement"]

Labels = Callable[[str, str, str], Msg]
APPEAL_PREFIX = "ap:"

# The template that opens a statement, by outcome and audience.
HEADS: Mapping[tuple[str, str], str] = {
    ("upheld", "reporter"): N_("sor.upheld.reporter"),
    ("upheld", "party"): N_("sor.upheld.party"),
    ("rejected", "reporter"): N_("sor.rejected.reporter"),
    ("rejected", "party"): N_("sor.rejected.party"),
    ("escalated", "reporter"): N_("sor.escalated.reporter"),
    ("escalated", "party"): N_("sor.escalated.party"),
    ("appeal_confirmed", "reporter"): N_("sor.appeal_confirmed.reporter"),
    ("appeal_confirmed", "party"): N_("sor.appeal_confirmed.party"),
    ("appeal_reversed", "reporter"): N_("sor.appeal_reversed.reporter"),
    ("appeal_reversed", "party"): N_("sor.appeal_reversed.party"),
}
_RULINGS = {"confirmed": N_("sor.ground.confirmed"), "reversed": N_("sor.ground.reversed")}
_SIDES = {"reporter": N_("sor.side.reporter"), "party": N_("sor.side.party")}
_CLOSED = {"late": N_("sor.appeal.late"), "again": N_("sor.appeal.again")}


def appeal_button(case_id: str) -> Button:
    return Button(Msg("sor.appeal.button"), f"{APPEAL_PREFIX}{case_id}")


def render_statement(body: Mapping[str, Any], labels: Labels) -> Say:
    """The statement as one message, with an Appeal button while this side may appeal."""
    case_id = str(body["case_id"])
    outcome, audience = str(body["outcome"]), str(body["audience"])
    account = _account(body.get("scope") or {})
    text = [
        Msg(
            HEADS[(outcome, audience)],
            {"case_id": case_id, "at": _when(body.get("decided_at")), "account": account},
        ),
        _facts(str(body.get("facts") or "")),
        *_ground(body.get("ground") or {}, labels),
    ]
    if body.get("result") == "in_review":
        text.append(Msg("sor.reopened", {"case_id": case_id}))
    text += _measures(body, labels, account)
    appeal = body.get("appeal") or {}
    text += _appeal(appeal, outcome)
    text += [Msg("sor.human"), Msg("sor.redress")]
    buttons = ((appeal_button(case_id),),) if appeal.get("open") else ()
    return Say(tuple(text), buttons)


def _account(scope: Mapping[str, Any]) -> Msg | str:
    """The account the measures apply to, as the report flow shows it (its key if the stored
    account cannot be read back)."""
    try:
        return account_value(scope["account"])
    except (KeyError, TypeError, ValueError):
        return str(scope.get("account_key") or "-")


def _facts(facts: str) -> Msg:
    return Msg("sor.facts", {"facts": facts}) if facts else Msg("sor.facts.none")


def _ground(ground: Mapping[str, Any], labels: Labels) -> list[Msg]:
    lines: list[Msg] = []
    if ground.get("ruling") in _RULINGS:
        against = ground.get("against")
        lines.append(
            Msg(
                _RULINGS[str(ground["ruling"])],
                {
                    "side": Msg(_SIDES.get(str(ground.get("side")), N_("sor.side.reporter"))),
                    "against": _status(against),
                },
            )
        )
    if ground.get("rule"):
        rule = labels("report", "category", str(ground["rule"]))
        lines.append(Msg("sor.ground.rule", {"rule": rule}))
    if ground.get("reason"):
        reason = str(ground["reason"])
        label = (
            Msg("sor.reason.reversed_on_appeal")
            if reason == REVERSED_REASON
            else labels("reject", "reason", reason)
        )
        lines.append(Msg("sor.ground.reason", {"reason": label}))
    if ground.get("department"):
        department = labels("escalate", "department", str(ground["department"]))
        lines.append(Msg("sor.ground.department", {"department": department}))
    return lines


def _status(value: Any) -> Msg | str:
    for status, key in STATUS_LABELS.items():
        if status.value == value:
            return Msg(key)
    return str(value or "-")


def _measures(body: Mapping[str, Any], labels: Labels, account: Msg | str) -> list[Msg]:
    lines: list[Msg] = []
    measures = [str(m) for m in body.get("measures", ())]
    if measures:
        lines.append(Msg("sor.measures", {"account": account}))
        lines += [Msg("sor.measure", {"label": labels("uphold", "measures", m)}) for m in measures]
        duration = str(body.get("duration") or "")
        if duration:
            lines.append(Msg("sor.duration", {"duration": labels("uphold", "duration", duration)}))
    lifted = [str(m) for m in body.get("lifted_measures", ())]
    if lifted:
        lines.append(Msg("sor.lifted", {"account": account}))
        lines += [Msg("sor.measure", {"label": labels("uphold", "measures", m)}) for m in lifted]
    return lines


def _appeal(appeal: Mapping[str, Any], outcome: str) -> list[Msg]:
    deadline = _when(appeal.get("deadline"))
    if appeal.get("open"):
        return [Msg("sor.appeal.how", {"deadline": deadline, "command": appeal["command"]})]
    why = str(appeal.get("why") or "")
    if why in _CLOSED:
        return [Msg(_CLOSED[why], {"deadline": deadline})]
    if outcome == "escalated":
        return [Msg("sor.appeal.not_final")]
    return []


def _when(value: Any) -> str:
    if not value:
        return "-"
    try:
        return when(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)
