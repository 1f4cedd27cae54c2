"""The start-up warm-up compiles the read-path kernels without touching real data."""

from __future__ import annotations

import structlog

from watchkeeper.query.warmup import warm_up
from watchkeeper.query.windows import _merge_bounds
from watchkeeper.store.embedded.window import _block_bounds, _group_by_series


def test_warm_up_compiles_the_kernels_and_logs_no_failure() -> None:
    with structlog.testing.capture_logs() as logs:
        warm_up()
    assert not [entry for entry in logs if entry["event"] == "kernel_warm_up_failed"]
    for kernel in (_merge_bounds, _block_bounds, _group_by_series):
        assert kernel.signatures, f"{kernel.py_func.__name__} was not compiled"
