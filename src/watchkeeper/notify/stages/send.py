"""Send stage: one attempt on the row's channel, and what the channel's answer means.

Delivered: sent. Retryable with attempts left: pending again after a backoff with full
jitter (a `Retry-After` is a floor, capped). Permanent, or the last attempt: dead. A
partial failure keeps only the recipients still owed the message.
"""

from __future__ import annotations

import random
from datetime import timedelta

import structlog
from prometheus_client import Counter, Histogram

from watchkeeper.clock import Clock
from watchkeeper.config import NotificationSettings
from watchkeeper.notify.base import DeliveryResult
from watchkeeper.notify.outbound import excerpt
from watchkeeper.notify.outbox import OutboxStatus

from .work import Outcome, Work

log = structlog.get_logger(__name__)

ATTEMPTS = Counter(
    "watchkeeper_notification_delivery_attempts",
    "Notification delivery attempts, by channel and outcome (delivered, retry, dead)",
    ["channel", "outcome"],
)
FAILURES = Counter(
    "watchkeeper_notification_delivery_failures",
    "Failed notification delivery attempts, by channel and reason",
    ["channel", "reason"],
)
LATENCY = Histogram(
    "watchkeeper_notification_delivery_latency_seconds",
    "Time from a notification's enqueue to its delivery, by channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
)


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    return rng.uniform(0.0, min(cap, base * 2 ** max(attempt - 1, 0)))


def failure_reason(result: DeliveryResult) -> str:
    """A bounded label for the failures metric (http_5xx, timeout, smtp, ...)."""
    code = result.status_code
    if code is not None:
        return "http_429" if code == 429 else f"http_{code // 100}xx"
    text = result.reason.lower()
    for word in ("timeout", "timed out", "connect", "template", "config", "receiver"):
        if word in text:
            return "timeout" if word == "timed out" else word
    return "smtp" if result.channel == "email" else "other"


class Send:
    def __init__(self, settings: NotificationSettings, clock: Clock, rng: random.Random) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = rng

    async def __call__(self, work: Work) -> Outcome:
        claim, channel, message = work.claim, work.channel, work.message
        assert channel is not None and message is not None, "a rendered row is sent"
        try:
            result = await channel.send(message)
        except Exception as exc:  # a channel must classify, but a bug must not kill the batch
            log.exception("notification_channel_raised", channel=claim.channel)
            result = DeliveryResult.retry(claim.channel, excerpt(f"{type(exc).__name__}: {exc}"))
        return self.classify(work, result)

    def classify(self, work: Work, result: DeliveryResult) -> Outcome:
        """The outcome of one attempt's result (counted in the delivery metrics)."""
        claim = work.claim
        if result.delivered:
            ATTEMPTS.labels(claim.channel, "delivered").inc()
            waited = (self.clock.now() - claim.created_at).total_seconds()
            LATENCY.labels(claim.channel).observe(max(waited, 0.0))
            return Outcome(claim, OutboxStatus.SENT, work.note)
        FAILURES.labels(claim.channel, failure_reason(result)).inc()
        remaining = result.undelivered or None
        settings = self.settings
        if result.retryable and claim.attempts < settings.max_attempts:
            ATTEMPTS.labels(claim.channel, "retry").inc()
            delay = backoff(
                claim.attempts,
                settings.backoff_base_seconds,
                settings.backoff_cap_seconds,
                self.rng,
            )
            if result.retry_after is not None:
                delay = max(delay, min(result.retry_after, settings.backoff_cap_seconds))
            when = self.clock.now() + timedelta(seconds=delay)
            return Outcome(claim, OutboxStatus.PENDING, result.reason, when, recipients=remaining)
        ATTEMPTS.labels(claim.channel, "dead").inc()
        why = result.reason if not result.retryable else f"{result.reason} (attempts exhausted)"
        return Outcome(claim, OutboxStatus.DEAD, why, recipients=remaining)
