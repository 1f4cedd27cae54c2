"""Watchkeeper: self-hosted monitoring and AIOps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_AI = (
    "AnomalyEngine",
    "AnomalyResult",
    "MetricForecast",
    "MetricPredictor",
    "TrainingSummary",
    "initialize_ai_monitoring",
)
_CORRELATE = ("CorrelatedIncident", "Event", "IncidentCorrelator")
_NOTIFY = (
    "NotificationChannel",
    "NotificationPriority",
    "NotificationRequest",
    "NotificationTemplate",
    "initialize_notification_service",
)

__all__ = [
    "AnomalyEngine",
    "AnomalyResult",
    "CorrelatedIncident",
    "Event",
    "IncidentCorrelator",
    "MetricForecast",
    "MetricPredictor",
    "MetricsCollector",
    "NotificationChannel",
    "NotificationPriority",
    "NotificationRequest",
    "NotificationTemplate",
    "TrainingSummary",
    "__version__",
    "initialize_ai_monitoring",
    "initialize_notification_service",
]

if TYPE_CHECKING:
    from watchkeeper.library.ai import (
        AnomalyEngine,
        AnomalyResult,
        MetricForecast,
        MetricPredictor,
        TrainingSummary,
        initialize_ai_monitoring,
    )
    from watchkeeper.library.correlate import CorrelatedIncident, Event, IncidentCorrelator
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
    if name in _AI:
        import watchkeeper.library.ai

        return getattr(watchkeeper.library.ai, name)
    if name in _CORRELATE:
        import watchkeeper.library.correlate

        return getattr(watchkeeper.library.correlate, name)
    if name in _NOTIFY:
        import watchkeeper.notify

        return getattr(watchkeeper.notify, name)
    raise AttributeError(name)
