"""Metric metadata and scrape targets over Prometheus' API: what a scrape's TYPE/HELP lines,
remote_write's metadata requests and the host collector state, the targets' health and last
error, per tenant; build info, exemplars and TSDB status in Prometheus' shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cramjam
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Env, TenantFixture
from tests.ingest.conftest import ExpositionServer
from tests.support import ADMIN_PASSWORD
from watchkeeper.clock import ManualClock
from watchkeeper.domain.protowire import varint
from watchkeeper.ingest.metadata import MetadataRegistry, MetricMetadata
from watchkeeper.ingest.remote_write import _string_field

EXPOSITION = """\
# HELP shop_orders_total Orders placed.
# TYPE shop_orders_total counter
shop_orders_total{shop="a"} 3
# HELP shop_queue_depth Items waiting.
# TYPE shop_queue_depth gauge
shop_queue_depth 7
"""


def _metadata_request(*families: tuple[int, str, str, str]) -> bytes:
    """A WriteRequest with only metadata (field 3), as Prometheus sends it every minute."""
    parts = []
    for kind, name, help_text, unit in families:
        body = b"\x08" + varint(kind) + _string_field(b"\x12", name)
        body += _string_field(b"\x22", help_text) + _string_field(b"\x2a", unit)
        parts.append(b"\x1a" + varint(len(body)) + body)
    return bytes(cramjam.snappy.compress_raw(b"".join(parts)))


def _write(env: Env, headers: dict[str, str], body: bytes) -> int:
    response = env.client.post(
        "/api/v1/write",
        content=body,
        headers={**headers, "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
    )
    return response.status_code


def test_remote_write_metadata_is_served_per_tenant(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    body = _metadata_request(
        (1, "http_requests_total", "Requests served.", ""),
        (2, "room_temperature_celsius", "Temperature.", "celsius"),
    )
    assert _write(env, acme.key, body) == 204
    answer = env.client.get("/api/v1/metadata", headers=acme.viewer).json()
    assert answer == {
        "status": "success",
        "data": {
            "http_requests_total": [{"type": "counter", "help": "Requests served.", "unit": ""}],
            "room_temperature_celsius": [
                {"type": "gauge", "help": "Temperature.", "unit": "celsius"}
            ],
        },
    }
    one = env.client.get(
        "/api/v1/metadata", params={"metric": "http_requests_total"}, headers=acme.viewer
    ).json()["data"]
    assert list(one) == ["http_requests_total"]
    limited = env.client.get("/api/v1/metadata", params={"limit": 1}, headers=acme.viewer)
    assert len(limited.json()["data"]) == 1
    assert env.client.get("/api/v1/metadata", headers=globex.viewer).json()["data"] == {}
    bad = env.client.get("/api/v1/metadata", params={"limit": "x"}, headers=acme.viewer)
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
    broken = bytes(cramjam.snappy.compress_raw(b"\x1a\x05\x08"))
    assert _write(env, acme.key, broken) == 400


def test_registry_is_bounded() -> None:
    registry = MetadataRegistry(max_metrics=3, max_variants=2)
    for index in range(10):
        registry.record("t", f"m{index}", MetricMetadata("gauge", "x" * 5000))
    for help_text in ("a", "b", "c"):
        registry.record("t", "m9", MetricMetadata("counter", help_text))
    answer = registry.query("t")
    assert sorted(answer) == ["m7", "m8", "m9"]
    assert [m["help"] for m in answer["m9"]] == ["b", "c"]
    assert len(answer["m7"][0]["help"]) == 1024


@pytest.fixture
def scraping(tmp_path: Path, exposition_server: ExpositionServer) -> Iterator[tuple[Any, Any, Any]]:
    """An app scraping the test exposition server every second, on a manual clock."""
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import apply_patch

    clock = ManualClock(start=time.time())
    result = initialise(tmp_path / "data", clock=clock, admin_password=ADMIN_PASSWORD)
    settings = apply_patch(
        result.settings,
        {
            "metrics": {
                "host_collector_enabled": False,
                "scrape_configs": [
                    {
                        "job_name": "shop",
                        "targets": [exposition_server.address],
                        "scrape_interval": 1,
                    },
                    {"job_name": "gone", "targets": ["127.0.0.1:9"], "scrape_interval": 1},
                ],
            }
        },
    )
    exposition_server.body = EXPOSITION
    app = create_app(settings, clock=clock, config_file=result.config_file)
    with TestClient(app) as client:
        token = client.post(
            "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}, clock


def _until(clock: ManualClock, probe: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        clock.advance(1)
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_targets_show_health_and_scrapes_state_their_metadata(scraping: Any) -> None:
    client, headers, clock = scraping

    def both_scraped() -> dict[str, Any] | None:
        data = client.get("/api/v1/targets", headers=headers).json()["data"]
        by_pool = {t["scrapePool"]: t for t in data["activeTargets"]}
        return by_pool if all(t["health"] != "unknown" for t in by_pool.values()) else None

    by_pool = _until(clock, both_scraped)
    assert by_pool["shop"]["health"] == "up" and by_pool["shop"]["lastError"] == ""
    assert by_pool["shop"]["labels"]["job"] == "shop"
    assert by_pool["shop"]["scrapeUrl"].endswith("/metrics")
    assert by_pool["gone"]["health"] == "down" and by_pool["gone"]["lastError"]
    only = client.get("/api/v1/targets", params={"scrapePool": "gone"}, headers=headers).json()
    assert [t["scrapePool"] for t in only["data"]["activeTargets"]] == ["gone"]
    dropped = client.get("/api/v1/targets", params={"state": "dropped"}, headers=headers).json()
    assert dropped["data"] == {"droppedTargets": []}

    metadata = client.get("/api/v1/metadata", headers=headers).json()["data"]
    assert metadata["shop_orders_total"] == [
        {"type": "counter", "help": "Orders placed.", "unit": ""}
    ]
    assert metadata["shop_queue_depth"][0]["type"] == "gauge"

    status = client.get("/api/v1/status/tsdb", headers=headers).json()["data"]
    names = {item["name"]: item["value"] for item in status["seriesCountByMetricName"]}
    assert names["shop_orders_total"] == 1 and names["up"] == 2
    assert status["headStats"]["numSeries"] >= 4
    pairs = {item["name"] for item in status["seriesCountByLabelValuePair"]}
    assert "job=shop" in pairs


def test_buildinfo_exemplars_and_tsdb_status_shapes(env: Env, acme: TenantFixture) -> None:
    info = env.client.get("/api/v1/status/buildinfo", headers=acme.viewer).json()
    assert info["status"] == "success" and info["data"]["version"].startswith("2.")
    exemplars = env.client.get(
        "/api/v1/query_exemplars",
        params={"query": "up", "start": "0", "end": "100"},
        headers=acme.viewer,
    ).json()
    assert exemplars == {"status": "success", "data": []}
    bad = env.client.get("/api/v1/query_exemplars", params={"query": "up{"}, headers=acme.viewer)
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
    empty = env.client.get("/api/v1/status/tsdb", headers=acme.viewer).json()["data"]
    assert empty["headStats"]["numSeries"] == 0 and empty["seriesCountByMetricName"] == []
    assert env.client.get("/api/v1/status/buildinfo").status_code == 401
