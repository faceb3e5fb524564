"""The messages the engine shows: step prompts, the summary, refusals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from disputebot.engine import buttons
from disputebot.engine.answers import evidence_list, fingerprint
from disputebot.engine.effects import N_, Button, Expects, Msg, Say
from disputebot.engine.spec import (
    AccountStep,
    ChoiceStep,
    ConfirmStep,
    FilesStep,
    Flow,
    MessageStep,
    MultiChoiceStep,
    Step,
    TextStep,
)
from disputebot.engine.state import Session
from disputebot.policy.abuse import AbuseRefusal
from disputebot.policy.accounts import account_from_json


def expects(step: Step) -> Expects | None:
    if isinstance(step, ChoiceStep | MultiChoiceStep):
        return "choice"
    if isinstance(step, AccountStep | TextStep):
        return "text"
    if isinstance(step, FilesStep):
        return "files"
    if isinstance(step, ConfirmStep):
        return "confirm"
    return "choice" if step.button_label else None


def prompt(flow: Flow, session: Session, step: Step, *lead: Msg) -> Say:
    """The step's question with its buttons, after any ``lead`` paragraphs."""
    n = session.nonce
    text: list[Msg] = [*lead]
    rows: list[tuple[Button, ...]] = []
    if isinstance(step, ConfirmStep):
        text += summary(flow, session)
        text.append(Msg(step.prompt))
        if step.action == "file_case" and step.attestation is not None:
            text.append(Msg(step.attestation))
        rows.append((Button(Msg(step.submit_label), buttons.encode(n, "s")),))
        edits = [
            Button(
                Msg(step.edit_label, {"label": Msg(s.summary_label or s.prompt)}),
                buttons.encode(n, "e", s.id),
            )
            for s in flow.input_steps()
        ]
        rows += [tuple(edits[i : i + 2]) for i in range(0, len(edits), 2)]
        rows.append((Button(Msg(step.cancel_label), buttons.encode(n, "c")),))
        return Say(tuple(text), tuple(rows), step.id, "confirm", len(lead))
    text.append(Msg(step.prompt))
    if isinstance(step, ChoiceStep):
        rows += [(Button(Msg(o.label), buttons.encode(n, "o", o.value)),) for o in step.options]
    elif isinstance(step, MultiChoiceStep):
        chosen = set(selection(session, step))
        rows += [
            (Button(_toggle_label(o.label, o.value in chosen), buttons.encode(n, "t", o.value)),)
            for o in step.options
        ]
        rows.append((Button(Msg(step.done_label), buttons.encode(n, "d")),))
    elif isinstance(step, MessageStep) and step.button_label:
        rows.append((Button(Msg(step.button_label), buttons.encode(n, "go")),))
    elif isinstance(step, AccountStep | TextStep):
        if step.id in session.answers:
            text.append(Msg("engine.current_answer", {"value": _value(step, session.answers)}))
        if isinstance(step, TextStep) and step.skip_label:
            rows.append((Button(Msg(step.skip_label), buttons.encode(n, "sk")),))
    elif isinstance(step, FilesStep):
        files = evidence_list(session.answers.get(step.id))
        text.append(Msg("engine.files.limits", _file_limits(step)))
        if files:
            text.append(Msg("engine.files.count", {"count": len(files)}))
            rows.append(
                (
                    Button(Msg(step.done_label), buttons.encode(n, "d")),
                    Button(Msg(step.clear_label), buttons.encode(n, "x")),
                )
            )
    return Say(tuple(text), tuple(rows), step.id, expects(step), len(lead))


def selection(session: Session, step: MultiChoiceStep) -> list[str]:
    """The options chosen so far at ``step``, in option order.

    Toggles not yet accepted with "done" live in ``scratch["selection"]``; without them the
    accepted answer (when editing from the summary) is the starting point.
    """
    held = session.scratch.get("selection")
    if isinstance(held, Mapping) and held.get("step") == step.id:
        values = held.get("values", ())
    else:
        values = session.answers.get(step.id, ())
    chosen = set(values) if isinstance(values, list | tuple) else set()
    return [o.value for o in step.options if o.value in chosen]


def _toggle_label(label: str, chosen: bool) -> Msg:
    return Msg("engine.multichoice.selected", {"label": Msg(label)}) if chosen else Msg(label)


def _file_limits(step: FilesStep) -> dict[str, str | int]:
    return {
        "min": step.min_files,
        "max": step.max_files,
        "max_mb": max(1, step.max_bytes // (1024 * 1024)),
    }


def summary(flow: Flow, session: Session) -> list[Msg]:
    title = Msg("engine.summary.title", {"title": Msg(flow.title)})
    return [
        title,
        *(
            Msg(
                "engine.summary.line",
                {"label": Msg(s.summary_label or s.prompt), "value": _value(s, session.answers)},
            )
            for s in flow.input_steps()
        ),
    ]


def _value(step: Step, answers: Mapping[str, Any]) -> str | Msg:
    if step.id not in answers:
        return Msg("engine.summary.missing")
    value = answers[step.id]
    if isinstance(step, ChoiceStep):
        option = step.option(str(value))
        return Msg(option.label) if option else str(value)
    if isinstance(step, MultiChoiceStep):
        values = value if isinstance(value, list | tuple) else ()
        labels = [Msg(o.label) for o in step.options if o.value in values]
        return _joined(labels) if labels else Msg("engine.multichoice.none")
    if isinstance(step, TextStep) and value == "":
        return Msg("engine.text.skipped")
    if isinstance(step, AccountStep):
        return account_value(value)
    if isinstance(step, FilesStep):
        files = evidence_list(value)
        listing = "\n".join(
            f"{i}. {f.name} ({f.mime}, {_size(f.size)}, {fingerprint(f)})"
            for i, f in enumerate(files, 1)
        )
        return Msg("engine.summary.files", {"count": len(files), "list": listing})
    return str(value)


def _joined(items: list[Msg]) -> Msg:
    # A list of any length as nested pairs, so each language chooses its own separator.
    joined = items[-1]
    for item in reversed(items[:-1]):
        joined = Msg("engine.list.join", {"first": item, "rest": joined})
    return joined


def account_value(value: Mapping[str, Any]) -> Msg:
    account = account_from_json(value)
    if account.kind == "store":
        if account.item_id:
            return Msg(
                "engine.account.store_item",
                {"store_id": account.display, "item_id": account.item_id},
            )
        return Msg("engine.account.store", {"store_id": account.display})
    if account.item_id:
        return Msg(
            "engine.account.seller_item", {"name": account.display, "item_id": account.item_id}
        )
    return Msg("engine.account.seller", {"name": account.display})


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


ABUSE_MESSAGES = {
    "daily_limit": N_("policy.abuse.daily_limit"),
    "open_case": N_("policy.abuse.open_case"),
    "cooldown": N_("policy.abuse.cooldown"),
    "self_report": N_("policy.abuse.self_report"),
    "suspended": N_("policy.abuse.suspended"),
}


def abuse_refusal(refusal: AbuseRefusal) -> Msg:
    params: dict[str, str | int | Msg] = {"until": when(refusal.until)}
    if refusal.case_id:
        params["case_id"] = refusal.case_id
    return Msg(ABUSE_MESSAGES[refusal.code], params)
