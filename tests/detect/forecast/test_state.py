"""Forecaster state files: versioned, so a changed model is refitted rather than misread."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tests.detect.forecast.conftest import seasonal_history
from watchkeeper.clock import ManualClock
from watchkeeper.detect.forecast import SeasonalNaiveForecaster
from watchkeeper.detect.forecast.state import (
    StaleStateError,
    dump_forecaster,
    load_forecaster,
    restore_forecaster,
    save_forecaster,
)


def test_a_changed_state_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    forecaster = SeasonalNaiveForecaster(season_lengths=(12,)).fit(seasonal_history())
    data = dump_forecaster(forecaster, ManualClock())
    monkeypatch.setattr(SeasonalNaiveForecaster, "state_version", 2)
    with pytest.raises(StaleStateError):
        restore_forecaster(data)


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(StaleStateError):
        restore_forecaster(pickle.dumps({"format": 99}))


def test_saving_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "models" / "cpu.state"
    forecaster = SeasonalNaiveForecaster(season_lengths=(12,)).fit(seasonal_history())
    save_forecaster(forecaster, path, ManualClock(start=1.0))
    save_forecaster(forecaster, path, ManualClock(start=2.0))
    assert load_forecaster(path).saved_at == 2.0
    assert [p.name for p in path.parent.iterdir()] == ["cpu.state"]
