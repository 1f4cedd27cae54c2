"""The incidents API: the lifecycle over HTTP, MTTA/MTTR on /metrics, tenant isolation, RBAC
and bad input answered with 4xx."""

from __future__ import annotations

from tests.conftest import Env, TenantFixture


def test_lifecycle_timeline_and_metrics_over_http(env: Env, acme: TenantFixture) -> None:
    client, headers = env.client, acme.admin
    created = client.post(
        "/incidents",
        headers=headers,
        json={"title": "Checkout returns HTTP 500 errors", "severity": "critical"},
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["status"] == "triggered" and incident["number"] == 1
    assert incident["category"] == "errors" and incident["category_confidence"] > 0
    env.clock.advance(45)
    acked = client.patch(
        f"/incidents/{incident['id']}",
        headers=headers,
        json={"status": "acknowledged", "assignee": acme.viewer_id},
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["time_to_acknowledge_seconds"] == 45
    assert acked.json()["assignee"] == acme.viewer_id
    comment = client.post(
        "/incidents/1/comments", headers=headers, json={"text": "rolling back release 42"}
    )
    assert comment.status_code == 201
    env.clock.advance(255)
    resolved = client.patch("/incidents/1", headers=headers, json={"status": "resolved"})
    body = resolved.json()
    assert body["time_to_resolve_seconds"] == 300
    kinds = [e["kind"] for e in body["timeline"]]
    assert kinds[0] == "opened" and "comment" in kinds and "assignee_changed" in kinds
    assert kinds.count("notification_queued") == 3

    listed = client.get(
        "/incidents", headers=headers, params={"status": "resolved", "severity": "critical"}
    ).json()
    assert listed["total"] == 1 and listed["incidents"][0]["id"] == incident["id"]
    assert (
        client.get("/incidents", headers=headers, params={"status": "triggered"}).json()["total"]
        == 0
    )
    metrics = client.get("/metrics", headers=headers).text
    assert 'watchkeeper_incident_time_to_acknowledge_seconds_count{severity="critical"}' in metrics
    assert "watchkeeper_incident_time_to_resolve_seconds_sum" in metrics


def test_merge_and_split_over_http(env: Env, acme: TenantFixture) -> None:
    client, headers = env.client, acme.admin
    for title in ("API latency high", "Database slow"):
        assert client.post("/incidents", headers=headers, json={"title": title}).status_code == 201
    merged = client.post("/incidents/1/merge", headers=headers, json={"incidents": ["2"]})
    assert merged.status_code == 200, merged.text
    assert client.get("/incidents/2", headers=headers).json()["merged_into"] == merged.json()["id"]
    again = client.post("/incidents/1/merge", headers=headers, json={"incidents": ["2"]})
    assert again.status_code == 409 and "already merged" in again.json()["error"]["message"]
    split = client.post("/incidents/1/split", headers=headers, json={"fingerprints": ["ab12"]})
    assert split.status_code == 422 and "not in incident #1" in split.json()["error"]["message"]


def test_tenants_are_isolated_and_viewers_only_read(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    client = env.client
    created = client.post("/incidents", headers=acme.admin, json={"title": "acme only"}).json()
    assert client.get(f"/incidents/{created['id']}", headers=globex.admin).status_code == 404
    assert client.get("/incidents/1", headers=globex.admin).status_code == 404
    assert client.get("/incidents", headers=globex.admin).json()["total"] == 0
    assert (
        client.patch(
            f"/incidents/{created['id']}", headers=globex.admin, json={"status": "resolved"}
        ).status_code
        == 404
    )
    assert client.get("/incidents/1", headers=acme.viewer).status_code == 200
    denied = client.patch("/incidents/1", headers=acme.viewer, json={"status": "acknowledged"})
    assert denied.status_code == 403 and "incidents:write" in denied.json()["error"]["message"]
    assert client.post("/incidents", headers=acme.viewer, json={"title": "x"}).status_code == 403
    assert client.get("/incidents").status_code == 401


def test_bad_input_is_a_4xx_that_says_what_is_wrong(env: Env, acme: TenantFixture) -> None:
    client, headers = env.client, acme.admin
    client.post("/incidents", headers=headers, json={"title": "x"})
    cases = [
        (client.post("/incidents", headers=headers, json={}), 422, "title"),
        (
            client.post("/incidents", headers=headers, json={"title": "x", "severity": "huge"}),
            422,
            "severity",
        ),
        (client.patch("/incidents/1", headers=headers, json={"status": "done"}), 422, "status"),
        (
            client.patch("/incidents/1", headers=headers, json={"assignee": "nobody"}),
            422,
            "not a user of this tenant",
        ),
        (client.patch("/incidents/1", headers=headers, json={"colour": "red"}), 422, "colour"),
        (
            client.post("/incidents/1/merge", headers=headers, json={"incidents": ["1"]}),
            422,
            "into itself",
        ),
        (
            client.post("/incidents/1/merge", headers=headers, json={"incidents": ["99"]}),
            404,
            "'99' not found",
        ),
        (
            client.post("/incidents", headers=headers, json={"title": "y", "fingerprints": ["ab"]}),
            422,
            "no alert with fingerprint",
        ),
        (client.get("/incidents/nope", headers=headers), 404, "not found"),
        (client.get("/incidents", headers=headers, params={"limit": 0}), 422, "limit"),
        (client.get("/incidents", headers=headers, params={"since": "yesterday"}), 422, "since"),
    ]
    for response, status, text in cases:
        assert response.status_code == status, response.text
        assert text in response.json()["error"]["message"], response.text
    client.patch("/incidents/1", headers=headers, json={"status": "resolved"})
    conflict = client.patch("/incidents/1", headers=headers, json={"status": "acknowledged"})
    assert conflict.status_code == 409 and "reopen" in conflict.json()["error"]["message"]
