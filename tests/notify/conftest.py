"""Real peers for channel tests: aiosmtpd SMTP servers (plain, STARTTLS with AUTH, implicit
TLS) with a self-signed certificate made by `cryptography`; the HTTP receiver is
`tests.receivers`, its fixture `receiver` in tests/conftest.py."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support import LOCAL_OUTBOUND_ALLOW, free_port
from watchkeeper.notify import DEFAULT_TEMPLATES, NotificationChannel, RenderedMessage, preview


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file, key_file)


@dataclass
class Mailbox:
    """What an SMTP server accepted: one (envelope, parsed message) per DATA."""

    port: int = 0
    mails: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append((envelope, parsed))
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 235/535


USER, PASSWORD = "watchkeeper", "s3cret-pass"


def _serve(mailbox: Mailbox, **kwargs: Any) -> Iterator[Mailbox]:
    mailbox.port = free_port()
    if "auth_require_tls" in kwargs:
        kwargs["authenticator"] = mailbox.authenticate
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **kwargs)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_plain() -> Iterator[Mailbox]:
    yield from _serve(Mailbox())


@pytest.fixture
def smtp_starttls_auth(certificate: Certificate) -> Iterator[Mailbox]:
    """STARTTLS required, then AUTH (PLAIN/LOGIN) required before MAIL."""
    yield from _serve(
        Mailbox(),
        tls_context=certificate.server_context(),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
    )


@pytest.fixture
def smtp_implicit_tls(certificate: Certificate) -> Iterator[Mailbox]:
    """TLS from the first byte (SMTPS, port 465 style), AUTH offered.

    aiosmtpd does not count implicit TLS as TLS for `auth_require_tls`, and requiring AUTH
    without it warns, so AUTH is offered but not required here; tests check `logins`.
    """
    yield from _serve(
        Mailbox(),
        ssl_context=certificate.server_context(),
        server_hostname="127.0.0.1",
        auth_require_tls=False,
    )


def rendered(channel: str, **overrides: Any) -> RenderedMessage:
    """The channel's default template rendered against the sample alert, with overrides."""
    message = preview(DEFAULT_TEMPLATES[NotificationChannel(channel)])
    return replace(message, idempotency_key=f"n-1.{channel}", **overrides)


# -- delivery rig: a migrated database, one tenant, a manual clock, the delivery worker ------


@dataclass
class DeliveryRig:
    """The outbox and its worker on a real database, driven by a ManualClock."""

    sessions: Any
    clock: Any
    tenant_id: str
    settings: Any
    receivers: Any

    def worker(self, **overrides: Any) -> Any:
        from watchkeeper.notify.delivery import DeliveryWorker

        notifications = self.settings.notifications.model_copy(update=overrides)
        return DeliveryWorker(
            sessions=self.sessions,
            clock=self.clock,
            settings=notifications,
            receivers=self.receivers,
            rng=__import__("random").Random(7),
        )

    def enqueue(self, key: str, channel: str = "", **fields: Any) -> None:
        from watchkeeper.notify.outbox import OutboxMessage, enqueue

        payload = fields.pop("payload", {"alert": {"name": key, "status": "firing"}})
        with self.sessions.tenant(self.tenant_id) as db:
            enqueue(
                db,
                OutboxMessage(idempotency_key=key, channel=channel, payload=payload, **fields),
                self.clock.now(),
            )

    def add_receiver(self, name: str, integrations: list[dict[str, Any]]) -> None:
        with self.sessions.tenant(self.tenant_id) as db:
            self.receivers.create(db, name, integrations, self.clock.now())

    def rows(self) -> list[Any]:
        from sqlalchemy import select

        from watchkeeper.db.tables import NotificationOutbox

        with self.sessions.tenant(self.tenant_id) as db:
            return list(db.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id)))

    def row(self, key: str) -> Any:
        return next(r for r in self.rows() if r.idempotency_key == key)


ENCRYPTION_KEY = "q2y5l2oQ1FQk8cR0o3aJt6vYB4wN9mZx7eL1pH3sK0U="


def make_delivery_rig(
    url: str, overrides: dict[str, Any] | None = None, **notification_settings: Any
) -> tuple[DeliveryRig, Any]:
    from watchkeeper.clock import ManualClock
    from watchkeeper.config import load_settings
    from watchkeeper.db import migrate
    from watchkeeper.db.engine import build_engine
    from watchkeeper.notify.receivers import ReceiverStore
    from watchkeeper.tenancy.scope import SessionFactory
    from watchkeeper.tenancy.service import create_tenant

    settings = load_settings(
        overrides={
            "encryption_key": ENCRYPTION_KEY,
            "notifications": {
                "rate_limit_per_recipient": 0,
                "dedup_window_seconds": 0,
                **notification_settings,
            },
            "security": {"outbound_allow": LOCAL_OUTBOUND_ALLOW},
            **(overrides or {}),
        }
    )
    engine = build_engine(settings, url=url)
    migrate.upgrade(engine)
    sessions = SessionFactory(engine)
    clock = ManualClock(start=1_790_000_000.0)
    with sessions.system("test") as db:
        tenant = create_tenant(db, name="acme", now=clock.now()).id
    return DeliveryRig(
        sessions, clock, tenant, settings, ReceiverStore.from_settings(settings)
    ), engine


@pytest.fixture
def rig(database_url: str) -> Iterator[DeliveryRig]:
    made, engine = make_delivery_rig(database_url)
    yield made
    engine.dispose()
