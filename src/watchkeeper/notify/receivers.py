"""Receivers (contact points): a tenant's named lists of channel integrations.

Configs are validated by their channel's schema and stored with secret fields encrypted
(`crypto.SecretBox`, key from ENCRYPTION_KEY); what the API returns has them redacted.
The operator's tenant (`security.global_channels_tenant`, "default": the one `init` makes)
without a receiver named "default" gets one built from the process settings
(SLACK_WEBHOOK_URL, EMAIL_SMTP_*), so routes to "default" work on a fresh install; every
other tenant's implicit "default" is empty, so no tenant sends through the operator's
credentials. A kept secret stays bound to its destination: a PUT that sends the redaction
mark back must leave the scheme, host and port unchanged (as Grafana's contact points do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from watchkeeper.config import Settings
from watchkeeper.db.tables import NotificationReceiver, Tenant
from watchkeeper.tenancy.scope import tenant_of
from watchkeeper.tenancy.service import ConflictError, NotFoundError

from .base import NotificationChannel
from .config import (
    CHANNEL_TYPES,
    channel_configs_from_settings,
    decrypt_channel_config,
    destination,
    destination_host,
    encrypt_channel_config,
    secret_fields,
    tenant_config_problem,
    validate_config,
)
from .crypto import SecretBox
from .outbound import OutboundPolicy

DEFAULT_RECEIVER = "default"
REDACTED = "<secret>"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


@dataclass(frozen=True)
class Integration:
    """One channel of a receiver, config decrypted: ready for `channel_from_config`."""

    type: NotificationChannel
    config: dict[str, Any]
    operator: bool = False
    """Built from the operator's settings (the implicit default), not by a tenant: its
    destination is the operator's, so the outbound guard does not apply to it."""


@dataclass(frozen=True)
class Receiver:
    name: str
    integrations: tuple[Integration, ...]
    implicit: bool = False
    """True for the "default" receiver built from the settings (not stored)."""
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ReceiverConfigError(ValueError):
    """A receiver definition that cannot be stored: names the integration and the field."""


def box_from_settings(settings: Settings) -> SecretBox | None:
    if settings.encryption_key is None:
        return None
    return SecretBox.from_encoded(settings.encryption_key.get_secret_value())


def _context(tenant_id: str, name: str, index: int) -> str:
    return f"receiver:{tenant_id}/{name}/{index}"


