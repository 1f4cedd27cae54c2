"""Shared machinery of the model-based detectors that look at sliding windows of values.

Such a model needs a few hundred points before it can say anything, and must be refitted as
the series drifts. This base class does the bookkeeping once: it buffers recent values,
normalises them with robust statistics of the training data, fits the model after
`min_train` points and refits every `retrain_every` points on the last `max_train` points,
scores whole batches of windows at once, and calibrates raw novelty with the likelihood stage
so its scores mean what every other detector's do. Subclasses only fit and score windows.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from watchkeeper.detect.base import Detector, FloatArray
from watchkeeper.detect.calibration import LikelihoodCalibrator


class WindowedDetector(Detector):
    """Scores the window ending at each point with a model fitted on earlier windows."""

    def __init__(
        self,
        window: int = 16,
        min_train: int = 300,
        max_train: int = 2000,
        retrain_every: int = 2000,
        seed: int = 0,
    ) -> None:
        self.window = window
        self.min_train = min_train
        self.max_train = max_train
        self.retrain_every = retrain_every
        self.seed = seed
        self.threshold = 0.5
        self.init_kwargs: dict[str, Any] = {
            "window": window,
            "min_train": min_train,
            "max_train": max_train,
            "retrain_every": retrain_every,
            "seed": seed,
        }
        """Constructor arguments (subclasses add theirs), so a saved state can rebuild it."""
        self._values = np.zeros(0)  # the last max_train + window values
        self._seen = 0
        self._since_fit = 0
        self._fitted = False
        self._center = 0.0
        self._scale = 1.0
        # The window already gives context: calibrate each point on its own (no averaging).
        self._calibrator = LikelihoodCalibrator(short_window=1)

    @abstractmethod
    def _fit(self, windows: FloatArray) -> None:
        """Fit the model on normalised training windows (rows), oldest first."""

    @abstractmethod
    def _novelty(self, windows: FloatArray) -> FloatArray:
        """Raw novelty of each normalised window: larger means stranger."""

    @abstractmethod
    def _model_state(self) -> Any:
        """The fitted model, in a picklable form."""

    @abstractmethod
    def _load_model_state(self, state: Any) -> None:
        """Restore what `_model_state` returned."""

    def normalised_windows(self, values: FloatArray) -> FloatArray:
        """Windows (rows) of `values` in training units: (x - median) / IQR-based scale."""
        z = (values - self._center) / self._scale
        return np.ascontiguousarray(sliding_window_view(z, self.window))

    def _refit(self) -> None:
        train = self._values[-self.max_train :]
        q25, q50, q75 = np.nanpercentile(train, [25, 50, 75])
        self._center = float(q50)
        train = np.nan_to_num(train, nan=self._center)
        spread = float(q75 - q25) / 1.349
        self._scale = spread if spread > 0 else max(float(np.std(train)), 1e-9)
        self._fit(self.normalised_windows(train))
        self._fitted = True
        self._since_fit = 0

    def update_many(self, t: FloatArray, x: FloatArray) -> FloatArray:
        x = np.asarray(x, dtype=np.float64)
        raw = np.full(len(x), np.nan)
        i = 0
        while i < len(x):
            if not self._fitted:
                take = min(len(x) - i, max(self.min_train - self._seen, 1))
            else:
                take = min(len(x) - i, self.retrain_every - self._since_fit)
            chunk = x[i : i + take]
            history = self._values[-(self.window - 1) :] if self.window > 1 else self._values[:0]
            if self._fitted:
                joined = np.concatenate([history, chunk])
                filled = np.nan_to_num(joined, nan=self._center)
                scores = self._novelty(self.normalised_windows(filled))
                raw[i + take - len(scores) : i + take] = scores
            self._values = np.concatenate([self._values, chunk])[-(self.max_train + self.window) :]
            self._seen += take
            self._since_fit += take
            i += take
            ready = self._seen >= self.min_train and len(self._values) > self.window * 4
            if ready and (not self._fitted or self._since_fit >= self.retrain_every):
                self._refit()
        return self._calibrator.update_many(raw)

    def get_state(self) -> dict[str, Any]:
        return {
            "init": dict(self.init_kwargs),
            "values": self._values.copy(),
            "seen": self._seen,
            "since_fit": self._since_fit,
            "fitted": self._fitted,
            "center": self._center,
            "scale": self._scale,
            "calibrator": self._calibrator.get_state(),
            "model": self._model_state() if self._fitted else None,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.__init__(**state["init"])  # type: ignore[misc]
        self._values = np.asarray(state["values"], dtype=np.float64)
        self._seen = int(state["seen"])
        self._since_fit = int(state["since_fit"])
        self._fitted = bool(state["fitted"])
        self._center = float(state["center"])
        self._scale = float(state["scale"])
        self._calibrator = LikelihoodCalibrator.from_state(state["calibrator"])
        if state["model"] is not None:
            self._load_model_state(state["model"])
