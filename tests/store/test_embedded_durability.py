"""Acknowledged writes survive kill -9, torn WAL tails and compactions."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples, labels_from_dict
from watchkeeper.store.embedded import EmbeddedStore

N_SERIES, PER_BATCH = 50, 20

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from watchkeeper.domain.series import SeriesSamples, labels_from_dict
    from watchkeeper.store.embedded import EmbeddedStore

    N_SERIES, PER_BATCH = int(sys.argv[2]), int(sys.argv[3])
    store = EmbeddedStore(Path(sys.argv[1]), head_max_samples=5_000)
    labels = [labels_from_dict({"__name__": "kill_test", "s": str(i)}) for i in range(N_SERIES)]
    for batch in range(1_000_000):
        ts = batch * PER_BATCH + np.arange(PER_BATCH, dtype=np.int64)
        store.append("acme", [SeriesSamples(l, ts, ts.astype(np.float64)) for l in labels])
        print(batch, flush=True)
    """
)


def test_every_acknowledged_batch_survives_sigkill(tmp_path: Path) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "store"), str(N_SERIES), str(PER_BATCH)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    acked = -1
    for line in writer.stdout:
        acked = int(line)
        if acked >= 60:  # several compactions (5,000-row heads) have happened by now
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    store = EmbeddedStore(tmp_path / "store")
    try:
        result = store.select("acme", [Matcher("__name__", MatchOp.EQUAL, "kill_test")], 0, 10**9)
        assert len(result) == N_SERIES
        expected = np.arange((acked + 1) * PER_BATCH)
        for series in result:
            # Every acknowledged sample is there, in order, without gaps or repeats; the batch
            # in flight at the kill may or may not be.
            assert series.timestamps[: len(expected)].tolist() == expected.tolist()
            assert len(series.timestamps) in (len(expected), len(expected) + PER_BATCH)
            assert (series.values == series.timestamps).all()
    finally:
        store.close()


def _up(i: int) -> SeriesSamples:
    return SeriesSamples(
        labels_from_dict({"__name__": "up", "i": str(i)}),
        np.array([1000 * i], dtype=np.int64),
        np.array([float(i)]),
    )


def test_torn_wal_tail_is_cut_and_earlier_records_kept(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    store.append("t", [_up(1)])
    store.append("t", [_up(2)])
    store.close()
    (segment,) = sorted((tmp_path / "wal").iterdir())
    with segment.open("ab") as file:
        file.write(b"\x31\x4b\x57\x57garbage")  # a record cut short by a crash
    store = EmbeddedStore(tmp_path)
    store.append("t", [_up(3)])
    assert store.series_count("t") == 3
    store.close()
    reopened = EmbeddedStore(tmp_path)
    got = reopened.select("t", [Matcher("__name__", MatchOp.EQUAL, "up")], 0, 10**6)
    assert sorted(s.values[0] for s in got) == [1.0, 2.0, 3.0]
    reopened.close()


def test_compacted_blocks_and_wal_recover_together(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, head_max_samples=3, background_compaction=False)
    for i in range(10):
        store.append("t", [_up(i)])
    store.close()
    assert list((tmp_path / "blocks").iterdir())  # some samples live in blocks now
    reopened = EmbeddedStore(tmp_path)
    got = reopened.select("t", [Matcher("__name__", MatchOp.EQUAL, "up")], 0, 10**6)
    assert sorted(s.values[0] for s in got) == [float(i) for i in range(10)]
    assert reopened.append("t", [_up(5)]).duplicates == 1  # order state is restored as well
    reopened.close()


def test_retention_removes_whole_old_blocks_and_hides_the_rest(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path, head_max_samples=2, background_compaction=False)
    for i in range(6):
        store.append("t", [_up(i)])
    store.flush()
    blocks_before = len(list((tmp_path / "blocks").iterdir()))
    assert store.delete_before(3000) == 3
    assert len(list((tmp_path / "blocks").iterdir())) < blocks_before
    assert store.series_count("t") == 3
    assert store.append("t", [_up(2)]).out_of_order == 1  # older than the cutoff
    store.close()
    reopened = EmbeddedStore(tmp_path)
    got = reopened.select("t", [Matcher("__name__", MatchOp.EQUAL, "up")], 0, 10**6)
    assert sorted(s.values[0] for s in got) == [3.0, 4.0, 5.0]
    reopened.close()


def test_a_store_directory_opens_once(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    with pytest.raises(RuntimeError, match="already open"):
        EmbeddedStore(tmp_path)
    store.close()
