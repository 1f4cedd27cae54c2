"""The outbox as operators see it: list and inspect notifications, retry dead ones, and
queue a receiver's test message. Functions over a tenant session; routers stay thin."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import NotificationOutbox
from watchkeeper.tenancy.service import ConflictError, NotFoundError

from .outbox import OutboxMessage, OutboxStatus, enqueue
from .receivers import ReceiverStore


def list_notifications(
    db: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    source: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[NotificationOutbox]:
    """Newest first; `before_id` pages backwards (pass the last id of the previous page)."""
    query = select(NotificationOutbox)
    if status:
        query = query.where(NotificationOutbox.status == status)
    if channel is not None:
        query = query.where(NotificationOutbox.channel == channel)
    if source:
        query = query.where(NotificationOutbox.source == source)
    if before_id is not None:
        query = query.where(NotificationOutbox.id < before_id)
    return list(db.scalars(query.order_by(NotificationOutbox.id.desc()).limit(limit)))


def get_notification(db: Session, notification_id: int) -> NotificationOutbox:
    row = db.scalar(select(NotificationOutbox).where(NotificationOutbox.id == notification_id))
    if row is None:
        raise NotFoundError(f"notification {notification_id} not found")
    return row


def retry_notification(db: Session, notification_id: int, now: datetime) -> NotificationOutbox:
    """A dead notification back to the queue, with a fresh attempt budget and the same key.

    `retried_at` marks it as an operator's retry, which the anti-spam gate lets through."""
    row = get_notification(db, notification_id)
    if row.status != OutboxStatus.DEAD:
        raise ConflictError(
            f"notification {notification_id} is {row.status}; only dead notifications are retried"
        )
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now
    row.claimed_until = None
    row.retried_at = now
    row.last_error = f"retry requested; was: {row.last_error}"[:2000]
    db.flush()
    return row


def queue_test_message(
    db: Session, store: ReceiverStore, name: str, now: datetime, *, recipients: Sequence[str] = ()
) -> NotificationOutbox:
    """One test notification to every integration of receiver `name`, through the outbox."""
    receiver = store.get(db, name)  # NotFoundError for an unknown receiver
    if not receiver.integrations:
        raise ValueError(f"receiver {name!r} has no integrations to test")
    row = enqueue(
        db,
        OutboxMessage(
            idempotency_key=f"test:{name}:{uuid.uuid4().hex}",
            channel="",
            receiver=name,
            recipients=tuple(recipients),
            payload={
                "status": "firing",
                "alert": {
                    "name": "WatchkeeperTestNotification",
                    "status": "firing",
                    "severity": "info",
                    "summary": f"Test notification for receiver {name}",
                    "description": "If you can read this, the receiver works.",
                    "labels": {"alertname": "WatchkeeperTestNotification"},
                    "annotations": {},
                    "starts_at": now.isoformat(),
                },
            },
            priority="low",
            source="test",
            source_ref=name,
        ),
        now,
    )
    assert row is not None  # the key is fresh
    db.flush()
    return row
