"""The Forecaster interface: fit on one regularly sampled series, predict h steps ahead with
80 % and 95 % prediction intervals.

A forecaster is one object per series (like a detector). `fit` learns from the history,
`predict` extrapolates from its end; the fitted object is picklable so `state.py` can save it
and a restart predicts again without refitting. Many series at once go through `batch.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

INTERVAL_LEVELS = (80, 95)
DAY_SECONDS = 86_400.0
WEEK_SECONDS = 7 * DAY_SECONDS


class ForecastError(ValueError):
    """The history cannot be forecast (too short, not regular, no finite values)."""


@dataclass(frozen=True)
class SeriesHistory:
    """Values sampled every `step` seconds, the first at `start` (seconds since the epoch).

    Missing samples are NaN; `filled` interpolates them, because the statistical models
    need a gap-free series.
    """

    values: FloatArray
    start: float = 0.0
    step: float = 1.0

    @classmethod
    def from_values(cls, values: npt.ArrayLike, start: float = 0.0, step: float = 1.0) -> Self:
        return cls(np.asarray(values, dtype=np.float64), float(start), float(step))

    @classmethod
    def from_timestamps(cls, timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Self:
        """Build from (timestamp, value) pairs that must already be on a regular grid."""
        t = np.asarray(timestamps, dtype=np.float64)
        if len(t) < 2:
            raise ForecastError("need at least two timestamps to know the step")
        steps = np.diff(t)
        step = float(np.median(steps))
        if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=1e-3):
            raise ForecastError("timestamps are not regularly spaced; resample first")
        return cls(np.asarray(values, dtype=np.float64), float(t[0]), step)

    @property
    def end(self) -> float:
        """Timestamp of the last value."""
        return self.start + self.step * (len(self.values) - 1)

    def filled(self) -> FloatArray:
        """Values with interior NaNs interpolated linearly and leading/trailing NaNs dropped."""
        finite = np.isfinite(self.values)
        if not finite.any():
            raise ForecastError("the series has no finite values")
        first, last = np.flatnonzero(finite)[[0, -1]]
        values = self.values[first : last + 1]
        mask = np.isfinite(values)
        if mask.all():
            return values
        positions = np.arange(len(values))
        return np.interp(positions, positions[mask], values[mask])


@dataclass(frozen=True)
class Forecast:
    """Point forecast and the 80 % / 95 % prediction intervals at each future timestamp."""

    timestamps: FloatArray
    mean: FloatArray
    lo80: FloatArray
    hi80: FloatArray
    lo95: FloatArray
    hi95: FloatArray

    @property
    def horizon(self) -> int:
        return len(self.mean)

    def band(self, level: int) -> tuple[FloatArray, FloatArray]:
        """(lower, upper) bound of the `level` % interval."""
        if level == 80:
            return self.lo80, self.hi80
        if level == 95:
            return self.lo95, self.hi95
        raise ValueError(f"intervals exist at {INTERVAL_LEVELS} %, not {level} %")


@dataclass(frozen=True)
class Bands:
    """What a model predicts, before timestamps are attached."""

    mean: FloatArray
    lo80: FloatArray
    hi80: FloatArray
    lo95: FloatArray
    hi95: FloatArray

    def map(self, transform: np.ufunc) -> Bands:
        """Apply a monotone increasing transform (e.g. exp after a log fit) to every bound."""
        return Bands(*(np.asarray(transform(b), dtype=np.float64) for b in self.as_tuple()))

    def as_tuple(self) -> tuple[FloatArray, ...]:
        return (self.mean, self.lo80, self.hi80, self.lo95, self.hi95)


def usable_seasons(season_lengths: tuple[int, ...], points: int) -> tuple[int, ...]:
    """The season lengths the history can support: at least two full cycles of each."""
    return tuple(m for m in season_lengths if m > 1 and points >= 2 * m)


def seasons_for_step(step: float) -> tuple[int, ...]:
    """Daily and weekly season lengths, in samples, for data sampled every `step` seconds.

    Only whole numbers of samples per cycle are kept (e.g. 24 and 168 for hourly data).
    """
    seasons = []
    for period in (DAY_SECONDS, WEEK_SECONDS):
        ratio = period / step
        if ratio >= 2 and abs(ratio - round(ratio)) < 1e-9:
            seasons.append(round(ratio))
    return tuple(seasons)


class Forecaster(ABC):
    """One series' forecasting model: `fit` on a history, then `predict` any horizon.

    Subclasses implement `fit_values` on the gap-free values and `predict_bands` returning
    `Bands` ordered lo95 <= lo80 <= mean <= hi80 <= hi95; `fit`/`predict` add validation and
    timestamps, and combinations call their members' value-level pair directly. Example::

        f = FORECASTERS["default"]()
        f.fit(SeriesHistory.from_values(cpu, start=t0, step=3600))
        fc = f.predict(48)   # fc.mean, fc.lo80, fc.hi95, fc.timestamps
    """

    name: ClassVar[str]
    state_version: ClassVar[int] = 1
    """Bump when the fitted attributes change meaning; older saved states are then refused."""

    min_points: ClassVar[int] = 4

    _history_end: float | None = None
    _step: float = 1.0

    def fit(self, history: SeriesHistory) -> Self:
        values = history.filled()
        if len(values) < self.min_points:
            raise ForecastError(f"{self.name} needs at least {self.min_points} points")
        self.fit_values(values)
        self._history_end = (
            history.start + history.step * (np.flatnonzero(np.isfinite(history.values))[-1])
        )
        self._step = history.step
        return self

    @property
    def fitted(self) -> bool:
        return self._history_end is not None

    def predict(self, horizon: int) -> Forecast:
        if self._history_end is None:
            raise ForecastError(f"{self.name} must be fitted before predicting")
        if horizon < 1:
            raise ForecastError("the horizon must be at least one step")
        bands = self.predict_bands(horizon)
        timestamps = self._history_end + self._step * np.arange(1, horizon + 1, dtype=np.float64)
        return Forecast(timestamps, *bands.as_tuple())

    @abstractmethod
    def fit_values(self, values: FloatArray) -> None:
        """Learn from gap-free values (at least `min_points` of them), ignoring time."""

    @abstractmethod
    def predict_bands(self, horizon: int) -> Bands:
        """Forecast `horizon` steps after the last value given to `fit_values`."""
