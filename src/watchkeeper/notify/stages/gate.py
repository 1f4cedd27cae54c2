"""Gate stage: quiet hours, the dedup window and rate limits, on a row's first attempt.

Retries and an operator's retry are not gated (`Claim.gated`): the message was already let
through once. Critical messages skip quiet hours and rate limits but not dedup. What is
held back is counted in a suppression window and listed in one digest when the window
closes (`flush_digests`). Silences, inhibitions and time intervals act earlier, in the
alert dispatcher (`alert/dispatch.py`), on alerts rather than on messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.db.tables import NotificationSuppression
from watchkeeper.notify.antispam import (
    Destination,
    Gate,
    dedup_key,
    digest_variables,
    quiet_recipients,
)
from watchkeeper.notify.base import NotificationPriority
from watchkeeper.notify.outbox import OutboxMessage, OutboxStatus, enqueue
from watchkeeper.tenancy.scope import SessionFactory

from .work import Claim, Outcome, Step, Work

SUPPRESSED = Counter(
    "watchkeeper_notifications_suppressed",
    "Notifications held back, by reason (duplicate, rate_limit); listed in a digest",
    ["reason"],
)


class GateFirstAttempt:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def __call__(self, db: Session, work: Work, now: datetime) -> Step:
        claim, message = work.claim, work.message
        assert message is not None, "the render stage runs first"
        if not claim.gated:
            return work
        critical = claim.priority_level is NotificationPriority.CRITICAL
        if not critical:
            quiet = quiet_recipients(db, claim.recipients, now)
            if quiet:
                return defer_quiet(db, claim, quiet, now)
        where = Destination(claim.channel, claim.receiver, claim.integration, claim.recipients)
        key = dedup_key(
            claim.channel,
            f"{claim.receiver}#{claim.integration}",
            claim.recipients,
            message.subject,
        )
        if self.gate.duplicate(db, key, where, message.subject, now):
            SUPPRESSED.labels("duplicate").inc()
            return Outcome(claim, OutboxStatus.SUPPRESSED, "duplicate within the dedup window")
        if not critical and self.gate.rate_limited(db, where, message.subject, now):
            SUPPRESSED.labels("rate_limit").inc()
            return Outcome(claim, OutboxStatus.SUPPRESSED, "rate limited")
        return work


def defer_quiet(db: Session, claim: Claim, quiet: Mapping[str, datetime], now: datetime) -> Outcome:
    """All recipients quiet: the row waits for the last of them. Some quiet: they get a row
    of their own that waits; this row goes on to the others. Not counted as an attempt."""
    until = max(quiet.values())
    rest = tuple(r for r in claim.recipients if r not in quiet)
    if not rest:
        return Outcome(claim, OutboxStatus.PENDING, "quiet hours", until, attempt_counted=False)
    enqueue(
        db,
        OutboxMessage(
            idempotency_key=f"{claim.idempotency_key}~quiet",
            channel=claim.channel,
            payload=claim.payload,
            receiver=claim.receiver,
            recipients=tuple(quiet),
            template_id=claim.template_id,
            priority=claim.priority,
            source=claim.source,
            not_before=until,
        ),
        now,
    )
    return Outcome(claim, OutboxStatus.PENDING, "", now, recipients=rest, attempt_counted=False)


def flush_digests(sessions: SessionFactory, clock: Clock) -> int:
    """Queue one digest per closed window that held something back; drop closed windows."""
    now = clock.now()
    with sessions.system("notification delivery: closed suppression windows") as db:
        tenants = list(
            db.scalars(
                select(NotificationSuppression.tenant_id)
                .where(NotificationSuppression.window_ends_at <= now)
                .distinct()
            )
        )
    queued = 0
    for tenant_id in tenants:
        with sessions.tenant(tenant_id) as db:
            closed = db.scalars(
                select(NotificationSuppression)
                .where(NotificationSuppression.window_ends_at <= now)
                .with_for_update(skip_locked=True)
            )
            for row in closed:
                if row.suppressed > 0:
                    stamp = int(row.window_ends_at.timestamp())
                    suffix = f":{row.integration}" if row.integration >= 0 else ""
                    queued += (
                        enqueue(
                            db,
                            OutboxMessage(
                                idempotency_key=f"digest:{row.id}:{stamp}{suffix}",
                                channel=row.channel,
                                payload=digest_variables(row),
                                receiver=row.receiver,
                                recipients=tuple(row.recipients),
                                priority="low",
                                source="digest",
                                source_ref=row.key,
                            ),
                            now,
                        )
                        is not None
                    )
                db.delete(row)
    return queued
