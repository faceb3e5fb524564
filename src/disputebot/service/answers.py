"""Small shapes the service's parts hand each other: who acts, and what answers a command."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from disputebot.cases.lifecycle import Action, ActorRole
from disputebot.cases.records import CaseRecord
from disputebot.engine.effects import Say
from disputebot.ports import ChatKey, Role, UnitOfWork

__all__ = ["Acted", "Actor", "DeskAnswer", "StartFlow", "staff_role"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, with the role they act in."""

    chat: ChatKey
    role: ActorRole

    @property
    def ref(self) -> str:
        return self.chat.user_ref


@dataclass(frozen=True, slots=True)
class StartFlow:
    """Begin a nested conversation for the sender, with this context."""

    flow: str
    context: Mapping[str, str]


@dataclass(slots=True)
class DeskAnswer:
    says: list[Say] = field(default_factory=list)
    start: StartFlow | None = None


@dataclass(frozen=True, slots=True)
class Acted:
    """An action just applied to a case: the case before and after it (``after`` is read back
    from the store in the same unit of work), who acted and what the decision chose."""

    action: Action
    before: CaseRecord
    after: CaseRecord
    actor: Actor
    note: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


async def staff_role(uow: UnitOfWork, who: ChatKey, admins: frozenset[int]) -> ActorRole | None:
    """Admins named in the settings, else the roster's role; ``None`` for everyone else."""
    if who.chat_id in admins:
        return ActorRole.ADMIN
    role = await uow.staff.role(who)
    if role is None:
        return None
    return ActorRole.ADMIN if role is Role.ADMIN else ActorRole.REVIEWER
