"""Isolation Forest (scikit-learn) on named features of each window, with SHAP attributions.

Features are computed from the window ending at each point, in training units, and have names
an operator understands, so the SHAP values of TreeExplainer say *why* a point is isolated
("value 6.2, delta 5.9 drove the score").
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from watchkeeper.detect.base import FloatArray
from watchkeeper.detect.windowed import WindowedDetector

FEATURES = (
    "value",
    "delta",
    "window_mean",
    "window_std",
    "window_min",
    "window_max",
    "slope",
    "value_vs_window",
)


def window_features(windows: FloatArray) -> FloatArray:
    """One row of FEATURES per window (rows of normalised values, newest last)."""
    last = windows[:, -1]
    mean = windows.mean(axis=1)
    std = windows.std(axis=1)
    k = windows.shape[1]
    steps = np.arange(k) - (k - 1) / 2.0
    slope = windows @ steps / float(np.sum(steps * steps)) if k > 1 else np.zeros(len(windows))
    delta = last - windows[:, -2] if k > 1 else np.zeros(len(windows))
    return np.column_stack(
        [
            last,
            delta,
            mean,
            std,
            windows.min(axis=1),
            windows.max(axis=1),
            slope,
            (last - mean) / (std + 1e-6),
        ]
    )


class IsolationForestDetector(WindowedDetector):
    """Isolation Forest over window features; raw novelty is the negated sklearn score."""

    name: ClassVar[str] = "isolation_forest"
    state_version: ClassVar[int] = 1

    def __init__(
        self,
        window: int = 16,
        n_estimators: int = 100,
        min_train: int = 300,
        max_train: int = 2000,
        retrain_every: int = 2000,
        seed: int = 0,
    ) -> None:
        super().__init__(window, min_train, max_train, retrain_every, seed)
        self.n_estimators = n_estimators
        self.init_kwargs["n_estimators"] = n_estimators
        self._model: Any = None

    def _fit(self, windows: FloatArray) -> None:
        from sklearn.ensemble import IsolationForest

        self._model = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(256, len(windows)),
            random_state=self.seed,
        ).fit(window_features(windows))

    def _novelty(self, windows: FloatArray) -> FloatArray:
        return np.asarray(-self._model.score_samples(window_features(windows)), dtype=np.float64)

    def _model_state(self) -> Any:
        return self._model

    def _load_model_state(self, state: Any) -> None:
        self._model = state

    def attributions(self, recent: FloatArray) -> dict[str, float]:
        """SHAP contribution of each feature to the isolation of the window ending at the last
        of `recent` (raw values, at least `window` of them). Positive = more anomalous.
        Empty without the `ml` extra (shap): the anomaly is still explained, minus the features.
        """
        try:
            import shap
        except ImportError:
            return {}

        if self._model is None:
            return {}
        windows = self.normalised_windows(np.asarray(recent, dtype=np.float64)[-self.window :])
        explainer = shap.TreeExplainer(self._model)
        # TreeExplainer explains the path length (higher = more normal): flip the sign.
        values = -np.asarray(explainer.shap_values(window_features(windows)))[0]
        return {name: float(v) for name, v in zip(FEATURES, values, strict=True)}
