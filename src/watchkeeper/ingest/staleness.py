"""Staleness markers for series a source stops producing, as Prometheus writes them.

Prometheus ends a series with a sample holding the special NaN `STALE_NAN` at the first scrape
that no longer exposes it, and ends every series of a target when a scrape fails or the target
is removed; queries then stop returning the series at once instead of for 5 minutes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from watchkeeper.domain.series import STALE_NAN, Labels, SeriesSamples


def stale_markers(series: Iterable[Labels], timestamp_ms: int) -> list[SeriesSamples]:
    """One STALE_NAN sample at `timestamp_ms` for each series."""
    ts = np.array([timestamp_ms], dtype=np.int64)
    value = np.array([STALE_NAN], dtype=np.float64)
    return [SeriesSamples(labels, ts, value) for labels in sorted(series)]


class StalenessTracker:
    """Remembers the series one source wrote last time, to end those it no longer writes."""

    def __init__(self) -> None:
        self._previous: set[Labels] = set()

    @property
    def live(self) -> frozenset[Labels]:
        return frozenset(self._previous)

    def update(self, current: Iterable[Labels], timestamp_ms: int) -> list[SeriesSamples]:
        """Record this round's series; markers for those the previous round had and this lacks."""
        now = set(current)
        gone = self._previous - now
        self._previous = now
        return stale_markers(gone, timestamp_ms)

    def replace(self, current: Iterable[Labels]) -> None:
        """Record this round's series when the caller wrote the markers itself."""
        self._previous = set(current)

    def end_all(self, timestamp_ms: int) -> list[SeriesSamples]:
        """Markers for every live series (the source failed or went away); forget them."""
        gone, self._previous = self._previous, set()
        return stale_markers(gone, timestamp_ms)
