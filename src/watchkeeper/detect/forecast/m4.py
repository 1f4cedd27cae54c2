"""M4 competition scoring: sMAPE, MASE, the Naive2 benchmark and OWA.

Implemented from the published definitions (Makridakis, Spiliotis & Assimakopoulos, "The M4
Competition", IJF 2020, and the organisers' reference code): the seasonality test is the 90 %
autocorrelation test of their `SeasonalityTest`, the seasonal indices come from a classical
multiplicative decomposition (R's `decompose`), and OWA divides the *averaged* sMAPE and MASE by
those of Naive2 on the same series.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SEASONALITY_TCRIT = 1.645  # one-sided 90 % normal quantile used by the M4 organisers


def smape(actual: FloatArray, forecast: FloatArray) -> float:
    """Symmetric MAPE in percent, 200/h * sum |y - f| / (|y| + |f|), as scored in M4."""
    denominator = np.abs(actual) + np.abs(forecast)
    return float(200.0 * np.mean(np.abs(actual - forecast) / denominator))


def mase(actual: FloatArray, forecast: FloatArray, insample: FloatArray, period: int) -> float:
    """Mean absolute error scaled by the in-sample error of the seasonal naive forecast."""
    scale = float(np.mean(np.abs(insample[period:] - insample[:-period])))
    return float(np.mean(np.abs(actual - forecast)) / scale)


def msis(
    actual: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    insample: FloatArray,
    period: int,
    alpha: float = 0.05,
) -> float:
    """M4's interval score: the width of the (1 - alpha) interval plus 2/alpha times each
    miss, averaged over the horizon and scaled like MASE (a wide interval and a missed one
    both cost)."""
    scale = float(np.mean(np.abs(insample[period:] - insample[:-period])))
    below = np.maximum(lower - actual, 0.0)
    above = np.maximum(actual - upper, 0.0)
    penalty = (upper - lower) + (2.0 / alpha) * (below + above)
    return float(np.mean(penalty) / scale)


def coverage(actual: FloatArray, lower: FloatArray, upper: FloatArray) -> float:
    """Share of actual values inside [lower, upper]: an honest 80 % interval covers ~0.80."""
    return float(np.mean((actual >= lower) & (actual <= upper)))


def autocorrelation(values: FloatArray, max_lag: int) -> FloatArray:
    """Sample autocorrelations r_1..r_max_lag with the usual biased (1/n) estimator, as R's acf."""
    centred = values - values.mean()
    denominator = float(centred @ centred)
    return np.array(
        [float(centred[lag:] @ centred[:-lag]) / denominator for lag in range(1, max_lag + 1)]
    )


def is_seasonal(values: FloatArray, period: int) -> bool:
    """The M4 seasonality test: |r_m| > 1.645 * sqrt((1 + 2 * sum_{k<m} r_k^2) / n).

    Series shorter than three seasons are never called seasonal, as in the reference code.
    """
    n = len(values)
    if period <= 1 or n < 3 * period:
        return False
    acf = autocorrelation(values, period)
    limit = SEASONALITY_TCRIT * np.sqrt((1.0 + 2.0 * float(np.sum(acf[:-1] ** 2))) / n)
    return bool(abs(acf[-1]) > limit)


def seasonal_indices(values: FloatArray, period: int) -> FloatArray:
    """Multiplicative seasonal figure by position in the cycle (R's `decompose`), mean 1.

    Index i belongs to positions t with t % period == i, counting from the first value.
    """
    if period % 2 == 0:
        weights = np.r_[0.5, np.ones(period - 1), 0.5] / period
    else:
        weights = np.ones(period) / period
    trend = np.full(len(values), np.nan)
    half = len(weights) // 2
    trend[half : len(values) - half] = np.convolve(values, weights, mode="valid")
    ratios = values / trend
    padded = np.r_[ratios, np.full(-len(ratios) % period, np.nan)].reshape(-1, period)
    figure = np.nanmean(padded, axis=0)
    return np.asarray(figure / figure.mean(), dtype=np.float64)


def naive2(insample: FloatArray, horizon: int, period: int) -> FloatArray:
    """Naive forecast of the seasonally adjusted series, reseasonalised (the M4 benchmark)."""
    if not is_seasonal(insample, period):
        return np.full(horizon, insample[-1], dtype=np.float64)
    indices = seasonal_indices(insample, period)
    n = len(insample)
    adjusted_last = insample[-1] / indices[(n - 1) % period]
    future = indices[(n + np.arange(horizon)) % period]
    return np.asarray(adjusted_last * future, dtype=np.float64)


def seasonal_naive(insample: FloatArray, horizon: int, period: int) -> FloatArray:
    """Repeat the last observed season."""
    last_season = insample[-period:]
    return np.asarray(np.resize(last_season, horizon), dtype=np.float64)


@dataclass(frozen=True)
class M4Score:
    """Average sMAPE and MASE over the series scored, and OWA relative to Naive2 on them."""

    smape: float
    mase: float
    owa: float
    series: int


def score(
    actuals: Mapping[str, FloatArray],
    forecasts: Mapping[str, FloatArray],
    insamples: Mapping[str, FloatArray],
    period: int,
) -> M4Score:
    """Score forecasts for every series in `actuals`; OWA uses Naive2 on the same series."""
    smapes, mases, naive_smapes, naive_mases = [], [], [], []
    for key, actual in actuals.items():
        insample = insamples[key]
        horizon = len(actual)
        benchmark = naive2(insample, horizon, period)
        smapes.append(smape(actual, forecasts[key]))
        mases.append(mase(actual, forecasts[key], insample, period))
        naive_smapes.append(smape(actual, benchmark))
        naive_mases.append(mase(actual, benchmark, insample, period))
    mean_smape, mean_mase = float(np.mean(smapes)), float(np.mean(mases))
    owa = 0.5 * (
        mean_smape / float(np.mean(naive_smapes)) + mean_mase / float(np.mean(naive_mases))
    )
    return M4Score(smape=mean_smape, mase=mean_mase, owa=owa, series=len(actuals))


def read_series(path: Path) -> dict[str, FloatArray]:
    """Read an M4-layout CSV (`id,values`, values space-separated, oldest first)."""
    with path.open(newline="") as handle:
        return {
            row["id"]: np.array(row["values"].split(), dtype=np.float64)
            for row in csv.DictReader(handle)
        }


def write_series(path: Path, series: Iterable[tuple[str, FloatArray]]) -> None:
    """Write series in the same layout as `read_series` reads."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "values"])
        for key, values in series:
            writer.writerow([key, " ".join(f"{value:.10g}" for value in values)])
