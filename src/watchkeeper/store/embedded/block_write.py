"""Writing blocks: a block is written under `<number>.tmp` (every file and the folders fsynced)
and renamed into place, so it either exists whole or not at all; a tenant's part is dropped
by rewriting `meta.json` first."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import zstandard

from watchkeeper.store.embedded import codec
from watchkeeper.store.embedded.block_load import FORMAT, Block, load_block
from watchkeeper.store.embedded.head import Samples
from watchkeeper.store.embedded.wal import fsync_directory


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

    With `replaces`, the block is a merge: written as `<number>.merge` (see `compaction`).
    """
    name = f"{number:08d}.merge" if replaces else f"{number:08d}"
    final = directory / name
    tmp = directory / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta: dict[str, object] = {
        "format": FORMAT,
        "id": uuid.uuid4().hex,
        "wal_upto": number,
        "tenants": {},
        "resolution_ms": resolution_ms,
        "replaces": list(replaces),
    }
    tenant_meta: dict[str, dict[str, int | str]] = {}
    cctx = zstandard.ZstdCompressor(level=codec.ZSTD_LEVEL)
    for tenant_id, rows in tenants.items():
        if not len(rows):
            continue
        order = np.argsort(rows.series_ids, kind="stable")
        sids = rows.series_ids[order]
        series, first = np.unique(sids, return_index=True)
        offsets = np.append(first, len(sids)).astype(np.int64)
        folder = tmp / _tenant_folder(tenant_id)
        folder.mkdir()
        _write_part(
            folder,
            cctx,
            series.astype(np.int64),
            offsets,
            np.ascontiguousarray(rows.timestamps[order], dtype=np.int64),
            np.ascontiguousarray(rows.values[order], dtype=np.float64),
        )
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


def _write_part(
    folder: Path,
    cctx: zstandard.ZstdCompressor,
    series: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
) -> None:
    """One tenant's sorted rows as format-2 files, each fsynced, then the folder."""
    bounds = codec.chunk_bounds(offsets)
    table = np.empty((len(bounds) - 1, 9), np.int64)
    with (
        (folder / "timestamps.zst").open("wb") as ts_file,
        (folder / "values.zst").open("wb") as values_file,
    ):
        ts_at = values_at = 0
        for index in range(len(bounds) - 1):
            first, past = int(bounds[index]), int(bounds[index + 1])
            chunk = codec.encode_chunk(
                cctx,
                first,
                timestamps[first:past],
                values[first:past],
                codec.segment_starts(offsets, first, past),
            )
            ts_file.write(chunk.timestamps)
            values_file.write(chunk.values)
            table[index] = (
                first,
                chunk.rows,
                ts_at,
                ts_at + len(chunk.timestamps),
                values_at,
                values_at + len(chunk.values),
                chunk.min_t,
                chunk.max_t,
                chunk.layout,
            )
            ts_at += len(chunk.timestamps)
            values_at += len(chunk.values)
        for file in (ts_file, values_file):
            file.flush()
            os.fsync(file.fileno())
    first_rows, last_rows = offsets[:-1], offsets[1:] - 1
    edges = codec.encode_edges(
        cctx, timestamps[first_rows], timestamps[last_rows], values[first_rows], values[last_rows]
    )
    with (folder / "edges.zst").open("wb") as file:
        file.write(edges)
        file.flush()
        os.fsync(file.fileno())
    for name, column in (("series", series), ("offsets", offsets), ("chunks", table)):
        with (folder / f"{name}.npy").open("wb") as file:
            np.save(file, column)
            file.flush()
            os.fsync(file.fileno())
    fsync_directory(folder)


def drop_tenant(block: Block, tenant_id: str) -> Block:
    """`block` without `tenant_id`'s part (its retention expired it): meta.json is replaced
    first (atomically), then the folder removed, so a crash leaves at most an orphan folder
    that nothing reads."""
    meta_path = block.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    info = meta["tenants"].pop(tenant_id, None)
    if info is None:
        return block
    tmp = block.path / "meta.json.tmp"
    with tmp.open("w") as file:
        json.dump(meta, file)
        file.flush()
        os.fsync(file.fileno())
    tmp.replace(meta_path)
    fsync_directory(block.path)
    shutil.rmtree(block.path / info["folder"], ignore_errors=True)
    parts = {t: p for t, p in block.parts.items() if t != tenant_id}
    return Block(block.number, block.path, parts, block.resolution_ms)
