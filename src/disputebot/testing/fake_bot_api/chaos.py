"""Random faults, seeded: the weather a bot meets on the real Bot API.

With ``FakeBotApi.chaos(...)`` every call may answer 5xx, answer 429 with ``retry_after``
(a burst: the next few calls too), answer slowly, or — for getUpdates — hand out again an update
the bot already confirmed, as Telegram does after a network hiccup. Everything is counted in
``ChaosStats`` so a test can show what it survived.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Calls a bot makes once at start-up; failing them tests start-up retries, not serving.
SPARED = frozenset({"getme", "setwebhook", "deletewebhook", "setmycommands", "logout", "close"})


@dataclass
class ChaosStats:
    errors: int = 0
    throttled: int = 0
    slowed: int = 0
    resent_updates: int = 0
    by_method: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.errors + self.throttled + self.slowed + self.resent_updates


@dataclass
class Chaos:
    seed: int
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    burst: int = 3
    retry_after: int = 1
    slow_rate: float = 0.0
    slow_seconds: float = 0.5
    resend_rate: float = 0.0
    stats: ChaosStats = field(default_factory=ChaosStats)
    _random: random.Random = field(init=False)
    _burst_left: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def fault(self, method: str) -> tuple[int, int | None] | None:
        """``(status, retry_after)`` to answer ``method`` with, or ``None`` to serve it."""
        name = method.lower()
        if name in SPARED:
            return None
        if self._burst_left:
            self._burst_left -= 1
            return self._count(name, 429)
        roll = self._random.random()
        if roll < self.error_rate:
            return self._count(name, self._random.choice((500, 502, 503)))
        if roll < self.error_rate + self.throttle_rate:
            self._burst_left = self.burst - 1
            return self._count(name, 429)
        return None

    def delay(self) -> float:
        if self._random.random() < self.slow_rate:
            self.stats.slowed += 1
            return self.slow_seconds * (0.5 + self._random.random())
        return 0.0

    def resend(self) -> bool:
        hit = self._random.random() < self.resend_rate
        self.stats.resent_updates += hit
        return hit

    def _count(self, name: str, status: int) -> tuple[int, int | None]:
        self.stats.by_method[name] = self.stats.by_method.get(name, 0) + 1
        if status == 429:
            self.stats.throttled += 1
            return status, self.retry_after
        self.stats.errors += 1
        return status, None
