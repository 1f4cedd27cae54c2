"""The delivery worker: drives the delivery pipeline (`notify/pipeline.py`) over the outbox.

Each pass claims a batch and runs the row stages on it in a thread while the previous batch
is being sent, so the database work overlaps the network work. It also owns the guarded
HTTP session every channel posts through, queues digests for closed suppression windows and
samples the queue depth for `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Mapping

import aiohttp
import anyio
from prometheus_client import Gauge
from sqlalchemy import func, select

from watchkeeper.clock import Clock
from watchkeeper.config import NotificationSettings
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory

from .base import Channel, NotificationChannel
from .http import new_session
from .outbound import OutboundPolicy
from .outbox import OutboxStatus
from .pipeline import DeliveryPipeline
from .receivers import ReceiverStore
from .stages.claim import OUTBOX
from .stages.gate import flush_digests
from .stages.render import TemplateSource
from .template_store import load_template

QUEUE = Gauge("watchkeeper_notification_outbox_rows", "Outbox rows by status (sampled)", ["status"])


class DeliveryWorker(PeriodicWorker):
    """Drains the outbox through the pipeline. Tests call `drain_once` directly."""

    placement = Placement.PER_REPLICA  # replicas share the queue through row leases

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        clock: Clock,
        settings: NotificationSettings,
        receivers: ReceiverStore,
        templates: TemplateSource | None = None,
        extra_channels: Mapping[NotificationChannel, Channel] | None = None,
        client: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        name: str = "notify-delivery",
        outbound: OutboundPolicy | None = None,
    ) -> None:
        """`outbound` is the guard on every destination (default: `security.outbound_allow`
        of the receivers' settings); a given `client` must be a guarded session too."""
        super().__init__(clock, settings.poll_interval_seconds)
        self.name = name
        self.sessions = sessions
        self.settings = settings
        self.outbound = outbound or OutboundPolicy.from_settings(receivers.settings.security)
        self._client = client
        self._owns_client = client is None
        self._last_sample = 0.0
        self.pipeline = DeliveryPipeline(
            sessions=sessions,
            clock=clock,
            settings=settings,
            receivers=receivers,
            templates=templates or load_template,
            client=lambda: self.client,
            outbound=self.outbound,
            extra_channels=dict(extra_channels or {}),
            rng=rng or random.Random(),
        )

    @property
    def client(self) -> aiohttp.ClientSession:
        """The session every channel of this worker POSTs through; first made inside the
        event loop by `_session` (a session binds to the running loop, the row stages run
        in a thread), with room for every concurrent send."""
        if self._client is None:
            self._client = new_session(self.outbound, limit=self.settings.concurrency * 2)
        return self._client

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[None]:
        """Our own session for the outermost pass (or the whole of `run`), closed at its end,
        so a worker driven by `drain_once` alone never leaves a session open."""
        if not self._owns_client or self._client is not None:
            yield
            return
        _ = self.client
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the session this worker made (a session given by the caller stays open)."""
        if self._owns_client and self._client is not None:
            await self._client.close()
            self._client = None

    async def tick(self) -> None:
        async with self._session():
            await self.drain()
            await self.flush_digests()
        if self.clock.time() - self._last_sample >= 5.0:
            self._last_sample = self.clock.time()
            await anyio.to_thread.run_sync(self.sample_queue)

    async def drain(self) -> int:
        """Deliver until nothing is due, claiming and preparing the next batch while the
        current one is being sent."""
        pipeline = self.pipeline
        total = 0
        sending: asyncio.Task[None] | None = None
        async with self._session():
            try:
                while True:
                    claims = await anyio.to_thread.run_sync(pipeline.claim)
                    batch = (
                        await anyio.to_thread.run_sync(pipeline.prepare, claims) if claims else None
                    )
                    if sending is not None:
                        # Not `await sending`: cancelling this task (shutdown) would cancel the
                        # batch being sent with it, leaving its rows `sending` to be sent again.
                        await asyncio.wait({sending})
                        done, sending = sending, None
                        done.result()
                    if batch is None:
                        return total
                    total += len(claims)
                    sending = asyncio.create_task(pipeline.deliver(batch))
            finally:
                if sending is not None:
                    # Let the batch in flight settle (each send is bounded by its timeout)
                    # so its outcomes are recorded: cancelling it could abandon the thread
                    # that is writing them.
                    with anyio.CancelScope(shield=True):
                        await asyncio.wait({sending})

    async def run(self) -> None:
        async with self._session():
            await super().run()

    async def drain_once(self, templates: TemplateSource | None = None) -> int:
        """Claim one batch, deliver it, record the outcomes; the number of rows claimed.
        `templates` renders this pass with another template source (the Python API's
        in-memory templates)."""
        pipeline = self.pipeline
        claims = await anyio.to_thread.run_sync(pipeline.claim)
        if not claims:
            return 0
        async with self._session():
            batch = await anyio.to_thread.run_sync(pipeline.prepare, claims, templates)
            await pipeline.deliver(batch)
        return len(claims)

    async def flush_digests(self) -> int:
        return await anyio.to_thread.run_sync(flush_digests, self.sessions, self.clock)

    def sample_queue(self) -> dict[str, int]:
        with self.sessions.system("notification delivery: queue depth") as db:
            counts = dict(
                db.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status))
                .tuples()
                .all()
            )
        for status in OutboxStatus:
            QUEUE.labels(status).set(counts.get(status, 0))
        return {str(k): int(v) for k, v in counts.items()}