class ReceiverStore:
    """Receivers of the session's tenant: CRUD with encryption, and resolution for delivery."""

    def __init__(self, settings: Settings, box: SecretBox | None) -> None:
        self.settings = settings
        self.box = box
        self.outbound = OutboundPolicy.from_settings(settings.security)

    @classmethod
    def from_settings(cls, settings: Settings) -> ReceiverStore:
        return cls(settings, box_from_settings(settings))

    def _validate(
        self, tenant_id: str, name: str, integrations: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        if not NAME_RE.match(name):
            raise ReceiverConfigError(
                f"receiver name {name!r} must be 1-200 letters, digits, '_', '.', ':' or '-'"
            )
        if not integrations:
            raise ReceiverConfigError("a receiver needs at least one integration")
        stored: list[dict[str, Any]] = []
        for index, item in enumerate(integrations):
            kind = str(item.get("type", ""))
            valid = sorted(c.value for c in CHANNEL_TYPES)
            if kind not in valid:
                raise ReceiverConfigError(
                    f"integrations[{index}].type {kind!r} is not one of {', '.join(valid)}"
                )
            config = item.get("config") or {}
            if not isinstance(config, Mapping):
                raise ReceiverConfigError(f"integrations[{index}].config must be an object")
            problem = tenant_config_problem(kind, config)
            if problem is None:
                host = destination_host(kind, config)
                problem = self.outbound.host_refusal(host) if host else None
            if problem is not None:
                raise ReceiverConfigError(f"integrations[{index}] ({kind}): {problem}")
            if secret_fields(kind) & {k for k, v in config.items() if v is not None}:
                if self.box is None:
                    raise ReceiverConfigError(
                        "ENCRYPTION_KEY is not set: secrets cannot be stored encrypted"
                    )
            try:
                if self.box is None:
                    validate_config(kind, config)
                    sealed = dict(config)
                else:
                    sealed = encrypt_channel_config(
                        self.box, kind, config, context=_context(tenant_id, name, index)
                    )
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ReceiverConfigError(f"integrations[{index}] ({kind}): {problems}") from None
            stored.append({"type": kind, "config": sealed})
        return stored

    def list(self, db: Session) -> list[Receiver]:
        rows = db.scalars(select(NotificationReceiver).order_by(NotificationReceiver.name))
        found = [self._from_row(db, r) for r in rows]
        if not any(r.name == DEFAULT_RECEIVER for r in found):
            found.insert(0, self.implicit_default(db))
        return found

    def get(self, db: Session, name: str) -> Receiver:
        row = self._row(db, name)
        if row is None:
            if name == DEFAULT_RECEIVER:
                return self.implicit_default(db)
            raise NotFoundError(f"receiver {name!r} not found")
        return self._from_row(db, row)

    def create(
        self, db: Session, name: str, integrations: Sequence[Mapping[str, Any]], now: datetime
    ) -> Receiver:
        if self._row(db, name) is not None:
            raise ConflictError(f"receiver {name!r} already exists")
        tenant_id = _tenant(db)
        row = NotificationReceiver(
            name=name,
            integrations=self._validate(tenant_id, name, integrations),
            created_at=now,
            updated_at=now,
        )
        db.add(row)
        db.flush()
        return self._from_row(db, row)

    def replace(
        self, db: Session, name: str, integrations: Sequence[Mapping[str, Any]], now: datetime
    ) -> Receiver:
        """Create or replace; a secret sent back as the redaction mark keeps its stored value,
        provided the integration still sends to the same scheme, host and port."""
        row = self._row(db, name)
        tenant_id = _tenant(db)
        if row is None:
            return self.create(db, name, integrations, now)
        old = self._from_row(db, row).integrations
        merged = []
        for index, item in enumerate(integrations):
            config = dict(item.get("config") or {})
            kind = str(item.get("type", ""))
            if index < len(old) and old[index].type.value == kind:
                config = _keep_secrets(index, old[index], config)
            merged.append({"type": kind, "config": config})
        row.integrations = self._validate(tenant_id, name, merged)
        row.updated_at = now
        db.flush()
        return self._from_row(db, row)

    def delete(self, db: Session, name: str) -> None:
        row = self._row(db, name)
        if row is None:
            raise NotFoundError(f"receiver {name!r} not found")
        db.delete(row)

    def implicit_default(self, db: Session) -> Receiver:
        """The settings' channels for the operator's tenant; nothing for any other tenant."""
        operator = self.settings.security.global_channels_tenant
        tenant_id = tenant_of(db)
        name = db.scalar(select(Tenant.name).where(Tenant.id == tenant_id)) if tenant_id else None
        if operator is None or name != operator:
            return Receiver(DEFAULT_RECEIVER, (), implicit=True)
        configs = channel_configs_from_settings(self.settings)
        return Receiver(
            DEFAULT_RECEIVER,
            tuple(
                Integration(NotificationChannel(k), v, operator=True) for k, v in configs.items()
            ),
            implicit=True,
        )

    def channel_default(self, db: Session, kind: NotificationChannel) -> Integration | None:
        """The tenant's integration for direct messages on `kind`: the first such integration
        of its "default" receiver."""
        for integration in self.get(db, DEFAULT_RECEIVER).integrations:
            if integration.type is kind:
                return integration
        return None

    @staticmethod
    def _row(db: Session, name: str) -> NotificationReceiver | None:
        return db.scalar(select(NotificationReceiver).where(NotificationReceiver.name == name))

    def _from_row(self, db: Session, row: NotificationReceiver) -> Receiver:
        integrations = []
        for index, item in enumerate(row.integrations):
            kind = NotificationChannel(item["type"])
            config = dict(item["config"])
            if self.box is not None:
                config = decrypt_channel_config(
                    self.box, kind, config, context=_context(row.tenant_id, row.name, index)
                )
            integrations.append(Integration(kind, config))
        return Receiver(
            row.name, tuple(integrations), created_at=row.created_at, updated_at=row.updated_at
        )


def _tenant(db: Session) -> str:
    tenant_id = tenant_of(db)
    if tenant_id is None:
        raise RuntimeError("receivers are written through a tenant session")
    return tenant_id


def _secret_keys(kind: NotificationChannel, config: Mapping[str, Any]) -> set[str]:
    """The config's secret fields, and a webhook URL that carries credentials or a token
    (userinfo or a query string): those are redacted on read and kept only unchanged."""
    keys = set(secret_fields(kind))
    url = config.get("url")
    if kind is NotificationChannel.WEBHOOK and isinstance(url, str) and _carries_token(url):
        keys.add("url")
    return keys


def _carries_token(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return True
    return bool(parts.query or parts.username or parts.password or "@" in parts.netloc)


def _keep_secrets(index: int, old: Integration, config: dict[str, Any]) -> dict[str, Any]:
    """`config` with each field sent back as the mark replaced by its stored value; refused
    (naming the fields) when the destination differs from the stored one, since keeping the
    secrets would send them to wherever the editor now points."""
    kept = sorted(k for k in _secret_keys(old.type, old.config) if config.get(k) == REDACTED)
    if not kept:
        return config
    merged = {**config, **{k: old.config.get(k) for k in kept}}
    if destination(old.type, merged) != destination(old.type, old.config):
        raise ReceiverConfigError(
            f"integrations[{index}] ({old.type.value}): the destination changed, so the stored "
            f"{', '.join(kept)} cannot be kept; enter {'it' if len(kept) == 1 else 'them'} again"
        )
    return merged


def redacted(receiver: Receiver) -> dict[str, Any]:
    """The receiver as the API shows it: every secret field replaced by the mark."""
    return {
        "name": receiver.name,
        "implicit": receiver.implicit,
        "integrations": [
            {
                "type": i.type.value,
                "config": {
                    k: (REDACTED if k in _secret_keys(i.type, i.config) and v is not None else v)
                    for k, v in i.config.items()
                },
            }
            for i in receiver.integrations
        ],
        "created_at": receiver.created_at,
        "updated_at": receiver.updated_at,
    }
