"""Issue 11, "Upgrade without a gap": two real replicas on PostgreSQL and VictoriaMetrics are
restarted in turn (SIGTERM, exit, start, ready) under continuous ingest while an alert fires
and resolves. No acknowledged sample lost, each notification delivered once, no error the
client did not retry successfully. The harness is tests/rolling.py (bench/rolling.py too)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rolling import make_replicas, roll, stop_all
from tests.support import missing
from watchkeeper.store.remote.victoria import DEFAULT_BINARY, LocalVictoriaMetrics

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture(scope="module")
def victoria() -> Iterator[LocalVictoriaMetrics]:
    if not os.path.exists(DEFAULT_BINARY):
        missing(f"{DEFAULT_BINARY} is not installed")
    with LocalVictoriaMetrics() as vm:
        yield vm


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_rolling_restart_loses_nothing_and_notifies_once(
    tmp_path: Path, database_url: str, victoria: LocalVictoriaMetrics
) -> None:
    servers = make_replicas(tmp_path, database_url, victoria.url)
    try:
        result = roll(servers, victoria.flush)
    finally:
        stop_all(servers)
    print(result)
    assert result.acknowledged >= 20 * 50, result  # the writer ran through the roll
    assert result.lost == 0, result
    assert result.firing_deliveries == 1, result
    assert result.resolved_deliveries == 1, result
    assert result.given_up == [], result  # every error was retried until acknowledged
    for name in ("a", "b"):  # drained for server.drain_seconds, then exited well in bound
        assert 1.0 <= result.drain_seconds[name] < 20, result
