"""Real-time events for `/ws/notifications`: the durable per-tenant log and its live fan-out.

A package of its own because detection, alerting, incidents and notification delivery all
publish events; importing it does not load the notification channels.
"""

from .bus import (
    EVENT_TYPES,
    REDIS_CHANNEL,
    Event,
    EventBus,
    EventLogPruner,
    EventRelay,
    Subscription,
    events_after,
    log_bounds,
    next_seq,
    publish,
)

__all__ = [
    "EVENT_TYPES",
    "REDIS_CHANNEL",
    "Event",
    "EventBus",
    "EventLogPruner",
    "EventRelay",
    "Subscription",
    "events_after",
    "log_bounds",
    "next_seq",
    "publish",
]
