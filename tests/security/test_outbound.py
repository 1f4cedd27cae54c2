"""Outbound requests to destinations a tenant controls (every notification channel).

SSRF with read-back: a receiver pointed at 127.0.0.1, 169.254.169.254, localhost:6379 ... made
the server connect there and put the reply in `last_error`. Stored secrets followed a receiver
whose URL an editor changed. `ca_file` let a tenant probe server files, and every tenant could
send through the operator's global Slack/SMTP settings. Real HTTP and SMTP receivers on this
machine play the internal services.
"""

from __future__ import annotations

import socket
from typing import Any

import anyio
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.conftest import Env, TenantFixture
from tests.notify.conftest import Certificate, Mailbox
from tests.receivers import HttpReceiver, Reply
from tests.support import LOCAL_OUTBOUND_ALLOW
from watchkeeper.notify import DEFAULT_TEMPLATES, NotificationChannel, preview
from watchkeeper.notify.base import Channel, DeliveryStatus, RenderedMessage
from watchkeeper.notify.email import EmailChannel
from watchkeeper.notify.slack import SlackChannel
from watchkeeper.notify.sms import SmsChannel
from watchkeeper.notify.teams import TeamsChannel
from watchkeeper.notify.webhook import WebhookChannel

STRICT = pytest.mark.parametrize("outbound_allow", [[]])
"""The `env` app with no `security.outbound_allow`: the default a real install has."""

SECRET_REPLY = b"internal service says: redis-password=hunter2"


def rendered(kind: NotificationChannel = NotificationChannel.WEBHOOK) -> RenderedMessage:
    message = preview(DEFAULT_TEMPLATES[kind])
    return RenderedMessage(
        subject=message.subject,
        text=message.text,
        html=message.html,
        recipients=("oncall@example.com",),
    )


def _local() -> Any:
    from watchkeeper.notify.outbound import OutboundPolicy

    return OutboundPolicy.parse(LOCAL_OUTBOUND_ALLOW)


# -- the guard at send time: every connection, after DNS -----------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "0.0.0.0"],
    ids=["loopback", "name-resolving-to-loopback", "ipv4-mapped-ipv6", "unspecified"],
)
async def test_webhook_to_this_machine_is_refused_and_nothing_arrives(
    receiver: HttpReceiver, host: str
) -> None:
    receiver.default = Reply(200, SECRET_REPLY)
    hook = WebhookChannel(f"http://{host}:{receiver.port}/hook", timeout=2.0)

    result = await hook.send(rendered())
    await hook.aclose()

    assert result.status is DeliveryStatus.PERMANENT, result
    assert "refused" in result.reason and "security.outbound_allow" in result.reason
    assert receiver.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "non-global"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),
        ("[::1]", "loopback"),
        ("[fd00::1]", "unique-local"),
        ("[fe80::1]", "link-local"),
        ("[64:ff9b::a9fe:a9fe]", "link-local"),  # NAT64 of 169.254.169.254
        ("[2002:a00:1::]", "private"),  # 6to4 of 10.0.0.1
    ],
)
async def test_every_non_public_address_class_is_refused_before_connecting(
    host: str, kind: str
) -> None:
    hook = WebhookChannel(f"http://{host}:8080/latest/meta-data/", timeout=1.0)

    result = await hook.send(rendered())
    await hook.aclose()

    assert result.status is DeliveryStatus.PERMANENT, result
    assert f"({kind} address)" in result.reason


