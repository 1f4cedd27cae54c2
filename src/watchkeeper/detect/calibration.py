"""Score calibration: Numenta's anomaly likelihood, so every detector's 0.5 means the same.

A detector's raw novelty (an Isolation Forest path length, a reconstruction error, ...) has no
common scale. The likelihood stage compares the average of the last few raw values with the
distribution (mean, standard deviation) of such averages over a long history of the same
series, and reports the Gaussian tail probability on a log scale:
`score = log(tail) / log(1e-10)`, so 0.5 means a tail probability of 1e-5 and 1.0 means 1e-10
or less. (Ahmad et al., "Unsupervised real-time anomaly detection for streaming data", 2017.)

The batch path is vectorised with cumulative sums; state (the last raw values and the history
of averages) carries over between batches, so batch and one-at-a-time calls agree.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from watchkeeper.detect.base import FloatArray

LOG_FLOOR = math.log(1e-10)


@numba.vectorize(cache=True)  # type: ignore[no-untyped-call, untyped-decorator]
def _erfc(v: float) -> float:
    return math.erfc(v)


class LikelihoodCalibrator:
    """Online map from raw novelty values to calibrated scores in [0, 1].

    Example::

        cal = LikelihoodCalibrator()
        scores = cal.update_many(raw)   # raw: any non-negative novelty, larger = stranger
    """

    def __init__(
        self,
        short_window: int = 10,
        history: int = 3000,
        min_std_fraction: float = 0.05,
        warmup: int = 30,
    ) -> None:
        self.short_window = short_window
        self.history = history
        self.min_std_fraction = min_std_fraction
        self.warmup = warmup
        self._raw = np.zeros(0)
        self._avg = np.zeros(0)
        self._seen = 0

    def update_many(self, raw: FloatArray) -> FloatArray:
        """Score then learn a batch of raw values (NaN = no opinion: scored 0, not learned)."""
        raw = np.asarray(raw, dtype=np.float64)
        known = np.isfinite(raw)
        out = np.zeros(len(raw))
        if known.any():
            out[known] = self._update_known(raw[known])
        return out

    def _update_known(self, raw: FloatArray) -> FloatArray:
        n = len(raw)
        w, h = self.short_window, self.history
        joined = np.concatenate([self._raw, raw])
        csum = np.concatenate([[0.0], np.cumsum(joined)])
        ends = np.arange(len(self._raw) + 1, len(joined) + 1)
        starts = np.maximum(ends - w, 0)
        avg = (csum[ends] - csum[starts]) / (ends - starts)

        # History of averages strictly before each new point.
        hist = np.concatenate([self._avg, avg])
        hsum = np.concatenate([[0.0], np.cumsum(hist)])
        hsq = np.concatenate([[0.0], np.cumsum(hist * hist)])
        idx = np.arange(len(self._avg), len(hist))
        lo = np.maximum(idx - h, 0)
        count = idx - lo
        safe = np.maximum(count, 1)
        mean = (hsum[idx] - hsum[lo]) / safe
        var = np.maximum((hsq[idx] - hsq[lo]) / safe - mean * mean, 0.0)
        # The std floor scales with the series' typical raw level (a relative, unitless floor).
        floor = np.maximum(self.min_std_fraction * np.abs(mean), 1e-12)
        std = np.maximum(np.sqrt(var), floor)
        tail = 0.5 * _erfc((avg - mean) / (std * math.sqrt(2.0)))
        scores = np.minimum(np.log(np.maximum(tail, 1e-10) + 1e-10) / LOG_FLOOR, 1.0)
        seen = self._seen + np.arange(1, n + 1)
        scores[(count < 1) | (seen <= self.warmup)] = 0.0

        self._raw = joined[-w:]
        self._avg = hist[-h:]
        self._seen += n
        return np.asarray(np.clip(scores, 0.0, 1.0), dtype=np.float64)

    def get_state(self) -> dict[str, Any]:
        return {
            "short_window": self.short_window,
            "history": self.history,
            "min_std_fraction": self.min_std_fraction,
            "warmup": self.warmup,
            "raw": self._raw.copy(),
            "avg": self._avg.copy(),
            "seen": self._seen,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> LikelihoodCalibrator:
        cal = cls(
            state["short_window"], state["history"], state["min_std_fraction"], state["warmup"]
        )
        cal._raw = np.asarray(state["raw"], dtype=np.float64)
        cal._avg = np.asarray(state["avg"], dtype=np.float64)
        cal._seen = int(state["seen"])
        return cal
