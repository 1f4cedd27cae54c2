"""Backup benchmark: time and size of a full backup, an incremental one, verify and restore
of an embedded store with ~1 M samples (plus a fresh SQLite metadata database).

1,000 series x 1,000 samples at 15 s, appended in batches of 100 samples per series; two
thirds compacted into blocks, the last third left in the WAL (as a live server has it). Then
100k more samples, one more block, and an incremental backup. Prints one JSON object.

    .venv/bin/python bench/backup.py [--series 1000 --samples 1000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from watchkeeper.backup.create import Sources, create_backup
from watchkeeper.backup.restore import restore_backup, verify_backup
from watchkeeper.clock import ManualClock
from watchkeeper.config import Settings
from watchkeeper.domain.series import SeriesSamples
from watchkeeper.store.embedded.store import EmbeddedStore

T0 = 1_700_000_000_000


def append(store: EmbeddedStore, series: int, first: int, count: int) -> None:
    ts = T0 + (np.arange(first, first + count, dtype=np.int64) * 15_000)
    rng = np.random.default_rng(first)
    store.append(
        "bench",
        [
            SeriesSamples((("__name__", "bench"), ("i", str(i))), ts, rng.normal(100, 5, count))
            for i in range(series)
        ],
    )


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        data.mkdir()
        with sqlite3.connect(data / "watchkeeper.db") as db:
            db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT)")
            db.execute("INSERT INTO users (username) VALUES ('admin')")
        settings = Settings(data_dir=data)
        store = EmbeddedStore(data / "metrics", fsync="never", background_compaction=False)
        step = 100
        for first in range(0, args.samples, step):
            append(store, args.series, first, step)
            if first + step == (args.samples * 2 // 3) // step * step:
                store.flush()
        clock = ManualClock(start=time.time())
        result: dict[str, float | int] = {"samples": args.series * args.samples}
        result["store_bytes"] = folder_bytes(data / "metrics")

        started = time.perf_counter()
        full, _ = create_backup(Sources(settings, store, None), root / "backups", clock)
        result["full_backup_s"] = round(time.perf_counter() - started, 3)
        result["full_backup_bytes"] = folder_bytes(full)

        append(store, args.series, args.samples, 100)
        store.flush()
        clock.advance(60)
        started = time.perf_counter()
        incremental, _ = create_backup(
            Sources(settings, store, None), root / "backups", clock, incremental=True
        )
        result["incremental_backup_s"] = round(time.perf_counter() - started, 3)
        result["incremental_backup_bytes"] = folder_bytes(incremental)
        store.close()

        started = time.perf_counter()
        verify_backup(incremental)
        result["verify_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        restore_backup(incremental, root / "restored")
        result["restore_incremental_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        reopened = EmbeddedStore(root / "restored" / "metrics", background_compaction=False)
        result["open_restored_s"] = round(time.perf_counter() - started, 3)
        result["restored_series"] = reopened.series_count("bench")
        reopened.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
