"""Fixed meanings for three loose quality claims, so a benchmark reports a re-derivable number.

"Anomaly accuracy", "prediction accuracy" and "correlations found" have no one standard
meaning; each function here fixes one:

- detection precision: of the detections a detector makes on labelled data, the share inside
  a labelled anomaly window (its complement is the false-positive share);
- forecast accuracy: the share of forecast points within a relative tolerance of the actual;
- correlation: pairwise precision, recall and F1 of a grouping of alerts into incidents
  against a known grouping (every pair of alerts is "same incident" or not).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from watchkeeper.detect.base import FloatArray
from watchkeeper.detect.nab import OUTSIDE, PROBATION, FileLayout

Item = TypeVar("Item", bound=Hashable)


@dataclass(frozen=True, slots=True)
class DetectionCounts:
    """Detections of one detector on labelled files, split by where they fell."""

    in_window: int
    outside: int
    windows_detected: int
    windows: int

    @property
    def detections(self) -> int:
        return self.in_window + self.outside

    @property
    def precision(self) -> float:
        """Share of detections inside a labelled window (0 when nothing fired)."""
        return self.in_window / self.detections if self.detections else 0.0

    @property
    def false_share(self) -> float:
        """Share of detections outside every window (0 when nothing fired)."""
        return self.outside / self.detections if self.detections else 0.0

    @property
    def window_recall(self) -> float:
        return self.windows_detected / self.windows if self.windows else 0.0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(
            self.in_window + other.in_window,
            self.outside + other.outside,
            self.windows_detected + other.windows_detected,
            self.windows + other.windows,
        )


def count_detections(
    layout: FileLayout, scores: FloatArray, threshold: float, *, runs: bool = False
) -> DetectionCounts:
    """Count detections as NAB's scorer does: every point scoring at or above the threshold
    outside the probationary period is one detection (`NabScorer.score_file`).

    With `runs=True` a detection is instead the first point of a run of consecutive points at
    or above the threshold (the normal-series suite's "event", what an alert rule would page);
    a run that starts in the probationary period is not counted.
    """
    fired = scores >= threshold
    if runs:
        fired = fired & ~np.r_[False, fired[:-1]]
    fired = fired & (layout.window != PROBATION)
    in_window = fired & (layout.window >= 0)
    hit_windows = {int(w) for w in layout.window[in_window]}
    if runs:
        # A run that began before a window and is still on inside it detects that window.
        on = (scores >= threshold) & (layout.window >= 0)
        hit_windows |= {int(w) for w in layout.window[on]}
    return DetectionCounts(
        int(in_window.sum()),
        int((fired & (layout.window == OUTSIDE)).sum()),
        len(hit_windows),
        layout.windows_scorable,
    )


def share_within(actual: FloatArray, forecast: FloatArray, tolerance: float = 0.1) -> float:
    """Share of forecast points with |forecast - actual| <= tolerance * |actual|.

    An actual of 0 counts as within only when the forecast is exactly 0: a relative
    tolerance of zero is zero.
    """
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if a.shape != f.shape:
        raise ValueError(f"actual {a.shape} and forecast {f.shape} differ in shape")
    if a.size == 0:
        return 0.0
    return float(np.mean(np.abs(f - a) <= tolerance * np.abs(a)))


@dataclass(frozen=True, slots=True)
class PairScores:
    """Pairwise agreement of a predicted grouping with the true one."""

    true_pairs: int
    predicted_pairs: int
    agreeing_pairs: int

    @property
    def precision(self) -> float:
        return self.agreeing_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.agreeing_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: PairScores) -> PairScores:
        return PairScores(
            self.true_pairs + other.true_pairs,
            self.predicted_pairs + other.predicted_pairs,
            self.agreeing_pairs + other.agreeing_pairs,
        )


def _pairs(groups: Mapping[Item, Hashable | None]) -> int:
    sizes = Counter(g for g in groups.values() if g is not None)
    return sum(n * (n - 1) // 2 for n in sizes.values())


def pairwise_scores(
    truth: Mapping[Item, Hashable | None], predicted: Mapping[Item, Hashable | None]
) -> PairScores:
    """Pairwise precision/recall over the items of `truth`: a pair is positive when both
    items have the same (non-None) group. None is a group of its own per item, so a noise
    alert (true group None) or an alert left out of every incident (predicted None) pairs with
    nothing. An item missing from `predicted` counts as None."""
    items = list(truth)
    pred = {item: predicted.get(item) for item in items}
    agreeing = 0
    for a, b in itertools.combinations(items, 2):
        ta, pa = truth[a], pred[a]
        if ta is not None and ta == truth[b] and pa is not None and pa == pred[b]:
            agreeing += 1
    return PairScores(_pairs(truth), _pairs(pred), agreeing)
