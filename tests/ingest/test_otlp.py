"""OTLP metrics in: Prometheus 3's name and label translation, JSON and gzip bodies, what is
refused and reported as partial success, and the real OpenTelemetry SDK exporting gauges,
counters and histograms to a real server that then answers PromQL over them."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import httpx
import httpx2
import pytest

from tests.conftest import Env, TenantFixture
from tests.test_server_process import Server
from watchkeeper.ingest.otlp import label_name, metric_name


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("http.server.duration", "ms", "histogram", "http_server_duration_milliseconds"),
        ("system.memory.usage", "By", "gauge", "system_memory_usage_bytes"),
        ("http.requests", "1", "counter", "http_requests_total"),
        ("cpu.utilization", "1", "gauge", "cpu_utilization_ratio"),
        ("network.io", "By/s", "gauge", "network_io_bytes_per_second"),
        ("queue.size", "{items}", "gauge", "queue_size"),
        ("requests_total", "", "counter", "requests_total"),
        ("latency_seconds", "s", "histogram", "latency_seconds"),
        ("2xx.responses", "", "counter", "_2xx_responses_total"),
        ("temperature", "Cel", "gauge", "temperature_celsius"),
    ],
)
def test_names_follow_prometheus_otlp_translation(
    name: str, unit: str, kind: str, expected: str
) -> None:
    counter = kind == "counter"
    assert metric_name(name, unit, counter=counter, gauge=kind == "gauge") == expected


def test_label_names_are_escaped() -> None:
    assert label_name("http.method") == "http_method"
    assert label_name("2fa.enabled") == "key_2fa_enabled"
    assert label_name("a..b") == "a_b"


def _point(now: float, value: float, **attributes: str) -> dict[str, Any]:
    return {
        "timeUnixNano": str(int(now * 1e9)),
        "asDouble": value,
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }


def _request(now: float) -> dict[str, Any]:
    resource = {
        "attributes": [
            {"key": "service.name", "value": {"stringValue": "checkout"}},
            {"key": "service.namespace", "value": {"stringValue": "shop"}},
            {"key": "service.instance.id", "value": {"stringValue": "i-1"}},
            {"key": "deployment.environment", "value": {"stringValue": "test"}},
        ]
    }
    metrics = [
        {
            "name": "queue.depth",
            "unit": "{items}",
            "gauge": {"dataPoints": [_point(now, 7, **{"queue.name": "orders"})]},
        },
        {
            "name": "orders",
            "unit": "1",
            "sum": {
                "aggregationTemporality": 2,
                "isMonotonic": True,
                "dataPoints": [_point(now, 42)],
            },
        },
        {
            "name": "refunds",
            "sum": {
                "aggregationTemporality": 1,
                "isMonotonic": True,
                "dataPoints": [_point(now, 1)],
            },
        },
        {
            "name": "latency",
            "unit": "s",
            "histogram": {
                "aggregationTemporality": 2,
                "dataPoints": [
                    {
                        "timeUnixNano": str(int(now * 1e9)),
                        "count": "6",
                        "sum": 2.5,
                        "bucketCounts": ["1", "2", "3"],
                        "explicitBounds": [0.1, 1],
                    }
                ],
            },
        },
    ]
    return {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": metrics}]}]}


def _instant(env: Env, headers: dict[str, str], query: str) -> list[dict[str, Any]]:
    answer = env.client.get("/api/v1/query", params={"query": query}, headers=headers).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_json_and_gzip_bodies_become_series_and_refusals_are_reported(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    now = env.clock.time()
    body = gzip.compress(json.dumps(_request(now)).encode())
    response = env.client.post(
        "/v1/metrics",
        content=body,
        headers={**acme.key, "content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "1" and "delta" in partial["errorMessage"]

    (depth,) = _instant(env, acme.viewer, "queue_depth")
    assert depth["metric"] == {
        "__name__": "queue_depth",
        "job": "shop/checkout",
        "instance": "i-1",
        "queue_name": "orders",
    }
    assert depth["value"][1] == "7"
    assert _instant(env, acme.viewer, "orders_total")[0]["value"][1] == "42"
    buckets = {
        r["metric"]["le"]: r["value"][1]
        for r in _instant(env, acme.viewer, "latency_seconds_bucket")
    }
    assert buckets == {"0.1": "1", "1": "3", "+Inf": "6"}
    assert _instant(env, acme.viewer, "latency_seconds_sum")[0]["value"][1] == "2.5"
    (info,) = _instant(env, acme.viewer, "target_info")
    assert info["metric"]["deployment_environment"] == "test" and info["value"][1] == "1"
    assert _instant(env, acme.viewer, "refunds_total") == []
    assert _instant(env, globex.viewer, "queue_depth") == []


def test_bad_otlp_bodies_are_refused(env: Env, acme: TenantFixture) -> None:
    def post(body: bytes, **headers: str) -> httpx2.Response:
        return env.client.post("/v1/metrics", content=body, headers={**acme.key, **headers})

    assert post(b"\xff\x00garbage", **{"content-type": "application/x-protobuf"}).status_code == 400
    assert post(b"{", **{"content-type": "application/json"}).status_code == 400
    bomb = gzip.compress(b" " * (40 * 2**20))
    refused = post(bomb, **{"content-type": "application/json", "content-encoding": "gzip"})
    assert refused.status_code == 400 and "exceeds" in refused.json()["error"]["message"]
    assert post(b"{}", **{"content-type": "text/plain"}).status_code == 415
    assert env.client.post("/v1/metrics", content=b"{}").status_code == 401
    # Prometheus 3's path for the same receiver.
    same = env.client.post(
        "/api/v1/otlp/v1/metrics",
        content=b"{}",
        headers={**acme.key, "content-type": "application/json"},
    )
    assert same.status_code == 200 and same.json() == {}


@pytest.mark.services
def test_the_opentelemetry_sdk_exports_to_a_real_server(
    stack_server: Server, stack_key: str
) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    auth = {"Authorization": f"Bearer {stack_key}"}
    exporter = OTLPMetricExporter(endpoint=f"{stack_server.url}/v1/metrics", headers=auth)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        resource=Resource.create({"service.name": "otel-sdk-test", "service.instance.id": "p1"}),
        metric_readers=[reader],
    )
    meter = provider.get_meter("watchkeeper-test")
    requests = meter.create_counter("sdk.requests", unit="1")
    inflight = meter.create_up_down_counter("sdk.inflight")
    latency = meter.create_histogram("sdk.latency", unit="ms")

    def temperature(_: CallbackOptions) -> list[Observation]:
        return [Observation(21.5, {"room": "lab"})]

    meter.create_observable_gauge("sdk.temperature", callbacks=[temperature], unit="Cel")
    for code in ("200", "200", "500"):
        requests.add(1, {"code": code})
    inflight.add(3)
    inflight.add(-1)
    for value in (3, 40, 700):
        latency.record(value)
    assert provider.force_flush(30_000)
    provider.shutdown()

    def query(promql: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 10
        while True:
            answer = httpx.get(
                f"{stack_server.url}/api/v1/query",
                params={"query": promql},
                headers=auth,
                timeout=10,
            ).json()
            result: list[dict[str, Any]] = answer["data"]["result"]
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.2)

    by_code = {
        r["metric"]["code"]: r["value"][1] for r in query('sdk_requests_total{job="otel-sdk-test"}')
    }
    assert by_code == {"200": "2", "500": "1"}
    assert query("sdk_inflight")[0]["value"][1] == "2"
    assert query("sdk_latency_milliseconds_count")[0]["value"][1] == "3"
    assert query("sdk_latency_milliseconds_sum")[0]["value"][1] == "743"
    (p50,) = query("histogram_quantile(0.5, sdk_latency_milliseconds_bucket)")
    assert 5 < float(p50["value"][1]) <= 50
    (temp,) = query("sdk_temperature_celsius")
    assert temp["metric"]["room"] == "lab" and temp["metric"]["instance"] == "p1"
