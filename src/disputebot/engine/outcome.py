"""What one engine step returns."""

from __future__ import annotations

from dataclasses import dataclass

from disputebot.engine.effects import Action, Say
from disputebot.engine.state import Session


@dataclass(frozen=True, slots=True)
class Outcome:
    """The new session (``None``: no flow in progress), replies, and actions to carry out.

    When a nested flow ends (submitted or cancelled) ``session`` is the session it interrupted,
    and the last of ``says`` is that session's prompt.

    ``changed`` is false when the event was refused or only asked for information: the stored
    session stays exactly as it was.
    """

    session: Session | None
    says: tuple[Say, ...]
    actions: tuple[Action, ...] = ()
    changed: bool = True
