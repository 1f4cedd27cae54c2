"""Structured logs carry the request id and trace id; traces reach a real OTLP receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.receivers import HttpReceiver, Reply
from tests.support import ADMIN_PASSWORD
from watchkeeper.clock import ManualClock


@pytest.fixture
def otlp_receiver() -> Iterator[HttpReceiver]:
    """An OTLP/HTTP collector: accepts every export."""
    accepted = Reply(200, b"", headers={"content-type": "application/x-protobuf"})
    with HttpReceiver(default=accepted) as running:
        yield running


def test_requests_and_db_calls_are_traced_to_otlp(
    tmp_path: Path,
    clock: ManualClock,
    otlp_receiver: HttpReceiver,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import apply_patch
    from watchkeeper.observability.logging import configure_logging

    result = initialise(tmp_path / "d", clock=clock, admin_password=ADMIN_PASSWORD)
    settings = apply_patch(
        result.settings,
        {
            "observability": {
                "tracing_exporter": "otlp",
                "otlp_endpoint": otlp_receiver.url("/v1/traces"),
            },
            "metrics": {"host_collector_enabled": False},
        },
    )
    configure_logging("info", "json")
    with TestClient(create_app(settings, clock=clock)) as client:
        response = client.post(
            "/auth/login",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            headers={"X-Request-ID": "trace-me-1"},
        )
        assert response.status_code == 200
    # The app's shutdown flushed the batch exporter to the receiver.
    assert otlp_receiver.requests, "no spans reached the OTLP receiver"
    path, body = otlp_receiver.requests[0].path, otlp_receiver.requests[0].body
    assert path == "/v1/traces"
    assert b"/auth/login" in body and b"watchkeeper" in body
    assert b"SELECT" in body or b"INSERT" in body  # database spans
    lines = [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]
    request_lines = [
        line
        for line in lines
        if line.get("event") == "request" and line.get("request_id") == "trace-me-1"
    ]
    assert request_lines and len(request_lines[0].get("trace_id", "")) == 32


def test_reconfiguring_the_level_reaches_loggers_already_used(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import structlog

    from watchkeeper.observability.logging import configure_logging

    logger = structlog.get_logger("reconfigure-test")
    configure_logging("warning", "json")
    logger.warning("first")  # the logger is cached now
    logger.info("dropped at warning")
    configure_logging("info", "json")
    logger.info("kept at info")
    err = capfd.readouterr().err
    assert "kept at info" in err and "dropped at warning" not in err
    configure_logging("info", "json")
