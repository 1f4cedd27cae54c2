"""Which samples of a batch may be appended: Prometheus' rules for order and duplicates.

As in Prometheus' head (tsdb/head_append.go, memSeries.appendable), per series:
- a timestamp newer than the newest stored one is appended;
- the same timestamp with the same value bits is a duplicate and silently ignored;
- the same timestamp with another value is rejected ("duplicate sample for timestamp");
- an older timestamp is rejected ("out of order sample"); there is no out-of-order window;
- a timestamp older than the retention cutoff is rejected ("too old").
Samples are taken in the order they were sent, so a later sample in one batch is checked
against an earlier accepted one. The common case (everything in order) is one vectorised pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from watchkeeper.store.embedded.head import Samples, SeriesState

OUT_OF_ORDER = "out of order sample"
DUPLICATE = "duplicate sample for timestamp"
TOO_OLD = "too old sample (before the retention cutoff)"


@dataclass
class OrderCheck:
    """Accepted rows grouped by series (time order within each), and what was turned away."""

    accepted: Samples
    duplicates: int = 0
    rejected: list[tuple[int, int, str]] = field(default_factory=list)  # (sid, t, reason)

    @property
    def out_of_order(self) -> int:
        return sum(1 for *_, reason in self.rejected if reason != DUPLICATE)


def check_order(batch: Samples, state: SeriesState, cutoff_ms: int) -> OrderCheck:
    order = np.argsort(batch.series_ids, kind="stable")
    sids = batch.series_ids[order]
    ts = batch.timestamps[order]
    values = batch.values[order]
    n = len(sids)
    starts_group = np.ones(n, dtype=np.bool_)
    starts_group[1:] = sids[1:] != sids[:-1]
    previous = np.empty(n, np.int64)
    previous[1:] = ts[:-1]
    previous[starts_group] = state.last_ts[sids[starts_group]]
    fine = (ts > previous) & (ts >= cutoff_ms)
    if fine.all():
        return OrderCheck(Samples(sids, ts, values))
    keep = fine.copy()
    check = OrderCheck(Samples(sids, ts, values))
    group_starts = np.flatnonzero(starts_group)
    group_ends = np.append(group_starts[1:], n)
    for group in np.unique(np.searchsorted(group_starts, np.flatnonzero(~fine), side="right") - 1):
        _sequential(
            sids,
            ts,
            values,
            int(group_starts[group]),
            int(group_ends[group]),
            state,
            cutoff_ms,
            keep,
            check,
        )
    return OrderCheck(Samples(sids[keep], ts[keep], values[keep]), check.duplicates, check.rejected)


def _sequential(
    sids: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    start: int,
    end: int,
    state: SeriesState,
    cutoff_ms: int,
    keep: npt.NDArray[np.bool_],
    check: OrderCheck,
) -> None:
    """One series' samples in the order sent, against the newest accepted one."""
    sid = int(sids[start])
    newest = int(state.last_ts[sid])
    newest_bits = int(state.last_bits[sid])
    bits = values[start:end].view(np.uint64).tolist()
    for offset, t in enumerate(ts[start:end].tolist()):
        row = start + offset
        keep[row] = False
        if t < cutoff_ms:
            check.rejected.append((sid, t, TOO_OLD))
        elif t > newest:
            keep[row] = True
            newest, newest_bits = t, bits[offset]
        elif t == newest and bits[offset] == newest_bits:
            check.duplicates += 1
        elif t == newest:
            check.rejected.append((sid, t, DUPLICATE))
        else:
            check.rejected.append((sid, t, OUT_OF_ORDER))
