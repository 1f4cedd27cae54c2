"""Property-based fuzzing of every documented operation with schemathesis: whatever the
input, the API answers with a documented 4xx, never a 500."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

from tests.support import ADMIN_PASSWORD

# CI keeps it short; WATCHKEEPER_FUZZ_EXAMPLES=200 digs deeper before a release.
EXAMPLES = int(os.environ.get("WATCHKEEPER_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def fuzz_target(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[schemathesis.BaseSchema, dict[str, str]]]:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.clock import SystemClock
    from watchkeeper.config import apply_patch

    root: Path = tmp_path_factory.mktemp("fuzz")
    result = initialise(root / "data", clock=SystemClock(), admin_password=ADMIN_PASSWORD)
    # Keep the fuzzer's random config changes from turning off what it needs to keep going.
    quiet = apply_patch(
        result.settings,
        {"observability": {"access_log": False}, "metrics": {"host_collector_enabled": False}},
    )
    app = create_app(quiet, config_file=result.config_file)
    with TestClient(app) as client:
        token = client.post(
            "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()
        yield (
            schemathesis.openapi.from_asgi("/openapi.json", app),
            {"Authorization": f"Bearer {token['access_token']}"},
        )


@pytest.mark.slow
def test_no_input_gives_a_server_error(
    fuzz_target: tuple[schemathesis.BaseSchema, dict[str, str]],
) -> None:
    schema, headers = fuzz_target
    tried = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        if operation.path in ("/auth/logout", "/auth/logout-all"):
            continue  # would end the fuzzer's own session

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        check()
        tried += 1
    assert tried >= 20
