"""Answers to the commands that live outside any flow: /status and /language."""

from __future__ import annotations

from collections.abc import Sequence

from disputebot.cases.records import CaseRecord, Status
from disputebot.engine.effects import N_, Button, Msg, Say
from disputebot.engine.prompts import when
from disputebot.engine.spec import ChoiceStep, Flow, FlowBook, MultiChoiceStep
from disputebot.engine.state import Session

STATUS_LABELS = {
    Status.SUBMITTED: N_("case.status.submitted"),
    Status.IN_REVIEW: N_("case.status.in_review"),
    Status.AWAITING_INFO: N_("case.status.awaiting_info"),
    Status.UPHELD: N_("case.status.upheld"),
    Status.REJECTED: N_("case.status.rejected"),
    Status.ESCALATED: N_("case.status.escalated"),
    Status.WITHDRAWN: N_("case.status.withdrawn"),
    Status.CLOSED: N_("case.status.closed"),
    Status.APPEALED: N_("case.status.appealed"),
    Status.MERGED: N_("case.status.merged"),
}
LANGUAGE_NAMES = {"en": N_("bot.language.en"), "zh_Hans": N_("bot.language.zh_Hans")}


def option_label(flow: Flow | None, step_id: str, value: str) -> Msg | None:
    """The label of the option ``value`` of a choice step, or ``None`` if the flow (or that
    version of it) no longer offers it."""
    if flow is None or not flow.has_step(step_id):
        return None
    step = flow.step(step_id)
    option = step.option(value) if isinstance(step, ChoiceStep | MultiChoiceStep) else None
    return Msg(option.label) if option else None


def language_name(locale: str) -> Msg:
    key = LANGUAGE_NAMES.get(locale)
    return Msg(key) if key else Msg("bot.language.code", {"code": locale})


class CommandReplies:
    def __init__(self, book: FlowBook, locales: Sequence[str]) -> None:
        self._book = book
        self._locales = tuple(locales)

    def status(self, cases: Sequence[CaseRecord], session: Session | None) -> list[Msg]:
        text: list[Msg] = []
        if session is not None:
            flow = self._book.get(session.flow, session.version)
            step = flow.step(session.step) if flow and flow.has_step(session.step) else None
            label = (step.summary_label or step.prompt) if step else session.step
            text.append(Msg("bot.status.draft", {"step": Msg(label)}))
        if not cases:
            text.append(Msg("bot.status.none"))
        else:
            text.append(Msg("bot.status.title", {"count": len(cases)}))
            text += [
                Msg(
                    "bot.status.line",
                    {
                        "case_id": c.public_id,
                        "status": Msg(STATUS_LABELS[c.status]),
                        "filed": when(c.created_at),
                        "account": c.account.get("display", c.account_key),
                    },
                )
                for c in cases
            ]
        return text

    def forget_menu(self) -> Say:
        rows = (
            (Button(Msg("bot.forget.yes"), "forget:yes"),),
            (Button(Msg("bot.forget.no"), "forget:no"),),
        )
        return Say((Msg("bot.forget.ask"),), rows, None, "confirm")

    def language_menu(self, current: str, *lead: Msg) -> Say:
        rows = tuple((Button(language_name(loc), f"lang:{loc}"),) for loc in self._locales)
        prompt = Msg("bot.language.prompt", {"current": language_name(current)})
        return Say((*lead, prompt), rows, None, "choice")
