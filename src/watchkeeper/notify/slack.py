"""Slack through an incoming webhook, as a Block Kit message.

Payload: a `text` fallback (shown in push notifications) and `blocks`: a header with the
subject, a mrkdwn section with the body, a section of fields (status, severity, labels),
and a context line with the priority and a link. Block Kit limits are applied here (header
150 chars, section text 3000, 10 fields of 2000) so a long alert is cut, not refused.

Slack answers 200 `ok`; 400/403/404/410 (`invalid_payload`, `action_prohibited`,
`channel_not_found`, `channel_is_archived`) are permanent, 429 carries Retry-After.
Incoming webhooks take no idempotency key: a retry after a lost response can post twice.
"""

from __future__ import annotations

from typing import Any

from .base import NotificationPriority, RenderedMessage
from .http import JsonPostChannel

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10

_PRIORITY_MARK = {
    NotificationPriority.LOW: ":white_circle:",
    NotificationPriority.NORMAL: ":large_blue_circle:",
    NotificationPriority.HIGH: ":large_orange_circle:",
    NotificationPriority.CRITICAL: ":red_circle:",
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(message: RenderedMessage) -> dict[str, Any]:
    """The Block Kit body for one message."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(message.subject, HEADER_LIMIT)},
        }
    ]
    if message.text:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(message.text, SECTION_LIMIT)},
            }
        )
    if message.facts:
        fields = [
            {"type": "mrkdwn", "text": _cut(f"*{name}*\n{value}", FIELD_LIMIT)}
            for name, value in message.facts[:MAX_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    context = f"{_PRIORITY_MARK[message.priority]} {message.priority.value} priority"
    if message.link:
        context += f" · <{message.link}|Open in Watchkeeper>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": message.subject, "blocks": blocks}


class SlackChannel(JsonPostChannel):
    """Posts to one Slack incoming-webhook URL (the URL is the secret)."""

    default_name = "slack"

    def payload(self, message: RenderedMessage) -> dict[str, Any]:
        return slack_payload(message)
