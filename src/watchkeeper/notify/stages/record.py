"""Record stage: write each row's outcome, fenced by the lease it was claimed under.

`WHERE status = 'sending' AND claimed_until = <our lease>`: a worker that stalled past its
lease cannot overwrite the row another worker took over; its late answer is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import bindparam, update

from watchkeeper.clock import Clock
from watchkeeper.notify.outbox import OutboxStatus
from watchkeeper.tenancy.scope import SessionFactory

from .claim import OUTBOX
from .work import Outcome

log = structlog.get_logger(__name__)


class RecordOutcomes:
    def __init__(self, sessions: SessionFactory, clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def __call__(self, outcomes: Sequence[Outcome]) -> None:
        t = OUTBOX
        now = self.clock.now()
        plain_sent = [
            o
            for o in outcomes
            if o.status == OutboxStatus.SENT
            and o.recipients is None
            and o.attempt_counted
            and not o.error
        ]
        batched = {id(o) for o in plain_sent}
        others = [o for o in outcomes if id(o) not in batched]
        with self.sessions.system("notification delivery: record outcomes") as db:
            if plain_sent:
                # The common case in one executemany: per-row statements cost more in
                # SQLAlchemy's compile cache than in the database.
                db.execute(
                    update(t)
                    .where(
                        t.c.id == bindparam("row_id"),
                        t.c.status == OutboxStatus.SENDING,
                        t.c.claimed_until == bindparam("lease"),
                    )
                    .values(
                        status=OutboxStatus.SENT, claimed_until=None, last_error="", sent_at=now
                    ),
                    [{"row_id": o.claim.id, "lease": o.claim.lease} for o in plain_sent],
                )
            for outcome in others:
                claim = outcome.claim
                values: dict[str, Any] = {
                    "status": outcome.status,
                    "claimed_until": None,
                    "last_error": outcome.error[:2000],
                }
                if outcome.status == OutboxStatus.SENT:
                    values["sent_at"] = now
                if outcome.status == OutboxStatus.PENDING:
                    values["next_attempt_at"] = outcome.next_attempt_at or now
                if outcome.recipients is not None:
                    values["recipients"] = list(outcome.recipients)
                if not outcome.attempt_counted:
                    values["attempts"] = t.c.attempts - 1
                db.execute(
                    update(t)
                    .where(
                        t.c.id == claim.id,
                        t.c.status == OutboxStatus.SENDING,
                        t.c.claimed_until == claim.lease,
                    )
                    .values(**values)
                )
        for outcome in outcomes:
            if outcome.status == OutboxStatus.DEAD:
                log.warning(
                    "notification_dead",
                    id=outcome.claim.id,
                    channel=outcome.claim.channel,
                    receiver=outcome.claim.receiver,
                    error=outcome.error,
                )
