"""Claim stage: take due rows of every tenant, each under a lease that fences our update.

One statement: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING` on
PostgreSQL, so concurrent workers and processes take disjoint rows; the same single
`UPDATE ... RETURNING` on SQLite, where the database's write lock serialises claims. The
claim counts the attempt, so a crash mid-send uses one up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from sqlalchemy import Table, and_, or_, select, update

from watchkeeper.clock import Clock
from watchkeeper.config import NotificationSettings
from watchkeeper.db.tables import NotificationOutbox
from watchkeeper.notify.outbox import OutboxStatus
from watchkeeper.tenancy.scope import SessionFactory

from .work import Claim

OUTBOX = cast(Table, NotificationOutbox.__table__)


class ClaimDue:
    """Claims up to `batch_size` due rows: `pending` whose time has come, or `sending` whose
    lease has passed (its worker died)."""

    def __init__(
        self, sessions: SessionFactory, clock: Clock, settings: NotificationSettings
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self._postgres = sessions.engine.dialect.name == "postgresql"

    def __call__(self) -> list[Claim]:
        t = OUTBOX
        now = self.clock.now()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        due = or_(
            and_(t.c.status == OutboxStatus.PENDING, t.c.next_attempt_at <= now),
            and_(t.c.status == OutboxStatus.SENDING, t.c.claimed_until < now),
        )
        ids = select(t.c.id).where(due).order_by(t.c.next_attempt_at, t.c.id)
        ids = ids.limit(self.settings.batch_size)
        if self._postgres:
            ids = ids.with_for_update(skip_locked=True)
        statement = (
            update(t)
            .where(t.c.id.in_(ids.scalar_subquery()))
            .values(status=OutboxStatus.SENDING, claimed_until=lease, attempts=t.c.attempts + 1)
            .returning(*t.c)
        )
        with self.sessions.system("notification delivery: claim due outbox rows") as db:
            rows = db.execute(statement).mappings().all()
        return sorted(
            (
                Claim(
                    id=r["id"],
                    tenant_id=r["tenant_id"],
                    idempotency_key=r["idempotency_key"],
                    channel=r["channel"],
                    receiver=r["receiver"],
                    recipients=tuple(r["recipients"] or ()),
                    template_id=r["template_id"],
                    priority=r["priority"],
                    payload=dict(r["payload"] or {}),
                    source=r["source"],
                    attempts=r["attempts"],
                    created_at=r["created_at"],
                    lease=lease,
                    retried=r["retried_at"] is not None,
                )
                for r in rows
            ),
            key=lambda c: c.id,
        )
