"""Notification channels, templates, secret encryption and the delivery pipeline.

The public surface: the Python API (`initialize_notification_service`,
`NotificationRequest`, `NotificationChannel`, `NotificationPriority`, `NotificationTemplate`),
the `Channel` interface with its results, and the pieces the outbox and the API build on.
"""

from .api import (
    Deliver,
    NotificationRequest,
    NotificationService,
    OutboxTarget,
    UnknownTemplateError,
    initialize_notification_service,
)
from .base import (
    Channel,
    DeliveryResult,
    DeliveryStatus,
    NotificationChannel,
    NotificationPriority,
    RenderedMessage,
)
from .config import (
    CHANNEL_TYPES,
    channel_configs_from_settings,
    channel_from_config,
    decrypt_channel_config,
    encrypt_channel_config,
    secret_fields,
    validate_config,
)
from .crypto import DecryptionError, SecretBox
from .default_templates import DEFAULT_TEMPLATES, default_template_for
from .recipients import recipients_for
from .templates import (
    SAMPLE_VARIABLES,
    NotificationTemplate,
    TemplateBudgetError,
    TemplateRenderError,
    TemplateValidationError,
    preview,
    render,
)

__all__ = [
    "CHANNEL_TYPES",
    "DEFAULT_TEMPLATES",
    "SAMPLE_VARIABLES",
    "Channel",
    "DecryptionError",
    "Deliver",
    "DeliveryResult",
    "DeliveryStatus",
    "NotificationChannel",
    "NotificationPriority",
    "NotificationRequest",
    "NotificationService",
    "NotificationTemplate",
    "OutboxTarget",
    "RenderedMessage",
    "SecretBox",
    "TemplateBudgetError",
    "TemplateRenderError",
    "TemplateValidationError",
    "UnknownTemplateError",
    "channel_configs_from_settings",
    "channel_from_config",
    "decrypt_channel_config",
    "default_template_for",
    "encrypt_channel_config",
    "initialize_notification_service",
    "preview",
    "recipients_for",
    "render",
    "secret_fields",
    "validate_config",
]
