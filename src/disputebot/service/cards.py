"""What staff see: the case card, queue pages, the roster and dead letters, as ``Say`` values.

Pure rendering over store results; the buttons a card offers are the actions the viewer's role
may take on the case now (``cases.lifecycle``), and the server checks them again on every press.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from disputebot.cases import appeals, lifecycle
from disputebot.cases.lifecycle import Action, ActorRole
from disputebot.cases.records import CaseEvent, CaseRecord, CaseSummary, QueueFilter, TrackRecord
from disputebot.engine.effects import N_, Button, Media, Msg, Say
from disputebot.engine.prompts import account_value, when
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey, OutboxItem, Role
from disputebot.service.replies import STATUS_LABELS
from disputebot.service.review import open_button

if TYPE_CHECKING:
    from disputebot.service.addons import CardPart

TRAIL_LINES = 12
PAGE = 8

# Actions offered on a card, with their button label and the verb the button carries.
_ACTION_BUTTONS: dict[Action, tuple[str, str]] = {
    Action.TAKE: (N_("staff.button.take"), "take"),
    Action.ASSIGN: (N_("staff.button.assign"), "asg"),
    Action.ASK_INFO: (N_("staff.button.ask"), "ask"),
    Action.UPHOLD: (N_("staff.button.uphold"), "up"),
    Action.REJECT: (N_("staff.button.reject"), "rj"),
    Action.ESCALATE: (N_("staff.button.escalate"), "es"),
    Action.WITHDRAW: (N_("staff.button.withdraw"), "wd"),
    Action.REOPEN: (N_("staff.button.reopen"), "ro"),
    Action.CLOSE: (N_("staff.button.close"), "cl"),
    Action.NOTE: (N_("staff.button.note"), "nt"),
    Action.CONFIRM: (N_("staff.button.confirm_appeal"), "cf"),
    Action.REVERSE: (N_("staff.button.reverse_appeal"), "rv"),
}
VERBS: dict[str, Action] = {verb: action for action, (_, verb) in _ACTION_BUTTONS.items()}
ROLE_LABELS = {Role.REVIEWER: N_("staff.role.reviewer"), Role.ADMIN: N_("staff.role.admin")}
_OUTCOME_LABELS = {
    "upheld": N_("case.status.upheld"),
    "rejected": N_("case.status.rejected"),
    "escalated": N_("case.status.escalated"),
    "withdrawn": N_("case.status.withdrawn"),
    "merged": N_("case.status.merged"),
}


def status_label(status: Any) -> Msg:
    return Msg(STATUS_LABELS[status])


def case_card(
    case: CaseRecord,
    *,
    category: Msg,
    track: TrackRecord,
    others: Sequence[CaseSummary],
    decision: Sequence[Msg],
    viewer: ChatKey,
    role: ActorRole,
    parts: Sequence[CardPart] = (),
    conflicts: Collection[str] = (),
) -> Say:
    """The card: facts, the reporter's record, other cases against the account, the trail.
    ``parts`` are the fairness features' banners, lines and buttons (``service.addons``);
    ``conflicts``: whether the viewer has a stake in the case (``service.review.conflicts``)."""
    text = [
        Msg("card.title", {"case_id": case.public_id, "status": status_label(case.status)}),
        *(m for part in parts for m in part.banner),
        Msg(
            "card.facts",
            {
                "category": category,
                "account": account_value(case.account),
                "filed": when(case.created_at),
                "updated": when(case.updated_at),
                "assignee": case.assignee or "-",
            },
        ),
        Msg("card.description", {"text": case.description}),
    ]
    if case.evidence:
        listing = "\n".join(
            f"{i}. {f.name} — {f.mime or '?'} — {(f.sha256 or '-')[:16]}"
            for i, f in enumerate(case.evidence, 1)
        )
        text.append(Msg("card.evidence", {"count": len(case.evidence), "list": listing}))
    else:
        text.append(Msg("card.evidence.none"))
    text.append(
        Msg(
            "card.track",
            {
                "filed": track.filed,
                "upheld": track.upheld,
                "rejected": track.rejected,
                "false": track.rejected_false,
            },
        )
    )
    if others:
        text.append(Msg("card.others", {"count": len(others)}))
        text += [
            Msg(
                "card.others.line",
                {
                    "case_id": o.public_id,
                    "status": status_label(o.status),
                    "filed": when(o.created_at),
                },
            )
            for o in others
        ]
    else:
        text.append(Msg("card.others.none"))
    text += [m for part in parts for m in part.lines]
    text += decision
    text += trail(case.events)
    rows = action_rows(case, viewer=viewer, role=role, conflicts=conflicts)
    extra = tuple(row for part in parts for row in part.rows)
    return Say(tuple(text), extra + rows)


def trail(events: Sequence[CaseEvent]) -> list[Msg]:
    shown = list(events)[-TRAIL_LINES:]
    lines = [Msg("card.trail", {"count": len(events), "shown": len(shown)})]
    for event in shown:
        moved = (
            Msg(
                "card.trail.move",
                {
                    "from": status_label(event.from_status) if event.from_status else "-",
                    "to": status_label(event.to_status),
                },
            )
            if event.to_status is not None
            else Msg("card.trail.stay")
        )
        lines.append(
            Msg(
                "card.trail.line",
                {
                    "at": when(event.at),
                    "actor": event.actor,
                    "kind": event.kind,
                    "move": moved,
                    "note": event.note[:300] if event.note else "-",
                },
            )
        )
    return lines


def action_rows(
    case: CaseRecord, *, viewer: ChatKey, role: ActorRole, conflicts: Collection[str] = ()
) -> tuple[tuple[Button, ...], ...]:
    decider, decided = lifecycle.under_appeal(case.decision)
    allowed = lifecycle.allowed_actions(
        case.status,
        role,
        actor=viewer.user_ref,
        assignee=case.assignee,
        decider=decider,
        decided=decided,
        deciders=appeals.deciders(case.decision),
        conflicts=conflicts,
    )
    buttons = [
        Button(Msg(_ACTION_BUTTONS[a][0]), f"sf:{_ACTION_BUTTONS[a][1]}:{case.public_id}")
        for a in allowed
        if a in _ACTION_BUTTONS
    ]
    if case.evidence:
        buttons.append(Button(Msg("staff.button.evidence"), f"sf:ev:{case.public_id}"))
    buttons.append(Button(Msg("staff.button.refresh"), f"sf:card:{case.public_id}"))
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def evidence_media(case: CaseRecord) -> Say:
    media = tuple(
        Media(kind=_kind(f), name=f.name, file_id=f.file_id, path=f.stored_path)
        for f in case.evidence
        if f.file_id or f.stored_path
    )
    if not media:
        return Say((Msg("card.evidence.none"),))
    return Say(
        (Msg("card.evidence.sent", {"case_id": case.public_id, "count": len(media)}),), media=media
    )


def _kind(item: EvidenceFile) -> Literal["photo", "document"]:
    """How to send a file back. A ``file_id`` only works as the kind it arrived as: Telegram
    photos come without a declared type, documents with one. A file from a path is shown as
    what its bytes are."""
    if item.file_id:
        return "photo" if item.declared_mime is None else "document"
    return (
        "photo" if (item.mime or "") in {"image/jpeg", "image/png", "image/webp"} else "document"
    )


def decision_lines(case: CaseRecord, labels: Any) -> list[Msg]:
    """The recorded decision; ``labels(flow, step, value)`` gives an option's label."""
    decision = case.decision
    outcome = decision.get("outcome")
    if not outcome or outcome not in _OUTCOME_LABELS:
        return []
    lines = [Msg("card.decision", {"outcome": Msg(_OUTCOME_LABELS[outcome])})]
    lines += [
        Msg("notify.measure", {"label": labels("uphold", "measures", str(measure))})
        for measure in decision.get("measures", ())
    ]
    if decision.get("reason"):
        reason = (
            Msg("sor.reason.reversed_on_appeal")
            if decision["reason"] == appeals.REVERSED_REASON
            else labels("reject", "reason", str(decision["reason"]))
        )
        lines.append(Msg("card.decision.reason", {"reason": reason}))
    if decision.get("department"):
        department = labels("escalate", "department", str(decision["department"]))
        lines.append(Msg("card.decision.department", {"department": department}))
    if decision.get("note"):
        lines.append(Msg("card.decision.note", {"note": str(decision["note"])}))
    return lines


