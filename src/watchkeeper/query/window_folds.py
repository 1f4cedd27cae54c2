"""Range functions that Prometheus computes with a running sum over each window's samples.

avg/sum/stddev/stdvar_over_time, deriv, predict_linear and holt_winters: the loop of
promql/functions.go (Prometheus 2.42, Kahan-compensated where it is) is replayed over "the
k-th sample of every window" for all series and steps at once, in the same order, so even
degenerate windows agree with Prometheus (a constant window's variance is exactly 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from watchkeeper.query.budget import check_time
from watchkeeper.query.errors import QueryError
from watchkeeper.query.values import Bools, Floats, Ints
from watchkeeper.query.windows import Windows

Result = tuple[Floats, Bools]
ScalarArgs = list[Floats]


def _each_sample(w: Windows, visit: Callable[[Bools, Floats, Ints], None]) -> None:
    """Call visit(active, values, timestamps) for the k-th sample of every window, k = 0.."""
    n = w.count
    longest = int(n.max()) if n.size else 0
    for k in range(longest):
        check_time("a range function's windows")
        active = n > k
        t, v = w.at(w.start + k, active)
        visit(active, v, t)


def _kahan_inc(inc: Floats, total: Floats, comp: Floats, mask: Bools) -> None:
    """Neumaier-compensated `total += inc` where mask (kahanSumInc), in place."""
    t = total + inc
    big = np.abs(total) >= np.abs(inc)
    with np.errstate(invalid="ignore"):
        delta = np.where(big, (total - t) + inc, (inc - t) + total)
    np.copyto(comp, comp + delta, where=mask)
    np.copyto(total, t, where=mask)


def _kahan_fold_sum(w: Windows) -> Result:
    total = np.zeros(w.count.shape)
    comp = np.zeros(w.count.shape)

    def visit(active: Bools, v: Floats, _: Ints) -> None:
        _kahan_inc(v, total, comp, active)

    _each_sample(w, visit)
    with np.errstate(invalid="ignore"):
        out = np.where(np.isinf(total), total, total + comp)
    return out, w.count > 0


def avg_over_time(w: Windows, _: ScalarArgs) -> Result:
    mean = np.zeros(w.count.shape)
    comp = np.zeros(w.count.shape)
    seen = np.zeros(w.count.shape)

    def visit(active: Bools, v: Floats, _: Ints) -> None:
        seen[active] += 1
        inf_mean = np.isinf(mean)
        same_inf = np.isinf(v) & ((mean > 0) == (v > 0))
        keep_mean = inf_mean & (same_inf | np.isfinite(v))
        with np.errstate(invalid="ignore", divide="ignore"):
            inc = v / seen - mean / seen
        _kahan_inc(inc, mean, comp, active & ~keep_mean)

    _each_sample(w, visit)
    with np.errstate(invalid="ignore"):
        out = np.where(np.isinf(mean), mean, mean + comp)
    return out, w.count > 0


def _variance(w: Windows) -> Result:
    seen = np.zeros(w.count.shape)
    mean, c_mean = np.zeros(seen.shape), np.zeros(seen.shape)
    aux, c_aux = np.zeros(seen.shape), np.zeros(seen.shape)

    def visit(active: Bools, v: Floats, _: Ints) -> None:
        seen[active] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = v - (mean + c_mean)
            _kahan_inc(delta / np.maximum(seen, 1), mean, c_mean, active)
            _kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux, active)

    _each_sample(w, visit)
    ok = w.count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return (aux + c_aux) / np.maximum(seen, 1), ok


def stdvar_over_time(w: Windows, _: ScalarArgs) -> Result:
    return _variance(w)


def stddev_over_time(w: Windows, _: ScalarArgs) -> Result:
    var, ok = _variance(w)
    with np.errstate(invalid="ignore"):
        return np.sqrt(var), ok


def _linear_regression(w: Windows, intercept_ms: Ints) -> tuple[Floats, Floats, Bools]:
    """Slope and intercept per window (linearRegression, Kahan-summed)."""
    shape = w.count.shape
    n = np.zeros(shape)
    sums = [np.zeros(shape) for _ in range(8)]  # sumX, cX, sumY, cY, sumXY, cXY, sumX2, cX2
    ok = w.count >= 2
    _, init_y = w.at(w.start, ok)
    const_y = np.ones(shape, dtype=bool)

    def visit(active: Bools, v: Floats, t: Ints) -> None:
        const_y[active & (v != init_y)] = False
        n[active] += 1
        x = (t - intercept_ms) / 1e3
        for k, inc in enumerate((x, v, x * v, x * x)):
            _kahan_inc(inc, sums[2 * k], sums[2 * k + 1], active)

    _each_sample(w, visit)
    sum_x, sum_y, sum_xy, sum_x2 = (sums[2 * k] + sums[2 * k + 1] for k in range(4))
    with np.errstate(invalid="ignore", divide="ignore"):
        cov_xy = sum_xy - sum_x * sum_y / n
        var_x = sum_x2 - sum_x * sum_x / n
        slope = cov_xy / var_x
        intercept = sum_y / n - slope * sum_x / n
    inf_y = np.isinf(init_y)
    slope = np.where(const_y, np.where(inf_y, np.nan, 0.0), slope)
    intercept = np.where(const_y, np.where(inf_y, np.nan, init_y), intercept)
    return slope, intercept, ok


def deriv(w: Windows, _: ScalarArgs) -> Result:
    ok = w.count >= 2
    t_first = w.at(w.start, ok)[0]
    slope, _intercept, ok = _linear_regression(w, t_first)
    return slope, ok


def make_predict_linear(eval_times: Ints) -> Callable[[Windows, ScalarArgs], Result]:
    """predict_linear regresses around the evaluation time (enh.Ts), not the window end."""

    def predict_linear(w: Windows, args: ScalarArgs) -> Result:
        slope, intercept, ok = _linear_regression(w, eval_times[None, :])
        return slope * args[0][None, :] + intercept, ok

    return predict_linear


def sum_over_time(w: Windows, _: ScalarArgs) -> Result:
    return _kahan_fold_sum(w)


def holt_winters(w: Windows, args: ScalarArgs) -> Result:
    """Double exponential smoothing (funcHoltWinters): the last smoothed value per window."""
    smoothing, trend = args[0][None, :], args[1][None, :]
    ok = w.count >= 2
    for name, factor in (("smoothing", smoothing), ("trend", trend)):
        bad = ok & ~((factor > 0) & (factor < 1))
        if bad.any():
            got = float(np.broadcast_to(factor, ok.shape)[bad][0])
            raise QueryError(f"invalid {name} factor. Expected: 0 < sf < 1, got: {got:f}")
    _, first = w.at(w.start, ok)
    _, second = w.at(w.start + 1, ok)
    s0 = np.zeros(ok.shape)
    s1 = first.copy()
    b = second - first
    n = w.count
    for k in range(1, int(n.max()) if n.size else 0):
        check_time("holt_winters()")
        active = ok & (n > k)
        _, v = w.at(w.start + k, active)
        if k > 1:  # calcTrendValue: the first step keeps the initial trend
            np.copyto(b, trend * (s1 - s0) + (1 - trend) * b, where=active)
        smoothed = smoothing * v + (1 - smoothing) * (s1 + b)
        np.copyto(s0, s1, where=active)
        np.copyto(s1, smoothed, where=active)
    return s1, ok
