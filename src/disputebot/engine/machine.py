"""The conversation state machine: ``handle(book, session, event, ctx) -> Outcome``.

Theory of operation. A session points at one step of one version of a flow. An event either
answers that step (accepted: the answer is stored, the session moves on and a new prompt is
shown), is refused (a localized reason and the same prompt again; the session is unchanged), or
is a navigation command: ``/back`` returns one step, ``/cancel`` asks before it drops the draft,
and from the summary any answer can be edited, after which the flow returns to the summary.
Buttons carry the nonce of the prompt that showed them, so a button pressed out of context is
recognised as stale. Submitting emits the confirm step's action: ``FileCase`` (after the abuse
checks) or ``Finish``; everything else is the service's business. The engine never does I/O:
the precaution checks it runs are pure, and the facts they need about the reporter come in
``Context``.

Flows nest. A flow started with ``outer`` (a staff decision dialog over a staff member's own
draft, a reporter's answer to a question over their report draft) runs on its own; when it
ends, submitted or cancelled, the chat is back in the outer session, at the step it left, with
a fresh nonce so that the outer prompt's old buttons stay stale. Nonces only grow across the
nesting, so no button of one flow is ever taken for a button of the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from disputebot.engine import buttons, prompts
from disputebot.engine.answers import evidence_list, evidence_to_json
from disputebot.engine.context import Checks, Context
from disputebot.engine.effects import N_, Action, Button, FileCase, Finish, Msg, Say
from disputebot.engine.events import (
    ButtonPressed,
    CommandReceived,
    Event,
    FilesReceived,
    TextReceived,
)
from disputebot.engine.outcome import Outcome
from disputebot.engine.spec import (
    AccountStep,
    ChoiceStep,
    ConfirmStep,
    FilesStep,
    Flow,
    FlowBook,
    MessageStep,
    MultiChoiceStep,
    Step,
    TextStep,
)
from disputebot.engine.state import Session
from disputebot.policy import abuse
from disputebot.policy.accounts import AccountProblem, account_to_json, parse_account
from disputebot.policy.evidence import EvidenceRules, check_evidence, missing_evidence
from disputebot.policy.objectivity import lint_description

__all__ = ["ENGINE_COMMANDS", "facts_needed", "handle", "needs_facts", "resume", "start"]

# Commands the engine understands; the service answers the others.
ENGINE_COMMANDS = frozenset({"start", "report", "cancel", "back", "done"})

_ACCOUNT_PROBLEMS = {
    "empty": N_("policy.account.empty"),
    "too_long": N_("policy.account.too_long"),
    "item_link": N_("policy.account.item_link"),
    "foreign_link": N_("policy.account.foreign_link"),
    "unrecognized_link": N_("policy.account.unrecognized_link"),
    "not_a_name": N_("policy.account.not_a_name"),
}
_EVIDENCE_REFUSALS = {
    "type": N_("policy.evidence.type"),
    "too_large": N_("policy.evidence.too_large"),
    "empty": N_("policy.evidence.empty"),
    "too_many": N_("policy.evidence.too_many"),
    "not_downloaded": N_("policy.evidence.not_downloaded"),
}
_EXPECTS = {
    "text": N_("engine.expects.text"),
    "choice": N_("engine.expects.choice"),
    "files": N_("engine.expects.files"),
    "confirm": N_("engine.expects.confirm"),
}
_RULES = {
    "insult": N_("policy.objectivity.rule.insult"),
    "threat": N_("policy.objectivity.rule.threat"),
    "grudge": N_("policy.objectivity.rule.grudge"),
    "defamation": N_("policy.objectivity.rule.defamation"),
    "shouting": N_("policy.objectivity.rule.shouting"),
    "phone": N_("policy.objectivity.rule.phone"),
    "email": N_("policy.objectivity.rule.email"),
}


def needs_facts(book: FlowBook, session: Session | None, event: Event) -> bool:
    """Whether ``handle`` will run abuse checks and so needs ``Context.facts``."""
    return bool(facts_needed(book, session, event))


def facts_needed(book: FlowBook, session: Session | None, event: Event) -> Checks:
    """The abuse checks ``handle`` will run, so what ``Context.facts`` must hold.

    Only flows that file a case are checked, and never a nested flow: a new report is
    checked whether the reporter may report now, a store link whether they may report that
    account, and the submit press both again (time has passed and cases changed since).
    Other events at those steps are refused or handled before any check.
    """
    if isinstance(event, CommandReceived) and event.name in {"start", "report"}:
        return Checks.START if session is None else Checks.NONE
    if session is None or session.outer is not None:
        return Checks.NONE
    flow = book.get(session.flow, session.version)
    if flow is None or not flow.has_step(session.step) or not _files_case(flow):
        return Checks.NONE
    step = flow.step(session.step)
    if isinstance(step, AccountStep) and isinstance(event, TextReceived):
        return Checks.ACCOUNT
    if isinstance(step, ConfirmStep) and isinstance(event, ButtonPressed):
        press = buttons.decode(event.data)
        if press is not None and press.verb == "s":
            return Checks.START | Checks.ACCOUNT
    return Checks.NONE


def start(
    book: FlowBook,
    name: str,
    ctx: Context,
    *,
    outer: Session | None = None,
    context: Mapping[str, str] | None = None,
) -> Outcome:
    """Begin flow ``name`` on its current version, unless the abuse checks refuse.

    Args:
        book: the loaded flows.
        name: the flow to begin.
        ctx: time, policies and (for a flow that files a case) the reporter's facts.
        outer: the session this flow interrupts; the chat returns to it when the new flow is
            submitted or cancelled. A refused start leaves the chat in it.
        context: what the flow is about (``{"case_id": "DR-…"}``), kept unchanged in the
            session and handed back in ``Finish``.

    Raises:
        KeyError: there is no flow called ``name``.
    """
    flow = book.current(name)
    if ctx.facts is not None and _files_case(flow):
        refusal = abuse.check_can_start(ctx.facts, ctx.policies.abuse, ctx.now)
        if refusal is not None:
            return Outcome(outer, (Say((prompts.abuse_refusal(refusal),)),), changed=False)
    session = Session(
        flow=flow.flow,
        version=flow.version,
        step=flow.steps[0].id,
        # Above every nonce the outer session has used, so none of its buttons fits here.
        nonce=outer.nonce + 1 if outer is not None else 0,
        context=dict(context or {}),
        outer=outer,
    )
    return _enter(flow, session, flow.steps[0])


def resume(book: FlowBook, session: Session, *lead: Msg) -> Outcome:
    """Show the current prompt again, changing nothing (after a restart, ``/help``, …)."""
    flow, session = _flow_of(book, session)
    step = flow.step(session.step)
    return Outcome(session, (prompts.prompt(flow, session, step, *lead),), changed=False)


def handle(book: FlowBook, session: Session | None, event: Event, ctx: Context) -> Outcome:
    """Apply one event to one chat's session."""
    if session is not None:
        _, current = _flow_of(book, session)
        if current is not session:
            # Moved to the current flow version: that move is worth keeping even if the
            # event itself is refused.
            out = _handle(book, current, event, ctx)
            return out if out.changed else replace(out, changed=True)
    return _handle(book, session, event, ctx)


