"""The seams where the fairness features (the reported party's channel, appeals, statements of
reasons, reporter standing, coordinated reports) plug into the bot, the desk and case actions.

Each feature is one ``Addon`` in its own module. The service asks every addon in turn: a
command, a button or a finished conversation belongs to the first addon that answers it (a
``None`` answer passes it on); hooks (a case filed, an action taken, a card drawn) go to all of
them, in the order they were registered, in the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from disputebot.cases.records import CaseRecord
from disputebot.cases.standing import StandingRules
from disputebot.engine.context import Checks
from disputebot.engine.effects import Button, Finish, Msg, Say
from disputebot.engine.events import CommandReceived
from disputebot.engine.spec import FlowBook
from disputebot.policy.abuse import ReporterFacts
from disputebot.policy.profile import PlatformProfile
from disputebot.ports import ChatKey, Clock, UnitOfWork
from disputebot.service.answers import Acted, Actor, DeskAnswer
from disputebot.service.review import CaseActions

__all__ = ["Acted", "Addon", "AddonContext", "CardPart", "FairnessRules", "first_of"]


@dataclass(frozen=True, slots=True)
class FairnessRules:
    """The operator's settings for the fairness features (see ``config.Settings``)."""

    # How long a linked party may answer a report with a statement, from its filing.
    party_answer: timedelta = timedelta(days=14)
    # How long a claim link stays valid.
    claim_link_ttl: timedelta = timedelta(hours=72)
    # How long after a decision either side may appeal it (DSA Art. 20: at least six months).
    appeal_window: timedelta = timedelta(days=183)
    standing: StandingRules = field(default_factory=StandingRules)
    # A possible coordinated campaign: this many reports against one account within the
    # window, from reporters with no earlier report.
    campaign_window: timedelta = timedelta(hours=24)
    campaign_min_reports: int = 3
    # The bot's Telegram username, for ``https://t.me/<bot>?start=…`` links (``None``: the
    # link is shown as the ``/start …`` command to send instead).
    bot_username: str | None = None


@dataclass(frozen=True, slots=True)
class AddonContext:
    """What every addon is built with."""

    book: FlowBook
    clock: Clock
    actions: CaseActions
    rules: FairnessRules
    default_locale: str
    staff_chat_id: int | None = None
    admins: frozenset[int] = frozenset()
    # The platform's account patterns (``/claimlink ACCOUNT`` parses like ``/check``).
    profile: PlatformProfile | None = None


@dataclass(frozen=True, slots=True)
class CardPart:
    """What an addon adds to a staff case card: lines after the facts (``banner``: before
    them), and rows of buttons before the card's own."""

    banner: tuple[Msg, ...] = ()
    lines: tuple[Msg, ...] = ()
    rows: tuple[tuple[Button, ...], ...] = ()


class Addon:
    """A feature's entry points. Every method has a do-nothing default."""

    # Flows whose ``Finish`` this addon carries out.
    flows: frozenset[str] = frozenset()
    # Staff commands this addon answers (the desk checks the role before asking it).
    staff_commands: frozenset[str] = frozenset()
    # ``sf:<verb>:<case>[:arg]`` card buttons this addon answers (role checked by the desk).
    staff_verbs: frozenset[str] = frozenset()
    # Button data prefixes (``"pt:"``) this addon answers for anyone.
    prefixes: tuple[str, ...] = ()
    # The abuse checks whose facts ``facts`` adds to; it is asked only before those.
    fact_checks: Checks = Checks.START | Checks.ACCOUNT

    async def command(
        self, uow: UnitOfWork, chat: ChatKey, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        """A command from anyone (a reporter, a party, staff); ``None`` if not this addon's."""
        return None

    async def staff_command(
        self, uow: UnitOfWork, actor: Actor, event: CommandReceived, locale: str
    ) -> DeskAnswer | None:
        """One of ``staff_commands``, from someone the desk found to be staff."""
        return None

    async def button(self, uow: UnitOfWork, chat: ChatKey, data: str) -> DeskAnswer | None:
        """A button with one of ``prefixes``; ``None``: stale, or not this chat's to press."""
        return None

    async def staff_button(
        self, uow: UnitOfWork, actor: Actor, case: CaseRecord, verb: str, arg: str
    ) -> DeskAnswer | None:
        """One of ``staff_verbs`` on an existing case, from staff."""
        return None

    async def finish(self, uow: UnitOfWork, chat: ChatKey, action: Finish) -> list[Say]:
        """A conversation of ``flows`` was confirmed; carry it out."""
        return []

    async def facts(self, uow: UnitOfWork, chat: ChatKey, facts: ReporterFacts) -> ReporterFacts:
        """Add what this addon knows to a reporter's facts before the abuse checks run."""
        return facts

    async def on_filed(self, uow: UnitOfWork, case: CaseRecord) -> None:
        """A case was just filed (``case`` as stored)."""

    async def on_acted(self, uow: UnitOfWork, acted: Acted) -> None:
        """A lifecycle action was just applied (after the case's own notifications)."""

    async def card(self, uow: UnitOfWork, case: CaseRecord, actor: Actor) -> CardPart:
        """Lines and buttons for the staff card of ``case``."""
        return CardPart()


def first_of(addons: Sequence[Addon], prefix: str) -> Addon | None:
    """The addon that owns button data starting with ``prefix``."""
    return next((a for a in addons if any(prefix.startswith(p) for p in a.prefixes)), None)