@pytest.mark.anyio
async def test_slack_teams_and_sms_destinations_are_guarded(receiver: HttpReceiver) -> None:
    channels: list[Channel] = [
        SlackChannel(receiver.url("/services/T/B/X"), timeout=2.0),
        TeamsChannel(receiver.url("/workflows"), timeout=2.0),
        SmsChannel(
            account_sid="AC1",
            auth_token="token",
            from_number="+15550000000",
            default_recipients=("+15551234567",),
            base_url=f"http://localhost:{receiver.port}",
            timeout=2.0,
        ),
    ]
    for channel in channels:
        result = await channel.send(rendered(NotificationChannel.SLACK))
        await channel.aclose()
        assert result.status is DeliveryStatus.PERMANENT, (channel.name, result)
        assert "refused (loopback address)" in result.reason
    assert receiver.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_smtp_to_this_machine_is_refused_and_nothing_is_sent(
    smtp_plain: Mailbox,
    host: str,
) -> None:
    mail = EmailChannel(
        host=host,
        port=smtp_plain.port,
        security="none",
        from_address="wk@example.com",
        timeout=2.0,
    )

    result = await mail.send(rendered(NotificationChannel.EMAIL))

    assert result.status is DeliveryStatus.PERMANENT, result
    assert "refused (loopback address)" in result.reason
    assert smtp_plain.mails == []


