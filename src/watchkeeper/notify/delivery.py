"""The delivery worker: drains `notification_outbox` with leases, retries and a dead letter.

One pass (`drain_once`), the notification pipeline in order:
  claim      due rows of every tenant, each under a lease (`claimed_until`) that fences it:
             `FOR UPDATE SKIP LOCKED` on PostgreSQL, one UPDATE ... RETURNING on SQLite
  expand     a receiver row (channel "") becomes one row per integration, in one transaction
  render     the row's template with its payload as variables
  gate       first attempts only: quiet hours (defer), dedup window and rate limits (suppress)
  send       concurrently, bounded, each channel with its own timeout and the idempotency key
  record     sent | pending with backoff (full jitter, Retry-After honoured) | dead
A process that dies mid-send leaves its rows `sending`; once the lease ends another pass takes
them again, so delivery is at-least-once, and at-most-once per idempotency key for receivers
that honour `Idempotency-Key` (the key is the same on every attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import aiohttp
import anyio
import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.config import NotificationSettings
from watchkeeper.db.tables import NotificationOutbox, NotificationSuppression
from watchkeeper.runtime.worker import PeriodicWorker
from watchkeeper.tenancy.scope import SessionFactory
from watchkeeper.tenancy.service import NotFoundError

from .antispam import Destination, Gate, dedup_key, digest_variables, quiet_recipients
from .api import recipients_for
from .base import (
    Channel,
    DeliveryResult,
    NotificationChannel,
    NotificationPriority,
    RenderedMessage,
)
from .config import channel_from_config, tenant_config_problem
from .default_templates import DEFAULT_TEMPLATES
from .http import new_session
from .outbound import OutboundPolicy, excerpt
from .outbox import OutboxMessage, enqueue
from .receivers import ReceiverStore
from .template_store import load_template
from .templates import NotificationTemplate, TemplateRenderError, render_or_fallback
from .websocket import WebSocketChannel

log = structlog.get_logger(__name__)

ATTEMPTS = Counter(
    "watchkeeper_notification_delivery_attempts",
    "Notification delivery attempts, by channel and outcome (delivered, retry, dead)",
    ["channel", "outcome"],
)
FAILURES = Counter(
    "watchkeeper_notification_delivery_failures",
    "Failed notification delivery attempts, by channel and reason",
    ["channel", "reason"],
)
LATENCY = Histogram(
    "watchkeeper_notification_delivery_latency_seconds",
    "Time from a notification's enqueue to its delivery, by channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
)
QUEUE = Gauge("watchkeeper_notification_outbox_rows", "Outbox rows by status (sampled)", ["status"])
SUPPRESSED = Counter(
    "watchkeeper_notifications_suppressed",
    "Notifications held back, by reason (duplicate, rate_limit); listed in a digest",
    ["reason"],
)

_T = cast(Table, NotificationOutbox.__table__)
RETRY_MARK = "retry requested"
STATUSES = ("pending", "sending", "sent", "dead", "expanded", "suppressed")
TemplateSource = Callable[[Session, str, NotificationChannel], NotificationTemplate]
"""(tenant session, template id, channel) -> the template to render with (default:
`template_store.load_template`: the tenant's template, else the channel's built-in)."""


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
    last_error: str = ""

    @property
    def gated(self) -> bool:
        """Anti-spam applies to a row's first attempt, not to retries or an operator's retry."""
        return (
            self.attempts == 1
            and self.source != "digest"
            and not self.last_error.startswith(RETRY_MARK)
        )

    @property
    def integration(self) -> int:
        """Index of the receiver's integration for a fanned-out row (contract: key suffix)."""
        if not (self.receiver and self.channel):
            return -1
        tail = self.idempotency_key.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else -1


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    status: str  # sent | pending | dead | expanded | suppressed
    error: str = ""
    next_attempt_at: datetime | None = None
    recipients: tuple[str, ...] | None = None
    attempt_counted: bool = True


@dataclass(frozen=True)
class _Job:
    claim: Claim
    channel: Channel
    message: RenderedMessage
    note: str = ""  # why the message was not rendered as asked (a template fallback)


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""
    return rng.uniform(0.0, min(cap, base * 2 ** max(attempt - 1, 0)))


