"""`serve --roles`: an API-only process runs no shared work, a workers-only process answers
only probes, its status and its metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support import ADMIN_PASSWORD
from watchkeeper.clock import ManualClock


def _client(tmp_path: Path, roles: list[str]) -> Iterator[TestClient]:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import load_settings

    result = initialise(tmp_path / "data", clock=ManualClock(), admin_password=ADMIN_PASSWORD)
    settings = load_settings(
        result.config_file,
        overrides={
            "server": {"roles": roles},
            # Never contacted in these tests: nothing is ingested or queried.
            "storage": {"backend": "remote", "remote_url": "http://127.0.0.1:9"},
        },
    )
    with TestClient(create_app(settings, config_file=result.config_file)) as client:
        yield client


def _workers(client: TestClient) -> set[str]:
    return {s.name for s in client.app.state.context.supervisor.states()}  # type: ignore[attr-defined]


@pytest.fixture
def api_only(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, ["api"])


@pytest.fixture
def workers_only(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, ["workers"])


def test_an_api_process_runs_no_shared_work(api_only: TestClient) -> None:
    assert _workers(api_only) <= {"host-collector", "event_relay"}
    assert api_only.get("/api/v1/query", params={"query": "up"}).status_code == 401  # routed


def test_a_workers_process_serves_probes_and_metrics_only(workers_only: TestClient) -> None:
    assert {"rules", "dispatcher", "notify-delivery-0"} <= _workers(workers_only)
    assert workers_only.get("/health/live").status_code == 200
    assert workers_only.get("/metrics").status_code == 200
    assert workers_only.get("/system/status").status_code == 401  # there, behind auth
    assert workers_only.post("/auth/login", json={}).status_code == 404
    assert workers_only.get("/api/v1/query", params={"query": "up"}).status_code == 404