def queue_page(
    page: Sequence[CaseSummary],
    total: int,
    *,
    offset: int,
    code: str,
    now: datetime,
    categories: Any,
) -> Say:
    """One page of the queue; ``code`` is the filter, packed for the paging buttons."""
    if not page:
        return Say((Msg("queue.empty"),))
    text = [Msg("queue.title", {"total": total, "first": offset + 1, "last": offset + len(page)})]
    text += [
        Msg(
            "queue.line",
            {
                "case_id": item.public_id,
                "status": status_label(item.status),
                "category": categories(item.category),
                "age": max(0, (now - item.created_at).days),
                "assignee": item.assignee or "-",
            },
        )
        for item in page
    ]
    opens = [open_button(item.public_id) for item in page]
    rows = [tuple(opens[i : i + 2]) for i in range(0, len(opens), 2)]
    nav: list[Button] = []
    if offset > 0:
        nav.append(Button(Msg("queue.previous"), f"sf:q:{max(0, offset - PAGE)}:{code}"))
    if offset + len(page) < total:
        nav.append(Button(Msg("queue.next"), f"sf:q:{offset + PAGE}:{code}"))
    if nav:
        rows.append(tuple(nav))
    return Say(tuple(text), tuple(rows))


def roster(members: Sequence[tuple[ChatKey, Role, bool]]) -> Say:
    """``members``: chat, role, and whether the role comes from DISPUTEBOT_ADMIN_IDS."""
    text = [Msg("staff.list.title", {"count": len(members)})]
    for chat, role, configured in members:
        key = N_("staff.list.configured") if configured else N_("staff.list.line")
        text.append(Msg(key, {"who": chat.user_ref, "role": Msg(ROLE_LABELS[role])}))
    return Say(tuple(text))


