"""What keeps a recipient from being flooded: quiet hours, a dedup window, rate limits, digests.

All state lives in the database (buckets, open windows), so a restart neither forgets what
was suppressed nor hands every recipient a fresh burst. Critical messages skip quiet hours
and rate limits (a page must not wait); they are still deduplicated, since the same page
twice within minutes tells no one anything new.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.config import NotificationSettings
from watchkeeper.db.tables import NotificationBucket, NotificationSuppression, QuietHours

_CHANNELS = frozenset({"email", "sms", "slack", "teams", "webhook", "websocket"})
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_DIGEST_ITEMS = 50


def parse_hhmm(value: str, field: str) -> time:
    if not _HHMM.match(value):
        raise ValueError(f"{field} {value!r} must be HH:MM (24-hour), e.g. 22:00")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"timezone {name!r} is not an IANA time zone, e.g. Europe/Berlin"
        ) from None


def quiet_until(now: datetime, tz: str, start: str, end: str) -> datetime | None:
    """When the quiet period containing `now` ends (UTC), or None if `now` is not in one.

    `start` > `end` wraps midnight (22:00-07:00); `start` == `end` means never quiet.
    """
    local = now.astimezone(zone(tz))
    begin, finish = parse_hhmm(start, "start"), parse_hhmm(end, "end")
    t = local.time().replace(tzinfo=None)
    if begin == finish:
        return None
    inside = begin <= t < finish if begin < finish else (t >= begin or t < finish)
    if not inside:
        return None
    day = local.date() if t < finish else local.date() + timedelta(days=1)
    end_local = datetime.combine(day, finish, tzinfo=local.tzinfo)
    return end_local.astimezone(UTC)


def quiet_recipients(db: Session, recipients: Sequence[str], now: datetime) -> dict[str, datetime]:
    """The recipients now inside their quiet hours, each with when those end."""
    if not recipients:
        return {}
    bare = {_address(r): r for r in recipients}
    rows = db.scalars(select(QuietHours).where(QuietHours.recipient.in_(list(bare))))
    found: dict[str, datetime] = {}
    for row in rows:
        until = quiet_until(now, row.timezone, row.start, row.end)
        if until is not None:
            found[bare[row.recipient]] = until
    return found


def _address(recipient: str) -> str:
    kind, sep, address = recipient.partition(":")
    return address if sep and kind in _CHANNELS else recipient


def dedup_key(channel: str, destination: str, recipients: Sequence[str], subject: str) -> str:
    text = "\x00".join([channel, destination, *sorted(recipients), subject])
    return "dedup:" + hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Destination:
    """Where a message goes, for windows and digests."""

    channel: str
    receiver: str
    integration: int
    recipients: tuple[str, ...]


class Gate:
    """Decides, for a first attempt, whether a message goes now, and records what it held back.

    Works inside the caller's tenant session (the caller commits).
    """

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    def duplicate(
        self, db: Session, key: str, where: Destination, subject: str, now: datetime
    ) -> bool:
        """True when `key` was sent within the dedup window (the message is then listed in
        that window's digest); otherwise opens the window and returns False."""
        window = self.settings.dedup_window_seconds
        if window <= 0:
            return False
        row = db.scalar(select(NotificationSuppression).where(NotificationSuppression.key == key))
        if row is not None and row.window_ends_at > now:
            _hold(row, subject)
            return True
        if row is not None:
            db.delete(row)
            db.flush()
        db.add(_window(key, where, now + timedelta(seconds=window), now))
        return False

    def rate_limited(self, db: Session, where: Destination, subject: str, now: datetime) -> bool:
        """Take one token from the channel's and each recipient's bucket; when one is empty,
        take none, hold the message for that bucket's digest and return True."""
        limits = []
        if self.settings.rate_limit_per_channel > 0:
            limits.append((f"channel:{where.channel}", self.settings.rate_limit_per_channel))
        if self.settings.rate_limit_per_recipient > 0:
            targets = where.recipients or (f"{where.receiver}#{where.integration}",)
            limits += [
                (f"recipient:{where.channel}:{t}", self.settings.rate_limit_per_recipient)
                for t in targets
            ]
        if not limits:
            return False
        window = self.settings.rate_window_seconds
        buckets = []
        for key, capacity in limits:
            bucket = db.scalar(
                select(NotificationBucket).where(NotificationBucket.key == key).with_for_update()
            )
            if bucket is None:
                bucket = NotificationBucket(key=key, tokens=capacity, updated_at=now)
                db.add(bucket)
            elapsed = max((now - bucket.updated_at).total_seconds(), 0.0)
            bucket.tokens = min(capacity, bucket.tokens + elapsed * capacity / window)
            bucket.updated_at = now
            buckets.append((bucket, capacity))
        empty = [(b, c) for b, c in buckets if b.tokens < 1.0]
        if not empty:
            for bucket, _ in buckets:
                bucket.tokens -= 1.0
            return False
        bucket, capacity = empty[0]
        refill = (1.0 - bucket.tokens) * window / capacity
        key = f"rate:{bucket.key}"
        row = db.scalar(select(NotificationSuppression).where(NotificationSuppression.key == key))
        if row is None:
            row = _window(key, where, now + timedelta(seconds=refill), now)
            db.add(row)
        _hold(row, subject)
        return True


def _window(key: str, where: Destination, ends: datetime, now: datetime) -> NotificationSuppression:
    return NotificationSuppression(
        key=key,
        channel=where.channel,
        receiver=where.receiver,
        integration=where.integration,
        recipients=list(where.recipients),
        window_ends_at=ends,
        suppressed=0,
        items=[],
        created_at=now,
    )


def _hold(row: NotificationSuppression, subject: str) -> None:
    row.suppressed = row.suppressed + 1
    if len(row.items) < MAX_DIGEST_ITEMS:
        row.items = [*row.items, subject]


def digest_variables(row: NotificationSuppression) -> dict[str, object]:
    """Template variables of the digest, shaped like an alert so every default template
    renders it: the name says what happened, the description lists what was held back."""
    more = row.suppressed - len(row.items)
    lines = [f"- {item}" for item in row.items] + ([f"- ... and {more} more"] if more > 0 else [])
    reason = "rate limit" if row.key.startswith("rate:") else "duplicates"
    summary = f"{row.suppressed} notification(s) suppressed ({reason})"
    return {
        "status": "digest",
        "alert": {
            "name": "Suppressed notifications",
            "status": "digest",
            "severity": "info",
            "summary": summary,
            "description": "\n".join(lines),
            "labels": {},
            "annotations": {},
        },
        "alerts": [],
        "digest": {"suppressed": row.suppressed, "items": list(row.items), "reason": reason},
    }


def set_quiet_hours(
    db: Session, recipient: str, *, timezone: str, start: str, end: str, now: datetime
) -> QuietHours:
    """Create or replace a recipient's quiet hours; ValueError names a bad field."""
    zone(timezone)
    parse_hhmm(start, "start")
    parse_hhmm(end, "end")
    if not recipient or len(recipient) > 254:
        raise ValueError("recipient must be 1-254 characters (an e-mail address or phone number)")
    row = db.scalar(select(QuietHours).where(QuietHours.recipient == recipient))
    if row is None:
        row = QuietHours(
            recipient=recipient, timezone=timezone, start=start, end=end, updated_at=now
        )
        db.add(row)
    else:
        row.timezone, row.start, row.end, row.updated_at = timezone, start, end, now
    db.flush()
    return row


def list_quiet_hours(db: Session) -> list[QuietHours]:
    return list(db.scalars(select(QuietHours).order_by(QuietHours.recipient)))


def delete_quiet_hours(db: Session, recipient: str) -> bool:
    row = db.scalar(select(QuietHours).where(QuietHours.recipient == recipient))
    if row is None:
        return False
    db.delete(row)
    return True
