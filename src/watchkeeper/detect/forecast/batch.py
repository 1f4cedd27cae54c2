"""The batch path: fit and predict many series, spread over worker processes.

statsforecast's own batch API (`StatsForecast(..., n_jobs=k)`) parallelises one model over
processes; doing the same at the Forecaster level keeps combinations such as the default and
the baselines on the same path. Each worker compiles statsforecast's numba kernels once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog

from watchkeeper.detect.forecast.base import Forecast, Forecaster, SeriesHistory

log = structlog.get_logger(__name__)

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


def fit_outcomes(
    model: str, histories: Sequence[SeriesHistory], season_lengths: tuple[int, ...], horizon: int
) -> list[Forecast | str]:
    """Fit `model` on each history and forecast `horizon` steps; a series that cannot be
    forecast gives its ForecastError's message instead (picklable, order kept)."""
    from watchkeeper.detect.forecast import FORECASTERS, ForecastError

    factory = FORECASTERS[model]
    out: list[Forecast | str] = []
    for history in histories:
        try:
            out.append(factory(season_lengths=season_lengths).fit(history).predict(horizon))
        except ForecastError as exc:
            out.append(str(exc))
    return out


def fit_outcomes_in_child(
    model: str, histories: Sequence[SeriesHistory], season_lengths: tuple[int, ...], horizon: int
) -> list[Forecast | str]:
    """`fit_outcomes` in a one-shot child process that exits when done.

    The forecasting libraries (statsforecast with pandas, statsmodels, scipy: about 170 MB
    resident) are then loaded only for the length of a pass and only in the child, so the
    server's own footprint between passes stays that of a process that never forecast. A
    spawned child (not forked: the server runs threads) starts in about a second.
    """
    if not histories:
        return []
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            future = pool.submit(fit_outcomes, model, list(histories), season_lengths, horizon)
            return future.result()
    except (OSError, BrokenProcessPool) as exc:
        # No child to be had (no /dev/shm for its queue, process limits) or it died (killed
        # for memory): forecasts still get written, at the footprint cost this avoids.
        log.warning("forecast_child_failed", error=f"{type(exc).__name__}: {exc}")
        return fit_outcomes(model, histories, season_lengths, horizon)
