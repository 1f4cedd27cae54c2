"""/api/v1/schedules and /api/v1/escalation-policies: viewers read, editors write, bad
documents are 422 naming the field, and another tenant's ids are 404."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env, TenantFixture

SCHEDULE: dict[str, Any] = {
    "name": "primary",
    "timezone": "Europe/Berlin",
    "rotations": [{"users": ["ana", "bo"], "length_hours": 168, "start": "2026-11-02T09:00:00"}],
}
POLICY: dict[str, Any] = {
    "name": "critical",
    "levels": [{"targets": [{"type": "schedule", "id": "primary"}], "wait_minutes": 10}],
    "severities": ["critical"],
    "matchers": ['service="checkout"'],
}


def _fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {d["field"] for d in response.json()["error"]["details"]}


def test_viewers_read_and_only_editors_write(env: Env, acme: TenantFixture) -> None:
    client = env.client
    schedule = client.post("/api/v1/schedules", headers=acme.admin, json=SCHEDULE)
    policy = client.post("/api/v1/escalation-policies", headers=acme.admin, json=POLICY)
    assert schedule.status_code == 201 and policy.status_code == 201, policy.text
    for path in ("/api/v1/schedules", "/api/v1/escalation-policies"):
        listed = client.get(path, headers=acme.viewer)
        assert listed.status_code == 200 and len(listed.json()) == 1
    oncall = client.get(
        f"/api/v1/schedules/{schedule.json()['id']}/oncall",
        headers=acme.viewer,
        params={"at": "2026-11-03T12:00:00Z"},
    )
    assert oncall.json()["users"] == ["ana"]

    denied = [
        client.post("/api/v1/schedules", headers=acme.viewer, json={**SCHEDULE, "name": "x"}),
        client.put(
            f"/api/v1/schedules/{schedule.json()['id']}", headers=acme.viewer, json=SCHEDULE
        ),
        client.delete(f"/api/v1/schedules/{schedule.json()['id']}", headers=acme.viewer),
        client.post("/api/v1/escalation-policies", headers=acme.viewer, json=POLICY),
        client.delete(f"/api/v1/escalation-policies/{policy.json()['id']}", headers=acme.viewer),
    ]
    assert [r.status_code for r in denied] == [403] * 5
    assert all("oncall:write" in r.json()["error"]["message"] for r in denied)
    assert client.get("/api/v1/schedules").status_code == 401


def test_invalid_documents_are_422_naming_the_field(env: Env, acme: TenantFixture) -> None:
    client, headers = env.client, acme.admin

    def post_schedule(body: dict[str, Any]) -> Any:
        return client.post("/api/v1/schedules", headers=headers, json=body)

    def post_policy(body: dict[str, Any]) -> Any:
        return client.post("/api/v1/escalation-policies", headers=headers, json=body)

    zone = post_schedule({**SCHEDULE, "timezone": "Mars/Olympus"})
    assert _fields(zone) == {"body.timezone"} and "Mars/Olympus" in zone.json()["error"]["message"]
    rotation = {**SCHEDULE["rotations"][0]}
    assert _fields(post_schedule({**SCHEDULE, "rotations": [{**rotation, "length_hours": 0}]})) == {
        "body.rotations.0.length_hours"
    }
    assert _fields(post_schedule({**SCHEDULE, "rotations": [{**rotation, "users": []}]})) == {
        "body.rotations.0.users"
    }
    backwards = post_schedule(
        {**SCHEDULE, "rotations": [{**rotation, "end": "2026-11-01T09:00:00"}]}
    )
    assert _fields(backwards) == {"body.rotations.0"}
    assert "end must be after its start" in backwards.json()["error"]["message"]
    override = post_schedule(
        {**SCHEDULE, "overrides": [{"user": "cy", "start": "2026-12-24T18:00:00", "end": "x"}]}
    )
    assert {"body.overrides.0.start", "body.overrides.0.end"} <= _fields(override)

    matcher = post_policy({**POLICY, "matchers": ['service=~"("']})
    assert _fields(matcher) == {"body.matchers"}
    assert "invalid regex" in matcher.json()["error"]["message"]
    target = post_policy({**POLICY, "levels": [{"targets": [{"type": "team", "id": "ops"}]}]})
    assert _fields(target) == {"body.levels.0.targets.0.type"}
    assert _fields(post_policy({**POLICY, "levels": []})) == {"body.levels"}
    assert _fields(post_policy({**POLICY, "repeat": -1})) == {"body.repeat"}
    channel = post_policy(
        {**POLICY, "levels": [{"targets": [{"type": "user", "id": "ana"}], "channels": ["fax"]}]}
    )
    assert _fields(channel) == {"body.levels.0.channels.0"}
    assert _fields(post_policy({**POLICY, "surprise": 1})) == {"body.surprise"}
    naive = client.get("/api/v1/schedules/primary/oncall", headers=headers, params={"at": "x"})
    assert naive.status_code == 422
    assert client.get("/api/v1/schedules", headers=headers).json() == []


def test_another_tenants_ids_are_not_found(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    client = env.client
    schedule = client.post("/api/v1/schedules", headers=globex.admin, json=SCHEDULE).json()
    policy = client.post("/api/v1/escalation-policies", headers=globex.admin, json=POLICY).json()
    for path, body in (
        (f"/api/v1/schedules/{schedule['id']}", SCHEDULE),
        (f"/api/v1/escalation-policies/{policy['id']}", POLICY),
    ):
        assert client.get(path, headers=acme.admin).status_code == 404
        assert client.put(path, headers=acme.admin, json=body).status_code == 404
        assert client.delete(path, headers=acme.admin).status_code == 404
        assert client.get(path, headers=globex.viewer).status_code == 200  # still theirs
    assert (
        client.get(f"/api/v1/schedules/{schedule['id']}/oncall", headers=acme.admin).json()[
            "error"
        ]["code"]
        == "not_found"
    )
    assert client.get("/api/v1/escalation-policies", headers=acme.admin).json() == []


def _levels(*targets: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"targets": [{"type": kind, "id": ident} for kind, ident in targets]}]


def test_unknown_users_and_schedules_are_422_naming_them(env: Env, acme: TenantFixture) -> None:
    client, headers = env.client, acme.admin
    schedule = client.post("/api/v1/schedules", headers=headers, json=SCHEDULE).json()
    unknown = client.post(
        "/api/v1/escalation-policies",
        headers=headers,
        json={**POLICY, "levels": _levels(("user", "ghost"), ("schedule", "secondary"))},
    )
    assert unknown.status_code == 422, unknown.text
    error = unknown.json()["error"]
    assert error["code"] == "unknown_target"
    assert "user 'ghost'" in error["message"] and "schedule 'secondary'" in error["message"]
    assert [(d["field"], d["message"]) for d in error["details"]] == [
        ("body.levels.0.targets.0.id", "no user 'ghost' in this tenant"),
        ("body.levels.0.targets.1.id", "no schedule 'secondary' in this tenant"),
    ]

    # Members by username or id, schedules by name or id, receivers unchecked: saved.
    known = _levels(
        ("user", "acme-viewer"),
        ("user", acme.viewer_id),
        ("schedule", "primary"),
        ("schedule", schedule["id"]),
        ("receiver", "ops"),
    )
    created = client.post(
        "/api/v1/escalation-policies", headers=headers, json={**POLICY, "levels": known}
    )
    assert created.status_code == 201, created.text

    path = f"/api/v1/escalation-policies/{created.json()['id']}"
    replaced = client.put(
        path, headers=headers, json={**POLICY, "levels": _levels(("user", "ghost"))}
    )
    assert _fields(replaced) == {"body.levels.0.targets.0.id"}
    assert client.get(path, headers=headers).json()["levels"][0]["targets"][0]["id"] == (
        "acme-viewer"
    )


def test_another_tenants_users_and_schedules_are_unknown(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    client = env.client
    theirs = client.post(
        "/api/v1/schedules", headers=globex.admin, json={**SCHEDULE, "name": "globex-primary"}
    ).json()
    borrowed = _levels(
        ("user", "globex-viewer"),
        ("user", globex.viewer_id),
        ("schedule", "globex-primary"),
        ("schedule", theirs["id"]),
    )
    refused = client.post(
        "/api/v1/escalation-policies", headers=acme.admin, json={**POLICY, "levels": borrowed}
    )
    assert _fields(refused) == {f"body.levels.0.targets.{n}.id" for n in range(4)}
    # The same document is valid for the tenant that has them.
    accepted = client.post(
        "/api/v1/escalation-policies", headers=globex.admin, json={**POLICY, "levels": borrowed}
    )
    assert accepted.status_code == 201, accepted.text
    assert client.get("/api/v1/escalation-policies", headers=acme.admin).json() == []
