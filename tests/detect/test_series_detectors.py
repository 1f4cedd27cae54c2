"""Per-series detector instances and the ensemble's agreement bookkeeping."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from tests.detect.conftest import seasonal
from watchkeeper.detect.base import SeriesDetectors
from watchkeeper.detect.ensemble import EnsembleDetector
from watchkeeper.detect.robust_residual import RobustResidualDetector


def test_each_series_learns_on_its_own() -> None:
    t, x = seasonal(2)
    pool = SeriesDetectors(RobustResidualDetector)
    pool.update({"a": (t, x), "b": (t, x * 1000.0)})
    alone = RobustResidualDetector()
    alone.update_many(t, x)
    nxt: dict[Hashable, tuple[np.ndarray, np.ndarray]] = {"a": (t[-1:] + 300.0, x[-1:])}
    assert len(pool) == 2
    np.testing.assert_allclose(pool.update(nxt)["a"], alone.update_many(*nxt["a"]))


def test_ensemble_reports_which_members_agree() -> None:
    t, x = seasonal(3)
    x[-1] += 40.0
    ens = EnsembleDetector([RobustResidualDetector(), RobustResidualDetector()], "vote", 2)
    scores = ens.update_many(t, x)
    assert scores[-1] >= ens.threshold
    assert ens.agreeing() == ["default", "default"]
