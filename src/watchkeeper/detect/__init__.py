"""Anomaly detection: one Detector interface, one algorithm per module, built by name.

`DETECTORS` maps the names used in configuration to factories; the deep models import torch
only when they first fit, so building them is cheap and the core works without the extra.
"""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.detect.base import AnomalyEvent, Detector, SeriesDetectors
from watchkeeper.detect.ensemble import EnsembleDetector
from watchkeeper.detect.isolation_forest import IsolationForestDetector
from watchkeeper.detect.lstm import LstmDetector
from watchkeeper.detect.robust_residual import RobustResidualDetector
from watchkeeper.detect.vae import VaeDetector


def default_ensemble() -> EnsembleDetector:
    """The default detector and the Isolation Forest, combined by `max` (either one's event is
    an event). On NAB it scores below the default alone (docs/design/detection.md)."""
    return EnsembleDetector([RobustResidualDetector(), IsolationForestDetector()], combine="max")


DETECTORS: dict[str, Callable[[], Detector]] = {
    "default": RobustResidualDetector,
    "isolation_forest": IsolationForestDetector,
    "lstm": LstmDetector,
    "vae": VaeDetector,
    "ensemble": default_ensemble,
}

__all__ = ["DETECTORS", "AnomalyEvent", "Detector", "SeriesDetectors", "default_ensemble"]
