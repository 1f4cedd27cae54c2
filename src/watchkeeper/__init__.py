"""Watchkeeper: self-hosted monitoring and AIOps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["MetricsCollector", "__version__"]

if TYPE_CHECKING:
    from watchkeeper.observability.metrics import MetricsCollector


def __getattr__(name: str) -> Any:
    # Lazy, so `import watchkeeper` stays cheap for the CLI and worker processes.
    if name == "MetricsCollector":
        from watchkeeper.observability.metrics import MetricsCollector

        return MetricsCollector
    raise AttributeError(name)