@pytest.mark.anyio
async def test_the_resolved_address_is_checked_at_connect_time(receiver: HttpReceiver) -> None:
    """A public-looking name whose DNS answer is loopback (rebinding) is refused at connect;
    the operator's allowlisted name goes through."""
    import aiohttp
    from aiohttp.abc import AbstractResolver, ResolveResult

    from watchkeeper.clock import SystemClock
    from watchkeeper.notify.http import post
    from watchkeeper.notify.outbound import GuardedConnector, OutboundPolicy

    class Rebinding(AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[ResolveResult]:
            return [
                {
                    "hostname": host,
                    "host": "127.0.0.1",
                    "port": port,
                    "family": socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            ]

        async def close(self) -> None:
            pass

    url = f"http://hooks.example.com:{receiver.port}/hook"
    outcomes = []
    for policy in (OutboundPolicy(), OutboundPolicy.parse(["hooks.example.com"])):
        connector = GuardedConnector(policy, resolver=Rebinding())
        async with aiohttp.ClientSession(connector=connector) as session:
            outcomes.append(
                await post(session, "webhook", url, clock=SystemClock(), timeout=2.0, content=b"{}")
            )
    assert outcomes[0].status is DeliveryStatus.PERMANENT
    assert "127.0.0.1 refused (loopback address)" in outcomes[0].reason
    assert outcomes[1].delivered and len(receiver.requests) == 1


@pytest.mark.anyio
async def test_a_session_not_made_by_the_guard_is_not_used() -> None:
    import aiohttp

    from watchkeeper.clock import SystemClock
    from watchkeeper.notify.http import post

    async with aiohttp.ClientSession() as session:
        with pytest.raises(TypeError, match="outbound"):
            await post(session, "webhook", "https://example.com", clock=SystemClock(), timeout=1)


@pytest.mark.anyio
async def test_the_allowlist_admits_networks_and_names(receiver: HttpReceiver) -> None:
    from watchkeeper.notify.outbound import OutboundPolicy

    cases = [
        (["127.0.0.0/8"], "127.0.0.1", True),
        (["::ffff:127.0.0.1/128"], "127.0.0.1", True),  # judged by its IPv4, both ways
        (["10.0.0.0/8"], "127.0.0.1", False),
        (["localhost"], "localhost", True),
        (["localhost"], "127.0.0.1", False),  # a name allows that name, not its address
    ]
    for allow, host, delivered in cases:
        hook = WebhookChannel(
            f"http://{host}:{receiver.port}/hook",
            timeout=2.0,
            outbound=OutboundPolicy.parse(allow),
        )
        result = await hook.send(rendered())
        await hook.aclose()
        assert result.delivered is delivered, (allow, host, result)
    wildcard = OutboundPolicy.parse(["*.corp.example"])
    assert wildcard.allows_host("relay.eu.corp.example")
    assert not wildcard.allows_host("corp.example.attacker.net")


def test_the_allowlist_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.config import ConfigError, load_settings

    monkeypatch.setenv("WATCHKEEPER_SECURITY__OUTBOUND_ALLOW", '["10.0.0.0/8", "relay.internal"]')
    assert load_settings().security.outbound_allow == ["10.0.0.0/8", "relay.internal"]
    monkeypatch.setenv("WATCHKEEPER_SECURITY__OUTBOUND_ALLOW", '["http://x/"]')
    with pytest.raises(ConfigError, match="outbound_allow"):
        load_settings()


@pytest.mark.anyio
async def test_a_redirect_is_not_followed(receiver: HttpReceiver) -> None:
    receiver.default = Reply(302, b"", {"Location": receiver.url("/elsewhere")})
    hook = WebhookChannel(receiver.url(), secret="s", timeout=2.0, outbound=_local())

    result = await hook.send(rendered())
    await hook.aclose()

    assert result.status is DeliveryStatus.PERMANENT and result.reason.startswith("HTTP 302")
    assert [r.path for r in receiver.requests] == ["/hook"]


# -- what a tenant reads back -------------------------------------------------------------


def _drain(env: Env, times: int = 2) -> None:
    from watchkeeper.notify.delivery import DeliveryWorker
    from watchkeeper.notify.receivers import ReceiverStore

    async def go() -> None:
        worker = DeliveryWorker(
            sessions=env.context.sessions,
            clock=env.clock,
            settings=env.context.settings.notifications,
            receivers=ReceiverStore.from_settings(env.context.settings),
        )
        for _ in range(times):
            await worker.drain_once()
        await worker.aclose()

    anyio.run(go)


def _test_send(env: Env, tenant: TenantFixture, name: str) -> dict[str, Any]:
    queued = env.client.post(f"/api/v1/receivers/{name}/test", headers=tenant.admin)
    assert queued.status_code == 202, queued.text
    _drain(env)
    rows = env.client.get("/api/v1/notifications", headers=tenant.admin).json()
    found: dict[str, Any] = next(r for r in rows if r["channel"])
    return found


def test_reply_text_kept_for_the_tenant_is_a_short_printable_excerpt(
    env: Env, acme: TenantFixture, receiver: HttpReceiver
) -> None:
    body = b"\x1b[31mERROR\r\n" + b"internal line\n" * 400 + SECRET_REPLY
    receiver.default = Reply(400, body)
    made = env.client.post(
        "/api/v1/receivers",
        headers=acme.admin,
        json={
            "name": "hook",
            "integrations": [{"type": "webhook", "config": {"url": receiver.url()}}],
        },
    )
    assert made.status_code == 201, made.text

    row = _test_send(env, acme, "hook")

    assert row["status"] == "dead" and row["last_error"].startswith("HTTP 400: ")
    assert len(row["last_error"]) <= len("HTTP 400: ") + 200
    assert all(c.isprintable() for c in row["last_error"]), row["last_error"]
    assert "hunter2" not in row["last_error"]


@STRICT
def test_a_receiver_stored_before_the_guard_gets_a_permanent_refusal_and_no_read_back(
    env: Env, acme: TenantFixture, receiver: HttpReceiver, outbound_allow: list[str]
) -> None:
    from watchkeeper.db.tables import NotificationReceiver
    from watchkeeper.tenancy import service

    receiver.default = Reply(404, SECRET_REPLY)
    with env.context.sessions.system("test") as db:
        tenant_id = service.find_tenant(db, "acme").id
    with env.context.sessions.tenant(tenant_id) as db:  # as an older release stored it
        db.add(
            NotificationReceiver(
                name="internal",
                integrations=[{"type": "webhook", "config": {"url": receiver.url("/admin")}}],
                created_at=env.clock.now(),
                updated_at=env.clock.now(),
            )
        )

    row = _test_send(env, acme, "internal")

    assert row["status"] == "dead" and "refused (loopback address)" in row["last_error"]
    assert "hunter2" not in row["last_error"] and receiver.requests == []


# -- save time: a literal refused destination is a 422 -------------------------------------


REFUSED_AT_SAVE: list[tuple[str, dict[str, Any]]] = [
    ("webhook", {"url": "http://127.0.0.1:9090/api/v1/admin"}),
    ("webhook", {"url": "http://localhost:6379/"}),
    ("webhook", {"url": "http://[::1]:8080/"}),
    ("webhook", {"url": "http://[::ffff:127.0.0.1]/"}),
    ("webhook", {"url": "http://[::ffff:7f00:1]/"}),
    ("webhook", {"url": "http://0.0.0.0:8080/"}),
    ("webhook", {"url": "http://169.254.169.254/latest/meta-data/"}),
    ("webhook", {"url": "http://2130706433/"}),
    ("webhook", {"url": "http://0177.0.0.1/"}),
    ("webhook", {"url": "http://0x7f000001/"}),
    ("webhook", {"url": "http://127.1/"}),
    ("webhook", {"url": "http://10.1.2.3/"}),
    ("webhook", {"url": "http://[fd12:3456::1]/"}),
    ("webhook", {"url": "http://[fe80::1]/"}),
    ("webhook", {"url": "http://LOCALHOST./"}),
    ("slack", {"webhook_url": "http://127.0.0.1:8000/services/x"}),
    ("teams", {"webhook_url": "http://192.168.1.1/workflows"}),
    (
        "sms",
        {
            "account_sid": "AC1",
            "auth_token": "t",
            "from_number": "+15550000000",
            "base_url": "http://localhost:6379",
        },
    ),
    ("email", {"host": "127.0.0.1", "port": 6379, "security": "none"}),
    ("email", {"host": "localhost", "port": 5432, "security": "none"}),
    ("email", {"host": "169.254.169.254", "port": 25, "security": "none"}),
]


@STRICT
def test_a_literal_refused_destination_is_refused_when_saved(
    env: Env, acme: TenantFixture, outbound_allow: list[str]
) -> None:
    for index, (kind, config) in enumerate(REFUSED_AT_SAVE):
        body = {"name": f"r{index}", "integrations": [{"type": kind, "config": config}]}
        made = env.client.post("/api/v1/receivers", headers=acme.admin, json=body)
        assert made.status_code == 422, (kind, config, made.text)
        assert "refused" in made.text and "outbound_allow" in made.text, made.text
    public = {"url": "https://hooks.example.com/x"}
    fine = {"name": "ok", "integrations": [{"type": "webhook", "config": public}]}
    assert env.client.post("/api/v1/receivers", headers=acme.admin, json=fine).status_code == 201


# -- stored secrets stay bound to their destination ----------------------------------------


def _put(env: Env, tenant: TenantFixture, name: str, kind: str, config: dict[str, Any]) -> Any:
    return env.client.put(
        f"/api/v1/receivers/{name}",
        headers=tenant.admin,
        json={"integrations": [{"type": kind, "config": config}]},
    )


def _create(env: Env, tenant: TenantFixture, name: str, kind: str, config: dict[str, Any]) -> None:
    body = {"name": name, "integrations": [{"type": kind, "config": config}]}
    made = env.client.post("/api/v1/receivers", headers=tenant.admin, json=body)
    assert made.status_code == 201, made.text


def _shown(env: Env, tenant: TenantFixture, name: str) -> dict[str, Any]:
    got = env.client.get(f"/api/v1/receivers/{name}", headers=tenant.admin).json()
    config: dict[str, Any] = got["integrations"][0]["config"]
    return config


def test_a_kept_secret_cannot_follow_a_changed_destination(env: Env, acme: TenantFixture) -> None:
    hook = {
        "url": "https://hooks.example.com/a",
        "secret": "signing-key",
        "headers": {"Authorization": "Bearer api-token"},
    }
    _create(env, acme, "hook", "webhook", hook)
    shown = _shown(env, acme, "hook")
    for url in (
        "https://attacker.example.net/a",
        "https://hooks.example.com:8443/a",
        "http://hooks.example.com/a",
    ):
        moved = _put(env, acme, "hook", "webhook", {**shown, "url": url})
        assert moved.status_code == 422, (url, moved.text)
        assert "headers, secret" in moved.text and "again" in moved.text
    # Same scheme, host and port (another path): kept; re-entered secrets: a new destination.
    assert _put(
        env, acme, "hook", "webhook", {**shown, "url": "https://hooks.example.com/b"}
    ).is_success
    retyped = {**hook, "url": "https://other.example.net/a"}
    assert _put(env, acme, "hook", "webhook", retyped).is_success

    relay = {"host": "relay.example.com", "username": "wk", "password": "smtp-pass"}
    _create(env, acme, "mail", "email", relay)
    kept = _shown(env, acme, "mail")
    for change in (
        {"host": "attacker.example.net"},
        {"port": 2525},
        {"security": "none"},
        {"validate_certs": False},
    ):
        moved = _put(env, acme, "mail", "email", {**kept, **change})
        assert moved.status_code == 422 and "password" in moved.text, (change, moved.text)

    same_relay = {**kept, "from_address": "alerts@example.com", "to": ["ops@example.com"]}
    assert _put(env, acme, "mail", "email", same_relay).is_success

    sms = {
        "account_sid": "AC1",
        "auth_token": "twilio-token",
        "from_number": "+15550000000",
        "base_url": "https://api.twilio.com",
    }
    _create(env, acme, "sms", "sms", sms)
    kept = {**_shown(env, acme, "sms"), "base_url": "https://attacker.example.net"}
    moved = _put(env, acme, "sms", "sms", kept)
    assert moved.status_code == 422 and "auth_token" in moved.text, moved.text


def test_a_webhook_url_carrying_a_token_is_a_secret(env: Env, acme: TenantFixture) -> None:
    from watchkeeper.db.tables import NotificationReceiver
    from watchkeeper.notify.receivers import ReceiverStore

    url = "https://hooks.example.com/x?token=tok-123"
    _create(env, acme, "hook", "webhook", {"url": url, "secret": "s"})
    listed = env.client.get("/api/v1/receivers", headers=acme.admin)
    assert "tok-123" not in listed.text
    shown = _shown(env, acme, "hook")
    assert "tok-123" not in str(shown)
    assert _put(env, acme, "hook", "webhook", {**shown, "max_alerts": 3}).is_success
    with env.context.sessions.system("test") as db:
        row = db.scalar(select(NotificationReceiver).where(NotificationReceiver.name == "hook"))
        assert row is not None
        store = ReceiverStore.from_settings(env.context.settings)
        config = store._from_row(db, row).integrations[0].config
    assert config["url"] == url and config["secret"] == "s" and config["max_alerts"] == 3


# -- ca_file: no server paths from tenants -------------------------------------------------


def test_a_tenant_cannot_name_a_server_file_as_ca(
    env: Env,
    acme: TenantFixture,
    certificate: Certificate,
) -> None:
    base = {"host": "relay.example.com", "security": "tls"}
    for path in ("/etc/passwd", "/nonexistent", str(certificate.cert_file)):
        body = {
            "name": "m",
            "integrations": [{"type": "email", "config": {**base, "ca_file": path}}],
        }
        refused = env.client.post("/api/v1/receivers", headers=acme.admin, json=body)
        assert refused.status_code == 422 and "ca_file" in refused.text, refused.text
    bad = {"name": "m", "integrations": [{"type": "email", "config": {**base, "ca_pem": "x"}}]}
    assert env.client.post("/api/v1/receivers", headers=acme.admin, json=bad).status_code == 422
    pem = certificate.cert_file.read_text()
    good = {"name": "m", "integrations": [{"type": "email", "config": {**base, "ca_pem": pem}}]}
    assert env.client.post("/api/v1/receivers", headers=acme.admin, json=good).status_code == 201


@pytest.mark.anyio
async def test_smtp_connects_to_the_checked_address_and_verifies_tls_by_host_name(
    smtp_implicit_tls: Mailbox,
    certificate: Certificate,
) -> None:
    from tests.notify.conftest import PASSWORD, USER
    from watchkeeper.notify.outbound import OutboundPolicy

    mail = EmailChannel(
        host="localhost",
        port=smtp_implicit_tls.port,
        security="tls",
        username=USER,
        password=PASSWORD,
        from_address="wk@example.com",
        ca_pem=certificate.cert_file.read_text(),
        timeout=5.0,
        outbound=OutboundPolicy.parse(["localhost"]),
    )

    result = await mail.send(rendered(NotificationChannel.EMAIL))

    assert result.delivered, result
    assert smtp_implicit_tls.logins == [USER]


# -- the operator's global channels are the operator tenant's only -------------------------


def test_global_channels_are_the_operator_tenants_implicit_default_only(
    env: Env, acme: TenantFixture
) -> None:
    from watchkeeper.notify.receivers import ReceiverStore
    from watchkeeper.tenancy import service

    settings = env.context.settings.model_copy(
        update={
            "slack_webhook_url": SecretStr("https://hooks.slack.com/services/OPERATOR"),
            "email_smtp_server": "relay.operator.example",
        }
    )
    store = ReceiverStore.from_settings(settings)
    kinds = {}
    for name in ("default", "acme"):
        with env.context.sessions.system("test") as db:
            tenant_id = service.find_tenant(db, name).id
        with env.context.sessions.tenant(tenant_id) as db:
            kinds[name] = {i.type.value for i in store.get(db, "default").integrations}
    assert kinds == {"default": {"slack", "email"}, "acme": set()}
    empty = env.client.post("/api/v1/receivers/default/test", headers=acme.admin)
    assert empty.status_code == 409 and "no integrations" in empty.text


def test_a_ca_file_stored_before_the_rule_is_not_loaded_at_delivery(database_url: str) -> None:
    from tests.notify.conftest import make_delivery_rig
    from watchkeeper.db.tables import NotificationReceiver

    rig, engine = make_delivery_rig(database_url)
    try:
        config = {"host": "relay.example.com", "security": "tls", "ca_file": "/etc/shadow"}
        with rig.sessions.tenant(rig.tenant_id) as db:  # as an older release stored it
            db.add(
                NotificationReceiver(
                    name="mail",
                    integrations=[{"type": "email", "config": config}],
                    created_at=rig.clock.now(),
                    updated_at=rig.clock.now(),
                )
            )
        rig.enqueue("m-1", receiver="mail", recipients=("oncall@example.com",))

        async def drain() -> None:
            worker = rig.worker()
            await worker.drain_once()
            await worker.drain_once()
            await worker.aclose()

        anyio.run(drain)
        row = rig.row("m-1:0")
        assert row.status == "dead" and "ca_file" in row.last_error, row.last_error
    finally:
        engine.dispose()


def test_the_operators_own_relay_needs_no_allowlist(
    database_url: str,
    smtp_plain: Mailbox,
) -> None:
    """The global EMAIL_SMTP_* relay is the operator's destination: a relay on this machine
    keeps working for the operator's tenant with an empty `outbound_allow`."""
    from tests.notify.conftest import make_delivery_rig

    security = {"outbound_allow": [], "global_channels_tenant": "acme"}
    rig, engine = make_delivery_rig(
        database_url,
        overrides={
            "email_smtp_server": "127.0.0.1",
            "email_smtp_port": smtp_plain.port,
            "security": security,
        },
    )
    try:
        rig.enqueue("op-1", channel="email", recipients=("oncall@example.com",))

        async def drain() -> None:
            worker = rig.worker()
            await worker.drain_once()
            await worker.aclose()

        anyio.run(drain)
        assert rig.row("op-1").status == "sent", rig.row("op-1").last_error
        assert len(smtp_plain.mails) == 1
    finally:
        engine.dispose()
