"""/metrics, custom metrics, health checks, OpenAPI."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Env
from tests.support import ADMIN_PASSWORD


@pytest.mark.workers
def test_metrics_expose_requests_build_and_pool(env: Env) -> None:
    env.client.get("/health/live")
    text = env.client.get("/metrics").text
    assert 'watchkeeper_http_requests_total{method="GET",route="/health/live",status="200"}' in text
    assert "watchkeeper_http_request_duration_seconds_bucket" in text
    assert "watchkeeper_build_info{" in text
    assert 'watchkeeper_db_pool_connections{state="checkedout"}' in text
    assert 'watchkeeper_worker_up{worker="token_cleanup"} 1.0' in text


def test_metrics_collector_usage_from_the_product_brief(env: Env) -> None:
    from watchkeeper import MetricsCollector

    revenue = MetricsCollector("business_metrics").create_gauge(
        "daily_revenue", "Daily revenue", ["region", "product"]
    )
    revenue.labels(region="EU", product="premium").set(150000)
    assert (
        MetricsCollector("business_metrics").create_gauge(
            "daily_revenue", "Daily revenue", ["region", "product"]
        )
        is not None
    )
    text = env.client.get("/metrics").text
    assert 'business_metrics_daily_revenue{product="premium",region="EU"} 150000.0' in text
    assert env.client.get("/admin/metrics/prometheus").status_code == 401
    assert (
        "business_metrics_daily_revenue"
        in env.client.get("/admin/metrics/prometheus", headers=env.login()).text
    )


def test_ready_names_the_failing_dependency(tmp_path: Path, clock: object) -> None:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import apply_patch

    result = initialise(tmp_path / "d", clock=clock, admin_password=ADMIN_PASSWORD)  # type: ignore[arg-type]
    settings = apply_patch(result.settings, {"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(settings, clock=clock)) as client:  # type: ignore[arg-type]
        response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    # The Redis event relay may already have crashed on the same address: named too.
    assert "redis" in body["failed"] and set(body["failed"]) <= {"redis", "worker:event_relay"}
    assert body["checks"]["database"]["status"] == "ok"


def test_ready_checks_a_real_redis_when_configured(tmp_path: Path, clock: object) -> None:
    from tests.support import REDIS_URL, missing, port_open
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import apply_patch

    if not port_open("127.0.0.1", 6379):
        missing("Redis is not reachable at 127.0.0.1:6379")
    result = initialise(tmp_path / "d", clock=clock, admin_password=ADMIN_PASSWORD)  # type: ignore[arg-type]
    settings = apply_patch(result.settings, {"redis_url": REDIS_URL})
    with TestClient(create_app(settings, clock=clock)) as client:  # type: ignore[arg-type]
        response = client.get("/health/ready")
    assert response.status_code == 200 and response.json()["checks"]["redis"]["status"] == "ok"


def test_openapi_documents_every_route_and_bearer_auth(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    for path in (
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/me",
        "/system/status",
        "/admin/config",
        "/health/ready",
        "/api/v1/apikeys",
    ):
        assert path in spec["paths"], path
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert (
        env.client.get("/docs").status_code == 200 and env.client.get("/redoc").status_code == 200
    )


@pytest.mark.workers
def test_status_matches_its_documented_schema(env: Env) -> None:
    from watchkeeper.api.schemas.admin import SystemStatus

    body = env.client.get("/system/status", headers=env.login()).json()
    status = SystemStatus.model_validate(body)
    assert status.tenant == "default" and status.counts["users"] == 1
    assert {c.name for c in status.components} >= {"database", "worker:retention"}
