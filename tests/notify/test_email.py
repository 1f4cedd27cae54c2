"""Email end to end: a real aiosmtpd server receives the mail with its text and HTML parts."""

from __future__ import annotations

import pytest

from tests.support import free_port, local_outbound
from watchkeeper.notify import DEFAULT_TEMPLATES, NotificationChannel, preview
from watchkeeper.notify.base import DeliveryStatus, NotificationPriority, RenderedMessage
from watchkeeper.notify.email import EmailChannel

from .conftest import PASSWORD, USER, Certificate, Mailbox

LOCAL = local_outbound()

pytestmark = pytest.mark.anyio


def message(**overrides: object) -> RenderedMessage:
    rendered = preview(DEFAULT_TEMPLATES[NotificationChannel.EMAIL])
    fields = {
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "priority": NotificationPriority.CRITICAL,
        "idempotency_key": "n-123.email",
        "recipients": ("oncall@example.com", "lead@example.com"),
        **overrides,
    }
    return RenderedMessage(**fields)  # type: ignore[arg-type]


def channel(port: int, **kwargs: object) -> EmailChannel:
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "from_address": "watchkeeper@example.com",
        "security": "none",
        "timeout": 5.0,
        **kwargs,
    }
    return EmailChannel(**options, outbound=LOCAL)  # type: ignore[arg-type]


async def test_plain_smtp_delivers_text_and_html_parts(smtp_plain: Mailbox) -> None:
    result = await channel(smtp_plain.port).send(message())

    assert result.delivered
    (envelope, mail), *_ = smtp_plain.mails
    assert envelope.mail_from == "watchkeeper@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "lead@example.com"]
    assert mail["Subject"] == "[FIRING] HighCPUUsage (critical)"
    assert mail["Message-ID"] == "<n-123.email@watchkeeper>"
    assert mail["X-Priority"] == "1"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "Severity: critical" in text.get_content()
    assert "<h2>CPU usage above 90% on web-1</h2>" in html.get_content()


async def test_text_only_message_gets_an_escaped_html_part(smtp_plain: Mailbox) -> None:
    result = await channel(smtp_plain.port).send(
        message(html=None, text="disk <sda> & more", priority=NotificationPriority.LOW)
    )

    assert result.delivered
    mail = smtp_plain.mails[0][1]
    html = mail.get_body(("html",))
    assert html is not None and "disk &lt;sda&gt; &amp; more" in html.get_content()
    assert mail["X-Priority"] == "5"


async def test_starttls_with_auth(smtp_starttls_auth: Mailbox, certificate: Certificate) -> None:
    email = channel(
        smtp_starttls_auth.port,
        security="starttls",
        username=USER,
        password=PASSWORD,
        ca_file=str(certificate.cert_file),
    )

    result = await email.send(message())

    assert result.delivered, result.reason
    assert smtp_starttls_auth.logins == [USER]
    assert len(smtp_starttls_auth.mails) == 1


async def test_implicit_tls_with_auth(smtp_implicit_tls: Mailbox, certificate: Certificate) -> None:
    email = channel(
        smtp_implicit_tls.port,
        security="tls",
        username=USER,
        password=PASSWORD,
        ca_file=str(certificate.cert_file),
    )

    result = await email.send(message())

    assert result.delivered, result.reason
    assert smtp_implicit_tls.logins == [USER]
    assert smtp_implicit_tls.mails[0][1]["To"] == "oncall@example.com, lead@example.com"


async def test_wrong_password_is_permanent(
    smtp_starttls_auth: Mailbox, certificate: Certificate
) -> None:
    email = channel(
        smtp_starttls_auth.port,
        security="starttls",
        username=USER,
        password="wrong",
        ca_file=str(certificate.cert_file),
    )

    result = await email.send(message())

    assert result.status is DeliveryStatus.PERMANENT
    assert "535" in result.reason
    assert smtp_starttls_auth.mails == []


async def test_untrusted_certificate_is_permanent(smtp_implicit_tls: Mailbox) -> None:
    result = await channel(smtp_implicit_tls.port, security="tls").send(message())

    assert result.status is DeliveryStatus.PERMANENT
    assert "certificate" in result.reason


async def test_plain_login_refused_when_server_requires_starttls(
    smtp_starttls_auth: Mailbox,
) -> None:
    result = await channel(smtp_starttls_auth.port, security="none").send(message())

    assert result.status is DeliveryStatus.PERMANENT
    assert smtp_starttls_auth.mails == []


async def test_refused_server_is_retryable() -> None:
    result = await channel(free_port()).send(message())

    assert result.status is DeliveryStatus.RETRYABLE
    assert result.undelivered == ("oncall@example.com", "lead@example.com")


async def test_partly_refused_recipients_are_reported(smtp_plain: Mailbox) -> None:
    smtp_plain.refuse = {
        "lead@example.com": "450 mailbox busy",
        "gone@example.com": "550 no such user",
    }
    recipients = ("oncall@example.com", "lead@example.com", "gone@example.com")

    result = await channel(smtp_plain.port).send(message(recipients=recipients))

    assert result.status is DeliveryStatus.RETRYABLE
    assert result.undelivered == ("lead@example.com",)
    assert smtp_plain.mails[0][0].rcpt_tos == ["oncall@example.com"]


async def test_all_recipients_refused_permanently(smtp_plain: Mailbox) -> None:
    smtp_plain.refuse = {"gone@example.com": "550 no such user"}

    result = await channel(smtp_plain.port).send(message(recipients=("gone@example.com",)))

    assert result.status is DeliveryStatus.PERMANENT
    assert result.undelivered == ("gone@example.com",)


async def test_no_recipients_is_permanent(smtp_plain: Mailbox) -> None:
    result = await channel(smtp_plain.port).send(message(recipients=()))

    assert result.status is DeliveryStatus.PERMANENT
    assert smtp_plain.mails == []
