"""Email over SMTP (aiosmtplib): STARTTLS, implicit TLS or plain, optional AUTH.

The mail is multipart/alternative with a text part and an HTML part (the template's HTML, or
the text escaped into <pre> when the template has none). The Message-ID is derived from the
idempotency key, so a receiving system or a person can recognise a retried duplicate.

Classification follows SMTP's reply classes (RFC 5321 section 4.2.1): 4yz is transient and
retryable, 5yz is permanent; a dropped connection or a timeout is retryable; a certificate
that does not verify or a server lacking STARTTLS/AUTH is a configuration problem, permanent.

The host is a tenant's choice: the connection is made by `outbound.connect` (every resolved
address checked, the socket connected to a checked one) and aiosmtplib speaks SMTP over that
socket, keeping the host name for TLS. A tenant gives an extra CA inline (`ca_pem`); naming a
server file (`ca_file`) is left to the operator's own configuration.
"""

from __future__ import annotations

import html
import re
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal

import aiosmtplib

from watchkeeper.clock import Clock, SystemClock

from .base import DeliveryResult, NotificationPriority, RenderedMessage
from .outbound import OutboundPolicy, OutboundRefused, connect, excerpt

Security = Literal["starttls", "tls", "none"]

_X_PRIORITY = {
    NotificationPriority.LOW: ("5", "low"),
    NotificationPriority.NORMAL: ("3", "normal"),
    NotificationPriority.HIGH: ("2", "high"),
    NotificationPriority.CRITICAL: ("1", "high"),
}


def _html_from_text(text: str) -> str:
    return (
        '<!DOCTYPE html><html><body><pre style="font-family: sans-serif; white-space: pre-wrap">'
        f"{html.escape(text)}</pre></body></html>"
    )


def _is_transient(code: int) -> bool:
    return 400 <= code < 500


def _caused_by_certificate(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class EmailChannel:
    """Sends one multipart mail per message to its recipients (or the configured ones)."""

    def __init__(
        self,
        *,
        host: str,
        from_address: str,
        port: int = 587,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        default_recipients: tuple[str, ...] = (),
        timeout: float = 10.0,
        validate_certs: bool = True,
        ca_file: str | None = None,
        ca_pem: str | None = None,
        clock: Clock | None = None,
        name: str = "email",
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._security = security
        self._username = username
        self._password = password
        self._from = from_address
        self._default_recipients = default_recipients
        self._timeout = timeout
        self._validate_certs = validate_certs
        self._ca_file = ca_file
        self._ca_pem = ca_pem
        self._outbound = outbound or OutboundPolicy()
        self._clock = clock or SystemClock()
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def build_message(self, message: RenderedMessage, recipients: tuple[str, ...]) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self._from
        mail["To"] = ", ".join(recipients)
        mail["Date"] = format_datetime(self._clock.now())
        key = re.sub(r"[^A-Za-z0-9._-]", "", message.idempotency_key)
        mail["Message-ID"] = f"<{key}@watchkeeper>" if key else make_msgid(domain="watchkeeper")
        x_priority, importance = _X_PRIORITY[message.priority]
        mail["X-Priority"] = x_priority
        mail["Importance"] = importance
        mail.set_content(message.text or message.subject)
        mail.add_alternative(message.html or _html_from_text(message.text), subtype="html")
        return mail

    async def send(self, message: RenderedMessage) -> DeliveryResult:
        recipients = message.recipients or self._default_recipients
        if not recipients:
            return DeliveryResult.fail(self._name, "no email recipients")
        mail = self.build_message(message, recipients)
        try:
            sock = await connect(
                self._host, self._port, policy=self._outbound, timeout=self._timeout
            )
        except OutboundRefused as exc:
            return DeliveryResult.fail(self._name, str(exc), undelivered=recipients)
        except (OSError, TimeoutError) as exc:
            reason = excerpt(f"{type(exc).__name__}: {exc}")
            return DeliveryResult.retry(self._name, reason, undelivered=recipients)
        try:
            refused, _ = await aiosmtplib.send(
                mail,
                sender=self._from,
                recipients=list(recipients),
                hostname=self._host,
                sock=sock,
                username=self._username,
                password=self._password,
                use_tls=self._security == "tls",
                start_tls=self._security == "starttls",
                validate_certs=self._validate_certs,
                cert_bundle=None if self._ca_pem else self._ca_file,
                tls_context=self._tls_context(),
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            reason = excerpt(
                "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            )
            undelivered = tuple(r.recipient for r in exc.recipients)
            if all(_is_transient(c) for c in codes):
                return DeliveryResult.retry(self._name, reason, undelivered=undelivered)
            return DeliveryResult.fail(self._name, reason, undelivered=undelivered)
        except aiosmtplib.SMTPNotSupported as exc:
            reason = excerpt(f"server does not support it: {exc}")
            return DeliveryResult.fail(self._name, reason)
        except aiosmtplib.SMTPResponseException as exc:
            reason = f"SMTP {exc.code}: {excerpt(exc.message)}"
            if _is_transient(exc.code):
                return DeliveryResult.retry(self._name, reason, undelivered=recipients)
            return DeliveryResult.fail(self._name, reason, undelivered=recipients)
        except (aiosmtplib.SMTPException, OSError) as exc:
            reason = excerpt(f"{type(exc).__name__}: {exc}")
            if _caused_by_certificate(exc):
                return DeliveryResult.fail(self._name, f"TLS certificate rejected: {reason}")
            if "not supported" in str(exc):  # aiosmtplib's words for a missing STARTTLS/AUTH
                return DeliveryResult.fail(self._name, f"server does not support it: {reason}")
            return DeliveryResult.retry(self._name, reason, undelivered=recipients)
        finally:
            sock.close()  # the transport closed it already, unless aiosmtplib failed early
        return _partial(self._name, refused)

    def _tls_context(self) -> ssl.SSLContext | None:
        """A context trusting the inline CA (`ca_pem`) besides the system's; None otherwise."""
        if not self._ca_pem:
            return None
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=self._ca_pem)
        if not self._validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def aclose(self) -> None:
        """Nothing to release: each send opens and closes its own SMTP session."""


def _partial(channel: str, refused: dict[str, aiosmtplib.SMTPResponse]) -> DeliveryResult:
    """Delivered, unless the server refused some recipients while accepting the others."""
    if not refused:
        return DeliveryResult.ok(channel)
    reason = excerpt("; ".join(f"{to}: {r.code} {r.message}" for to, r in refused.items()))
    transient = tuple(to for to, r in refused.items() if _is_transient(r.code))
    if transient:
        return DeliveryResult.retry(channel, reason, undelivered=transient)
    return DeliveryResult.fail(channel, reason, undelivered=tuple(refused))
