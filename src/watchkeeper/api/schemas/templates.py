"""Notification templates over the API: documents in, templates (with `builtin`) out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from watchkeeper.notify.base import NotificationChannel, NotificationPriority


class TemplateBody(BaseModel):
    """The parts of a template; Jinja2 (sandboxed), variables as in docs/design/notifications.md."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    subject_template: str = Field(max_length=2000)
    body_template: str = Field(max_length=100_000)
    html_template: str | None = Field(None, max_length=200_000)
    channels: list[NotificationChannel] = Field(
        default_factory=lambda: list(NotificationChannel), min_length=1
    )
    priority: NotificationPriority = NotificationPriority.NORMAL
    variables: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="extra top-level variable names the template may read",
    )


class TemplateCreate(TemplateBody):
    id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$",
        description="lower-case letters, digits, `_.-`; the id outbox rows name",
    )


class TemplatePublic(TemplateBody):
    id: str
    builtin: bool = Field(description="a read-only default template")
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] | None = Field(
        None, description="override the sample alert's top-level variables"
    )


class UnsavedPreviewRequest(TemplateBody):
    name: str = Field("preview", min_length=1, max_length=200)
    sample: dict[str, Any] | None = Field(
        None, description="override the sample alert's top-level variables"
    )


class PreviewPublic(BaseModel):
    subject: str
    text: str
    html: str | None
    priority: NotificationPriority
