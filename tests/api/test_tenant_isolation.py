"""A user or key of tenant A gets 404 — not 403, not data — for tenant B's objects."""

from __future__ import annotations

import pytest

from tests.conftest import Env, TenantFixture


@pytest.fixture(params=["admin", "key"])
def credential(request: pytest.FixtureRequest, acme: TenantFixture) -> dict[str, str]:
    return acme.admin if request.param == "admin" else acme.key


def test_object_endpoints_answer_404_for_another_tenants_objects(
    env: Env, acme: TenantFixture, globex: TenantFixture, credential: dict[str, str]
) -> None:
    foreign = [
        ("GET", f"/api/v1/users/{globex.viewer_id}", None),
        ("PATCH", f"/api/v1/users/{globex.viewer_id}", {"role": "admin"}),
        ("DELETE", f"/api/v1/users/{globex.viewer_id}", None),
        ("DELETE", f"/api/v1/apikeys/{globex.key_id}", None),
        ("GET", f"/api/v1/tenants/{globex.name}", None),
    ]
    for method, path, body in foreign:
        response = env.client.request(method, path, headers=credential, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert globex.viewer_id not in response.text or "not found" in response.text
    # Nothing of globex changed: its viewer is still a viewer and its key still works.
    viewer = env.client.get(f"/api/v1/users/{globex.viewer_id}", headers=globex.admin)
    assert viewer.status_code == 200 and viewer.json()["role"] == "viewer"
    assert env.client.get("/auth/me", headers=globex.key).status_code == 200


def test_lists_show_only_the_callers_tenant(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    users = {u["username"] for u in env.client.get("/api/v1/users", headers=acme.admin).json()}
    assert users == {"acme-admin", "acme-viewer"}
    keys = env.client.get("/api/v1/apikeys", headers=acme.key).json()
    assert [k["id"] for k in keys] == [acme.key_id]
    tenants = [t["name"] for t in env.client.get("/api/v1/tenants", headers=acme.admin).json()]
    assert tenants == ["acme"]
    audit = env.client.get("/api/v1/audit", headers=acme.admin).json()
    assert audit and all(
        r["path"] != "/api/v1/users" or r["actor_name"] != "globex-admin" for r in audit
    )
    assert not any(r["actor_name"] == "globex-admin" for r in audit)


def test_unknown_tenant_in_the_path_is_a_404(env: Env, acme: TenantFixture) -> None:
    response = env.client.get("/api/v1/tenants/no-such-tenant", headers=acme.admin)
    assert response.status_code == 404
    assert "no-such-tenant" in response.json()["error"]["message"]


def test_login_to_a_tenant_the_user_is_not_in_fails(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    response = env.client.post(
        "/auth/login",
        json={
            "username": "acme-admin",
            "password": "correct-horse-battery-staple",
            "tenant": "globex",
        },
    )
    assert response.status_code == 401


def test_status_counts_are_per_tenant(env: Env, acme: TenantFixture, globex: TenantFixture) -> None:
    status = env.client.get("/system/status", headers=acme.viewer).json()
    assert status["tenant"] == "acme"
    assert status["counts"] == {"users": 2, "api_keys": 1}