def dead_letters(items: Sequence[OutboxItem]) -> Say:
    if not items:
        return Say((Msg("staff.dead.none"),))
    text = [Msg("staff.dead.title", {"count": len(items)})]
    text += [
        Msg(
            "staff.dead.line",
            {
                "id": item.id,
                "chat": item.chat.user_ref,
                "case_id": item.case_id or "-",
                "attempts": item.attempts,
                "error": (item.last_error or "-")[:200],
                "at": when(item.created_at),
            },
        )
        for item in items
    ]
    return Say(tuple(text))


def pack_filter(
    where: QueueFilter,
    *,
    mine_ref: str | None,
    statuses: Sequence[Any],
    categories: Sequence[str],
) -> str:
    """The filter in a few bytes for a paging button (callback data is 64 bytes at most)."""
    status_code = "".join(
        str(statuses.index(s)) for s in sorted(where.statuses, key=statuses.index)
    )
    age = ""
    if where.older_than is not None:
        age = str(int(where.older_than.timestamp()))
    who = (
        "u" if where.unassigned else ("m" if where.assignee and where.assignee == mine_ref else "")
    )
    if where.assignee and who == "":
        who = "@" + where.assignee.rpartition(":")[2]
    # The category by its place in the report flow: a value may be 32 characters long.
    category = str(categories.index(where.category)) if where.category in categories else ""
    return ".".join((status_code, category, age, who))
