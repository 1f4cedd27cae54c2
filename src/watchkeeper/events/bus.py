"""Real-time events for `/ws/notifications`: a durable per-tenant log plus a live fan-out.

Producers call `publish(db, tenant_id, type, data, now=...)` inside their own transaction, so
an event exists exactly when its cause is committed (an anomaly row, an alert transition, a
delivered outbox row). After the commit the session hands the new rows to the process's
`EventBus`, which sends them to this process's WebSocket clients, or, with REDIS_URL set,
PUBLISHes them on Redis so every replica's `EventRelay` fans them out to its own clients.

The log (table `event_log`, capped by `EventLogPruner`) is what makes resume work after a
reconnect or a restart: a client sends the last id it saw and is replayed what followed.

The id a client sees is the event's per-tenant `seq` (1, 2, 3, ... within the tenant), not the
table's global key: a global counter would tell each tenant how busy the others are.
`publish` takes the next number from the tenant's `event_sequences` row with an UPDATE, whose
row lock is held until the producer commits, so a tenant's events commit in `seq` order and a
client resuming after `seq` n cannot miss an event that commits later with a smaller number.
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
import structlog
from sqlalchemy import Engine, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.db.tables import EventRecord, EventSequence, Tenant
from watchkeeper.domain.times import rfc3339
from watchkeeper.runtime.worker import PeriodicWorker, Placement
from watchkeeper.tenancy.scope import SessionFactory

log = structlog.get_logger(__name__)

EVENT_TYPES = frozenset({"notification", "anomaly", "prediction", "alert", "incident"})
REDIS_CHANNEL = "watchkeeper:events"
_PENDING = "watchkeeper.events.pending"


@dataclass(frozen=True)
class Event:
    """One event as clients receive it: `{"id", "type", "data", "at"}` (id as a string)."""

    id: int
    tenant_id: str
    type: str
    data: Mapping[str, Any]
    at: datetime

    def message(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "data": dict(self.data),
            "at": rfc3339(self.at),
        }

    def wire(self) -> str:
        """The Redis form: the client message plus the tenant it belongs to."""
        return json.dumps({**self.message(), "tenant_id": self.tenant_id})

    @classmethod
    def from_wire(cls, text: str | bytes) -> Event:
        raw = json.loads(text)
        return cls(
            id=int(raw["id"]),
            tenant_id=str(raw["tenant_id"]),
            type=str(raw["type"]),
            data=raw["data"],
            at=datetime.fromisoformat(str(raw["at"]).replace("Z", "+00:00")),
        )

    @classmethod
    def from_row(cls, row: EventRecord) -> Event:
        return cls(row.seq, row.tenant_id, row.type, row.data, row.at)


def next_seq(db: Session, tenant_id: str) -> int:
    """The tenant's next event id, locking its counter row until `db` commits."""
    bump = (
        update(EventSequence)
        .where(EventSequence.tenant_id == tenant_id)
        .values(last_seq=EventSequence.last_seq + 1)
        .returning(EventSequence.last_seq)
    )
    seq = db.execute(bump).scalar()
    if seq is not None:
        return int(seq)
    try:  # the tenant's first event: create its counter (a concurrent first one may win)
        with db.begin_nested():
            db.execute(insert(EventSequence).values(tenant_id=tenant_id, last_seq=1))
        return 1
    except IntegrityError:
        return int(db.execute(bump).scalar_one())


def publish(
    db: Session,
    tenant_id: str,
    type: str,
    data: Mapping[str, Any],
    *,
    now: datetime,
    key: str = "",
) -> EventRecord | None:
    """Log an event in `db`'s transaction; live clients get it once that transaction commits.

    `key` (e.g. an outbox idempotency key) makes the event at-most-once: None when an event
    with that key is already logged. `data` must be JSON-serialisable.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; one of {', '.join(sorted(EVENT_TYPES))}")
    if key and db.scalar(select(EventRecord.id).where(EventRecord.key == key).limit(1)):
        return None
    row = EventRecord(
        tenant_id=tenant_id,
        seq=next_seq(db, tenant_id),
        type=type,
        key=key,
        data=dict(data),
        at=now,
    )
    db.add(row)
    db.info.setdefault(_PENDING, []).append(row)
    return row


def events_after(
    db: Session, last_id: int, *, limit: int = 500, types: Iterable[str] = ()
) -> list[Event]:
    """The tenant's logged events with an id (`seq`) above `last_id`, oldest first."""
    query = select(EventRecord).where(EventRecord.seq > last_id)
    wanted = list(types)
    if wanted:
        query = query.where(EventRecord.type.in_(wanted))
    rows = db.scalars(query.order_by(EventRecord.seq).limit(limit))
    return [Event.from_row(row) for row in rows]


