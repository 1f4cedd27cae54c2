"""Immutable blocks: the head's samples, sorted by series then time, as memory-mapped columns.

Layout of `blocks/<number>/`: `meta.json` (the last WAL segment the block covers, and each
tenant's time range) and one folder per tenant (hex of its id) with `series.npy` (sorted series
ids), `offsets.npy` (row range of each series), `timestamps.npy` and `values.npy`. A block is
written under `<number>.tmp` and renamed into place, so it either exists whole or not at all.

Merged (and downsampled) blocks replace several older ones: the new block is written whole as
`<number>.merge` (its meta lists the blocks it `replaces`), then the old folders are removed and
it is renamed to `<number>`. `resolve_merges` finishes that after a crash at any step: a
complete `.merge` folder holds everything its old blocks held.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from watchkeeper.store.embedded.head import Samples
from watchkeeper.store.embedded.wal import fsync_directory
from watchkeeper.store.embedded.window import block_rows

_COLUMNS = ("series", "offsets", "timestamps", "values")


@dataclass(frozen=True)
class BlockPart:
    """One tenant's samples in a block."""

    series: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    min_t: int
    max_t: int

    def rows(self, wanted: npt.NDArray[np.int64], start_ms: int, end_ms: int) -> Samples:
        """Rows of the wanted (sorted) series with start_ms <= t <= end_ms, grouped by series."""
        return block_rows(
            self.series, self.offsets, self.timestamps, self.values, wanted, start_ms, end_ms
        )

    def newest(self) -> Samples:
        """Each series' newest row."""
        last = self.offsets[1:] - 1
        return Samples(self.series.copy(), self.timestamps[last], np.asarray(self.values[last]))

    def oldest(self) -> Samples:
        first = self.offsets[:-1]
        return Samples(self.series.copy(), self.timestamps[first], np.asarray(self.values[first]))

    def count_between(self, start_ms: int, end_ms: int) -> int:
        """Samples with start_ms <= t < end_ms."""
        if self.max_t < start_ms or self.min_t >= end_ms:
            return 0
        ts = self.timestamps
        return int(np.count_nonzero((ts >= start_ms) & (ts < end_ms)))


@dataclass(frozen=True)
class Block:
    number: int
    path: Path
    parts: dict[str, BlockPart]
    resolution_ms: int = 0
    """0: raw samples; else at most one sample per series in each bucket of this size."""

    @property
    def max_t(self) -> int:
        return max((p.max_t for p in self.parts.values()), default=np.iinfo(np.int64).min)

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def _tenant_folder(tenant_id: str) -> str:
    return tenant_id.encode().hex() or "_"


def write_block(
    directory: Path,
    number: int,
    tenants: dict[str, Samples],
    *,
    resolution_ms: int = 0,
    replaces: Sequence[int] = (),
) -> Block:
    """Sort each tenant's rows by series (stable: time order within a series is kept), persist.

    With `replaces`, the block is a merge: written as `<number>.merge` (see the module doc).
    """
    name = f"{number:08d}.merge" if replaces else f"{number:08d}"
    final = directory / name
    tmp = directory / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta: dict[str, object] = {
        "wal_upto": number,
        "tenants": {},
        "resolution_ms": resolution_ms,
        "replaces": list(replaces),
    }
    tenant_meta: dict[str, dict[str, int | str]] = {}
    for tenant_id, rows in tenants.items():
        if not len(rows):
            continue
        order = np.argsort(rows.series_ids, kind="stable")
        sids = rows.series_ids[order]
        series, first = np.unique(sids, return_index=True)
        columns = {
            "series": series,
            "offsets": np.append(first, len(sids)).astype(np.int64),
            "timestamps": rows.timestamps[order],
            "values": rows.values[order],
        }
        folder = tmp / _tenant_folder(tenant_id)
        folder.mkdir()
        for name, column in columns.items():
            with (folder / f"{name}.npy").open("wb") as file:
                np.save(file, column)
                file.flush()
                os.fsync(file.fileno())
        fsync_directory(folder)
        tenant_meta[tenant_id] = {
            "folder": folder.name,
            "min_t": int(rows.timestamps.min()),
            "max_t": int(rows.timestamps.max()),
        }
    meta["tenants"] = tenant_meta
    with (tmp / "meta.json").open("w") as file:
        json.dump(meta, file)
        file.flush()
        os.fsync(file.fileno())
    fsync_directory(tmp)
    tmp.rename(final)
    fsync_directory(directory)
    return load_block(final)


