"""The values delivery stages pass along: a claimed row, the work on it, its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchkeeper.notify.base import (
    Channel,
    NotificationChannel,
    NotificationPriority,
    RenderedMessage,
)
from watchkeeper.notify.outbox import OutboxStatus


@dataclass(frozen=True)
class Claim:
    """A row as claimed: a snapshot, plus the lease end that fences our later update."""

    id: int
    tenant_id: str
    idempotency_key: str
    channel: str
    receiver: str
    recipients: tuple[str, ...]
    template_id: str
    priority: str
    payload: dict[str, Any]
    source: str
    attempts: int
    created_at: datetime
    lease: datetime
    retried: bool = False  # an operator put it back from dead (`retried_at`)

    @property
    def gated(self) -> bool:
        """Anti-spam applies to a row's first attempt, not to retries or an operator's retry."""
        return self.attempts == 1 and self.source != "digest" and not self.retried

    @property
    def integration(self) -> int:
        """Index of the receiver's integration for a fanned-out row (contract: key suffix)."""
        if not (self.receiver and self.channel):
            return -1
        tail = self.idempotency_key.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    @property
    def priority_level(self) -> NotificationPriority:
        """The row's priority; an unknown value counts as normal."""
        try:
            return NotificationPriority(self.priority)
        except ValueError:
            return NotificationPriority.NORMAL


@dataclass(frozen=True)
class Work:
    """A claimed row on its way through the stages; each fills in what it decides."""

    claim: Claim
    kind: NotificationChannel | None = None  # set by the channel stage
    channel: Channel | None = None  # set by the channel stage
    message: RenderedMessage | None = None  # set by the render stage
    note: str = ""  # why the message was not rendered as asked (a template fallback)


@dataclass(frozen=True)
class Outcome:
    """Where a row ends this pass; the record stage writes it (fenced by the lease)."""

    claim: Claim
    status: OutboxStatus
    error: str = ""
    next_attempt_at: datetime | None = None
    recipients: tuple[str, ...] | None = None  # the recipients still owed the message
    attempt_counted: bool = True  # False: the attempt is given back (quiet hours)


Step = Work | Outcome
"""What a row stage returns: the work to go on with, or where the row ends this pass."""
