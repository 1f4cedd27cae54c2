"""The notification outbox: what must be delivered, written where the cause is committed.

Producers (the alert dispatcher, incidents, escalation, the Python and HTTP APIs) call
`enqueue` inside their own transaction, so a message exists exactly when its cause does.
Delivery workers drain the table (see `NotificationOutbox` for the row lifecycle);
`OutboxPruner` deletes settled rows once their retention has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import anyio
import structlog
from prometheus_client import Counter
from sqlalchemy import ColumnElement, Table, delete, select
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.db.tables import AlertEvent, NotificationOutbox
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

PRUNED = Counter(
    "watchkeeper_notification_outbox_pruned",
    "Settled outbox rows deleted after their retention, by status",
    ["status"],
)

_QUEUED_KEYS = "watchkeeper.outbox.queued_keys"
_T = cast(Table, NotificationOutbox.__table__)
_EVENTS = cast(Table, AlertEvent.__table__)


class OutboxStatus(StrEnum):
    """The states of an outbox row (docs/design/notifications.md, "Row states")."""

    PENDING = "pending"  # due at `next_attempt_at`
    SENDING = "sending"  # claimed; `claimed_until` is the lease
    SENT = "sent"
    DEAD = "dead"  # permanent failure or attempts exhausted; an operator may retry it
    EXPANDED = "expanded"  # a receiver row, fanned out into one row per integration
    SUPPRESSED = "suppressed"  # held back by dedup or a rate limit, listed in a digest


SETTLED = (OutboxStatus.SENT, OutboxStatus.EXPANDED, OutboxStatus.SUPPRESSED)
"""Statuses no worker changes again; `dead` too, but only until an operator retries it."""


@dataclass(frozen=True)
class OutboxMessage:
    """One message for one channel. `idempotency_key` must be stable for the same cause
    (e.g. `alert_group:<group key>:<flush sequence>:<receiver>:<channel>`), so a producer that
    runs twice after a crash queues it once."""

    idempotency_key: str
    channel: str
    payload: dict[str, Any]
    receiver: str = ""
    recipients: tuple[str, ...] = ()
    template_id: str = ""
    priority: str = "normal"
    source: str = "api"
    source_ref: str = ""
    not_before: datetime | None = None


def enqueue(db: Session, message: OutboxMessage, now: datetime) -> NotificationOutbox | None:
    """Queue `message` in `db`'s transaction; None when its idempotency key is already queued.

    `db` must be a tenant session: the row takes the session's tenant.
    """
    queued: set[str] = db.info.setdefault(_QUEUED_KEYS, set())
    if message.idempotency_key in queued:
        return None  # queued earlier in this same transaction
    # No autoflush: flushing the previous row before every check made a burst of N messages
    # cost N flushes (the main cost of enqueueing 2,000 rows in one transaction).
    with db.no_autoflush:
        existing = db.scalar(
            select(NotificationOutbox.id).where(
                NotificationOutbox.idempotency_key == message.idempotency_key
            )
        )
    if existing is not None:
        return None
    queued.add(message.idempotency_key)
    row = NotificationOutbox(
        idempotency_key=message.idempotency_key,
        channel=message.channel,
        receiver=message.receiver,
        recipients=list(message.recipients),
        template_id=message.template_id,
        priority=message.priority,
        payload=message.payload,
        source=message.source,
        source_ref=message.source_ref,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=message.not_before or now,
        last_error="",
        created_at=now,
    )
    db.add(row)
    return row


class OutboxPruner(PeriodicWorker):
    """Deletes settled outbox rows past their retention, so the table holds the queue and
    recent history instead of every message ever sent.

    No old row is needed to suppress a duplicate: the dedup windows, rate buckets and
    digests live in their own tables, and every producer's idempotency key carries a number
    that only grows (alert dispatch `seq`, incident `notify_seq`, escalation `cycle`) or a
    fresh uuid. What retention does bound is a key a library caller chooses itself
    (`NotificationRequest.idempotency_key`): reused after the retention, it is sent again.

    `pending` and `sending` rows are never touched. A row's age is taken from
    `next_attempt_at` (its last due time, never after it settled, and the column the
    `(status, next_attempt_at)` index covers), plus `sent_at` for sent rows. Rows go in
    batches of `batch_size`, each its own transaction so a backlog never holds a long lock,
    and at most `max_batches` per status and pass so stopping the worker never waits long.
    Among replicas it runs under a lease (`wiring.with_leases`); were two to run it at once,
    the second would only find nothing left to delete.
    """

    name = "outbox_pruner"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        clock: Clock,
        sessions: SessionFactory,
        *,
        retention_days: float,
        dead_retention_days: float,
        interval: float = 60.0,
        batch_size: int = 5000,
        max_batches: int = 20,
    ) -> None:
        super().__init__(clock, interval)
        self.sessions = sessions
        self.retention = timedelta(days=retention_days)
        self.dead_retention = timedelta(days=dead_retention_days)
        self.batch_size = batch_size
        self.max_batches = max_batches

    def prune(self) -> dict[str, int]:
        """Rows deleted in this pass, by status (statuses with none are left out)."""
        now = self.clock.now()
        deleted: dict[str, int] = {}
        for status in (*SETTLED, OutboxStatus.DEAD):
            cutoff = now - (self.dead_retention if status is OutboxStatus.DEAD else self.retention)
            where = [_T.c.status == status, _T.c.next_attempt_at < cutoff]
            if status is OutboxStatus.SENT:
                where.append(_T.c.sent_at < cutoff)
            count = self._delete(where)
            if count:
                deleted[status] = count
                PRUNED.labels(status).inc(count)
        # The alert events the dispatcher consumed (`alert_notifications`, status `sent`) are
        # the same history one step earlier: nothing reads them once consumed.
        cutoff = now - self.retention
        count = self._delete(
            [_EVENTS.c.status == "sent", _EVENTS.c.sent_at < cutoff], table=_EVENTS
        )
        if count:
            deleted["alert_events"] = count
            PRUNED.labels("alert_events").inc(count)
        if deleted:
            log.info("outbox_pruned", **deleted)
        return deleted

    def _delete(self, where: list[ColumnElement[bool]], table: Table = _T) -> int:
        total = 0
        batch = select(table.c.id).where(*where).limit(self.batch_size).scalar_subquery()
        # The conditions are repeated on the DELETE itself: on PostgreSQL a row an operator
        # retried (dead -> pending) between the subquery and the delete is re-checked and kept.
        statement = delete(table).where(table.c.id.in_(batch), *where)
        for _ in range(self.max_batches):
            with self.sessions.system("notification outbox retention") as db:
                count = int(getattr(db.execute(statement), "rowcount", 0) or 0)
            total += count
            if count < self.batch_size:
                break
        return total

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.prune)
