"""Every Prometheus metric the bot exports, owned by one object per process.

``Metrics`` holds its own ``CollectorRegistry`` (never the library's global one), so tests and
several bots in one process each get fresh counters. Bootstrap makes one and hands it to the
service, the delivery loop and the Telegram runtime; ``/metrics`` renders its registry.
"""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "DeliveryResult", "Metrics", "UpdateOutcome"]

CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4
# From a cached duplicate (~1 ms) to a slow evidence download (~10 s).
LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

UpdateOutcome = Literal["applied", "duplicate", "error"]
DeliveryResult = Literal["sent", "retry", "dead"]


class Metrics:
    """The instruments, registered on a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.updates = Counter(
            "disputebot_updates",
            "Inbound updates handled, by outcome (applied, duplicate, error).",
            ["channel", "outcome"],
            registry=reg,
        )
        self.update_seconds = Histogram(
            "disputebot_update_seconds",
            "Time to apply one inbound update, retries included.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.reports_filed = Counter(
            "disputebot_reports_filed",
            "Reports filed as cases (counted once committed).",
            ["channel"],
            registry=reg,
        )
        self.outbox_pending = Gauge(
            "disputebot_outbox_pending",
            "Outbox messages waiting to be delivered (due or retrying).",
            ["channel"],
            registry=reg,
        )
        self.outbox_oldest_seconds = Gauge(
            "disputebot_outbox_oldest_seconds",
            "Age of the oldest pending outbox message (0 when none).",
            ["channel"],
            registry=reg,
        )
        self.deliveries = Counter(
            "disputebot_deliveries",
            "Outbox delivery attempts, by result (sent, retry, dead).",
            ["channel", "result"],
            registry=reg,
        )
        self.telegram_throttled = Counter(
            "disputebot_telegram_throttled",
            "Bot API answers with retry_after (HTTP 429), on sends and getUpdates.",
            registry=reg,
        )

    def update_handled(self, channel: str, outcome: UpdateOutcome, seconds: float) -> None:
        self.updates.labels(channel, outcome).inc()
        self.update_seconds.labels(channel).observe(seconds)

    def report_filed(self, channel: str) -> None:
        self.reports_filed.labels(channel).inc()

    def delivery(self, channel: str, result: DeliveryResult) -> None:
        self.deliveries.labels(channel, result).inc()

    def backlog(self, channel: str, pending: int, oldest_seconds: float | None) -> None:
        self.outbox_pending.labels(channel).set(pending)
        self.outbox_oldest_seconds.labels(channel).set(oldest_seconds or 0.0)

    def throttled(self) -> None:
        self.telegram_throttled.inc()

    def render(self) -> bytes:
        """The exposition text (format 0.0.4) of every metric above."""
        return generate_latest(self.registry)
