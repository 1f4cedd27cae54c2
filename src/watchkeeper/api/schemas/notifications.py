"""Receivers, outbox notifications and quiet hours as the API shows them (secrets redacted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ChannelType = Literal["email", "slack", "teams", "sms", "webhook"]


class IntegrationBody(BaseModel):
    """One channel of a receiver; `config` follows that channel's schema. Secret fields may
    be sent back as "<secret>" on PUT to keep the stored value."""

    model_config = ConfigDict(extra="forbid")

    type: ChannelType
    config: dict[str, Any] = Field(default_factory=dict)


class ReceiverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integrations: list[IntegrationBody] = Field(min_length=1, max_length=50)


class ReceiverCreate(ReceiverBody):
    name: str = Field(min_length=1, max_length=200)


class ReceiverPublic(BaseModel):
    name: str
    implicit: bool = Field(description="built from the process settings, not stored")
    integrations: list[IntegrationBody]
    created_at: datetime | None
    updated_at: datetime | None


class ReceiverTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipients: list[str] = Field(default_factory=list, max_length=100)


class NotificationPublic(BaseModel):
    id: int
    idempotency_key: str
    channel: str
    receiver: str
    recipients: list[str]
    template_id: str
    priority: str
    source: str
    source_ref: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None


class NotificationDetail(NotificationPublic):
    payload: dict[str, Any]


class QuietHoursBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Berlin"])
    start: str = Field(pattern=r"^\d\d:\d\d$", examples=["22:00"])
    end: str = Field(pattern=r"^\d\d:\d\d$", examples=["07:00"])


class QuietHoursPublic(QuietHoursBody):
    recipient: str
    updated_at: datetime
