"""Downsampling old blocks of the embedded store: what is kept, what queries see, and that a
crash at any step of the block swap loses nothing and duplicates nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from watchkeeper.clock import ManualClock
from watchkeeper.config import StorageSettings
from watchkeeper.domain.series import Matcher, MatchOp, SeriesSamples, labels_from_dict
from watchkeeper.query import Engine, VectorResult
from watchkeeper.store.embedded import EmbeddedStore
from watchkeeper.store.embedded.block_load import block_numbers, load_block
from watchkeeper.store.retention import RetentionWorker

T0 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000  # a whole hour
STEP = 15_000
HOUR = 3_600_000
NAME = [Matcher("__name__", MatchOp.EQUAL, "requests_total")]


def counter(hours: int, first_hour: int = 0) -> SeriesSamples:
    ts = T0 + first_hour * HOUR + np.arange(hours * HOUR // STEP, dtype=np.int64) * STEP
    return SeriesSamples(
        labels_from_dict({"__name__": "requests_total", "job": "api"}),
        ts,
        ((ts - T0) // STEP * 2).astype(np.float64),  # +2 per scrape: rate 2/15 per second
    )


def written(path: Path, hours: int) -> EmbeddedStore:
    store = EmbeddedStore(path, fsync="never")
    for hour in range(hours):  # one block per hour
        store.append("t", [counter(1, hour)])
        store.flush()
    return store


def test_old_blocks_keep_the_last_sample_of_each_bucket_and_rate_is_unchanged(
    tmp_path: Path,
) -> None:
    store = written(tmp_path / "s", 4)
    try:
        at = T0 + 90 * 60_000  # a window wholly inside the part that gets downsampled
        before = Engine(store).instant_query("t", "rate(requests_total[30m])", at)
        dropped = store.downsample_before(T0 + 2 * HOUR, 300_000)  # first two hours, to 5m
        assert dropped == 2 * (240 - 12)
        (old,) = store.select("t", NAME, T0, T0 + 2 * HOUR - 1)
        assert len(old.timestamps) == 24
        assert np.all(old.timestamps % 300_000 == 300_000 - STEP)  # the last of each bucket
        (recent,) = store.select("t", NAME, T0 + 2 * HOUR, T0 + 4 * HOUR)
        assert len(recent.timestamps) == 2 * 240  # newer blocks untouched
        after = Engine(store).instant_query("t", "rate(requests_total[30m])", at)
        assert isinstance(before, VectorResult) and isinstance(after, VectorResult)
        assert after.samples[0].value == pytest.approx(before.samples[0].value, rel=1e-9)
        assert store.downsample_before(T0 + 2 * HOUR, 300_000) == 0  # already done
    finally:
        store.close()
    reopened = EmbeddedStore(tmp_path / "s", fsync="never")
    try:
        (again,) = reopened.select("t", NAME, T0, T0 + 4 * HOUR)
        assert len(again.timestamps) == 24 + 2 * 240
    finally:
        reopened.close()


@pytest.mark.parametrize("step", ["merged written", "old blocks half removed", "tmp only"])
def test_a_crash_during_the_swap_loses_and_duplicates_nothing(tmp_path: Path, step: str) -> None:
    store = written(tmp_path / "s", 3)
    store.close()
    blocks = tmp_path / "s" / "blocks"
    numbers = block_numbers(blocks)
    assert len(numbers) == 3
    # Replay the swap by hand up to the crash point, from a finished merge elsewhere.
    shutil.copytree(tmp_path / "s", tmp_path / "done")
    done = EmbeddedStore(tmp_path / "done", fsync="never", background_compaction=False)
    done.downsample_before(T0 + 2 * HOUR, 300_000)
    done.close()
    merged_number = numbers[1]
    merged = tmp_path / "done" / "blocks" / f"{merged_number:08d}"
    assert load_block(merged).resolution_ms == 300_000
    if step == "tmp only":
        shutil.copytree(merged, blocks / f"{merged_number:08d}.merge.tmp")
        expected = 3 * 240
    else:
        shutil.copytree(merged, blocks / f"{merged_number:08d}.merge")
        if step == "old blocks half removed":
            shutil.rmtree(blocks / f"{numbers[0]:08d}")
        expected = 24 + 240
    reopened = EmbeddedStore(tmp_path / "s", fsync="never")
    try:
        (series,) = reopened.select("t", NAME, T0, T0 + 3 * HOUR)
        assert len(series.timestamps) == expected
        assert np.all(np.diff(series.timestamps) > 0)  # nothing twice
    finally:
        reopened.close()
    assert not any(p.name.endswith((".merge", ".tmp")) for p in blocks.iterdir())


def test_the_retention_worker_applies_each_tier(tmp_path: Path) -> None:
    store = written(tmp_path / "s", 4)
    try:
        clock = ManualClock(start=(T0 + 4 * HOUR) / 1000)
        worker = RetentionWorker(store, clock, retention_days=365, tiers=[(3 * 3600, 300_000)])
        worker.run_once()
        (series,) = store.select("t", NAME, T0, T0 + 4 * HOUR)
        assert len(series.timestamps) == 12 + 3 * 240  # only the hour older than 3 h thinned
        assert worker.downsampled == 240 - 12
    finally:
        store.close()


def test_tiers_must_get_coarser_with_age() -> None:
    settings = StorageSettings.model_validate(
        {
            "downsampling": [
                {"after_days": 30, "resolution": "1h"},
                {"after_days": 7, "resolution": "5m"},
            ]
        }
    )
    assert [t.resolution_ms for t in settings.downsampling] == [300_000, 3_600_000]
    with pytest.raises(ValidationError, match="coarser"):
        StorageSettings.model_validate(
            {
                "downsampling": [
                    {"after_days": 7, "resolution": "1h"},
                    {"after_days": 30, "resolution": "5m"},
                ]
            }
        )
    with pytest.raises(ValidationError, match="resolution"):
        StorageSettings.model_validate({"downsampling": [{"after_days": 7, "resolution": "soon"}]})