def _handle(book: FlowBook, session: Session | None, event: Event, ctx: Context) -> Outcome:
    out = _dispatch(book, session, event, ctx)
    if session is not None and session.outer is not None and out.session is None:
        return _return_to_outer(book, session, session.outer, out)
    return out


def _return_to_outer(book: FlowBook, inner: Session, outer: Session, out: Outcome) -> Outcome:
    """The nested flow ``inner`` ended: show the outer session's prompt again."""
    flow, outer = _flow_of(book, outer)
    back = replace(outer, nonce=max(outer.nonce, inner.nonce) + 1, pending=None)
    again = prompts.prompt(flow, back, flow.step(back.step), Msg("engine.resumed"))
    return Outcome(back, (*out.says, again), out.actions)


def _dispatch(book: FlowBook, session: Session | None, event: Event, ctx: Context) -> Outcome:
    if isinstance(event, CommandReceived):
        return _command(book, session, event, ctx)
    if session is None:
        return Outcome(None, (Say((Msg("engine.idle"),)),), changed=False)
    flow, current = _flow_of(book, session)
    step = flow.step(current.step)
    if isinstance(event, ButtonPressed):
        press = buttons.decode(event.data)
        if press is None or press.nonce != current.nonce:
            return _refuse(flow, current, step, Msg("engine.stale_button"))
        if press.verb in {"cy", "cn"}:
            return _cancel_answer(flow, current, step, confirmed=press.verb == "cy")
        if press.verb == "c":
            return _ask_cancel(current)
    if current.pending is not None:
        # Anything but an answer to "discard this draft?" means: keep going.
        current = replace(current, pending=None)
    if isinstance(step, ChoiceStep):
        return _choice(flow, current, step, event)
    if isinstance(step, MultiChoiceStep):
        return _multichoice(flow, current, step, event)
    if isinstance(step, AccountStep):
        return _account(flow, current, step, event, ctx)
    if isinstance(step, TextStep):
        return _text(flow, current, step, event, ctx)
    if isinstance(step, FilesStep):
        return _files(flow, current, step, event)
    if isinstance(step, ConfirmStep):
        return _confirm(flow, current, step, event, ctx)
    return _message(flow, current, step, event)


