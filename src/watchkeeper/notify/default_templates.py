"""The built-in template for every channel, each written for how that channel shows text.

Slack bodies are mrkdwn (values escaped with `slack_escape`), Teams bodies are the markdown
subset Adaptive Card TextBlocks render, SMS bodies fit one or two segments, email has an
HTML part next to the text part.
"""

from __future__ import annotations

from .base import NotificationChannel, NotificationPriority
from .templates import NotificationTemplate

_SUBJECT = (
    "[{{ (alert.status or status or 'firing')|upper }}] {{ alert.name }}"
    "{% if alert.severity %} ({{ alert.severity }}){% endif %}"
)

_EMAIL_TEXT = """\
{{ alert.summary or alert.name }}

{% if alert.description %}{{ alert.description }}

{% endif %}
Status:   {{ alert.status }}
Severity: {{ alert.severity }}
{% if alert.value is not none and alert.value != "" %}Value:    {{ alert.value }}
{% endif %}
Since:    {{ alert.starts_at }}
{% if alert.labels %}

Labels:
{% for name, value in alert.labels|dictsort %}
  {{ name }}={{ value }}
{% endfor %}
{% endif %}
{% if alert.annotations and alert.annotations.runbook_url %}

Runbook: {{ alert.annotations.runbook_url }}
{% endif %}
{% if alert.url %}Details: {{ alert.url }}{% endif %}
"""

_EMAIL_HTML = """\
<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>{{ alert.summary or alert.name }}</h2>
{% if alert.description %}<p>{{ alert.description }}</p>{% endif %}
<table cellpadding="4" style="border-collapse: collapse">
<tr><th align="left">Status</th><td>{{ alert.status }}</td></tr>
<tr><th align="left">Severity</th><td>{{ alert.severity }}</td></tr>
{% if alert.value is not none and alert.value != "" %}
<tr><th align="left">Value</th><td>{{ alert.value }}</td></tr>
{% endif %}
<tr><th align="left">Since</th><td>{{ alert.starts_at }}</td></tr>
{% for name, value in (alert.labels or {})|dictsort %}
<tr><th align="left">{{ name }}</th><td>{{ value }}</td></tr>
{% endfor %}
</table>
{% if alert.annotations and alert.annotations.runbook_url %}
<p><a href="{{ alert.annotations.runbook_url }}">Runbook</a></p>
{% endif %}
{% if alert.url %}<p><a href="{{ alert.url }}">Open in Watchkeeper</a></p>{% endif %}
</body></html>
"""

_SLACK_TEXT = """\
*{{ (alert.summary or alert.name)|slack_escape }}*
{% if alert.description %}{{ alert.description|slack_escape }}
{% endif %}
{% if alert.value is not none and alert.value != "" %}Value: `{{ alert.value }}`
{% endif %}
{% if alert.annotations and alert.annotations.runbook_url %}<{{ alert.annotations.runbook_url }}|Runbook>{% endif %}
"""

_TEAMS_TEXT = """\
**{{ alert.summary or alert.name }}**

{% if alert.description %}{{ alert.description }}

{% endif %}
{% if alert.value is not none and alert.value != "" %}Value: {{ alert.value }}

{% endif %}
{% if alert.annotations and alert.annotations.runbook_url %}[Runbook]({{ alert.annotations.runbook_url }}){% endif %}
"""

_SMS_TEXT = (
    "[{{ (alert.severity or 'alert')|upper }}] {{ alert.name }} {{ alert.status }}: "
    "{{ (alert.summary or alert.description)|truncate(100) }}"
)

_PLAIN_TEXT = """\
{{ alert.summary or alert.name }}
{% if alert.description %}{{ alert.description }}{% endif %}
"""

DEFAULT_TEMPLATES: dict[NotificationChannel, NotificationTemplate] = {
    NotificationChannel.EMAIL: NotificationTemplate(
        "default-email",
        "Default email",
        _SUBJECT,
        _EMAIL_TEXT,
        (NotificationChannel.EMAIL,),
        NotificationPriority.NORMAL,
        html_template=_EMAIL_HTML,
    ),
    NotificationChannel.SLACK: NotificationTemplate(
        "default-slack", "Default Slack", _SUBJECT, _SLACK_TEXT, (NotificationChannel.SLACK,)
    ),
    NotificationChannel.TEAMS: NotificationTemplate(
        "default-teams", "Default Teams", _SUBJECT, _TEAMS_TEXT, (NotificationChannel.TEAMS,)
    ),
    NotificationChannel.SMS: NotificationTemplate(
        "default-sms", "Default SMS", _SUBJECT, _SMS_TEXT, (NotificationChannel.SMS,)
    ),
    NotificationChannel.WEBHOOK: NotificationTemplate(
        "default-webhook",
        "Default webhook",
        _SUBJECT,
        _PLAIN_TEXT,
        (NotificationChannel.WEBHOOK,),
    ),
    NotificationChannel.WEBSOCKET: NotificationTemplate(
        "default-websocket",
        "Default WebSocket",
        _SUBJECT,
        _PLAIN_TEXT,
        (NotificationChannel.WEBSOCKET,),
    ),
}


def default_template_for(channel: NotificationChannel) -> NotificationTemplate:
    return DEFAULT_TEMPLATES[channel]
