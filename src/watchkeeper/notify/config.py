"""One pydantic schema per channel type, secrets marked, and the registry that builds channels.

Secret fields carry `json_schema_extra={"secret": True, "writeOnly": True}`: `secret_fields`
reads that mark to know what `crypto.encrypt_fields` must encrypt at rest and what an API
must never echo back. `CHANNEL_TYPES` is the explicit registry (no discovery by naming).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from watchkeeper.clock import Clock
from watchkeeper.config import Settings

from .base import Channel, NotificationChannel
from .crypto import SecretBox, decrypt_fields, encrypt_fields
from .email import EmailChannel
from .http import HttpClient, JsonPostChannel
from .outbound import OutboundPolicy
from .slack import SlackChannel
from .sms import SmsChannel
from .teams import TeamsChannel
from .webhook import WebhookChannel

_SECRET: dict[str, Any] = {"secret": True, "writeOnly": True}
CA_PEM_LIMIT = 65536  # characters of an inline CA bundle: dozens of certificates


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class _ChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout: float = Field(10.0, gt=0, le=120, description="seconds for one delivery attempt")


class EmailConfig(_ChannelConfig):
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = Field(None, json_schema_extra=_SECRET)
    from_address: str = "watchkeeper@localhost"
    to: list[str] = Field(default_factory=list, description="used when a request names none")
    validate_certs: bool = True
    ca_file: str | None = Field(
        None, description="extra CA bundle file on the server; operator configuration only"
    )
    ca_pem: str | None = Field(
        None,
        max_length=CA_PEM_LIMIT,
        description="extra CA certificates as inline PEM, e.g. a private relay's",
    )

    @field_validator("ca_pem")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("must be PEM certificates (-----BEGIN CERTIFICATE-----)")
        try:
            ssl.create_default_context().load_verify_locations(cadata=value)
        except (ssl.SSLError, ValueError):
            raise ValueError("is not a valid PEM certificate bundle") from None
        return value


class IncomingWebhookConfig(_ChannelConfig):
    """Slack and Teams: a URL that is itself the secret (the channel posts JSON to it)."""

    webhook_url: SecretStr = Field(json_schema_extra=_SECRET)

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        _http_url(value.get_secret_value())
        return value


class SmsConfig(_ChannelConfig):
    account_sid: str
    auth_token: SecretStr = Field(json_schema_extra=_SECRET)
    from_number: str | None = None
    messaging_service_sid: str | None = None
    to: list[str] = Field(default_factory=list, description="used when a request names none")
    base_url: str = "https://api.twilio.com"

    _check_base_url = field_validator("base_url")(_http_url)

    @model_validator(mode="after")
    def _sender(self) -> SmsConfig:
        if not (self.from_number or self.messaging_service_sid):
            raise ValueError("set from_number or messaging_service_sid")
        return self


class WebhookConfig(_ChannelConfig):
    url: str
    secret: SecretStr | None = Field(None, json_schema_extra=_SECRET)
    alertmanager_format: bool = False
    max_alerts: int = Field(0, ge=0, description="0 sends every alert")
    headers: dict[str, str] = Field(default_factory=dict, json_schema_extra=_SECRET)

    _check_url = field_validator("url")(_http_url)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _email(
    c: EmailConfig, client: HttpClient | None, clock: Clock | None, outbound: OutboundPolicy | None
) -> Channel:
    return EmailChannel(
        host=c.host,
        port=c.port,
        security=c.security,
        username=c.username,
        password=_secret(c.password),
        from_address=c.from_address,
        default_recipients=tuple(c.to),
        timeout=c.timeout,
        validate_certs=c.validate_certs,
        ca_file=c.ca_file,
        ca_pem=c.ca_pem,
        clock=clock,
        outbound=outbound,
    )


def _incoming_webhook(
    kind: type[JsonPostChannel],
) -> Callable[
    [IncomingWebhookConfig, HttpClient | None, Clock | None, OutboundPolicy | None], Channel
]:
    def build(
        c: IncomingWebhookConfig,
        client: HttpClient | None,
        clock: Clock | None,
        outbound: OutboundPolicy | None,
    ) -> Channel:
        url = c.webhook_url.get_secret_value()
        return kind(url, timeout=c.timeout, client=client, clock=clock, outbound=outbound)

    return build


def _sms(
    c: SmsConfig, client: HttpClient | None, clock: Clock | None, outbound: OutboundPolicy | None
) -> Channel:
    return SmsChannel(
        account_sid=c.account_sid,
        auth_token=c.auth_token.get_secret_value(),
        from_number=c.from_number,
        messaging_service_sid=c.messaging_service_sid,
        default_recipients=tuple(c.to),
        base_url=c.base_url,
        timeout=c.timeout,
        client=client,
        clock=clock,
        outbound=outbound,
    )


def _webhook(
    c: WebhookConfig,
    client: HttpClient | None,
    clock: Clock | None,
    outbound: OutboundPolicy | None,
) -> Channel:
    return WebhookChannel(
        c.url,
        secret=_secret(c.secret),
        alertmanager_format=c.alertmanager_format,
        max_alerts=c.max_alerts,
        headers=c.headers,
        timeout=c.timeout,
        client=client,
        clock=clock,
        outbound=outbound,
    )


@dataclass(frozen=True)
class ChannelType:
    """A registered channel kind: its config schema and how to build it from a valid config."""

    config: type[_ChannelConfig]
    build: Callable[[Any, HttpClient | None, Clock | None, OutboundPolicy | None], Channel]


CHANNEL_TYPES: dict[NotificationChannel, ChannelType] = {
    NotificationChannel.EMAIL: ChannelType(EmailConfig, _email),
    NotificationChannel.SLACK: ChannelType(IncomingWebhookConfig, _incoming_webhook(SlackChannel)),
    NotificationChannel.TEAMS: ChannelType(IncomingWebhookConfig, _incoming_webhook(TeamsChannel)),
    NotificationChannel.SMS: ChannelType(SmsConfig, _sms),
    NotificationChannel.WEBHOOK: ChannelType(WebhookConfig, _webhook),
}


def _registered(channel_type: NotificationChannel | str) -> ChannelType:
    kind = NotificationChannel(channel_type)
    if kind not in CHANNEL_TYPES:
        raise ValueError(f"channel type {kind.value} cannot be built from a config")
    return CHANNEL_TYPES[kind]


def validate_config(channel_type: NotificationChannel | str, config: Mapping[str, Any]) -> Any:
    """The config parsed by its type's schema; raises pydantic.ValidationError."""
    return _registered(channel_type).config.model_validate(dict(config))