def failure_reason(result: DeliveryResult) -> str:
    code = result.status_code
    if code is not None:
        return "http_429" if code == 429 else f"http_{code // 100}xx"
    text = result.reason.lower()
    for word in ("timeout", "timed out", "connect", "template", "config", "receiver"):
        if word in text:
            return "timeout" if word == "timed out" else word
    return "smtp" if result.channel == "email" else "other"


def variables_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Template variables: the payload itself, or, for an Alertmanager v4 body (alert-group
    notifications), the template contract's `alert`/`alerts`/`status` built from it."""
    if str(payload.get("version")) != "4" or "alerts" not in payload:
        return dict(payload)
    alerts = []
    for raw in payload.get("alerts") or []:
        labels = dict(raw.get("labels") or {})
        annotations = dict(raw.get("annotations") or {})
        ends = raw.get("endsAt")
        alerts.append(
            {
                "name": labels.get("alertname", ""),
                "status": raw.get("status", "firing"),
                "severity": labels.get("severity", ""),
                "summary": annotations.get("summary", ""),
                "description": annotations.get("description", ""),
                "value": "",
                "labels": labels,
                "annotations": annotations,
                "starts_at": raw.get("startsAt"),
                "ends_at": None if ends == "0001-01-01T00:00:00Z" else ends,
                "url": raw.get("generatorURL", ""),
                "generator_url": raw.get("generatorURL", ""),
                "fingerprint": raw.get("fingerprint", ""),
            }
        )
    first = next((a for a in alerts if a["status"] == "firing"), alerts[0] if alerts else {})
    return {
        "status": payload.get("status", "firing"),
        "alert": first,
        "alerts": alerts,
        "group_key": payload.get("groupKey", ""),
        "group_labels": payload.get("groupLabels", {}),
        "common_labels": payload.get("commonLabels", {}),
        "common_annotations": payload.get("commonAnnotations", {}),
        "external_url": payload.get("externalURL", ""),
        "receiver": payload.get("receiver", ""),
        "changes": payload.get("changes", {}),
        "truncated_alerts": payload.get("truncatedAlerts", 0),
    }


