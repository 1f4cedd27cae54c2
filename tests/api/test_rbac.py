"""Permissions come from the role (users) or the scopes (keys), checked on the route."""

from __future__ import annotations

from tests.conftest import Env, TenantFixture
from tests.support import ADMIN_PASSWORD


def test_viewer_reads_but_cannot_manage(env: Env, acme: TenantFixture) -> None:
    assert env.client.get("/system/status", headers=acme.viewer).status_code == 200
    denied = env.client.post(
        "/api/v1/users", headers=acme.viewer, json={"username": "x", "password": ADMIN_PASSWORD}
    )
    assert denied.status_code == 403
    assert "users:write" in denied.json()["error"]["message"]
    assert env.client.get("/api/v1/audit", headers=acme.viewer).status_code == 403


def test_ingest_only_key_cannot_read_users(env: Env, acme: TenantFixture) -> None:
    key = env.client.post(
        "/api/v1/apikeys", headers=acme.admin, json={"name": "ingest", "scopes": ["ingest"]}
    ).json()["key"]
    assert (
        env.client.get("/api/v1/users", headers={"Authorization": f"Bearer {key}"}).status_code
        == 403
    )


def test_tenant_admin_is_not_a_superadmin(env: Env, acme: TenantFixture) -> None:
    assert env.client.get("/admin/config", headers=acme.admin).status_code == 403
    assert (
        env.client.post("/api/v1/tenants", headers=acme.admin, json={"name": "evil"}).status_code
        == 403
    )


def test_role_change_applies_at_next_login(env: Env, acme: TenantFixture) -> None:
    users = env.client.get("/api/v1/users", headers=acme.admin).json()
    viewer = next(u for u in users if u["username"] == "acme-viewer")
    response = env.client.patch(
        f"/api/v1/users/{viewer['id']}", headers=acme.admin, json={"role": "editor"}
    )
    assert response.status_code == 200 and response.json()["role"] == "editor"
    me = env.client.get("/auth/me", headers=env.login("acme-viewer", tenant="acme")).json()
    assert "rules:write" in me["permissions"] and "users:write" not in me["permissions"]


def test_the_rbac_table_is_the_only_source_of_permissions() -> None:
    from watchkeeper.auth import rbac

    viewer = rbac.permissions_for_role("viewer")
    editor = rbac.permissions_for_role("editor")
    admin = rbac.permissions_for_role("admin")
    assert viewer < editor < admin
    assert all(p.endswith(":read") for p in viewer)
    assert rbac.permissions_for_scopes(["ingest"]) == {
        "metrics:write",
        "alerts:write",
        "system:read",
    }