def secret_fields(channel_type: NotificationChannel | str) -> frozenset[str]:
    model = _registered(channel_type).config
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("secret")
    )


def channel_from_config(
    channel_type: NotificationChannel | str,
    config: Mapping[str, Any],
    *,
    client: HttpClient | None = None,
    clock: Clock | None = None,
    outbound: OutboundPolicy | None = None,
) -> Channel:
    """A ready Channel from a plain (decrypted) config; raises pydantic.ValidationError.

    `outbound` guards the channel's connections when it makes its own (no `client`, or
    email); without one only public addresses are reached.
    """
    kind = _registered(channel_type)
    return kind.build(kind.config.model_validate(dict(config)), client, clock, outbound)


_DESTINATION_FIELD = {
    NotificationChannel.WEBHOOK: "url",
    NotificationChannel.SLACK: "webhook_url",
    NotificationChannel.TEAMS: "webhook_url",
    NotificationChannel.SMS: "base_url",
}
SMS_DEFAULT_BASE_URL = "https://api.twilio.com"


def _url_of(kind: NotificationChannel, config: Mapping[str, Any]) -> str:
    field = _DESTINATION_FIELD.get(kind)
    default = SMS_DEFAULT_BASE_URL if kind is NotificationChannel.SMS else ""
    return str(config.get(field) or default) if field else ""


def destination(channel_type: NotificationChannel | str, config: Mapping[str, Any]) -> str:
    """Where a config sends (scheme, host and port, as one string), for binding stored secrets
    to it: `https://[hooks.example]:443`, `smtp+starttls://[relay.example]:587`. For email the
    certificate check belongs to it too: turning it off, or trusting another CA, would hand
    the password to whoever answers on the path."""
    kind = NotificationChannel(channel_type)
    if kind is NotificationChannel.EMAIL:
        security = config.get("security") or "starttls"
        host = str(config.get("host") or "").strip().rstrip(".").lower()
        verify = config.get("validate_certs") is not False
        trust = (config.get("ca_pem") or "").strip()
        return f"smtp+{security}://[{host}]:{config.get('port') or 587}#{verify}/{trust}"
    url = _url_of(kind, config)
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return url
    return f"{parts.scheme}://[{(parts.hostname or '').rstrip('.')}]:{port}"


def destination_host(channel_type: NotificationChannel | str, config: Mapping[str, Any]) -> str:
    """The host a config connects to, as written (for the save-time literal check)."""
    kind = NotificationChannel(channel_type)
    if kind is NotificationChannel.EMAIL:
        return str(config.get("host") or "")
    try:
        return urlsplit(_url_of(kind, config)).hostname or ""
    except ValueError:
        return ""


def tenant_config_problem(
    channel_type: NotificationChannel | str, config: Mapping[str, Any]
) -> str | None:
    """What a tenant may not set that the operator may: a server file path (`ca_file`)
    would let a tenant probe which files exist from the error text."""
    if NotificationChannel(channel_type) is NotificationChannel.EMAIL and config.get("ca_file"):
        return "ca_file names a server file, which a tenant may not do; give ca_pem (inline PEM)"
    return None


def encrypt_channel_config(
    box: SecretBox,
    channel_type: NotificationChannel | str,
    config: Mapping[str, Any],
    *,
    context: str,
) -> dict[str, Any]:
    """The config as stored: validated first, then its secret fields encrypted."""
    validate_config(channel_type, config)
    return encrypt_fields(box, config, secret_fields(channel_type), context=context)


def decrypt_channel_config(
    box: SecretBox,
    channel_type: NotificationChannel | str,
    stored: Mapping[str, Any],
    *,
    context: str,
) -> dict[str, Any]:
    return decrypt_fields(box, stored, secret_fields(channel_type), context=context)


def channel_configs_from_settings(settings: Settings) -> dict[str, dict[str, Any]]:
    """Channel configs from the environment-level settings (SLACK_WEBHOOK_URL, EMAIL_SMTP_*)."""
    configs: dict[str, dict[str, Any]] = {}
    if settings.slack_webhook_url is not None:
        configs["slack"] = {"webhook_url": settings.slack_webhook_url.get_secret_value()}
    if settings.email_smtp_server:
        port = settings.email_smtp_port
        configs["email"] = {
            "host": settings.email_smtp_server,
            "port": port,
            "security": "tls" if port == 465 else "starttls" if port == 587 else "none",
        }
    return configs
