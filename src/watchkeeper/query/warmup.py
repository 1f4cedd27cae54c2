"""Compile the query and store kernels before the first request needs them.

The numba kernels on the read path (window bounds, rate, block reads, grouping) compile on
first call, or load from numba's on-disk cache; a first compile takes seconds, and the
first rule evaluation or dashboard query after a start would stall that long. The server
runs this in a background thread at start-up.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import structlog

from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.query.engine import Engine
from watchkeeper.store.embedded.block_write import write_block
from watchkeeper.store.embedded.head import Samples
from watchkeeper.store.embedded.window import block_rows, group_by_series, series_in_window
from watchkeeper.store.memory import MemoryStore

log = structlog.get_logger(__name__)


def warm_up() -> None:
    try:
        store = MemoryStore()
        ts = np.arange(0, 600_000, 15_000, dtype=np.int64)
        store.append(
            "warm-up",
            [
                SeriesSamples(
                    labels_from_dict({"__name__": "x_total"}),
                    ts,
                    np.ones(len(ts), dtype=np.float64),
                )
            ],
        )
        engine = Engine(store)
        for query in ("rate(x_total[1m])", "increase(x_total[1m])", "delta(x_total[1m])"):
            engine.range_query("warm-up", query, 120_000, 600_000, 60_000)
        ids = np.zeros(len(ts), dtype=np.int64)
        rows = Samples(ids, ts, np.ones(len(ts)))
        offsets = np.array([0, len(ts)], dtype=np.int64)
        block_rows(ids[:1], offsets, ts, rows.values, ids[:1], 0, 600_000)
        wanted = np.ones(1, dtype=np.bool_)
        group_by_series([series_in_window(rows, wanted, 0, 600_000), rows], 1)
        with tempfile.TemporaryDirectory(prefix="watchkeeper-warm-up-") as folder:
            # The block codec's kernels: encode on compaction, decode on reads.
            block = write_block(Path(folder), 1, {"warm-up": rows})
            block.parts["warm-up"].rows(ids[:1], 0, 600_000)
            block.parts["warm-up"].newest()
    except Exception as exc:  # a warm-up must never take the server down
        log.warning("kernel_warm_up_failed", error=f"{type(exc).__name__}: {exc}")
