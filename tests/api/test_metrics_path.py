"""Ingest over HTTP (JSON push and remote_write), then read back with PromQL, per tenant."""

from __future__ import annotations

import cramjam
import numpy as np

from tests.conftest import Env, TenantFixture
from watchkeeper.domain.series import SeriesSamples, labels_from_dict
from watchkeeper.ingest import remote_write


def _push(env: Env, headers: dict[str, str], value: float, metric: str = "cpu_usage") -> None:
    now = env.clock.time()
    body = [
        {
            "metric": metric,
            "labels": {"host": "db-1"},
            "samples": [[now - 60, value / 2], [now, value]],
        }
    ]
    response = env.client.post("/api/v1/ingest", headers=headers, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["samples"] == 2


def test_json_push_then_promql(env: Env, acme: TenantFixture) -> None:
    _push(env, acme.key, 93.0)
    result = env.client.get(
        "/api/v1/query", headers=acme.key, params={"query": 'cpu_usage{host="db-1"}'}
    ).json()
    assert result["status"] == "success"
    [sample] = result["data"]["result"]
    assert (
        sample["metric"] == {"__name__": "cpu_usage", "host": "db-1"} and sample["value"][1] == "93"
    )
    friendly = env.client.get(
        "/metrics/query", headers=acme.key, params={"query": "cpu_usage * 2"}
    ).json()
    assert friendly["type"] == "vector" and friendly["series"][0]["points"][0]["v"] == 186.0


def test_series_are_invisible_to_other_tenants(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    _push(env, acme.key, 50.0)
    for path, params in (
        ("/api/v1/query", {"query": "cpu_usage"}),
        ("/api/v1/series", {"match[]": "cpu_usage"}),
        ("/api/v1/label/host/values", {}),
    ):
        data = env.client.get(path, headers=globex.key, params=params).json()["data"]
        assert data == [] or data == {"resultType": "vector", "result": []}, (path, data)
    assert env.client.get("/api/v1/labels", headers=acme.key).json()["data"] == ["__name__", "host"]


def test_remote_write_roundtrip(env: Env, acme: TenantFixture) -> None:
    now_ms = int(env.clock.time() * 1000)
    series = [
        SeriesSamples(
            labels_from_dict({"__name__": "node_load1", "instance": f"h{i}"}),
            np.array([now_ms - 15_000, now_ms], dtype=np.int64),
            np.array([1.0 + i, 2.0 + i]),
        )
        for i in range(3)
    ]
    response = env.client.post(
        "/api/v1/write",
        headers={
            **acme.key,
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
        },
        content=remote_write.encode(series),
    )
    assert response.status_code == 204, response.text
    result = env.client.get(
        "/api/v1/query", headers=acme.key, params={"query": "sum(node_load1)"}
    ).json()
    assert result["data"]["result"][0]["value"][1] == "9"


def test_bad_payloads_are_400_and_write_nothing(env: Env, acme: TenantFixture) -> None:
    garbage = env.client.post("/api/v1/write", headers=acme.key, content=b"not snappy at all")
    assert garbage.status_code == 400 and "remote_write" in garbage.json()["error"]["message"]
    bad_proto = env.client.post(
        "/api/v1/write",
        headers=acme.key,
        content=bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")),
    )
    assert bad_proto.status_code == 400
    now = env.clock.time()
    mixed = [
        {"metric": "ok_metric", "labels": {}, "samples": [[now, 1]]},
        {"metric": "bad metric", "labels": {}, "samples": [[now, "x"]]},
    ]
    response = env.client.post("/api/v1/ingest", headers=acme.key, json=mixed)
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert details["rejected_samples"] >= 1 and details["rejections"]
    assert (
        env.client.get("/api/v1/query", headers=acme.key, params={"query": "ok_metric"}).json()[
            "data"
        ]["result"]
        == []
    )


def test_nan_and_inf_are_stored(env: Env, acme: TenantFixture) -> None:
    now = env.clock.time()
    body = [
        {"metric": "odd", "labels": {"k": "nan"}, "samples": [[now, "NaN"]]},
        {"metric": "odd", "labels": {"k": "inf"}, "samples": [[now, "+Inf"]]},
    ]
    assert env.client.post("/api/v1/ingest", headers=acme.key, json=body).status_code == 200
    values = {
        r["metric"]["k"]: r["value"][1]
        for r in env.client.get("/api/v1/query", headers=acme.key, params={"query": "odd"}).json()[
            "data"
        ]["result"]
    }
    assert values == {"nan": "NaN", "inf": "+Inf"}


def test_promql_errors_have_prometheus_shape(env: Env, acme: TenantFixture) -> None:
    syntax = env.client.get("/api/v1/query", headers=acme.key, params={"query": "sum(("})
    assert syntax.status_code == 400 and syntax.json()["errorType"] == "bad_data"
    unsupported = env.client.get(
        "/api/v1/query", headers=acme.key, params={"query": "histogram_count(x)"}
    )
    assert unsupported.status_code == 422 and "histogram_count" in unsupported.json()["error"]
    missing = env.client.get("/api/v1/query_range", headers=acme.key, params={"query": "up"})
    assert missing.status_code == 400 and "start" in missing.json()["error"]


def test_viewer_cannot_ingest_and_ingest_key_cannot_query(env: Env, acme: TenantFixture) -> None:
    assert env.client.post("/api/v1/ingest", headers=acme.viewer, json=[]).status_code == 403
    key = env.client.post(
        "/api/v1/apikeys", headers=acme.admin, json={"name": "w", "scopes": ["ingest"]}
    ).json()["key"]
    assert (
        env.client.get(
            "/api/v1/query", headers={"X-API-Key": key}, params={"query": "up"}
        ).status_code
        == 403
    )


def test_out_of_order_against_stored_data_is_reported_not_silent(
    env: Env, acme: TenantFixture
) -> None:
    now = env.clock.time()
    first = [{"metric": "ooo", "labels": {}, "samples": [[now, 1.0]]}]
    assert env.client.post("/api/v1/ingest", headers=acme.key, json=first).status_code == 200
    late = [{"metric": "ooo", "labels": {}, "samples": [[now - 30, 2.0], [now + 1, 3.0]]}]
    response = env.client.post("/api/v1/ingest", headers=acme.key, json=late)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "samples_refused_by_store" and error["details"]["written"] == 1
    assert len(error["details"]["refused"]) == 1


def test_remote_write_invalid_labels_are_refused_whole(env: Env, acme: TenantFixture) -> None:
    now_ms = int(env.clock.time() * 1000)
    series = [
        SeriesSamples(
            labels_from_dict({"__name__": "good_metric"}), np.array([now_ms]), np.array([1.0])
        ),
        SeriesSamples(
            labels_from_dict({"__name__": "bad-metric"}), np.array([now_ms]), np.array([1.0])
        ),
    ]
    response = env.client.post(
        "/api/v1/write", headers=acme.key, content=remote_write.encode(series)
    )
    assert (
        response.status_code == 400 and response.json()["error"]["details"]["rejected_samples"] == 1
    )
    assert (
        env.client.get("/api/v1/query", headers=acme.key, params={"query": "good_metric"}).json()[
            "data"
        ]["result"]
        == []
    )
