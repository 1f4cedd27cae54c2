"""WAL shipping benchmark: what point-in-time restore of the SQLite metadata costs per ship.

A SQLite database in WAL mode with one table, shipped by `backup.walship.WalShipper` (the
worker's code) into a temporary backups folder, fsync on: the time of a ship after one
committed row (`--rounds` times), of a ship with nothing new, of a ship after 100 commits, of
the shipper's own checkpoint, and the sizes of the segments written. Prints one JSON object.

    PYTHONPATH=src .venv/bin/python bench/walship.py [--rounds 50]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from watchkeeper.backup.walship import WalShipper
from watchkeeper.clock import ManualClock


def _ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "meta.db"
        app = sqlite3.connect(database, isolation_level=None)
        app.execute("PRAGMA journal_mode=WAL")
        app.execute("PRAGMA wal_autocheckpoint=0")
        app.execute("CREATE TABLE t (x INTEGER, note TEXT)")
        clock = ManualClock()
        root = Path(tmp) / "backups" / "wal"
        shipper = WalShipper(database, root, clock, checkpoint_frames=10**9)
        try:
            generation_ms = _ms(shipper.ship_once)
            one_row: list[float] = []
            for i in range(args.rounds):
                app.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * 100))
                clock.advance(1)
                one_row.append(_ms(shipper.ship_once))
            idle = [_ms(shipper.ship_once) for _ in range(args.rounds)]
            for i in range(100):
                app.execute("INSERT INTO t VALUES (?, ?)", (i, "y" * 100))
            clock.advance(1)
            hundred_ms = _ms(shipper.ship_once)
            checkpoint_ms = _ms(shipper.checkpoint)
        finally:
            shipper.close()
            app.close()
        sizes = sorted(p.stat().st_size for p in root.rglob("*.seg"))
    print(
        json.dumps(
            {
                "rounds": args.rounds,
                "first_ship_starts_generation_ms": round(generation_ms, 2),
                "ship_one_row_ms": {
                    "median": round(statistics.median(one_row), 2),
                    "max": round(max(one_row), 2),
                },
                "ship_nothing_new_ms_median": round(statistics.median(idle), 3),
                "ship_100_commits_ms": round(hundred_ms, 2),
                "own_checkpoint_ms": round(checkpoint_ms, 2),
                "segments": len(sizes),
                "segment_bytes": {
                    "min": sizes[0],
                    "median": sizes[len(sizes) // 2],
                    "max": sizes[-1],
                }
                if sizes
                else {},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