def load_block(path: Path) -> Block:
    meta = json.loads((path / "meta.json").read_text())
    parts = {}
    for tenant_id, info in meta["tenants"].items():
        folder = path / info["folder"]
        columns = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _COLUMNS}
        parts[tenant_id] = BlockPart(
            series=np.asarray(columns["series"]),
            offsets=np.asarray(columns["offsets"]),
            timestamps=columns["timestamps"],
            values=columns["values"],
            min_t=int(info["min_t"]),
            max_t=int(info["max_t"]),
        )
    return Block(
        number=int(meta["wal_upto"]),
        path=path,
        parts=parts,
        resolution_ms=int(meta.get("resolution_ms", 0)),
    )


def resolve_merges(directory: Path) -> None:
    """Finish merges a crash interrupted: a complete `<n>.merge` replaces its old blocks."""
    for entry in sorted(directory.iterdir()):
        if not entry.name.endswith(".merge"):
            continue
        meta = json.loads((entry / "meta.json").read_text())
        for old in meta.get("replaces", []):
            shutil.rmtree(directory / f"{int(old):08d}", ignore_errors=True)
        fsync_directory(directory)
        entry.rename(directory / entry.name.removesuffix(".merge"))
        fsync_directory(directory)


def finish_merge(directory: Path, merged: Block, replaced: Sequence[Block]) -> Block:
    """Remove the replaced blocks' folders and move the merged block into place."""
    for block in replaced:
        shutil.rmtree(block.path, ignore_errors=True)
    fsync_directory(directory)
    final = directory / f"{merged.number:08d}"
    merged.path.rename(final)
    fsync_directory(directory)
    return load_block(final)


def merge_rows(blocks: Sequence[Block], tenant_id: str, cutoff_ms: int) -> Samples:
    """One tenant's rows of several blocks (oldest first), at or after cutoff_ms."""
    parts = [b.parts[tenant_id] for b in blocks if tenant_id in b.parts]
    ids, ts, vals = [], [], []
    for part in parts:
        lengths = np.diff(np.asarray(part.offsets, dtype=np.int64)).astype(np.int64)
        ids.append(np.repeat(np.asarray(part.series), lengths))
        ts.append(np.asarray(part.timestamps))
        vals.append(np.asarray(part.values))
    if not parts:
        return Samples(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    rows = Samples(np.concatenate(ids), np.concatenate(ts), np.concatenate(vals))
    keep = rows.timestamps >= cutoff_ms
    return Samples(rows.series_ids[keep], rows.timestamps[keep], rows.values[keep])


def downsample(rows: Samples, resolution_ms: int) -> Samples:
    """The last sample of each series in each `resolution_ms` bucket (time order kept).

    As VictoriaMetrics' downsampling: queries read the sparser samples like any others, so
    `rate()` and `*_over_time()` work unchanged on windows of at least two buckets.
    """
    if resolution_ms <= 0 or not len(rows):
        return rows
    order = np.lexsort((rows.timestamps, rows.series_ids))
    sids, ts, vals = rows.series_ids[order], rows.timestamps[order], rows.values[order]
    bucket = np.floor_divide(ts, resolution_ms)
    last = np.ones(len(ts), dtype=np.bool_)
    last[:-1] = (sids[1:] != sids[:-1]) | (bucket[1:] != bucket[:-1])
    return Samples(sids[last], ts[last], vals[last])


def block_numbers(directory: Path) -> list[int]:
    """Complete blocks, oldest first; half-written `.tmp` folders are removed."""
    numbers = []
    for entry in directory.iterdir():
        if entry.name.endswith(".tmp"):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.isdigit():
            numbers.append(int(entry.name))
    return sorted(numbers)
