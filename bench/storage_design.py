"""Storage design measurement: SQLite vs a numpy WAL + column blocks, on the remote_write shape.

Both candidates receive the same decoded batches (2,000 series x 1 sample, one durable commit
per batch, as a receiver must before acknowledging) and then answer the same select: every
series over the whole range, returned as per-series numpy arrays (what the PromQL engine
needs). DuckDB was not installed in the project environment and is measured only when present.

    .venv/bin/python bench/storage_design.py [--series 10000 --samples 20]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
from workload import node_samples, remote_write_requests

from watchkeeper.domain.columns import SampleColumns
from watchkeeper.domain.series import Matcher, MatchOp
from watchkeeper.store.embedded import EmbeddedStore

RESULTS = Path(__file__).parent / "results"


def batches(n_series: int, n_samples: int) -> list[SampleColumns]:
    series = node_samples(n_series, n_samples, 1_767_225_600_000)
    return [SampleColumns.from_series(r) for r in remote_write_requests(series)]


def sqlite_candidate(path: Path, work: list[SampleColumns]) -> tuple[float, float]:
    db = sqlite3.connect(path / "metrics.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # durable at commit, like the WAL's fsync
    db.execute("CREATE TABLE series (id INTEGER PRIMARY KEY, labels TEXT UNIQUE)")
    db.execute(
        "CREATE TABLE samples (sid INTEGER, t INTEGER, v REAL, PRIMARY KEY (sid, t)) WITHOUT ROWID"
    )
    ids: dict[object, int] = {}
    started = time.perf_counter()
    for batch in work:
        db.execute("BEGIN")
        local = []
        for labels in batch.series_labels:
            if labels not in ids:
                ids[labels] = len(ids)
                db.execute("INSERT INTO series VALUES (?, ?)", (ids[labels], json.dumps(labels)))
            local.append(ids[labels])
        sids = np.asarray(local)[batch.series_index]
        db.executemany(
            "INSERT INTO samples VALUES (?, ?, ?)",
            zip(sids.tolist(), batch.timestamps.tolist(), batch.values.tolist(), strict=True),
        )
        db.execute("COMMIT")
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    rows = np.array(db.execute("SELECT sid, t, v FROM samples ORDER BY sid, t").fetchall())
    sids = rows[:, 0].astype(np.int64)
    bounds = np.flatnonzero(np.diff(sids)) + 1
    result = [
        (rows[a:b, 1].astype(np.int64), rows[a:b, 2])
        for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), len(sids)], strict=True)
    ]
    assert len(result) == len(ids)
    select_s = time.perf_counter() - started
    db.close()
    return write_s, select_s


def embedded_candidate(path: Path, work: list[SampleColumns]) -> tuple[float, float]:
    store = EmbeddedStore(path / "store")
    started = time.perf_counter()
    for batch in work:
        store.append_columns("bench", batch)
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    result = store.select("bench", [Matcher("__name__", MatchOp.REGEX, "node_.+")], 0, 2**62)
    assert len(result) == len({labels for batch in work for labels in batch.series_labels})
    select_s = time.perf_counter() - started
    store.close()
    return write_s, select_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--output", type=Path, default=RESULTS / "storage_design.json")
    args = parser.parse_args()
    work = batches(args.series, args.samples)
    n = args.series * args.samples
    rows = []
    for name, candidate in (("sqlite", sqlite_candidate), ("numpy-wal-blocks", embedded_candidate)):
        with tempfile.TemporaryDirectory() as directory:
            write_s, select_s = candidate(Path(directory), work)
        rows.append(
            {
                "candidate": name,
                "append_samples_per_s": round(n / write_s),
                "select_all_ms": round(select_s * 1000, 1),
            }
        )
    print(f"{'candidate':18} {'append samples/s':>17} {'select all (ms)':>16}")
    for row in rows:
        print(f"{row['candidate']:18} {row['append_samples_per_s']:>17} {row['select_all_ms']:>16}")
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(
        json.dumps({"series": args.series, "samples": args.samples, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
