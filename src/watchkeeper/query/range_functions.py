"""Functions over range vectors (rate, increase, *_over_time, deriv, ...), all steps at once.

Each mirrors promql/functions.go of Prometheus 2.42 and returns (values, present) per series
and step; a window with too few samples yields no value, as there. The functions built on
a running sum live in window_folds.py; RANGE_FUNCTIONS maps every name to its function.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

from watchkeeper.query.budget import reserve
from watchkeeper.query.values import Bools, Floats, Ints, SampleBlock
from watchkeeper.query.window_folds import (
    Result,
    ScalarArgs,
    avg_over_time,
    deriv,
    holt_winters,
    stddev_over_time,
    stdvar_over_time,
    sum_over_time,
)
from watchkeeper.query.windows import Windows
from watchkeeper.runtime import kernels


def _pairwise_prefix(block: SampleBlock, flags: Bools | Floats) -> Floats:
    """prefix[i] = sum of flags[1..i] where flags[i] describes the pair (i-1, i)."""
    out = np.zeros(block.sample_count)
    if block.sample_count > 1:
        np.cumsum(flags, out=out[1:])
    return out


def _window_pairs_sum(w: Windows, per_pair: Floats, ok: Bools) -> Floats:
    """Sum of per_pair over the consecutive pairs inside each window."""
    prefix = _pairwise_prefix(w.block, per_pair)
    last = np.where(ok, w.end - 1, 0)
    first = np.where(ok, w.start, 0)
    if w.block.sample_count == 0:
        return np.zeros(ok.shape)
    return prefix[last] - prefix[first]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _extrapolated_rate_kernel(
    ts: Ints,
    vals: Floats,
    start: Ints,
    end: Ints,
    refs: Ints,
    range_ms: int,
    counter: bool,
    per_second: bool,
    out: Floats,
    ok: Bools,
) -> None:  # pragma: no cover - compiled; covered through extrapolated_rate
    """extrapolatedRate of promql/functions.go (2.42) per series and step, in Go's order of
    operations, so results match Prometheus to the last bit where the inputs do."""
    range_s = range_ms / 1000.0
    series, steps = start.shape
    for i in range(series):
        for j in range(steps):
            first = start[i, j]
            last = end[i, j] - 1
            count = last - first + 1
            if count < 2:
                ok[i, j] = False
                out[i, j] = 0.0
                continue
            ok[i, j] = True
            v_first = vals[first]
            result = vals[last] - v_first
            if counter:
                previous = 0.0
                for k in range(first, last + 1):
                    if vals[k] < previous:
                        result += previous
                    previous = vals[k]
            t_first = ts[first]
            t_last = ts[last]
            sampled = (t_last - t_first) / 1000.0
            to_start = (t_first - (refs[j] - range_ms)) / 1000.0
            to_end = (refs[j] - t_last) / 1000.0
            average = sampled / (count - 1)
            if counter and result > 0 and v_first >= 0:
                to_zero = sampled * (v_first / result)
                if to_zero < to_start:
                    to_start = to_zero
            threshold = average * 1.1
            if not to_start < threshold:
                to_start = average / 2
            if not to_end < threshold:
                to_end = average / 2
            result *= (sampled + to_start + to_end) / sampled
            if per_second:
                result /= range_s
            out[i, j] = result


def extrapolated_rate(w: Windows, *, counter: bool, per_second: bool) -> Result:
    """rate / increase / delta: extrapolatedRate in promql/functions.go, compiled (it runs on
    every series x step of large queries)."""
    shape = w.start.shape
    out = np.zeros(shape)
    ok = np.zeros(shape, dtype=np.bool_)
    if len(w.block.timestamps) == 0 or out.size == 0:
        return out, ok
    timestamps = np.ascontiguousarray(w.block.timestamps, dtype=np.int64)
    values = np.ascontiguousarray(w.block.values, dtype=np.float64)
    start = np.ascontiguousarray(w.start, dtype=np.int64)
    end = np.ascontiguousarray(w.end, dtype=np.int64)
    refs = np.ascontiguousarray(w.refs, dtype=np.int64)

    def rate(first: int, past: int) -> None:
        _extrapolated_rate_kernel(
            timestamps,
            values,
            start[first:past],
            end[first:past],
            refs,
            int(w.range_ms),
            counter,
            per_second,
            out[first:past],
            ok[first:past],
        )

    kernels.run_split(rate, (end - start).sum(axis=1) + shape[1])
    return out, ok


def instant_value(w: Windows, *, per_second: bool) -> Result:
    """irate / idelta: the last two samples of the window (instantValue)."""
    ok = w.count >= 2
    t_last, v_last = w.at(w.end - 1, ok)
    t_prev, v_prev = w.at(w.end - 2, ok)
    if per_second:
        result = np.where(v_last < v_prev, v_last, v_last - v_prev)
    else:
        result = v_last - v_prev
    interval = t_last - t_prev
    ok = ok & (interval != 0)
    if per_second:
        with np.errstate(divide="ignore", invalid="ignore"):
            result = result / (np.where(ok, interval, 1) / 1000)
    return result, ok


def _reduce(w: Windows, ufunc: np.ufunc) -> Result:
    ok = w.count > 0
    out = np.zeros(ok.shape)
    if not ok.any():
        return out, ok
    pairs = np.empty(2 * int(ok.sum()), dtype=np.int64)
    pairs[0::2] = w.start[ok]
    pairs[1::2] = w.end[ok]
    padded = np.append(w.block.values, 0.0)
    out[ok] = ufunc.reduceat(padded, pairs)[0::2]
    return out, ok


def min_over_time(w: Windows, _: ScalarArgs) -> Result:
    return _reduce(w, np.fmin)


def max_over_time(w: Windows, _: ScalarArgs) -> Result:
    return _reduce(w, np.fmax)


def count_over_time(w: Windows, _: ScalarArgs) -> Result:
    n = w.count
    return n.astype(np.float64), n > 0


def last_over_time(w: Windows, _: ScalarArgs) -> Result:
    ok = w.count > 0
    return w.at(w.end - 1, ok)[1], ok


def present_over_time(w: Windows, _: ScalarArgs) -> Result:
    ok = w.count > 0
    return np.ones(ok.shape), ok


def changes(w: Windows, _: ScalarArgs) -> Result:
    vals = w.block.values
    ok = w.count > 0
    flags = np.zeros(0)
    if len(vals) > 1:
        a, b = vals[1:], vals[:-1]
        flags = ((a != b) & ~(np.isnan(a) & np.isnan(b))).astype(np.float64)
    return _window_pairs_sum(w, flags, ok), ok


def resets(w: Windows, _: ScalarArgs) -> Result:
    vals = w.block.values
    ok = w.count > 0
    flags = (vals[1:] < vals[:-1]).astype(np.float64) if len(vals) > 1 else np.zeros(0)
    return _window_pairs_sum(w, flags, ok), ok


def quantile_over_time(w: Windows, args: ScalarArgs) -> Result:
    n = w.count
    ok = n > 0
    q = np.broadcast_to(args[0][None, :], n.shape)
    out = np.full(n.shape, np.nan)
    if not ok.any():
        return out, ok
    counts = n[ok]
    longest = int(counts.max())
    # Every window padded to the longest: the gather below is windows x longest samples.
    reserve(
        len(counts) * longest,
        f"quantile_over_time() over {len(counts):,} windows of up to {longest:,} samples",
    )
    ks = np.arange(longest)[None, :]
    inside = ks < counts[:, None]
    index = np.where(inside, w.start[ok][:, None] + ks, 0)
    vals = w.block.values[index]
    out[ok] = sorted_quantile(vals, inside, q[ok])
    return out, ok


def sorted_quantile(vals: Floats, inside: Bools, q: Floats) -> Floats:
    """Prometheus' quantile() over each row's `inside` values (NaN sorts first), vectorised."""
    rank_class = np.where(inside, np.where(np.isnan(vals), 0, 1), 2)
    order = np.lexsort((np.where(np.isnan(vals), 0.0, vals), rank_class), axis=-1)
    ordered = np.take_along_axis(vals, order, axis=-1)
    count = inside.sum(axis=-1).astype(np.float64)
    rank = q * (count - 1)
    with np.errstate(invalid="ignore"):
        lower = np.maximum(0, np.floor(rank))
        upper = np.minimum(count - 1, lower + 1)
        weight = rank - np.floor(rank)
    width = vals.shape[-1] - 1
    lo_i = np.clip(np.nan_to_num(lower, nan=0, posinf=width), 0, width).astype(np.int64)
    hi_i = np.clip(np.nan_to_num(upper, nan=0, posinf=width), 0, width).astype(np.int64)
    lo_v = np.take_along_axis(ordered, lo_i[:, None], axis=-1)[:, 0]
    hi_v = np.take_along_axis(ordered, hi_i[:, None], axis=-1)[:, 0]
    with np.errstate(invalid="ignore"):
        result = lo_v * (1 - weight) + hi_v * weight
    result = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, result))
    return np.where(count == 0, np.nan, result)


RangeFunction = Callable[[Windows, ScalarArgs], Result]

RANGE_FUNCTIONS: dict[str, RangeFunction] = {
    "rate": lambda w, _: extrapolated_rate(w, counter=True, per_second=True),
    "increase": lambda w, _: extrapolated_rate(w, counter=True, per_second=False),
    "delta": lambda w, _: extrapolated_rate(w, counter=False, per_second=False),
    "irate": lambda w, _: instant_value(w, per_second=True),
    "idelta": lambda w, _: instant_value(w, per_second=False),
    "deriv": deriv,
    "avg_over_time": avg_over_time,
    "sum_over_time": sum_over_time,
    "min_over_time": min_over_time,
    "max_over_time": max_over_time,
    "count_over_time": count_over_time,
    "last_over_time": last_over_time,
    "present_over_time": present_over_time,
    "stddev_over_time": stddev_over_time,
    "stdvar_over_time": stdvar_over_time,
    "quantile_over_time": quantile_over_time,
    "changes": changes,
    "resets": resets,
    "holt_winters": holt_winters,
}
"""Range functions whose arguments other than the range vector are scalars."""
