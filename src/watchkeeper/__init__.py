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
_MONITORING = (
    "MonitoringConfig",
    "MonitoringFactory",
    "MonitoringOrchestrator",
    "MonitoringTier",
    "initialize_monitoring",
    "setup_monitoring_config",
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
    "ConfigError",
    "CorrelatedIncident",
    "DashboardManager",
    "Event",
    "IncidentCorrelator",
    "MetricForecast",
    "MetricPredictor",
    "MetricsCollector",
    "MonitoringConfig",
    "MonitoringFactory",
    "MonitoringOrchestrator",
    "MonitoringTier",
    "NotificationChannel",
    "NotificationPriority",
    "NotificationRequest",
    "NotificationTemplate",
    "TrainingSummary",
    "__version__",
    "initialize_ai_monitoring",
    "initialize_monitoring",
    "initialize_notification_service",
    "setup_monitoring_config",
]

if TYPE_CHECKING:
    from watchkeeper.config import ConfigError
    from watchkeeper.library.ai import (
        AnomalyEngine,
        AnomalyResult,
        MetricForecast,
        MetricPredictor,
        TrainingSummary,
        initialize_ai_monitoring,
    )
    from watchkeeper.library.correlate import CorrelatedIncident, Event, IncidentCorrelator
    from watchkeeper.library.dashboards import DashboardManager
    from watchkeeper.library.monitoring import (
        MonitoringConfig,
        MonitoringFactory,
        MonitoringOrchestrator,
        MonitoringTier,
        initialize_monitoring,
        setup_monitoring_config,
    )
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
    if name == "ConfigError":
        from watchkeeper.config import ConfigError

        return ConfigError
    if name == "DashboardManager":
        from watchkeeper.library.dashboards import DashboardManager

        return DashboardManager
    if name in _MONITORING:
        import watchkeeper.library.monitoring

        return getattr(watchkeeper.library.monitoring, name)
    if name in _CORRELATE:
        import watchkeeper.library.correlate

        return getattr(watchkeeper.library.correlate, name)
    if name in _NOTIFY:
        import watchkeeper.notify

        return getattr(watchkeeper.notify, name)
    raise AttributeError(name)
