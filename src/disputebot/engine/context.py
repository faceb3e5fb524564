"""What the engine is given besides the session and the event: time, policies, facts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from disputebot.policy.abuse import AbuseRules, ReporterFacts
from disputebot.policy.accounts import PlatformProfile
from disputebot.policy.objectivity import Lexicon, ObjectivityRules


@dataclass(frozen=True, slots=True)
class Policies:
    """The operator's precaution settings, loaded once at start-up."""

    profile: PlatformProfile
    lexicons: tuple[Lexicon, ...]
    objectivity: ObjectivityRules = field(default_factory=ObjectivityRules)
    abuse: AbuseRules = field(default_factory=AbuseRules)


class Checks(enum.Flag):
    """The abuse checks an event runs, and so which of ``ReporterFacts`` it needs."""

    NONE = 0
    # ``abuse.check_can_start``: suspension, cooldown after a false report, daily limit.
    START = enum.auto()
    # ``abuse.check_account``: the reporter's own accounts, their open cases.
    ACCOUNT = enum.auto()


@dataclass(frozen=True, slots=True)
class Context:
    """Per-event inputs. ``facts`` is loaded only when ``facts_needed`` asks for it, and
    need only be right in what the checks it names read."""

    now: datetime
    policies: Policies
    facts: ReporterFacts | None = None
