"""Expand stage: a receiver row (channel "") becomes one pending row per integration.

The new rows are written in the claim's tenant session, and the receiver row is recorded
`expanded` by the record stage; each child's key is `<key>:<integration index>`, which is
how later stages find their integration again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from watchkeeper.notify.outbox import OutboxMessage, OutboxStatus, enqueue
from watchkeeper.notify.receivers import ReceiverStore
from watchkeeper.tenancy.service import NotFoundError

from .work import Outcome, Step, Work


class ExpandReceivers:
    def __init__(self, receivers: ReceiverStore) -> None:
        self.receivers = receivers

    def __call__(self, db: Session, work: Work, now: datetime) -> Step:
        claim = work.claim
        if claim.channel:
            return work
        try:
            receiver = self.receivers.get(db, claim.receiver)
        except NotFoundError as exc:
            return Outcome(claim, OutboxStatus.DEAD, f"receiver: {exc}")
        if not receiver.integrations:
            return Outcome(
                claim, OutboxStatus.DEAD, f"receiver: {claim.receiver!r} has no integrations"
            )
        for index, integration in enumerate(receiver.integrations):
            enqueue(
                db,
                OutboxMessage(
                    idempotency_key=f"{claim.idempotency_key}:{index}",
                    channel=integration.type.value,
                    payload=claim.payload,
                    receiver=claim.receiver,
                    recipients=claim.recipients,
                    template_id=claim.template_id,
                    priority=claim.priority,
                    source=claim.source,
                    not_before=now,
                ),
                now,
            )
        return Outcome(claim, OutboxStatus.EXPANDED)
