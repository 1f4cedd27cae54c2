"""EmbeddedStore: the default MetricStore, a WAL plus compressed column blocks on local disk.

Write path: one lock-held step (map label sets to series ids, check order, write one WAL
record, extend the in-memory head), then a group-committed fsync outside the lock. Samples are
queryable as soon as `append` returns. When the head holds `head_max_samples` rows it is frozen,
the WAL moves to a new segment, and a background thread writes the frozen rows as a block and
deletes the WAL segments the block covers. Reads take a snapshot under the lock and compute
outside it. The design and its measurements: docs/design/storage.md.

Example:
    store = EmbeddedStore(Path("data/metrics"), max_series_per_tenant=100_000)
    store.append("acme", [SeriesSamples(labels, timestamps, values)])
    store.select("acme", [Matcher("__name__", MatchOp.EQUAL, "up")], start_ms, end_ms)

Why one module of ~620 lines: every operation here works on the same head, block list and WAL
under one lock; the parts that do not (blocks, compaction, WAL, codec) have their own modules.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from prometheus_client import Counter

from watchkeeper.domain.columns import SampleColumns, Selection
from watchkeeper.domain.series import Labels, Matcher, SeriesSamples
from watchkeeper.store.base import AppendResult, CardinalityLimitError
from watchkeeper.store.embedded.block import BlockPart
from watchkeeper.store.embedded.block_load import Block, block_numbers, load_block
from watchkeeper.store.embedded.block_write import drop_tenant, write_block
from watchkeeper.store.embedded.compaction import (
    downsample,
    finish_merge,
    merge_rows,
    resolve_merges,
)
from watchkeeper.store.embedded.head import INT64_MIN, HeadColumns, Samples, SeriesState
from watchkeeper.store.embedded.index import SeriesIds, SeriesIndex
from watchkeeper.store.embedded.ordering import DUPLICATE, check_order
from watchkeeper.store.embedded.series_log import append_series, read_series
from watchkeeper.store.embedded.wal import (
    FsyncPolicy,
    WalRecord,
    WalWriter,
    read_segment,
    segment_numbers,
    segment_path,
)
from watchkeeper.store.embedded.window import group_by_series, series_in_window

log = logging.getLogger(__name__)
T = TypeVar("T")

SAMPLES_DOWNSAMPLED = Counter(
    "watchkeeper_samples_downsampled", "Raw samples replaced by downsampled blocks"
)


@dataclass
class _Tenant:
    index: SeriesIndex = field(default_factory=SeriesIndex)
    state: SeriesState = field(default_factory=SeriesState)
    head: HeadColumns = field(default_factory=HeadColumns)
    frozen: list[tuple[int, Samples]] = field(default_factory=list)  # (segment, rows)
    persisted_series: int = 0  # ids below this are in series.jsonl


@dataclass(frozen=True)
class _Freeze:
    segment: int
    rows: dict[str, Samples]
    series_upto: dict[str, int]


class EmbeddedStore:
    """Durable, tenant-partitioned MetricStore in one directory. Thread-safe."""

    def __init__(
        self,
        path: Path,
        *,
        max_series_per_tenant: int | None = None,
        fsync: FsyncPolicy = "always",
        head_max_samples: int = 2_000_000,
        background_compaction: bool = True,
    ) -> None:
        self.path = path
        self._limit = max_series_per_tenant
        self._head_max_samples = head_max_samples
        self._background = background_compaction
        for folder in ("wal", "blocks"):
            (path / folder).mkdir(parents=True, exist_ok=True)
        self._lock_file = (path / "LOCK").open("a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise RuntimeError(f"{path} is already open in another process") from None
        self._lock = threading.RLock()
        self._tenants: dict[str, _Tenant] = {}
        self._blocks: list[Block] = []
        self._cutoff, self._tenant_cutoffs = self._read_cutoff()
        self._head_rows = 0
        self._pending: deque[_Freeze] = deque()
        self._compaction = threading.Lock()
        next_segment = self._recover()
        self._wal = WalWriter(path / "wal", next_segment, fsync)
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._compactor = threading.Thread(target=self._compact_loop, daemon=True)
        if background_compaction:
            self._compactor.start()

    # -- writes ------------------------------------------------------------------------------

    def append(self, tenant_id: str, batch: Sequence[SeriesSamples]) -> AppendResult:
        return self.append_columns(tenant_id, SampleColumns.from_series(batch))

    def append_columns(self, tenant_id: str, batch: SampleColumns) -> AppendResult:
        """`append` for a columnar batch (the remote_write fast path); same guarantees."""
        if not len(batch.timestamps) == len(batch.values) == len(batch.series_index):
            raise ValueError("timestamps, values and series_index differ in length")
        with self._lock:
            tenant = self._tenants.setdefault(tenant_id, _Tenant())
            local, new_series = self._series_ids(tenant, batch.series_labels)
            if new_series and self._limit is not None:
                live = self._live_series(tenant_id, tenant)
                if live + len(new_series) > self._limit:
                    raise CardinalityLimitError(
                        f"tenant {tenant_id!r} has {live} series; {len(new_series)} new ones "
                        f"would exceed the limit of {self._limit}"
                    )
            tenant.state.ensure(len(tenant.index) + len(new_series))
            rows = Samples(local[batch.series_index], batch.timestamps, batch.values)
            check = check_order(rows, tenant.state, self._floor(tenant_id))
            position = 0
            if new_series or len(check.accepted):
                accepted = check.accepted
                record = WalRecord(
                    tenant_id, new_series, accepted.series_ids, accepted.timestamps, accepted.values
                )
                position = self._wal.write(record)
                self._apply(tenant, new_series, accepted)
            errors = [
                f"{_text(tenant.index.labels[sid])} @{t}: {reason}"
                for sid, t, reason in check.rejected
            ]
            if self._head_rows >= self._head_max_samples:
                self._freeze()
        self._wal.sync_to(position)
        if not self._background:
            self._compact_pending()
        duplicates = check.duplicates + sum(1 for *_, r in check.rejected if r == DUPLICATE)
        return AppendResult(
            appended=len(check.accepted),
            duplicates=duplicates,
            out_of_order=check.out_of_order,
            new_series=len(new_series),
            errors=errors,
        )

    def _series_ids(
        self, tenant: _Tenant, series_labels: list[Labels]
    ) -> tuple[SeriesIds, list[tuple[int, Labels]]]:
        """Ids of the batch's series; new ones get the next ids but are not indexed yet."""
        known = tenant.index.ids
        first_new = len(tenant.index)
        new: dict[Labels, int] = {}
        local = np.empty(len(series_labels), np.int64)
        for position, labels in enumerate(series_labels):
            sid = known.get(labels)
            if sid is None:
                sid = new.setdefault(labels, first_new + len(new))
            local[position] = sid
        return local, [(sid, labels) for labels, sid in new.items()]

    def _apply(self, tenant: _Tenant, new_series: list[tuple[int, Labels]], rows: Samples) -> None:
        for sid, labels in new_series:
            if sid == len(tenant.index):
                tenant.index.add(labels)
        tenant.state.ensure(len(tenant.index))
        tenant.state.record(rows)
        tenant.head.extend(rows)
        self._head_rows += len(rows)

    def _live_series(self, tenant_id: str, tenant: _Tenant) -> int:
        last = tenant.state.last_ts[: len(tenant.index)]
        return int(np.count_nonzero(last >= self._floor(tenant_id)))

    def _floor(self, tenant_id: str) -> int:
        """The oldest time a tenant's samples are kept from: the store's cutoff, or the
        tenant's own (its retention policy) when that is later."""
        return max(self._cutoff, self._tenant_cutoffs.get(tenant_id, INT64_MIN))

    # -- reads -------------------------------------------------------------------------------

    def select(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[SeriesSamples]:
        columns = self.select_columns(tenant_id, matchers, start_ms, end_ms)
        offsets = columns.offsets.tolist()
        return [
            SeriesSamples(
                labels,
                columns.timestamps[offsets[i] : offsets[i + 1]],
                columns.values[offsets[i] : offsets[i + 1]],
            )
            for i, labels in enumerate(columns.labels)
        ]

    def select_columns(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> Selection:
        """`select` as columns, in the same series order, for the query engine: no array
        per series (see watchkeeper.query.source)."""
        start_ms = max(start_ms, self._floor(tenant_id))
        empty = Selection([], np.empty(0, np.int64), np.empty(0), np.zeros(1, np.int64))
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None or start_ms > end_ms:
                return empty
            sids = self._present(tenant, matchers, start_ms, end_ms)
            labels = tenant.index.labels
            sources = self._sources(tenant_id, tenant, start_ms, end_ms)
        if not len(sids):
            return empty
        wanted = np.zeros(len(labels), dtype=np.bool_)
        wanted[sids] = True
        pieces = [
            source.rows(sids, start_ms, end_ms)
            if isinstance(source, BlockPart)
            else series_in_window(source, wanted, start_ms, end_ms)
            for source in sources
        ]
        present, offsets, timestamps, values = group_by_series(pieces, len(labels))
        if not len(present):
            return empty
        return Selection([labels[sid] for sid in present.tolist()], timestamps, values, offsets)

    def _present(
        self, tenant: _Tenant, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> SeriesIds:
        """Matching series with samples that may fall in [start_ms, end_ms]."""
        sids = tenant.index.match(matchers)
        state = tenant.state
        in_range = (state.first_ts[sids] <= end_ms) & (state.last_ts[sids] >= start_ms)
        return sids[in_range]

    def _sources(
        self, tenant_id: str, tenant: _Tenant, start_ms: int, end_ms: int
    ) -> list[BlockPart | Samples]:
        """Block parts, frozen heads and the head, oldest first (time order per series)."""
        parts: list[BlockPart | Samples] = [
            block.parts[tenant_id]
            for block in self._blocks
            if tenant_id in block.parts
            and block.parts[tenant_id].max_t >= start_ms
            and block.parts[tenant_id].min_t <= end_ms
        ]
        return [*parts, *(rows for _, rows in tenant.frozen), tenant.head.view()]

    def series(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[Labels]:
        return self._over_present(tenant_id, matchers, start_ms, end_ms, _labels_of)

    def label_names(
        self, tenant_id: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]:
        return self._over_present(tenant_id, matchers, start_ms, end_ms, _names_of)

    def label_values(
        self, tenant_id: str, name: str, matchers: Sequence[Matcher], start_ms: int, end_ms: int
    ) -> list[str]:
        return self._over_present(tenant_id, matchers, start_ms, end_ms, partial(_values_of, name))

    def _over_present(
        self,
        tenant_id: str,
        matchers: Sequence[Matcher],
        start_ms: int,
        end_ms: int,
        answer: Callable[[_Tenant, SeriesIds], list[T]],
    ) -> list[T]:
        """`answer` over the matching series with samples in the range and under retention,
        under the lock; nothing for an unknown tenant (the metadata queries)."""
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            if tenant is None:
                return []
            start_ms = max(start_ms, self._floor(tenant_id))
            return answer(tenant, self._present(tenant, matchers, start_ms, end_ms))

    def series_count(self, tenant_id: str) -> int:
        """Series with samples newer than the retention cutoff."""
        with self._lock:
            tenant = self._tenants.get(tenant_id)
            return 0 if tenant is None else self._live_series(tenant_id, tenant)

    # -- retention ---------------------------------------------------------------------------

    def delete_before(self, cutoff_ms: int) -> int:
        """Hide samples older than cutoff_ms at once; free their disk space block by block.

        Holds the write lock only to move the cutoff and unlink whole blocks; counting and
        deleting files happen outside it.
        """
        with self._lock:
            previous = self._cutoff
            if cutoff_ms <= previous:
                return 0
            self._cutoff = cutoff_ms
            self._write_cutoff(cutoff_ms)
            heads = [
                rows
                for tenant in self._tenants.values()
                for rows in (*(r for _, r in tenant.frozen), tenant.head.view())
            ]
            blocks = list(self._blocks)
        removed = sum(
            int(np.count_nonzero((rows.timestamps >= previous) & (rows.timestamps < cutoff_ms)))
            for rows in heads
        )
        removed += sum(
            part.count_between(previous, cutoff_ms)
            for block in blocks
            for part in block.parts.values()
        )
        expired = [block for block in blocks if block.max_t < cutoff_ms]
        with self._compaction:  # never under a running backup_snapshot's feet
            with self._lock:
                self._blocks = [block for block in self._blocks if block not in expired]
            for block in expired:
                shutil.rmtree(block.path, ignore_errors=True)
        return removed

    def delete_tenant_before(self, tenant_id: str, cutoff_ms: int) -> int:
        """Hide one tenant's samples older than cutoff_ms (its retention policy, shorter than
        the store's) at once; free the disk of its parts in blocks wholly older. Returns
        samples removed. The cutoff only moves forward and survives a restart."""
        with self._lock:
            previous = self._floor(tenant_id)
            if cutoff_ms <= previous:
                return 0
            self._tenant_cutoffs[tenant_id] = cutoff_ms
            self._write_cutoff(self._cutoff)
            tenant = self._tenants.get(tenant_id)
            heads = [] if tenant is None else [*(r for _, r in tenant.frozen), tenant.head.view()]
            parts = [b.parts[tenant_id] for b in self._blocks if tenant_id in b.parts]
        removed = sum(
            int(np.count_nonzero((rows.timestamps >= previous) & (rows.timestamps < cutoff_ms)))
            for rows in heads
        )
        removed += sum(part.count_between(previous, cutoff_ms) for part in parts)
        with self._compaction:  # never under a running backup_snapshot's or merge's feet
            with self._lock:
                expired = [
                    b
                    for b in self._blocks
                    if tenant_id in b.parts and b.parts[tenant_id].max_t < cutoff_ms
                ]
            for block in expired:
                trimmed = drop_tenant(block, tenant_id)
                with self._lock:
                    self._blocks = [trimmed if b is block else b for b in self._blocks]
        return removed

    def downsample_before(
        self, older_than_ms: int, resolution_ms: int, *, max_rows: int = 20_000_000
    ) -> int:
        """Merge the blocks wholly older than `older_than_ms` that are finer than
        `resolution_ms` into blocks keeping one sample per series and bucket; returns how
        many samples that dropped. Appends go on into the head meanwhile and queries read the
        old blocks until the merged one is swapped in (see compaction.py for the crash protocol).
        """
        dropped = 0
        while True:
            with self._compaction:  # one compaction at a time
                batch_dropped = self._downsample_batch(older_than_ms, resolution_ms, max_rows)
            if batch_dropped is None:
                return dropped
            dropped += batch_dropped
            SAMPLES_DOWNSAMPLED.inc(batch_dropped)

    def _downsample_batch(
        self, older_than_ms: int, resolution_ms: int, max_rows: int
    ) -> int | None:
        with self._lock:
            batch: list[Block] = []
            rows = 0
            for block in self._blocks:
                if block.max_t >= older_than_ms or block.resolution_ms >= resolution_ms:
                    if batch:
                        break  # merge runs of neighbouring blocks only
                    continue
                size = sum(p.row_count for p in block.parts.values())
                if batch and rows + size > max_rows:
                    break
                batch.append(block)
                rows += size
            cutoff = self._cutoff
            tenant_floors = dict(self._tenant_cutoffs)
        if not batch:
            return None
        dropped = 0
        merged_rows = {}
        for tenant_id in {t for block in batch for t in block.parts}:
            raw = merge_rows(batch, tenant_id, max(cutoff, tenant_floors.get(tenant_id, cutoff)))
            merged_rows[tenant_id] = downsample(raw, resolution_ms)
            dropped += len(raw) - len(merged_rows[tenant_id])
        merged = write_block(
            self.path / "blocks",
            batch[-1].number,
            merged_rows,
            resolution_ms=resolution_ms,
            replaces=[b.number for b in batch],
        )
        with self._lock:
            merged = finish_merge(self.path / "blocks", merged, batch)
            kept = [b for b in self._blocks if all(b is not old for old in batch)]
            self._blocks = sorted([*kept, merged], key=lambda b: b.number)
        return dropped

    def _read_cutoff(self) -> tuple[int, dict[str, int]]:
        """The store's cutoff and the tenants' own (`tenants`, absent before per-tenant
        retention)."""
        path = self.path / "retention.json"
        if not path.exists():
            return INT64_MIN, {}
        saved = json.loads(path.read_text())
        tenants = {str(t): int(ms) for t, ms in saved.get("tenants", {}).items()}
        return int(saved["cutoff_ms"]), tenants

    def _write_cutoff(self, cutoff_ms: int) -> None:
        tmp = self.path / "retention.json.tmp"
        with tmp.open("w") as file:
            json.dump({"cutoff_ms": cutoff_ms, "tenants": self._tenant_cutoffs}, file)
            file.flush()
            os.fsync(file.fileno())
        tmp.replace(self.path / "retention.json")

    # -- backup ------------------------------------------------------------------------------

    @contextmanager
    def backup_snapshot(self) -> Iterator[StoreSnapshot]:
        """What a consistent copy of the store needs, valid until the block exits.

        Holds the compaction lock, so no block is written, merged or deleted and no WAL
        segment or series log line is removed or added meanwhile; appends go on (into the
        head and the current WAL segment, past the lengths reported). The lengths are taken
        under the store lock, between two whole WAL records. (A store built with
        `background_compaction=False` compacts inside `append`, whose callers then wait for
        the backup: the CLI and tests only.)
        """
        with self._compaction:
            with self._lock:
                wal = self.path / "wal"
                snapshot = StoreSnapshot(
                    path=self.path,
                    blocks=[block.path for block in self._blocks],
                    series_log_bytes=_size(self.path / "series.jsonl"),
                    wal_segments={n: _size(segment_path(wal, n)) for n in segment_numbers(wal)},
                    cutoff_ms=None if self._cutoff == INT64_MIN else self._cutoff,
                )
            yield snapshot

    def tenant_ids(self) -> list[str]:
        """Tenants the store holds series for (backup verification counts their series)."""
        with self._lock:
            return sorted(self._tenants)

    # -- compaction --------------------------------------------------------------------------

    def _freeze(self) -> None:
        """Under the lock: park the head for compaction and start a new WAL segment."""
        segment = self._wal.rotate()
        rows: dict[str, Samples] = {}
        for tenant_id, tenant in self._tenants.items():
            if tenant.head.count:
                rows[tenant_id] = tenant.head.view()
                tenant.frozen.append((segment, rows[tenant_id]))
                tenant.head = HeadColumns()
        upto = {tenant_id: len(tenant.index) for tenant_id, tenant in self._tenants.items()}
        self._pending.append(_Freeze(segment, rows, upto))
        self._head_rows = 0
        if self._background:
            self._wake.notify()

    def flush(self) -> None:
        """Compact the head into a block now (tests, shutdown of a quiet store)."""
        with self._lock:
            if self._head_rows:
                self._freeze()
        self._compact_pending()

    def _compact_loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
            try:
                self._compact_pending()
            except Exception:
                log.exception("compaction failed; the WAL still holds the samples")
                with self._lock:
                    self._wake.wait(timeout=30)

    def _compact_pending(self) -> None:
        with self._compaction:  # the background thread and flush() take turns
            self._compact_jobs()

    def _compact_jobs(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                job = self._pending[0]
                cutoff = self._cutoff
                floors = dict(self._tenant_cutoffs)
                new_series = [
                    (tenant_id, sid, tenant.index.labels[sid])
                    for tenant_id, tenant in self._tenants.items()
                    for sid in range(tenant.persisted_series, job.series_upto.get(tenant_id, 0))
                ]
            append_series(self.path / "series.jsonl", new_series)
            kept = {
                tenant_id: _rows_from(rows, max(cutoff, floors.get(tenant_id, cutoff)))
                for tenant_id, rows in job.rows.items()
            }
            block = write_block(self.path / "blocks", job.segment, kept)
            with self._lock:
                self._blocks.append(block)
                for tenant_id, tenant in self._tenants.items():
                    tenant.frozen = [(s, r) for s, r in tenant.frozen if s != job.segment]
                    tenant.persisted_series = max(
                        tenant.persisted_series, job.series_upto.get(tenant_id, 0)
                    )
                self._pending.popleft()
            for number in segment_numbers(self.path / "wal"):
                if number <= job.segment:
                    segment_path(self.path / "wal", number).unlink()

    # -- recovery ----------------------------------------------------------------------------

    def _recover(self) -> int:
        """Rebuild memory from series.jsonl, blocks and the WAL; returns the next segment."""
        for tenant_id, sid, labels in read_series(self.path / "series.jsonl"):
            tenant = self._tenants.setdefault(tenant_id, _Tenant())
            if sid == len(tenant.index):
                tenant.index.add(labels)
            tenant.persisted_series = len(tenant.index)
        resolve_merges(self.path / "blocks")
        for number in block_numbers(self.path / "blocks"):
            block = load_block(self.path / "blocks" / f"{number:08d}")
            self._blocks.append(block)
            for tenant_id, part in block.parts.items():
                tenant = self._tenants.setdefault(tenant_id, _Tenant())
                tenant.state.ensure(len(tenant.index))
                tenant.state.record(part.oldest())
                tenant.state.record(part.newest())
        covered = self._blocks[-1].number if self._blocks else 0
        segments = segment_numbers(self.path / "wal")
        for number in segments:
            path = segment_path(self.path / "wal", number)
            if number <= covered:
                path.unlink()
                continue
            for record in read_segment(path):
                tenant = self._tenants.setdefault(record.tenant_id, _Tenant())
                rows = Samples(record.series_ids, record.timestamps, record.values)
                self._apply(tenant, record.new_series, rows)
        return max([covered, *segments]) + 1

    def close(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._wake.notify_all()
        if self._compactor.is_alive():
            self._compactor.join()
        self._wal.close()
        self._lock_file.close()

    def disk_bytes(self) -> int:
        """Bytes the store occupies on disk (WAL, blocks, series log)."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


@dataclass(frozen=True)
class StoreSnapshot:
    """The files of a consistent store copy: whole block folders, the series log's first
    `series_log_bytes` and each WAL segment's first bytes (`wal_segments`: number -> length)."""

    path: Path
    blocks: list[Path]
    series_log_bytes: int
    wal_segments: dict[int, int]
    cutoff_ms: int | None


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _rows_from(rows: Samples, cutoff_ms: int) -> Samples:
    keep = rows.timestamps >= cutoff_ms
    if keep.all():
        return rows
    return Samples(rows.series_ids[keep], rows.timestamps[keep], rows.values[keep])


def _text(labels: Labels) -> str:
    pairs = dict(labels)
    name = pairs.pop("__name__", "")
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"


def _labels_of(tenant: _Tenant, sids: SeriesIds) -> list[Labels]:
    return [tenant.index.labels[sid] for sid in sids.tolist()]


def _names_of(tenant: _Tenant, sids: SeriesIds) -> list[str]:
    return sorted(tenant.index.label_names(sids.tolist()))


def _values_of(name: str, tenant: _Tenant, sids: SeriesIds) -> list[str]:
    return sorted(tenant.index.label_values(name, sids))
