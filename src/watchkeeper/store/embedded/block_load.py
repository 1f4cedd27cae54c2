"""Opening blocks: their layout on disk, `load_block`, and which complete blocks a folder holds.

Layout of `blocks/<number>/`: `meta.json` (format, a unique id, the last WAL segment the block
covers, and each tenant's time range) and one folder per tenant (hex of its id) with
`series.npy` (sorted series ids) and `offsets.npy` (row range of each series), both
memory-mapped, then the samples compressed by `codec` (format 2):
- `timestamps.zst`, `values.zst`: one zstd frame per chunk of ~64k rows (cut at series
  boundaries), memory-mapped; a query decodes only the chunks holding the series it reads;
- `chunks.npy`: per chunk its first row, row count, byte ranges in both files, time range and
  layout flags (read whole on open: 72 bytes per chunk);
- `edges.zst`: each series' first and last sample, so that opening the store does not decode
  every chunk to rebuild per-series state.
Decoded chunks are kept in a process-wide LRU cache bounded in bytes (`block.chunk_cache`).

Format 1 (blocks written before compression; no `format` in meta.json) has raw `.npy`
columns `timestamps.npy` and `values.npy` instead; it is still read, merged and downsampled.

Parts are read by `block`, blocks written by `block_write`, merged and downsampled by
`compaction`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from watchkeeper.store.embedded.block import FIRST_ROW, BlockPart, CompressedPart, RawPart

FORMAT = 2
"""Written by this version; 1 = raw columns (no `format` key), still readable."""

_RAW_COLUMNS = ("series", "offsets", "timestamps", "values")


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


def load_block(path: Path) -> Block:
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text())
    block_format = int(meta.get("format", 1))
    if block_format > FORMAT:
        raise RuntimeError(f"{path}: block format {block_format} is newer than this version's")
    block_id = meta.get("id")
    if not block_id:  # format 1: not cached, but make the key unique anyway
        stat = meta_path.stat()
        block_id = f"{stat.st_ino}-{stat.st_mtime_ns}"
    parts: dict[str, BlockPart] = {}
    for tenant_id, info in meta["tenants"].items():
        folder = path / info["folder"]
        if block_format == 1:
            columns = {
                name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in _RAW_COLUMNS
            }
            parts[tenant_id] = RawPart(
                series=np.asarray(columns["series"]),
                offsets=np.asarray(columns["offsets"]),
                min_t=int(info["min_t"]),
                max_t=int(info["max_t"]),
                timestamps=columns["timestamps"],
                values=columns["values"],
            )
            continue
        offsets = np.asarray(np.load(folder / "offsets.npy", mmap_mode="r"))
        chunks = np.load(folder / "chunks.npy")
        parts[tenant_id] = CompressedPart(
            series=np.asarray(np.load(folder / "series.npy", mmap_mode="r")),
            offsets=offsets,
            min_t=int(info["min_t"]),
            max_t=int(info["max_t"]),
            chunks=chunks,
            bounds=np.append(chunks[:, FIRST_ROW], offsets[-1]).astype(np.int64),
            timestamps_file=np.memmap(folder / "timestamps.zst", dtype=np.uint8, mode="r"),
            values_file=np.memmap(folder / "values.zst", dtype=np.uint8, mode="r"),
            edges_path=folder / "edges.zst",
            cache_key=(str(path), str(block_id), tenant_id),
        )
    return Block(
        number=int(meta["wal_upto"]),
        path=path,
        parts=parts,
        resolution_ms=int(meta.get("resolution_ms", 0)),
    )


def block_numbers(directory: Path) -> list[int]:
    """Complete blocks, oldest first; half-written `.tmp` folders are removed."""
    numbers = []
    for entry in directory.iterdir():
        if entry.name.endswith(".tmp"):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.isdigit():
            numbers.append(int(entry.name))
    return sorted(numbers)
