"""`bench m4` on a generated folder of the M4 layout (never the shared data set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from watchkeeper.cli.bench_m4 import m4, run_m4
from watchkeeper.detect.forecast import FORECASTERS, SeriesHistory
from watchkeeper.detect.forecast import m4 as scoring
from watchkeeper.detect.forecast.batch import forecast_many

HORIZON = 8


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Three seasonal series (period 4), split into train.csv and test.csv."""
    rng = np.random.default_rng(0)
    train, test = [], []
    for i in range(3):
        values = 20 + 5 * i + np.tile([1.0, 3.0, 5.0, 3.0], 12) + rng.normal(0, 0.3, 48)
        train.append((f"S{i}", values[:-HORIZON]))
        test.append((f"S{i}", values[-HORIZON:]))
    scoring.write_series(tmp_path / "train.csv", train)
    scoring.write_series(tmp_path / "test.csv", test)
    return tmp_path


def test_report_scores_each_model_against_naive2(corpus: Path) -> None:
    report = run_m4(
        corpus, ["naive2", "seasonal_naive"], out=None, season_lengths=(4,), period=4, workers=1
    )
    assert report["horizon"] == HORIZON and report["series"] == 3
    assert report["models"]["naive2"]["owa"] == pytest.approx(1.0)
    assert report["models"]["seasonal_naive"]["owa"] < 1.0
    for result in report["models"].values():  # interval scores beside the point scores
        assert 0.0 <= result["coverage80"] <= result["coverage95"] <= 1.0
        assert result["msis95"] > 0.0


def test_command_writes_forecasts_and_json(corpus: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(m4)
    out, report = tmp_path / "out", tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        [
            "--data",
            str(corpus),
            "--out",
            str(out),
            "--model",
            "seasonal_naive",
            "--json",
            str(report),
            "--seasons",
            "4",
            "--period",
            "4",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "seasonal_naive" in result.output
    forecasts = scoring.read_series(out / "forecasts.csv")
    assert sorted(forecasts) == ["S0", "S1", "S2"]
    assert all(len(v) == HORIZON for v in forecasts.values())
    assert json.loads(report.read_text())["models"]["seasonal_naive"]["mase"] > 0


def test_unknown_model_is_refused(corpus: Path) -> None:
    app = typer.Typer()
    app.command()(m4)
    result = CliRunner().invoke(app, ["--data", str(corpus), "--model", "nope"])
    assert result.exit_code != 0


def test_batch_path_in_processes_matches_the_serial_one() -> None:
    histories = [
        SeriesHistory.from_values(np.tile([1.0, 2.0, 3.0], 5) + i, step=60.0) for i in range(4)
    ]
    serial = forecast_many(FORECASTERS["seasonal_naive"], histories, 3, workers=1)
    parallel = forecast_many(FORECASTERS["seasonal_naive"], histories, 3, workers=2)
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a.mean, b.mean)
        np.testing.assert_array_equal(a.timestamps, b.timestamps)
