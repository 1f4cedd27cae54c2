"""Which of a notification's recipients each channel addresses."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .base import NotificationChannel

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def recipients_for(channel: NotificationChannel, recipients: Iterable[str]) -> tuple[str, ...]:
    """The recipients a channel addresses: `email:`/`sms:` prefixed, or by their shape.

    Email takes addresses with an `@`, SMS takes E.164 numbers (+15551234567); the webhook
    channels (Slack, Teams, webhook) post to their configured URL and take none.
    """
    picked: list[str] = []
    for raw in recipients:
        kind, sep, address = raw.partition(":")
        if sep and kind in {c.value for c in NotificationChannel}:
            if kind == channel.value:
                picked.append(address)
        elif channel is NotificationChannel.EMAIL and "@" in raw:
            picked.append(raw)
        elif channel is NotificationChannel.SMS and _E164.match(raw):
            picked.append(raw)
    return tuple(picked)
