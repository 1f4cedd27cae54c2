"""The batch path: fit and predict many series, spread over worker processes.

statsforecast's own batch API (`StatsForecast(..., n_jobs=k)`) parallelises one model over
processes; doing the same at the Forecaster level keeps combinations such as the default and
the baselines on the same path. Each worker compiles statsforecast's numba kernels once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from watchkeeper.detect.forecast.base import Forecast, Forecaster, SeriesHistory

ForecasterFactory = Callable[[], Forecaster]


def _fit_predict(
    task: tuple[ForecasterFactory, SeriesHistory, int],
) -> Forecast:
    factory, history, horizon = task
    return factory().fit(history).predict(horizon)


def forecast_many(
    factory: ForecasterFactory,
    histories: Sequence[SeriesHistory],
    horizon: int,
    workers: int = 1,
) -> list[Forecast]:
    """One forecast per history, in order. `factory` must be picklable when workers > 1
    (a forecaster class, or functools.partial of one)."""
    tasks = [(factory, history, horizon) for history in histories]
    if workers <= 1 or len(tasks) < 2:
        return [_fit_predict(task) for task in tasks]
    chunk = max(1, len(tasks) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_fit_predict, tasks, chunksize=chunk))