def _flow_of(book: FlowBook, session: Session) -> tuple[Flow, Session]:
    """The session's flow version; if that version is gone, carry answers to the current one."""
    flow = book.get(session.flow, session.version)
    if flow is not None and flow.has_step(session.step):
        return flow, session
    flow = book.current(session.flow)
    kept = {s.id: session.answers[s.id] for s in flow.input_steps() if s.id in session.answers}
    first_open = next((s for s in flow.input_steps() if s.id not in kept), flow.confirm)
    moved = Session(
        flow=flow.flow,
        version=flow.version,
        step=first_open.id,
        answers=kept,
        nonce=session.nonce + 1,
        context=session.context,
        outer=session.outer,
    )
    return flow, moved


def _files_case(flow: Flow) -> bool:
    """Whether submitting ``flow`` files a case, the only action the abuse checks guard."""
    return flow.confirm.action == "file_case"


# --- commands --------------------------------------------------------------------------------


def _command(
    book: FlowBook, session: Session | None, event: CommandReceived, ctx: Context
) -> Outcome:
    if event.name in {"start", "report"}:
        if session is None:
            return start(book, "report", ctx)
        return resume(book, session, Msg("engine.resumed"))
    if session is None:
        return Outcome(None, (Say((Msg("engine.idle"),)),), changed=False)
    flow, current = _flow_of(book, session)
    step = flow.step(current.step)
    if event.name == "cancel":
        return _ask_cancel(current)
    if event.name == "back":
        return _back(flow, current, step)
    if event.name == "done" and isinstance(step, FilesStep):
        return _files_done(flow, current, step)
    if event.name == "done" and isinstance(step, MultiChoiceStep):
        return _multichoice_done(flow, current, step)
    if event.name == "done":
        return _refuse(flow, current, step, _expected(step))
    return _refuse(flow, current, step, Msg("engine.unknown_command", {"command": event.name}))


def _ask_cancel(session: Session) -> Outcome:
    asked = replace(session, pending="cancel", nonce=session.nonce + 1)
    n = asked.nonce
    say = Say(
        (Msg("engine.cancel.ask"),),
        (
            (
                Button(Msg("engine.cancel.yes"), buttons.encode(n, "cy")),
                Button(Msg("engine.cancel.no"), buttons.encode(n, "cn")),
            ),
        ),
        session.step,
        "confirm",
    )
    return Outcome(asked, (say,))


def _cancel_answer(flow: Flow, session: Session, step: Step, *, confirmed: bool) -> Outcome:
    if session.pending != "cancel":
        return _refuse(flow, session, step, Msg("engine.stale_button"))
    if confirmed:
        return Outcome(None, (Say((Msg("engine.cancel.done"),)),))
    kept = replace(session, pending=None, nonce=session.nonce + 1)
    return Outcome(kept, (prompts.prompt(flow, kept, step, Msg("engine.cancel.kept")),))


