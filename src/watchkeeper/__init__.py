"""Watchkeeper: self-hosted monitoring and AIOps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_NOTIFY = (
    "NotificationChannel",
    "NotificationPriority",
    "NotificationRequest",
    "NotificationTemplate",
    "initialize_notification_service",
)

__all__ = [
    "MetricsCollector",
    "NotificationChannel",
    "NotificationPriority",
    "NotificationRequest",
    "NotificationTemplate",
    "__version__",
    "initialize_notification_service",
]

if TYPE_CHECKING:
    from watchkeeper.notify import (
        NotificationChannel,
        NotificationPriority,
        NotificationRequest,
        NotificationTemplate,
        initialize_notification_service,
    )
    from watchkeeper.observability.metrics import MetricsCollector


def __getattr__(name: str) -> Any:
    # Lazy, so `import watchkeeper` stays cheap for the CLI and worker processes.
    if name == "MetricsCollector":
        from watchkeeper.observability.metrics import MetricsCollector

        return MetricsCollector
    if name in _NOTIFY:
        import watchkeeper.notify

        return getattr(watchkeeper.notify, name)
    raise AttributeError(name)
