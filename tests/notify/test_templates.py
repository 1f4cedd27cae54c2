"""Templates: refused at creation when broken, sandboxed at render, defaults for every channel."""

from __future__ import annotations

from typing import Any

import pytest

from watchkeeper.notify import (
    DEFAULT_TEMPLATES,
    SAMPLE_VARIABLES,
    NotificationChannel,
    NotificationPriority,
    NotificationTemplate,
    TemplateRenderError,
    TemplateValidationError,
    preview,
    render,
)


def template(
    subject: str = "{{ alert.name }}", body: str = "{{ alert.summary }}", **kw: Any
) -> NotificationTemplate:
    return NotificationTemplate("t1", "Test", subject, body, **kw)


def test_syntax_error_is_refused_at_creation_with_its_line() -> None:
    with pytest.raises(TemplateValidationError) as caught:
        template(body="line one\n{% if alert.name %}unclosed")

    assert caught.value.part == "body_template"
    assert caught.value.line == 2


def test_unknown_filter_is_refused_at_creation() -> None:
    with pytest.raises(TemplateValidationError, match="No filter named 'shout'"):
        template(subject="{{ alert.name|shout }}")


def test_broken_html_template_is_refused() -> None:
    with pytest.raises(TemplateValidationError) as caught:
        template(html_template="<p>{{ alert.name </p>")

    assert caught.value.part == "html_template"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ alert.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ alert.labels.update({'x': 1}) }}",
    ],
)
def test_sandbox_blocks_access_to_internals(source: str) -> None:
    unsafe = template(body=source)

    with pytest.raises(TemplateRenderError, match="sandbox"):
        render(unsafe, SAMPLE_VARIABLES)


def test_missing_variables_render_empty_instead_of_failing() -> None:
    lenient = template(body="[{{ alert.annotations.nothing_here.deeper }}]{{ nobody }}")

    assert render(lenient, SAMPLE_VARIABLES).text == "[]"


def test_html_part_escapes_variables_but_text_does_not() -> None:
    t = template(body="{{ alert.summary }}", html_template="<p>{{ alert.summary }}</p>")

    message = render(t, {"alert": {"name": "X", "summary": "<script>&"}})

    assert message.text == "<script>&"
    assert message.html == "<p>&lt;script&gt;&amp;</p>"


def test_subject_is_one_line_and_priority_defaults_to_the_template() -> None:
    t = template(subject="{{ alert.name }}\n  is   down", priority=NotificationPriority.HIGH)

    message = render(t, SAMPLE_VARIABLES)

    assert message.subject == "HighCPUUsage is down"
    assert message.priority is NotificationPriority.HIGH
    assert render(t, SAMPLE_VARIABLES, priority=NotificationPriority.LOW).priority.value == "low"


@pytest.mark.parametrize("channel", list(NotificationChannel))
def test_every_channel_has_a_default_that_renders_the_sample(channel: NotificationChannel) -> None:
    default = DEFAULT_TEMPLATES[channel]

    message = preview(default)

    assert default.applies_to(channel)
    assert message.subject == "[FIRING] HighCPUUsage (critical)"
    assert "HighCPUUsage" in message.text or "CPU usage above 90%" in message.text
    assert ("service", "checkout") in message.facts
    assert message.link == "http://localhost:8000/alerts/HighCPUUsage"


def test_default_email_has_both_parts_and_sms_stays_short() -> None:
    email = preview(DEFAULT_TEMPLATES[NotificationChannel.EMAIL])
    sms = preview(DEFAULT_TEMPLATES[NotificationChannel.SMS])

    assert email.html is not None and "<table" in email.html
    assert "Labels:" in email.text
    assert len(sms.text) <= 160


def test_default_slack_escapes_mrkdwn_control_characters() -> None:
    message = preview(
        DEFAULT_TEMPLATES[NotificationChannel.SLACK],
        {"alert": {**SAMPLE_VARIABLES["alert"], "summary": "p99 > 2s <@here> & more"}},
    )

    assert message.text.startswith("*p99 &gt; 2s &lt;@here&gt; &amp; more*")


def test_preview_overrides_sample_variables() -> None:
    t = template(subject="{{ alert.name }} on {{ env }}")

    assert preview(t, {"env": "staging"}).subject == "HighCPUUsage on staging"


def test_resolved_alert_renders_resolved() -> None:
    resolved = {**SAMPLE_VARIABLES["alert"], "status": "resolved"}

    message = preview(DEFAULT_TEMPLATES[NotificationChannel.SMS], {"alert": resolved})

    assert message.subject.startswith("[RESOLVED]")
    assert "resolved" in message.text