def _back(flow: Flow, session: Session, step: Step) -> Outcome:
    if session.editing:
        back = replace(session, editing=False)
        return _show(flow, back, flow.confirm)
    if not session.history:
        return _refuse(flow, session, step, Msg("engine.back.first"))
    previous = flow.step(session.history[-1])
    back = replace(session, history=session.history[:-1])
    return _show(flow, back, previous)


# --- moving between steps ----------------------------------------------------------------------


def _at(session: Session, step: Step) -> Session:
    """``session`` showing ``step`` with a new nonce."""
    scratch = session.scratch
    held = scratch.get("selection")
    if isinstance(held, Mapping) and held.get("step") != step.id:
        # Toggles that were never accepted with "done" do not outlive their step.
        scratch = {k: v for k, v in scratch.items() if k != "selection"}
    return replace(session, step=step.id, nonce=session.nonce + 1, pending=None, scratch=scratch)


def _show(flow: Flow, session: Session, step: Step, *lead: Msg) -> Outcome:
    shown = _at(session, step)
    return Outcome(shown, (prompts.prompt(flow, shown, step, *lead),))


def _enter(flow: Flow, session: Session, step: Step, *lead: Msg) -> Outcome:
    """Show ``step``; a message step without a button is said and passed through."""
    says: list[Say] = []
    while isinstance(step, MessageStep) and not step.button_label:
        says.append(Say((*lead, Msg(step.prompt))))
        lead = ()
        step = flow.following(step)
    entered = _at(session, step)
    says.append(prompts.prompt(flow, entered, step, *lead))
    return Outcome(entered, tuple(says))


def _advance(flow: Flow, session: Session, step: Step, *lead: Msg) -> Outcome:
    """After an accepted answer: on to the next step, or back to the summary when editing."""
    if session.editing:
        return _enter(flow, replace(session, editing=False), flow.confirm, *lead)
    moved = replace(session, history=(*session.history, step.id))
    return _enter(flow, moved, flow.following(step), *lead)


def _refuse(flow: Flow, session: Session, step: Step, *reason: Msg) -> Outcome:
    return Outcome(session, (prompts.prompt(flow, session, step, *reason),), changed=False)


def _expected(step: Step) -> Msg:
    kind = prompts.expects(step) or "choice"
    return Msg(_EXPECTS[kind])


# --- steps -----------------------------------------------------------------------------------


def _message(flow: Flow, session: Session, step: MessageStep, event: Event) -> Outcome:
    press = buttons.decode(event.data) if isinstance(event, ButtonPressed) else None
    if press is not None and press.verb == "go":
        return _advance(flow, session, step)
    return _refuse(flow, session, step, _expected(step))


def _choice(flow: Flow, session: Session, step: ChoiceStep, event: Event) -> Outcome:
    press = buttons.decode(event.data) if isinstance(event, ButtonPressed) else None
    if press is None or press.verb != "o":
        return _refuse(flow, session, step, _expected(step))
    option = step.option(press.value)
    if option is None:
        return _refuse(flow, session, step, Msg("engine.stale_button"))
    return _advance(flow, session.answered(step.id, option.value), step)


def _multichoice(flow: Flow, session: Session, step: MultiChoiceStep, event: Event) -> Outcome:
    press = buttons.decode(event.data) if isinstance(event, ButtonPressed) else None
    if press is not None and press.verb == "d":
        return _multichoice_done(flow, session, step)
    if press is None or press.verb != "t":
        return _refuse(flow, session, step, _expected(step))
    option = step.option(press.value)
    if option is None:
        return _refuse(flow, session, step, Msg("engine.stale_button"))
    chosen = set(prompts.selection(session, step)) ^ {option.value}
    values = [o.value for o in step.options if o.value in chosen]
    return _show(flow, session.with_scratch(selection={"step": step.id, "values": values}), step)


