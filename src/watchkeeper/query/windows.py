"""Which raw samples each step sees, for all series and all steps at once.

Steps are an arithmetic progression (a range query, a subquery) or a single time, so the
number of samples at or before each step is a histogram of "first step at or after each
sample" followed by a cumulative sum: O(samples + series x steps), no per-series loop. These
passes touch every loaded sample and dominate large queries, so they run in place on reused
buffers, and a window whose range is a whole number of steps gets both of its ends from one
histogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from watchkeeper.domain.series import is_stale_nan
from watchkeeper.query.values import Bools, Floats, Ints, RangeVector, SampleBlock
from watchkeeper.runtime import kernels


def _stride(refs: Ints) -> int:
    return int(refs[1] - refs[0]) if len(refs) > 1 else 0


def _first_step_at_or_after(
    block: SampleBlock, grid0: int, stride: int, last: int, out: Ints
) -> Ints:
    """out[k] = min(max(ceil((t_k - grid0) / stride), 0), last), computed in place."""
    np.subtract(grid0, block.timestamps, out=out)
    np.floor_divide(out, stride, out=out)
    np.negative(out, out=out)
    np.clip(out, 0, last, out=out)
    return out


def _bin_base(block: SampleBlock, bins: int) -> Ints:
    return np.repeat(np.arange(len(block), dtype=np.int64) * bins, np.diff(block.offsets))


def counts_at_or_before(block: SampleBlock, refs: Ints) -> Ints:
    """counts[i, j] = how many samples of series i have t <= refs[j]."""
    n, steps = len(block), len(refs)
    if n == 0 or steps == 0 or block.sample_count == 0:
        return np.zeros((n, steps), dtype=np.int64)
    stride = _stride(refs)
    if stride == 0:
        # Every step reads at one time (an instant query, or an @ modifier).
        before = block.timestamps <= refs[0]
        counts = np.bincount(np.repeat(np.arange(n), np.diff(block.offsets))[before], minlength=n)
        return np.repeat(counts[:, None], steps, axis=1)
    keys = _first_step_at_or_after(
        block, int(refs[0]), stride, steps, np.empty_like(block.timestamps)
    )
    keys += _bin_base(block, steps + 1)
    hist = np.bincount(keys, minlength=n * (steps + 1)).reshape(n, steps + 1)
    return np.cumsum(hist[:, :steps], axis=1)


def instant_lookup(block: SampleBlock, refs: Ints, lookback_ms: int) -> tuple[Floats, Bools, Ints]:
    """The newest sample in [ref - lookback, ref] per series and step (Prometheus 2.x).

    A staleness marker as the newest sample means no value. Returns values, presence and the
    samples' timestamps.
    """
    counts = counts_at_or_before(block, refs)
    shape = counts.shape
    if block.sample_count == 0:
        return np.zeros(shape), np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.int64)
    has_any = counts > 0
    index = block.offsets[:-1, None] + counts - 1
    np.maximum(index, 0, out=index)
    timestamps = block.timestamps[index]
    values = block.values[index]
    present = has_any & (timestamps >= refs[None, :] - lookback_ms) & ~is_stale_nan(values)
    return values, present, timestamps


@numba.njit(cache=True, nogil=True)
def _merge_bounds(
    timestamps: Ints, offsets: Ints, refs: Ints, range_ms: int, start: Ints, end: Ints
) -> None:  # pragma: no cover - compiled; covered through window_bounds
    """Two pointers per series over its sorted samples: O(samples + series x steps)."""
    for i in range(len(offsets) - 1):
        low = offsets[i]
        high = offsets[i + 1]
        first = low
        past = low
        for j in range(len(refs)):
            ref = refs[j]
            while first < high and timestamps[first] < ref - range_ms:
                first += 1
            if past < first:
                past = first
            while past < high and timestamps[past] <= ref:
                past += 1
            start[i, j] = first
            end[i, j] = past


def window_bounds(block: SampleBlock, refs: Ints, range_ms: int) -> tuple[Ints, Ints]:
    """Flat [start, end) sample indices of each step's window refs-range <= t <= refs.

    Prometheus 2.x includes both ends of a range selector's window. Steps in time order (every
    range query and subquery) take the compiled merge: one pass over each series' samples,
    no temporaries the size of the samples.
    """
    n, steps = len(block), len(refs)
    if steps and n and (steps == 1 or bool(np.all(refs[1:] >= refs[:-1]))):
        start = np.empty((n, steps), dtype=np.int64)
        end = np.empty((n, steps), dtype=np.int64)
        timestamps = np.ascontiguousarray(block.timestamps, dtype=np.int64)
        offsets = np.ascontiguousarray(block.offsets, dtype=np.int64)
        steps_at = np.ascontiguousarray(refs, dtype=np.int64)

        def bounds(first: int, past: int) -> None:
            _merge_bounds(
                timestamps,
                offsets[first : past + 1],
                steps_at,
                int(range_ms),
                start[first:past],
                end[first:past],
            )

        kernels.run_split(bounds, np.diff(offsets) + steps)
        return start, end
    stride = _stride(refs)
    base = block.offsets[:-1, None]
    if stride > 0 and range_ms % stride == 0 and block.sample_count:
        start, end = _aligned_bounds(block, refs, range_ms // stride, stride)
    else:
        start = counts_at_or_before(block, refs - range_ms - 1)
        end = counts_at_or_before(block, refs)
    start += base
    end += base
    return start, end


def _aligned_bounds(block: SampleBlock, refs: Ints, k: int, stride: int) -> tuple[Ints, Ints]:
    """Both window ends from one histogram when the range is k whole steps.

    On the grid g_m = refs[0] + (m - k) * stride, step j's window is [g_j, g_(j+k)]. Each
    sample goes in bucket 2*m + exact, m its first grid point at or after it and `exact`
    whether it lies on that point: then "t <= g_m" and "t < g_m" are both prefix counts.
    """
    n, steps = len(block), len(refs)
    grid = steps + k  # grid points 0..grid-1; `grid` means after the last step
    grid0 = int(refs[0]) - k * stride
    g = _first_step_at_or_after(block, grid0, stride, grid, np.empty_like(block.timestamps))
    on_grid = np.multiply(g, stride)
    on_grid += grid0
    exact = on_grid == block.timestamps
    g *= 2
    g += exact
    g += _bin_base(block, 2 * (grid + 1))
    hist = np.bincount(g, minlength=n * 2 * (grid + 1)).reshape(n, 2 * (grid + 1))
    cum = np.cumsum(hist, axis=1)
    at_or_before = cum[:, 1 : 2 * grid : 2]  # column m: samples with t <= g_m
    exactly_at = hist[:, 1 : 2 * grid : 2]
    end = at_or_before[:, k : k + steps].copy()
    start = at_or_before[:, :steps] - exactly_at[:, :steps]
    return start, end


@dataclass
class Windows:
    """Per series and step, the flat sample indices [start, end) of the window."""

    block: SampleBlock
    refs: Ints
    range_ms: int
    start: Ints
    end: Ints

    @staticmethod
    def of(rv: RangeVector) -> Windows:
        start, end = window_bounds(rv.block, rv.refs, rv.range_ms)
        return Windows(rv.block, rv.refs, rv.range_ms, start, end)

    @property
    def count(self) -> Ints:
        return self.end - self.start

    def at(self, index: Ints, ok: Bools) -> tuple[Ints, Floats]:
        safe = np.where(ok, index, 0)
        if self.block.sample_count == 0:
            return np.zeros(index.shape, np.int64), np.zeros(index.shape)
        return self.block.timestamps[safe], self.block.values[safe]
