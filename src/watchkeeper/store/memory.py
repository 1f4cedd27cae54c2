"""A plain, thread-safe, in-memory MetricStore: the reference implementation for tests.

Append semantics follow Prometheus' head block: per series, samples must arrive in
timestamp order; a sample older than the series' newest one is rejected as out of order,
one at the newest timestamp with the same value (bit for bit) is a duplicate and ignored,
and one at the newest timestamp with a different value is rejected. Nothing is durable.

Example:
    store = MemoryStore()
    store.append("t1", [SeriesSamples(labels, timestamps, values)])
    store.select("t1", [Matcher("__name__", MatchOp.EQUAL, "up")], 0, 10_000)
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from watchkeeper.domain.columns import Selection
from watchkeeper.domain.series import Labels, Matcher, MatchOp, SeriesSamples
from watchkeeper.store.base import AppendResult, CardinalityLimitError

_INITIAL_CAPACITY = 64


class _Series:
    """One series' samples in growable arrays (amortised O(1) append)."""

    __slots__ = ("labels", "size", "timestamps", "values")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.timestamps = np.empty(_INITIAL_CAPACITY, dtype=np.int64)
        self.values = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self.size = 0

    def last_timestamp(self) -> int | None:
        return int(self.timestamps[self.size - 1]) if self.size else None

    def extend(self, ts: npt.NDArray[np.int64], vs: npt.NDArray[np.float64]) -> None:
        needed = self.size + len(ts)
        if needed > len(self.timestamps):
            capacity = max(needed, 2 * len(self.timestamps))
            self.timestamps = np.resize(self.timestamps, capacity)
            self.values = np.resize(self.values, capacity)
        self.timestamps[self.size : needed] = ts
        self.values[self.size : needed] = vs
        self.size = needed

    def window(
        self, start_ms: int, end_ms: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Read-only views: appends write past `size` and drops allocate new arrays, so a
        returned window never changes under its reader."""
        ts = self.timestamps[: self.size]
        lo = int(ts.searchsorted(start_ms, side="left"))
        hi = int(ts.searchsorted(end_ms, side="right"))
        out_ts, out_vs = ts[lo:hi], self.values[lo:hi]
        out_ts.flags.writeable = False
        out_vs.flags.writeable = False
        return out_ts, out_vs

    def has_samples_in(self, start_ms: int, end_ms: int) -> bool:
        ts = self.timestamps[: self.size]
        lo = int(np.searchsorted(ts, start_ms, side="left"))
        return lo < self.size and int(ts[lo]) <= end_ms

    def drop_before(self, cutoff_ms: int) -> int:
        ts = self.timestamps[: self.size]
        cut = int(ts.searchsorted(cutoff_ms, side="left"))
        if cut:
            # New arrays rather than a shift in place: windows handed out stay valid.
            self.timestamps = self.timestamps[cut : self.size].copy()
            self.values = self.values[cut : self.size].copy()
            self.size -= cut
        return cut


@dataclass(frozen=True)
class _Snapshot:
    """Every series of a tenant concatenated by series id, rebuilt after any change.

    `keys` orders samples by (series id, time) in one int64 so that the window of many
    series is found with one vectorised binary search.
    """

    version: int
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    offsets: npt.NDArray[np.int64]
    keys: npt.NDArray[np.int64] | None
    t_min: int
    shift: int

    @staticmethod
    def of(series: list[_Series], version: int) -> _Snapshot:
        sizes = np.fromiter((s.size for s in series), dtype=np.int64, count=len(series))
        offsets = np.zeros(len(series) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        ts = [s.timestamps[: s.size] for s in series]
        vs = [s.values[: s.size] for s in series]
        timestamps = np.concatenate(ts) if ts else np.empty(0, np.int64)
        values = np.concatenate(vs) if vs else np.empty(0, np.float64)
        t_min = int(timestamps.min()) if len(timestamps) else 0
        shift = 62 - max(len(series), 1).bit_length()
        keys = None
        if len(timestamps) and int(timestamps.max()) - t_min < 2**shift:
            sid = np.repeat(np.arange(len(series), dtype=np.int64), sizes)
            keys = (sid << shift) + (timestamps - t_min)
        return _Snapshot(version, timestamps, values, offsets, keys, t_min, shift)

    def windows(
        self, sids: npt.NDArray[np.int64], start_ms: int, end_ms: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Flat [lo, hi) of each series' samples with start_ms <= t <= end_ms."""
        if self.keys is None:
            lo = np.array([self._one(int(s), start_ms, "left") for s in sids], dtype=np.int64)
            hi = np.array([self._one(int(s), end_ms, "right") for s in sids], dtype=np.int64)
            return lo, hi
        limit = 2**self.shift - 1
        first = min(max(start_ms - self.t_min, 0), limit)
        last = min(max(end_ms - self.t_min, -1), limit)
        lo = np.searchsorted(self.keys, (sids << self.shift) + first, side="left")
        if last < 0:
            return lo, lo.copy()
        hi = np.searchsorted(self.keys, (sids << self.shift) + last, side="right")
        return lo, hi

    def _one(self, sid: int, t: int, side: Literal["left", "right"]) -> int:
        begin, end = int(self.offsets[sid]), int(self.offsets[sid + 1])
        return begin + int(self.timestamps[begin:end].searchsorted(t, side=side))


class _Tenant:
    """One tenant's series and a postings index label -> value -> series ids."""

    def __init__(self) -> None:
        self.series: list[_Series] = []
        self.by_labels: dict[Labels, int] = {}
        self.postings: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        self._rank: list[int] | None = None  # position of each series id in label order
        self.version = 0  # bumped whenever samples change
        self._snapshot: _Snapshot | None = None

    def get_or_create(self, labels: Labels) -> tuple[_Series, bool]:
        sid = self.by_labels.get(labels)
        if sid is not None:
            return self.series[sid], False
        sid = len(self.series)
        series = _Series(labels)
        self.series.append(series)
        self.by_labels[labels] = sid
        for name, value in labels:
            self.postings[name][value].add(sid)
        self._rank = None
        return series, True

    def rank(self) -> list[int]:
        if self._rank is None:
            order = sorted(range(len(self.series)), key=lambda sid: self.series[sid].labels)
            rank = [0] * len(order)
            for position, sid in enumerate(order):
                rank[sid] = position
            self._rank = rank
        return self._rank

    def snapshot(self) -> _Snapshot:
        if self._snapshot is None or self._snapshot.version != self.version:
            self._snapshot = _Snapshot.of(self.series, self.version)
        return self._snapshot

    def matching(self, matchers: Sequence[Matcher]) -> list[_Series]:
        return [self.series[sid] for sid in self.matching_ids(matchers)]

    def matching_ids(self, matchers: Sequence[Matcher]) -> list[int]:
        """Series matching every matcher; a label absent from a series matches as ""."""
        candidates: set[int] | None = None
        # Equality matchers on a non-empty value are answered by the postings alone.
        rest = []
        for m in matchers:
            if m.op is MatchOp.EQUAL and m.value != "":
                ids = self.postings.get(m.name, {}).get(m.value, set())
                candidates = set(ids) if candidates is None else candidates & ids
            else:
                rest.append(m)
        pool: Iterable[int] = range(len(self.series)) if candidates is None else candidates
        if rest:
            pool = [
                sid
                for sid in pool
                if all(m.matches(_label(self.series[sid].labels, m.name)) for m in rest)
            ]
        return sorted(pool, key=self.rank().__getitem__)


class MemoryStore:
    """MetricStore kept in process memory; `max_series_per_tenant` bounds cardinality."""

    def __init__(self, *, max_series_per_tenant: int | None = None) -> None:
        self._tenants: dict[str, _Tenant] = defaultdict(_Tenant)
        self._lock = threading.RLock()
        self._max_series = max_series_per_tenant

    def append(self, tenant_id: str, batch: Sequence[SeriesSamples]) -> AppendResult:
        with self._lock:
            tenant = self._tenants[tenant_id]
            self._check_cardinality(tenant, batch)
            appended = duplicates = out_of_order = new_series = 0
            errors: list[str] = []
            for item in batch:
                series, created = tenant.get_or_create(item.labels)
                new_series += int(created)
                ts, vs, dup, ooo, errs = _admissible(series, item)
                series.extend(ts, vs)
                tenant.version += int(len(ts) > 0)
                appended += len(ts)
                duplicates += dup
                out_of_order += ooo
                errors.extend(errs)
            return AppendResult(appended, duplicates, out_of_order, new_series, errors)

    def _check_cardinality(self, tenant: _Tenant, batch: Sequence[SeriesSamples]) -> None:
        if self._max_series is None:
            return
        fresh = {item.labels for item in batch if item.labels not in tenant.by_labels}
        if len(tenant.series) + len(fresh) > self._max_series:
            raise CardinalityLimitError(
                f"{len(fresh)} new series would exceed the limit of {self._max_series}"
            )

    def select(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[SeriesSamples]:
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                return []
            out = []
            for series in tenant.matching(matchers):
                ts, vs = series.window(start_ms, end_ms)
                if len(ts):
                    out.append(SeriesSamples(series.labels, ts, vs))
            return out

    def select_columns(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Selection:
        """`select` as columns, for the query engine: one gather instead of one array per
        series (see watchkeeper.query.source)."""
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            empty = Selection([], np.empty(0, np.int64), np.empty(0), np.zeros(1, np.int64))
            if tenant is None:
                return empty
            sids = np.asarray(tenant.matching_ids(matchers), dtype=np.int64)
            if len(sids) == 0:
                return empty
            snapshot = tenant.snapshot()
            lo, hi = snapshot.windows(sids, start_ms, end_ms)
            lengths = hi - lo
            keep = lengths > 0
            sids, lo, lengths = sids[keep], lo[keep], lengths[keep]
            offsets = np.zeros(len(sids) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            index = np.repeat(lo - offsets[:-1], lengths)
            index += np.arange(int(offsets[-1]), dtype=np.int64)
            labels = [tenant.series[sid].labels for sid in sids.tolist()]
            return Selection(labels, snapshot.timestamps[index], snapshot.values[index], offsets)

    def series(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[Labels]:
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                return []
            return [
                s.labels for s in tenant.matching(matchers) if s.has_samples_in(start_ms, end_ms)
            ]

    def label_names(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]:
        names = {
            name
            for labels in self.series(tenant_id, matchers, start_ms, end_ms)
            for name, _ in labels
        }
        return sorted(names)

    def label_values(
        self, tenant_id: str, name: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]:
        values = {
            value
            for labels in self.series(tenant_id, matchers, start_ms, end_ms)
            for label, value in labels
            if label == name
        }
        return sorted(values)

    def series_count(self, tenant_id: str) -> int:
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            return 0 if tenant is None else len(tenant.series)

    def delete_before(self, cutoff_ms: int) -> int:
        with self._lock:
            removed = 0
            for tenant in self._tenants.values():
                dropped = sum(s.drop_before(cutoff_ms) for s in tenant.series)
                tenant.version += int(dropped > 0)
                removed += dropped
            return removed

    def delete_tenant_before(self, tenant_id: str, cutoff_ms: int) -> int:
        """`delete_before` for one tenant (its own retention policy)."""
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                return 0
            dropped = sum(s.drop_before(cutoff_ms) for s in tenant.series)
            tenant.version += int(dropped > 0)
            return dropped

    def close(self) -> None:
        with self._lock:
            self._tenants.clear()


def _admissible(
    series: _Series, item: SeriesSamples
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int, int, list[str]]:
    """The samples of `item` that may be appended after `series`' newest sample."""
    ts = np.asarray(item.timestamps, dtype=np.int64)
    vs = np.asarray(item.values, dtype=np.float64)
    last = series.last_timestamp()
    if len(ts) == 0 or (np.all(np.diff(ts) > 0) and (last is None or ts[0] > last)):
        return ts, vs, 0, 0, []
    keep: list[int] = []
    duplicates = out_of_order = 0
    errors: list[str] = []
    newest_t = last
    newest_bits = int(series.values[series.size - 1].view(np.uint64)) if last is not None else None
    bits = vs.view(np.uint64)
    for i in range(len(ts)):
        t = int(ts[i])
        if newest_t is None or t > newest_t:
            keep.append(i)
            newest_t, newest_bits = t, int(bits[i])
        elif t == newest_t and int(bits[i]) == newest_bits:
            duplicates += 1
        elif t == newest_t:
            errors.append(f"{_describe(item.labels)} @{t}: duplicate timestamp with a new value")
        else:
            out_of_order += 1
    return ts[keep], vs[keep], duplicates, out_of_order, errors


def _label(labels: Labels, name: str) -> str:
    for key, value in labels:
        if key == name:
            return value
    return ""


def _describe(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