def _multichoice_done(flow: Flow, session: Session, step: MultiChoiceStep) -> Outcome:
    values = prompts.selection(session, step)
    if len(values) < step.min_selected:
        reason = Msg(
            "engine.multichoice.too_few", {"min": step.min_selected, "count": len(values)}
        )
        return _refuse(flow, session, step, reason)
    if step.max_selected is not None and len(values) > step.max_selected:
        reason = Msg(
            "engine.multichoice.too_many", {"max": step.max_selected, "count": len(values)}
        )
        return _refuse(flow, session, step, reason)
    accepted = session.with_scratch(selection=None).answered(step.id, values)
    return _advance(flow, accepted, step)


def _account(
    flow: Flow, session: Session, step: AccountStep, event: Event, ctx: Context
) -> Outcome:
    if not isinstance(event, TextReceived):
        return _refuse(flow, session, step, _expected(step))
    parsed = parse_account(
        event.text, ctx.policies.profile, item_id=session.scratch.get("item_id")
    )
    if isinstance(parsed, AccountProblem):
        reason = Msg(_ACCOUNT_PROBLEMS[parsed.code], {"item_id": parsed.item_id or ""})
        if parsed.item_id and parsed.item_id != session.scratch.get("item_id"):
            # The product id is context worth keeping while we ask for the store.
            kept = session.with_scratch(item_id=parsed.item_id)
            return Outcome(kept, (prompts.prompt(flow, kept, step, reason),))
        return _refuse(flow, session, step, reason)
    if ctx.facts is not None and _files_case(flow):
        refusal = abuse.check_account(ctx.facts, parsed.key)
        if refusal is not None:
            return _refuse(flow, session, step, prompts.abuse_refusal(refusal))
    answered = replace(
        session.answered(step.id, account_to_json(parsed)),
        scratch={k: v for k, v in session.scratch.items() if k != "item_id"},
    )
    lead = (
        (Msg("policy.account.low_confidence", {"name": parsed.display}),)
        if parsed.confidence == "low"
        else ()
    )
    return _advance(flow, answered, step, *lead)


def _text(flow: Flow, session: Session, step: TextStep, event: Event, ctx: Context) -> Outcome:
    press = buttons.decode(event.data) if isinstance(event, ButtonPressed) else None
    if press is not None and press.verb == "k" and "pending_text" in session.scratch:
        text = str(session.scratch["pending_text"])
        cleared = session.with_scratch(pending_text=None, pending_step=None)
        return _advance(flow, cleared.answered(step.id, text), step)
    if press is not None and press.verb == "sk" and step.skip_label:
        # Nothing to lint: skipping answers "", which the spec allows only with min_length 0.
        cleared = session.with_scratch(pending_text=None, pending_step=None)
        return _advance(flow, cleared.answered(step.id, ""), step)
    if not isinstance(event, TextReceived):
        return _refuse(flow, session, step, _expected(step))
    text = event.text.strip()
    if len(text) < step.min_length:
        reason = Msg("engine.text.too_short", {"min": step.min_length, "count": len(text)})
        return _refuse(flow, session, step, reason)
    if len(text) > step.max_length:
        reason = Msg("engine.text.too_long", {"max": step.max_length, "count": len(text)})
        return _refuse(flow, session, step, reason)
    if "objectivity" in step.checks:
        findings = lint_description(text, ctx.policies.lexicons, ctx.policies.objectivity)
        if findings:
            quoted = tuple(
                Msg(
                    "policy.objectivity.finding",
                    {"rule": Msg(_RULES.get(f.rule, f.rule)), "quote": f.quote},
                )
                for f in findings
            )
            if any(f.blocking for f in findings):
                return _refuse(flow, session, step, Msg("policy.objectivity.blocking"), *quoted)
            # Only warnings: keep the text so one tap can submit it as it is.
            held = session.with_scratch(pending_text=text, pending_step=step.id)
            held = replace(held, nonce=held.nonce + 1)
            rows = [
                (Button(Msg(step.keep_label or step.prompt), buttons.encode(held.nonce, "k")),)
            ]
            if step.skip_label:
                rows.append((Button(Msg(step.skip_label), buttons.encode(held.nonce, "sk")),))
            say = Say((Msg("policy.objectivity.warning"), *quoted), tuple(rows), step.id, "text")
            return Outcome(held, (say,))
    cleared = session.with_scratch(pending_text=None, pending_step=None)
    return _advance(flow, cleared.answered(step.id, text), step)


