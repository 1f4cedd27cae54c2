"""Compaction: merging blocks, downsampling their rows, and finishing a merge a crash cut short.

Merged (and downsampled) blocks replace several older ones: the new block is written whole as
`<number>.merge` (its meta lists the blocks it `replaces`), then the old folders are removed and
it is renamed to `<number>`. `resolve_merges` finishes that after a crash at any step: a
complete `.merge` folder holds everything its old blocks held.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from watchkeeper.store.embedded.block import empty_samples
from watchkeeper.store.embedded.block_load import Block, load_block
from watchkeeper.store.embedded.head import Samples
from watchkeeper.store.embedded.wal import fsync_directory


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
    """One tenant's rows of several blocks (oldest first, either format), at or after
    cutoff_ms."""
    parts = [b.parts[tenant_id].all_rows() for b in blocks if tenant_id in b.parts]
    if not parts:
        return empty_samples()
    rows = Samples(
        np.concatenate([p.series_ids for p in parts]),
        np.concatenate([p.timestamps for p in parts]),
        np.concatenate([p.values for p in parts]),
    )
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
