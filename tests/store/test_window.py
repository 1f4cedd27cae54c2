"""Grouping rows of several sources by series: the large-read path (no concatenation, split
over threads) gives exactly what the small-read path gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.runtime import kernels
from watchkeeper.store.embedded.head import Samples
from watchkeeper.store.embedded.window import group_by_series


def pieces_from(seed: int, n_pieces: int, id_count: int) -> list[Samples]:
    """Sources oldest first: sorted by series (blocks) or in arrival order (heads), with
    increasing timestamps across pieces so that each series' rows stay in time order."""
    rng = np.random.default_rng(seed)
    out = []
    t = 0
    for k in range(n_pieces):
        n = int(rng.integers(0, 300))
        ids = rng.integers(0, id_count, n).astype(np.int64)
        if k % 2 == 0:
            ids = np.sort(ids)
        ts = t + np.arange(n, dtype=np.int64)  # unique, so order mistakes show
        t += n
        out.append(Samples(ids, ts, rng.normal(size=n)))
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 50), st.integers(1, 4))
def test_the_threaded_merge_equals_the_counting_sort(
    seed: int, n_pieces: int, id_count: int, workers: int
) -> None:
    pieces = pieces_from(seed, n_pieces, id_count)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "MIN_WORK", 10**12)
        expected = group_by_series(pieces, id_count)
        patch.setattr(kernels, "MIN_WORK", 0)
        patch.setattr(kernels, "WORKERS", workers)
        got = group_by_series(pieces, id_count)
    for a, b in zip(got, expected, strict=True):
        assert a.tolist() == b.tolist()
