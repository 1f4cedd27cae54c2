"""The Detector interface: stream-first anomaly scoring with a batch path and saveable state.

Like river's `AnomalyDetector`, a detector learns online without labels; unlike river it
combines scoring and learning in one prequential step, `update(t, x)`, which first scores the
point against what was learned so far and then learns from it. That is the only order that is
honest on a live stream, and it lets a compiled kernel do both in one pass.

Each series gets its own detector instance (see `SeriesDetectors`). A detector's scores lie
in [0, 1]; `threshold` is its own decision rule, so `score >= threshold` is an anomaly event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AnomalyEvent:
    """A point whose score crossed the detector's threshold."""

    timestamp: float
    value: float
    score: float
    detector: str


class Detector(ABC):
    """An online anomaly detector for one series.

    Subclasses implement `update_many` (the vectorised path) and the state pair; `update` is
    `update_many` on one point unless a subclass has something faster.

    Example::

        det = DETECTORS["default"]()
        for t, x in stream:
            if det.update(t, x) >= det.threshold:
                ...
    """

    name: ClassVar[str]
    state_version: ClassVar[int] = 1
    """Bump when the layout of `get_state()` changes; older saved states are then refused."""

    threshold: float = 0.5

    def update(self, t: float, x: float) -> float:
        """Score the point (seconds since the epoch, value), then learn from it."""
        return float(
            self.update_many(np.array([t], dtype=np.float64), np.array([x], dtype=np.float64))[0]
        )

    @abstractmethod
    def update_many(self, t: FloatArray, x: FloatArray) -> FloatArray:
        """Score then learn each point in order; returns one score in [0, 1] per point."""

    @abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Everything needed to resume: parameters and learned state (picklable values)."""

    @abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what `get_state` returned, so the next scores equal an uninterrupted run's."""

    def events(self, t: FloatArray, x: FloatArray) -> Iterator[AnomalyEvent]:
        """Update with a batch and yield the points that cross the threshold."""
        scores = self.update_many(t, x)
        for i in np.flatnonzero(scores >= self.threshold):
            yield AnomalyEvent(float(t[i]), float(x[i]), float(scores[i]), self.name)


DetectorFactory = Callable[[], Detector]


class SeriesDetectors:
    """One detector per series key (labels, tenant), built on first sight by a factory.

    This is the batch path for many series: each series' new points go through its own
    detector's vectorised `update_many`.
    """

    def __init__(self, factory: DetectorFactory) -> None:
        self._factory = factory
        self._detectors: dict[Hashable, Detector] = {}

    def __len__(self) -> int:
        return len(self._detectors)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._detectors

    def get(self, key: Hashable) -> Detector:
        det = self._detectors.get(key)
        if det is None:
            det = self._detectors[key] = self._factory()
        return det

    def put(self, key: Hashable, detector: Detector) -> None:
        """Install a detector restored from storage."""
        self._detectors[key] = detector

    def items(self) -> Iterator[tuple[Hashable, Detector]]:
        return iter(self._detectors.items())

    def update(
        self, batch: dict[Hashable, tuple[FloatArray, FloatArray]]
    ) -> dict[Hashable, FloatArray]:
        """Score then learn the new (timestamps, values) of each series."""
        return {key: self.get(key).update_many(t, x) for key, (t, x) in batch.items()}
