"""The notification outbox: what must be delivered, written where the cause is committed.

Producers (the alert dispatcher, incidents, escalation, the Python and HTTP APIs) call
`enqueue` inside their own transaction, so a message exists exactly when its cause does.
Delivery workers drain the table (see `NotificationOutbox` for the row lifecycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.db.tables import NotificationOutbox

_QUEUED_KEYS = "watchkeeper.outbox.queued_keys"


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
        status="pending",
        attempts=0,
        next_attempt_at=message.not_before or now,
        last_error="",
        created_at=now,
    )
    db.add(row)
    return row