def log_bounds(db: Session) -> tuple[int, int]:
    """(oldest, newest) event id kept for the session's tenant; (0, 0) when none."""
    low, high = db.execute(select(func.min(EventRecord.seq), func.max(EventRecord.seq))).one()
    return int(low or 0), int(high or 0)


# -- live fan-out ------------------------------------------------------------------------


@dataclass(eq=False)
class Subscription:
    """One WebSocket client's queue. `overflowed` means it fell behind and must re-read the
    log; the queue is bounded so a slow client cannot hold the process's memory."""

    tenant_id: str
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False

    def offer(self, item: Event) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class EventBus:
    """Committed events → this process's subscribers, directly or through Redis pub/sub."""

    def __init__(self, redis_url: str | None = None, redis_password: str | None = None) -> None:
        self.redis_url = redis_url
        self.redis_password = redis_password
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self._redis: Any = None

    def attach(self, engine: Engine) -> None:
        """Receive the events committed through sessions bound to `engine`."""
        _BUSES[engine] = self

    def subscribe(self, tenant_id: str) -> Subscription:
        sub = Subscription(tenant_id, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def committed(self, events: list[Event]) -> None:
        """Called after a commit, on whatever thread committed."""
        if self.redis_url:
            try:
                client = self._redis_client()
                for item in events:
                    client.publish(REDIS_CHANNEL, item.wire())
                return
            except Exception as exc:  # Redis down: local clients still hear, others resume
                log.warning("event_publish_redis_failed", error=str(exc))
        self.fan_out(events)

    def fan_out(self, events: Iterable[Event]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for item in events:
            for sub in subscribers:
                if sub.tenant_id == item.tenant_id and not sub.loop.is_closed():
                    sub.loop.call_soon_threadsafe(sub.offer, item)

    def _redis_client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(
                str(self.redis_url), password=self.redis_password, socket_timeout=2.0
            )
        return self._redis

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None


_BUSES: weakref.WeakKeyDictionary[Engine, EventBus] = weakref.WeakKeyDictionary()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    rows: list[EventRecord] = session.info.pop(_PENDING, [])
    if not rows:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    bus = _BUSES.get(engine)
    if bus is not None:
        bus.committed([Event.from_row(row) for row in rows])


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


class EventRelay:
    """With Redis: subscribes to the event channel and fans every replica's events out here."""

    name = "event_relay"
    placement = Placement.API_PROCESS

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.received = 0

    async def run(self) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(str(self.bus.redis_url), password=self.bus.redis_password)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(REDIS_CHANNEL)
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    item = Event.from_wire(message["data"])
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("event_relay_bad_message", error=str(exc))
                    continue
                self.received += 1
                self.bus.fan_out([item])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            await client.aclose()


class EventLogPruner(PeriodicWorker):
    """Keeps each tenant's newest `max_per_tenant` events, none older than `max_hours`."""

    name = "event_log_pruner"
    placement = Placement.RUN_ONCE

    def __init__(
        self,
        clock: Clock,
        sessions: SessionFactory,
        *,
        max_per_tenant: int,
        max_hours: float,
        interval: float = 60.0,
    ) -> None:
        super().__init__(clock, interval)
        self.sessions = sessions
        self.max_per_tenant = max_per_tenant
        self.max_hours = max_hours

    def prune(self) -> int:
        cutoff = self.clock.now() - timedelta(hours=self.max_hours)
        deleted = 0
        with self.sessions.system("event log retention") as db:
            result = db.execute(delete(EventRecord).where(EventRecord.at < cutoff))
            deleted += int(getattr(result, "rowcount", 0) or 0)
            for tenant_id in db.scalars(select(Tenant.id)):
                edge = db.scalar(
                    select(EventRecord.id)
                    .where(EventRecord.tenant_id == tenant_id)
                    .order_by(EventRecord.id.desc())
                    .offset(self.max_per_tenant)
                    .limit(1)
                )
                if edge is not None:
                    result = db.execute(
                        delete(EventRecord).where(
                            EventRecord.tenant_id == tenant_id, EventRecord.id <= edge
                        )
                    )
                    deleted += int(getattr(result, "rowcount", 0) or 0)
        return deleted

    async def tick(self) -> None:
        await anyio.to_thread.run_sync(self.prune)
