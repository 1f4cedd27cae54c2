"""Channel stage: the configured channel a row goes out on, built once per batch and
destination (configs are validated and secrets decrypted once, not per row)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from watchkeeper.clock import Clock
from watchkeeper.notify.base import Channel, NotificationChannel
from watchkeeper.notify.config import channel_from_config, tenant_config_problem
from watchkeeper.notify.http import HttpClient
from watchkeeper.notify.outbound import OutboundPolicy
from watchkeeper.notify.outbox import OutboxStatus
from watchkeeper.notify.receivers import ReceiverStore
from watchkeeper.notify.websocket import WebSocketChannel
from watchkeeper.tenancy.scope import SessionFactory

from .work import Claim, Outcome, Step, Work


class ResolveChannel:
    """Finds the row's channel: its receiver's integration, the tenant's `default` receiver
    for a direct message, a channel the caller supplied, or the tenant's WebSocket stream.
    A row whose destination is gone or no longer valid is dead."""

    def __init__(
        self,
        *,
        sessions: SessionFactory,
        clock: Clock,
        receivers: ReceiverStore,
        client: HttpClient,
        outbound: OutboundPolicy,
        extra_channels: Mapping[NotificationChannel, Channel],
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.receivers = receivers
        self.client = client
        self.outbound = outbound
        self.extra_channels = extra_channels
        self._built: dict[tuple[str, str, int, NotificationChannel], Channel] = {}

    def __call__(self, db: Session, work: Work, now: datetime) -> Step:
        claim = work.claim
        try:
            kind = NotificationChannel(claim.channel)
        except ValueError:
            return Outcome(claim, OutboxStatus.DEAD, f"unknown channel {claim.channel!r}")
        key = (claim.tenant_id, claim.receiver, claim.integration, kind)
        channel = self._built.get(key)
        if channel is None:
            try:
                channel = self._build(db, claim, kind)
            except (LookupError, ValueError) as exc:  # a config that no longer validates too
                return Outcome(claim, OutboxStatus.DEAD, f"config: {exc}")
            self._built[key] = channel
        return replace(work, kind=kind, channel=channel)

    def _build(self, db: Session, claim: Claim, kind: NotificationChannel) -> Channel:
        if kind in self.extra_channels and not claim.receiver:
            return self.extra_channels[kind]
        if kind is NotificationChannel.WEBSOCKET:
            return WebSocketChannel(self.sessions, claim.tenant_id, self.clock)
        if claim.receiver:
            integrations = self.receivers.get(db, claim.receiver).integrations
            index = claim.integration
            if not 0 <= index < len(integrations) or integrations[index].type is not kind:
                raise LookupError(
                    f"receiver {claim.receiver!r} has no {kind.value} integration #{index}"
                )
            integration = integrations[index]
        else:
            found = self.receivers.channel_default(db, kind)
            if found is None:
                raise LookupError(f"no default {kind.value} configuration for direct messages")
            integration = found
        config = integration.config
        if integration.operator:  # the operator's own relay (EMAIL_SMTP_*), maybe on localhost
            outbound = OutboundPolicy.everywhere()
        else:
            outbound = self.outbound
            problem = tenant_config_problem(kind, config)  # a row stored before the rule
            if problem is not None:
                raise ValueError(problem)
        return channel_from_config(
            kind, config, client=self.client, clock=self.clock, outbound=outbound
        )
