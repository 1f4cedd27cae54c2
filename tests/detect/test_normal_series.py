"""The default detector stays silent on healthy series, warm-up included, and still pages on
a clear spike (issue 14: false events on normal series)."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.detect import DETECTORS
from watchkeeper.detect.normal_suite import event_starts, generate, score_series

STEP = 60.0
START = 1_767_225_600.0
POINTS = 4320  # three days of one-minute points, from the detector's first point


def _series(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = START + np.arange(POINTS) * STEP
    noise = rng.normal(0.0, 1.0, POINTS)
    if kind == "seasonal":
        x = 50.0 + 20.0 * np.sin(2 * np.pi * (t % 86400) / 86400) + noise
    elif kind == "flat":
        x = 100.0 + 2.0 * noise
    else:  # trending: +3 a day
        x = 20.0 + 3.0 * (t - START) / 86400 + 0.5 * noise
    return t, x


def _events(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    detector = DETECTORS["default"]()
    return event_starts(detector.update_many(t, x), detector.threshold).astype(np.int64)


@pytest.mark.parametrize("kind", ["seasonal", "flat", "trending"])
@pytest.mark.parametrize("seed", [0, 1])
def test_no_events_on_a_clean_series(kind: str, seed: int) -> None:
    t, x = _series(kind, seed)
    assert list(_events(t, x)) == []


@pytest.mark.parametrize("kind", ["seasonal", "flat", "trending"])
def test_a_clear_spike_is_still_caught(kind: str) -> None:
    """About 15 noise sd, inside the seasonal series' daily range (caught as a jump, not as a
    range break) and before the daily profile has the 4 days it needs to judge."""
    size = {"seasonal": 15.0, "flat": 30.0, "trending": 7.5}[kind]
    t, x = _series(kind, 2)
    at = 3500
    x[at] += size
    events = _events(t, x)
    assert any(at <= i <= at + 2 for i in events), events


def test_a_level_change_pages_once_then_stays_silent() -> None:
    t, x = _series("flat", 3)
    at = 2500
    x[at:] += 20.0  # a deploy moves the level for good
    events = _events(t, x)
    assert len(events) == 1 and at <= events[0] <= at + 30, events


def test_suite_counts_events_not_points() -> None:
    """An event is a run of consecutive points at or above the threshold."""
    scores = np.array([0.0, 0.6, 0.7, 0.1, 0.5, 0.2, 0.9])
    assert list(event_starts(scores, 0.5)) == [1, 4, 6]


def test_suite_is_seeded_and_classifies_the_allowed_alert() -> None:
    first = next(s for s in generate(seed=5, per_kind=1, days=4.0) if s.kind == "level_change")
    again = next(s for s in generate(seed=5, per_kind=1, days=4.0) if s.kind == "level_change")
    np.testing.assert_array_equal(first.x, again.x)
    assert first.change_at is not None
    result = score_series(first, DETECTORS["default"]())
    assert result.change_events == 1  # the change itself pages once, within the grace hour
    assert all(not (first.change_at <= v < first.change_at + 3600) for v in result.false_times)


def test_bench_normal_prints_the_table_and_bounds_its_input() -> None:
    from typer.testing import CliRunner

    from watchkeeper.cli.bench import bench_app

    runner = CliRunner()
    ok = runner.invoke(bench_app, ["normal", "--per-kind", "1", "--days", "1"])
    assert ok.exit_code == 0, ok.output
    assert "latency" in ok.output and ok.output.strip().splitlines()[-1].startswith("total")
    for bad in (["--detector", "nope"], ["--per-kind", "0"], ["--days", "1000"]):
        result = runner.invoke(bench_app, ["normal", *bad])
        assert result.exit_code == 2, (bad, result.output)
