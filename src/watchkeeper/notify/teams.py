"""Microsoft Teams through a Workflows (Power Automate) webhook, as an Adaptive Card.

The Workflows template "Post to a channel when a webhook request is received" expects a
`message` whose attachments hold the card (the Office 365 connector MessageCard is retired).
The card is version 1.4 (what Teams renders): a title TextBlock coloured by priority, the
body as a wrapping markdown TextBlock, a FactSet of status/severity/labels and an OpenUrl
action. Workflows answers 202 Accepted. There is no idempotency key in this API.
"""

from __future__ import annotations

from typing import Any

from .base import NotificationPriority, RenderedMessage
from .http import JsonPostChannel

CARD_VERSION = "1.4"
TEXT_LIMIT = 20_000  # Teams refuses messages over about 28 KB; keep well under

_TITLE_COLOR = {
    NotificationPriority.LOW: "Default",
    NotificationPriority.NORMAL: "Accent",
    NotificationPriority.HIGH: "Warning",
    NotificationPriority.CRITICAL: "Attention",
}


def adaptive_card(message: RenderedMessage) -> dict[str, Any]:
    """The Adaptive Card for one message."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.subject,
            "size": "Large",
            "weight": "Bolder",
            "color": _TITLE_COLOR[message.priority],
            "wrap": True,
        }
    ]
    if message.text:
        body.append({"type": "TextBlock", "text": message.text[:TEXT_LIMIT], "wrap": True})
    if message.facts:
        facts = [{"title": name, "value": value} for name, value in message.facts]
        body.append({"type": "FactSet", "facts": facts})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if message.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open in Watchkeeper", "url": message.link}
        ]
    return card


def teams_payload(message: RenderedMessage) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": adaptive_card(message),
            }
        ],
    }


class TeamsChannel(JsonPostChannel):
    """Posts to one Teams Workflows webhook URL (the URL, with its signature, is the secret)."""

    default_name = "teams"

    def payload(self, message: RenderedMessage) -> dict[str, Any]:
        return teams_payload(message)