def _files(flow: Flow, session: Session, step: FilesStep, event: Event) -> Outcome:
    press = buttons.decode(event.data) if isinstance(event, ButtonPressed) else None
    if press is not None and press.verb == "d":
        return _files_done(flow, session, step)
    if press is not None and press.verb == "x":
        cleared = session.answered(step.id, [])
        return _show(flow, cleared, step, Msg("engine.files.cleared"))
    if not isinstance(event, FilesReceived):
        return _refuse(flow, session, step, _expected(step))
    rules = EvidenceRules(
        min_files=step.min_files,
        max_files=step.max_files,
        max_bytes=step.max_bytes,
        allowed_mimes=frozenset(step.allowed_types),
    )
    already = evidence_list(session.answers.get(step.id))
    verdict = check_evidence(event.files, already, rules)
    notes: list[Msg] = []
    for refusal in verdict.refused:
        params: dict[str, str | int | Msg] = {
            "name": refusal.file.name,
            "max_mb": max(1, step.max_bytes // (1024 * 1024)),
            "max": step.max_files,
        }
        notes.append(Msg(_EVIDENCE_REFUSALS[refusal.code], params))
    notes += [Msg("policy.evidence.duplicate", {"name": f.name}) for f in verdict.duplicates]
    if not verdict.accepted:
        return _refuse(flow, session, step, *notes)
    files = [*already, *verdict.accepted]
    updated = session.answered(step.id, [evidence_to_json(f) for f in files])
    received = Msg("engine.files.received")
    return _show(flow, updated, step, received, *notes)


def _files_done(flow: Flow, session: Session, step: FilesStep) -> Outcome:
    rules = EvidenceRules(min_files=step.min_files, max_files=step.max_files)
    missing = missing_evidence(evidence_list(session.answers.get(step.id)), rules)
    if missing:
        return _refuse(flow, session, step, Msg("engine.files.missing", {"count": missing}))
    if step.id not in session.answers:
        session = session.answered(step.id, [])
    return _advance(flow, session, step)


def _confirm(
    flow: Flow, session: Session, step: ConfirmStep, event: Event, ctx: Context
) -> Outcome:
    press = buttons.decode(event.data) if isinstance(event, ButtonPressed) else None
    if press is None:
        return _refuse(flow, session, step, _expected(step))
    if press.verb == "e":
        if not flow.has_step(press.value) or flow.step(press.value) not in set(flow.input_steps()):
            return _refuse(flow, session, step, Msg("engine.stale_button"))
        return _show(flow, replace(session, editing=True), flow.step(press.value))
    if press.verb != "s":
        return _refuse(flow, session, step, Msg("engine.stale_button"))
    missing = [s for s in flow.input_steps() if s.id not in session.answers]
    if missing:
        return _show(flow, session, missing[0], Msg("engine.summary.incomplete"))
    action: Action
    if step.action == "finish":
        action = Finish(
            flow=flow.flow,
            version=flow.version,
            answers=dict(session.answers),
            context=dict(session.context),
        )
        return Outcome(None, (), (action,))
    if ctx.facts is not None:
        account_key = str(session.answers.get("account", {}).get("key", ""))
        refusal = abuse.check_can_start(ctx.facts, ctx.policies.abuse, ctx.now)
        refusal = refusal or abuse.check_account(ctx.facts, account_key)
        if refusal is not None:
            return _refuse(flow, session, step, prompts.abuse_refusal(refusal))
    action = FileCase(
        flow=flow.flow,
        version=flow.version,
        answers=dict(session.answers),
        attestation=f"{step.attestation}@{flow.flow}.v{flow.version}",
    )
    return Outcome(None, (), (action,))
