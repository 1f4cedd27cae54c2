"""Notification delivery as one chain of stages, as Alertmanager's `notify.MultiStage`.

    claim   stages/claim.py    due rows of every tenant, each under a lease that fences it
    expand  stages/expand.py   a receiver row becomes one row per integration
    channel stages/channel.py  the configured channel the row goes out on
    render  stages/render.py   the template, with the row's payload (or alert group) as input
    gate    stages/gate.py     first attempts: quiet hours (defer), dedup and rate limits
    send    stages/send.py     one attempt, classified: sent | retry with backoff | dead
    record  stages/record.py   the outcomes, fenced by the lease

expand → channel → render → gate run per row, in the row's tenant session, in that order
(`ROW_STAGES`); each either hands the row on (`Work`) or ends it for this pass (`Outcome`).
Sends run concurrently, bounded by `notifications.concurrency`; outcomes are written
together. A process that dies mid-send leaves its rows `sending`; once the lease ends another
pass takes them again, so delivery is at-least-once, and at-most-once per idempotency key for
receivers that honour `Idempotency-Key` (the key is the same on every attempt).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.config import NotificationSettings
from watchkeeper.tenancy.scope import SessionFactory

from .antispam import Gate
from .base import Channel, NotificationChannel
from .http import HttpClient
from .outbound import OutboundPolicy
from .receivers import ReceiverStore
from .stages.channel import ResolveChannel
from .stages.claim import ClaimDue
from .stages.expand import ExpandReceivers
from .stages.gate import GateFirstAttempt
from .stages.record import RecordOutcomes
from .stages.render import Render, TemplateSource
from .stages.send import Send
from .stages.work import Claim, Outcome, Step, Work

__all__ = [
    "Batch",
    "Claim",
    "DeliveryPipeline",
    "Outcome",
    "RowStage",
    "Work",
    "run_row_stages",
]

RowStage = Callable[[Session, Work, datetime], Step]
"""A stage applied to one row in its tenant session: (db, work, now) -> work or outcome."""


@dataclass
class Batch:
    """Claimed rows after the row stages: the ones to send, and the ones already settled."""

    ready: list[Work] = field(default_factory=list)
    settled: list[Outcome] = field(default_factory=list)


def run_row_stages(stages: Sequence[RowStage], db: Session, work: Work, now: datetime) -> Step:
    """Each stage in order until one ends the row."""
    for stage in stages:
        step = stage(db, work, now)
        if isinstance(step, Outcome):
            return step
        work = step
    return work


class DeliveryPipeline:
    """The stages, built once from the worker's settings; `DeliveryWorker` drives them."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        clock: Clock,
        settings: NotificationSettings,
        receivers: ReceiverStore,
        templates: TemplateSource,
        client: Callable[[], HttpClient],
        outbound: OutboundPolicy,
        extra_channels: Mapping[NotificationChannel, Channel],
        rng: random.Random,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings
        self.receivers = receivers
        self.templates = templates
        self.client = client
        self.outbound = outbound
        self.extra_channels = extra_channels
        self.claim = ClaimDue(sessions, clock, settings)
        self.expand = ExpandReceivers(receivers)
        self.gate = GateFirstAttempt(Gate(settings))
        self.send = Send(settings, clock, rng)
        self.record = RecordOutcomes(sessions, clock)

    def row_stages(self, templates: TemplateSource | None = None) -> tuple[RowStage, ...]:
        """expand → channel → render → gate; the channel and render stages are made per
        batch, so channels and templates are looked up once per batch, never reused stale."""
        channel = ResolveChannel(
            sessions=self.sessions,
            clock=self.clock,
            receivers=self.receivers,
            client=self.client(),
            outbound=self.outbound,
            extra_channels=self.extra_channels,
        )
        return (self.expand, channel, Render(templates or self.templates), self.gate)

    def prepare(self, claims: Sequence[Claim], templates: TemplateSource | None = None) -> Batch:
        """The row stages over claimed rows, one tenant session per tenant."""
        stages = self.row_stages(templates)
        by_tenant: dict[str, list[Claim]] = defaultdict(list)
        for claim in claims:
            by_tenant[claim.tenant_id].append(claim)
        batch = Batch()
        now = self.clock.now()
        for tenant_id, group in by_tenant.items():
            with self.sessions.tenant(tenant_id) as db:
                for claim in group:
                    step = run_row_stages(stages, db, Work(claim), now)
                    if isinstance(step, Outcome):
                        batch.settled.append(step)
                    else:
                        batch.ready.append(step)
        return batch

    async def deliver(self, batch: Batch) -> None:
        """Send the ready rows (bounded concurrency), then record every outcome."""
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def bounded(work: Work) -> Outcome:
            async with limit:
                return await self.send(work)

        sent = await asyncio.gather(*(bounded(work) for work in batch.ready))
        await anyio.to_thread.run_sync(self.record, [*batch.settled, *sent])