class DeliveryWorker(PeriodicWorker):
    """Drains the outbox (see the module docstring). Tests call `drain_once` directly."""

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
        self.receivers = receivers
        self.templates: TemplateSource = templates or load_template
        self.extra_channels = dict(extra_channels or {})
        self.outbound = outbound or OutboundPolicy.from_settings(receivers.settings.security)
        self._client = client
        self._owns_client = client is None
        self._rng = rng or random.Random()
        self._gate = Gate(settings)
        self._postgres = sessions.engine.dialect.name == "postgresql"
        self._last_sample = 0.0
        self._batch_channels: dict[tuple[str, str, int, NotificationChannel], Channel] = {}
        self._batch_templates: dict[tuple[str, str, NotificationChannel], NotificationTemplate] = {}

    @property
    def client(self) -> aiohttp.ClientSession:
        """The session every channel of this worker POSTs through; first made inside the
        event loop by `_session` (a session binds to the running loop, `_prepare` runs in a
        thread), with room for every concurrent send."""
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
        current one is being sent (the database work overlaps the network work)."""
        total = 0
        sending: asyncio.Task[None] | None = None
        async with self._session():
            try:
                while True:
                    claims = await anyio.to_thread.run_sync(self._claim)
                    prepared = (
                        await anyio.to_thread.run_sync(self._prepare, claims) if claims else None
                    )
                    if sending is not None:
                        # Not `await sending`: cancelling this task (shutdown) would cancel the
                        # batch being sent with it, leaving its rows `sending` to be sent again.
                        await asyncio.wait({sending})
                        done, sending = sending, None
                        done.result()
                    if prepared is None:
                        return total
                    total += len(claims)
                    sending = asyncio.create_task(self._deliver(*prepared))
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

    async def drain_once(self) -> int:
        """Claim one batch, deliver it, record the outcomes; the number of rows claimed."""
        claims = await anyio.to_thread.run_sync(self._claim)
        if not claims:
            return 0
        async with self._session():
            await self._deliver(*await anyio.to_thread.run_sync(self._prepare, claims))
        return len(claims)

    async def _deliver(self, jobs: list[_Job], outcomes: list[Outcome]) -> None:
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def bounded(job: _Job) -> Outcome:
            async with limit:
                return await self._send(job)

        settled = outcomes + list(await asyncio.gather(*(bounded(job) for job in jobs)))
        await anyio.to_thread.run_sync(self._record, settled)

    # -- claim ---------------------------------------------------------------------------

    def _claim(self) -> list[Claim]:
        now = self.clock.now()
        lease = now + timedelta(seconds=self.settings.lease_seconds)
        due = or_(
            and_(_T.c.status == "pending", _T.c.next_attempt_at <= now),
            and_(_T.c.status == "sending", _T.c.claimed_until < now),
        )
        ids = select(_T.c.id).where(due).order_by(_T.c.next_attempt_at, _T.c.id)
        ids = ids.limit(self.settings.batch_size)
        if self._postgres:
            ids = ids.with_for_update(skip_locked=True)
        statement = (
            update(_T)
            .where(_T.c.id.in_(ids.scalar_subquery()))
            .values(status="sending", claimed_until=lease, attempts=_T.c.attempts + 1)
            .returning(*_T.c)
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
                    last_error=r["last_error"] or "",
                )
                for r in rows
            ),
            key=lambda c: c.id,
        )

    # -- expand, render, gate ------------------------------------------------------------

    def _prepare(self, claims: Sequence[Claim]) -> tuple[list[_Job], list[Outcome]]:
        self._batch_channels = {}
        self._batch_templates = {}
        by_tenant: dict[str, list[Claim]] = defaultdict(list)
        for claim in claims:
            by_tenant[claim.tenant_id].append(claim)
        jobs: list[_Job] = []
        outcomes: list[Outcome] = []
        now = self.clock.now()
        for tenant_id, group in by_tenant.items():
            with self.sessions.tenant(tenant_id) as db:
                for claim in group:
                    job, outcome = self._prepare_one(db, claim, now)
                    if job is not None:
                        jobs.append(job)
                    if outcome is not None:
                        outcomes.append(outcome)
        return jobs, outcomes

    def _prepare_one(
        self, db: Session, claim: Claim, now: datetime
    ) -> tuple[_Job | None, Outcome | None]:
        if not claim.channel:
            return None, self._expand(db, claim, now)
        try:
            kind = NotificationChannel(claim.channel)
        except ValueError:
            return None, Outcome(claim, "dead", f"unknown channel {claim.channel!r}")
        try:
            channel = self._channel(db, claim, kind)
        except (LookupError, ValueError) as exc:  # includes a config that no longer validates
            return None, Outcome(claim, "dead", f"config: {exc}")
        template_key = (claim.tenant_id, claim.template_id, kind)
        template = self._batch_templates.get(template_key)
        if template is None:
            template = self.templates(db, claim.template_id, kind)
            self._batch_templates[template_key] = template
        priority = _priority(claim.priority)
        try:
            message, note = render_or_fallback(
                template,
                DEFAULT_TEMPLATES[kind],
                variables_from_payload(claim.payload),
                priority=priority,
                idempotency_key=claim.idempotency_key,
                recipients=recipients_for(kind, claim.recipients),
            )
        except TemplateRenderError as exc:
            return None, Outcome(claim, "dead", f"template {template.id}: {exc}")
        if note:  # kept on the row as its last_error once sent, and logged now
            log.warning("notification_template_fallback", id=claim.id, reason=note)
        if claim.gated:
            held = self._gate_first_attempt(db, claim, message, priority, now)
            if held is not None:
                return None, held
        return _Job(claim, channel, message, note), None

    def _gate_first_attempt(
        self,
        db: Session,
        claim: Claim,
        message: RenderedMessage,
        priority: NotificationPriority,
        now: datetime,
    ) -> Outcome | None:
        critical = priority is NotificationPriority.CRITICAL
        if not critical:
            quiet = quiet_recipients(db, claim.recipients, now)
            if quiet:
                return self._defer_quiet(db, claim, quiet, now)
        where = Destination(claim.channel, claim.receiver, claim.integration, claim.recipients)
        key = dedup_key(
            claim.channel,
            f"{claim.receiver}#{claim.integration}",
            claim.recipients,
            message.subject,
        )
        if self._gate.duplicate(db, key, where, message.subject, now):
            SUPPRESSED.labels("duplicate").inc()
            return Outcome(claim, "suppressed", "duplicate within the dedup window")
        if not critical and self._gate.rate_limited(db, where, message.subject, now):
            SUPPRESSED.labels("rate_limit").inc()
            return Outcome(claim, "suppressed", "rate limited")
        return None

    def _defer_quiet(
        self, db: Session, claim: Claim, quiet: Mapping[str, datetime], now: datetime
    ) -> Outcome:
        """All recipients quiet: the row waits for the last of them. Some quiet: they get a
        row of their own that waits; this row goes on to the others."""
        until = max(quiet.values())
        rest = tuple(r for r in claim.recipients if r not in quiet)
        if not rest:
            return Outcome(claim, "pending", "quiet hours", until, attempt_counted=False)
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
        return Outcome(claim, "pending", "", now, recipients=rest, attempt_counted=False)

    def _expand(self, db: Session, claim: Claim, now: datetime) -> Outcome:
        try:
            receiver = self.receivers.get(db, claim.receiver)
        except NotFoundError as exc:
            return Outcome(claim, "dead", f"receiver: {exc}")
        if not receiver.integrations:
            return Outcome(claim, "dead", f"receiver: {claim.receiver!r} has no integrations")
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
        return Outcome(claim, "expanded")

    def _channel(self, db: Session, claim: Claim, kind: NotificationChannel) -> Channel:
        """The channel for a row; built once per batch per destination (configs are
        validated and secrets decrypted once, not per row)."""
        key = (claim.tenant_id, claim.receiver, claim.integration, kind)
        channel = self._batch_channels.get(key)
        if channel is None:
            channel = self._build_channel(db, claim, kind)
            self._batch_channels[key] = channel
        return channel

    def _build_channel(self, db: Session, claim: Claim, kind: NotificationChannel) -> Channel:
        if kind in self.extra_channels and not claim.receiver:
            return self.extra_channels[kind]
        if kind is NotificationChannel.WEBSOCKET:
            return WebSocketChannel(self.sessions, claim.tenant_id, self.clock)
        if claim.receiver:
            integrations = self.receivers.get(db, claim.receiver).integrations
            index = claim.integration
            if not 0 <= index < len(integrations) or integrations[index].type is not kind:
                raise LookupError(
                    f"receiver {claim.receiver!r} has no {kind.value} integration #{index}"
                )
            integration = integrations[index]
        else:
            found = self.receivers.channel_default(db, kind)
            if found is None:
                raise LookupError(f"no default {kind.value} configuration for direct messages")
            integration = found
        config = integration.config
        if integration.operator:  # the operator's own relay (EMAIL_SMTP_*), maybe on localhost
            outbound = OutboundPolicy.everywhere()
        else:
            outbound = self.outbound
            problem = tenant_config_problem(kind, config)  # a row stored before the rule
            if problem is not None:
                raise ValueError(problem)
        return channel_from_config(
            kind, config, client=self.client, clock=self.clock, outbound=outbound
        )

    # -- send, record --------------------------------------------------------------------

    async def _send(self, job: _Job) -> Outcome:
        claim = job.claim
        try:
            result = await job.channel.send(job.message)
        except Exception as exc:  # a channel must classify, but a bug must not kill the batch
            log.exception("notification_channel_raised", channel=claim.channel)
            result = DeliveryResult.retry(claim.channel, excerpt(f"{type(exc).__name__}: {exc}"))
        if result.delivered:
            ATTEMPTS.labels(claim.channel, "delivered").inc()
            now = self.clock.now()
            LATENCY.labels(claim.channel).observe(
                max((now - claim.created_at).total_seconds(), 0.0)
            )
            return Outcome(claim, "sent", job.note)
        FAILURES.labels(claim.channel, failure_reason(result)).inc()
        remaining = result.undelivered or None
        if result.retryable and claim.attempts < self.settings.max_attempts:
            ATTEMPTS.labels(claim.channel, "retry").inc()
            delay = backoff(
                claim.attempts,
                self.settings.backoff_base_seconds,
                self.settings.backoff_cap_seconds,
                self._rng,
            )
            if result.retry_after is not None:
                delay = max(delay, min(result.retry_after, self.settings.backoff_cap_seconds))
            when = self.clock.now() + timedelta(seconds=delay)
            return Outcome(claim, "pending", result.reason, when, recipients=remaining)
        ATTEMPTS.labels(claim.channel, "dead").inc()
        why = result.reason if not result.retryable else f"{result.reason} (attempts exhausted)"
        return Outcome(claim, "dead", why, recipients=remaining)

    def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = self.clock.now()
        plain_sent = [
            o
            for o in outcomes
            if o.status == "sent" and o.recipients is None and o.attempt_counted and not o.error
        ]
        batched = {id(o) for o in plain_sent}
        others = [o for o in outcomes if id(o) not in batched]
        with self.sessions.system("notification delivery: record outcomes") as db:
            if plain_sent:
                # The common case in one executemany: per-row statements cost more in
                # SQLAlchemy's compile cache than in the database (fenced as below).
                db.execute(
                    update(_T)
                    .where(
                        _T.c.id == bindparam("row_id"),
                        _T.c.status == "sending",
                        _T.c.claimed_until == bindparam("lease"),
                    )
                    .values(status="sent", claimed_until=None, last_error="", sent_at=now),
                    [{"row_id": o.claim.id, "lease": o.claim.lease} for o in plain_sent],
                )
            for outcome in others:
                claim = outcome.claim
                values: dict[str, Any] = {
                    "status": outcome.status,
                    "claimed_until": None,
                    "last_error": outcome.error[:2000],
                }
                if outcome.status == "sent":
                    values["sent_at"] = now
                if outcome.status == "pending":
                    values["next_attempt_at"] = outcome.next_attempt_at or now
                if outcome.recipients is not None:
                    values["recipients"] = list(outcome.recipients)
                if not outcome.attempt_counted:
                    values["attempts"] = _T.c.attempts - 1
                # Fenced by the lease: a row whose lease ran out and was claimed again by
                # another pass belongs to that pass now; our late answer is dropped.
                db.execute(
                    update(_T)
                    .where(
                        _T.c.id == claim.id,
                        _T.c.status == "sending",
                        _T.c.claimed_until == claim.lease,
                    )
                    .values(**values)
                )
        for outcome in outcomes:
            if outcome.status == "dead":
                log.warning(
                    "notification_dead",
                    id=outcome.claim.id,
                    channel=outcome.claim.channel,
                    receiver=outcome.claim.receiver,
                    error=outcome.error,
                )

    # -- digests, queue depth ------------------------------------------------------------

    async def flush_digests(self) -> int:
        return await anyio.to_thread.run_sync(self._flush_digests)

    def _flush_digests(self) -> int:
        """Queue one digest per closed window that held something back; drop closed windows."""
        now = self.clock.now()
        with self.sessions.system("notification delivery: closed suppression windows") as db:
            tenants = list(
                db.scalars(
                    select(NotificationSuppression.tenant_id)
                    .where(NotificationSuppression.window_ends_at <= now)
                    .distinct()
                )
            )
        queued = 0
        for tenant_id in tenants:
            with self.sessions.tenant(tenant_id) as db:
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

    def sample_queue(self) -> dict[str, int]:
        with self.sessions.system("notification delivery: queue depth") as db:
            counts = dict(
                db.execute(select(_T.c.status, func.count()).group_by(_T.c.status)).tuples().all()
            )
        for status in STATUSES:
            QUEUE.labels(status).set(counts.get(status, 0))
        return {str(k): int(v) for k, v in counts.items()}


def _priority(value: str) -> NotificationPriority:
    try:
        return NotificationPriority(value)
    except ValueError:
        return NotificationPriority.NORMAL
