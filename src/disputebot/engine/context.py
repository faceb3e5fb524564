"""What the engine is given besides the session and the event: time, policies, facts."""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class Context:
    """Per-event inputs. ``facts`` is loaded only when ``needs_facts`` asks for it."""

    now: datetime
    policies: Policies
    facts: ReporterFacts | None = None
