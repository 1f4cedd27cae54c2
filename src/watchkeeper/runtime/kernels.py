"""Run a compiled (numba, nogil) kernel over ranges of rows on several cores.

Large reads and range functions touch millions of samples; their kernels release the GIL, so
splitting the series between a few threads uses every core, as VictoriaMetrics does. Threads,
not numba's `parallel=True`: its OpenMP layer is not fork-safe and its default layer is not
safe for concurrent calls, and the API server calls kernels from many request threads at once.
Small inputs stay on the calling thread (a thread hand-off costs more than it saves).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

WORKERS = max(1, min(4, os.cpu_count() or 1))
MIN_WORK = 400_000
"""Below this many samples of work, one thread does it all."""

_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="watchkeeper-kernel")


def split(weights: npt.NDArray[np.int64], parts: int) -> list[tuple[int, int]]:
    """Cut items 0..len(weights) into at most `parts` contiguous ranges of similar weight."""
    n = len(weights)
    if parts <= 1 or n <= 1:
        return [(0, n)]
    cumulative = np.cumsum(weights)
    total = int(cumulative[-1]) if n else 0
    cuts = [0]
    for k in range(1, parts):
        cut = int(np.searchsorted(cumulative, total * k / parts, side="right"))
        if cuts[-1] < cut < n:
            cuts.append(cut)
    cuts.append(n)
    return list(itertools.pairwise(cuts))


def run_split(
    work: Callable[[int, int], None], weights: npt.NDArray[np.int64], total: int | None = None
) -> None:
    """Call `work(first, past)` over ranges covering every item, in parallel when worth it."""
    total = int(weights.sum()) if total is None else total
    if WORKERS == 1 or total < MIN_WORK or len(weights) < 2:
        work(0, len(weights))
        return
    ranges = split(weights, WORKERS)
    futures = [_pool.submit(work, first, past) for first, past in ranges[1:]]
    work(*ranges[0])
    for future in futures:
        future.result()
