"""Two tenants with an admin, a viewer and an API key each, for isolation tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import Env
from tests.support import ADMIN_PASSWORD


@dataclass
class TenantFixture:
    name: str
    admin: dict[str, str]
    viewer: dict[str, str]
    key: dict[str, str]
    key_id: str
    viewer_id: str


def make_tenant(env: Env, root: dict[str, str], name: str) -> TenantFixture:
    assert env.client.post("/api/v1/tenants", json={"name": name}, headers=root).status_code == 201
    # A tenant's first admin is added by the super-admin acting through the CLI-equivalent
    # service; over the API the super-admin logs into the tenant after being added.
    from watchkeeper.auth import users
    from watchkeeper.tenancy import service

    context = env.context
    with context.sessions.system("test") as db:
        tenant = service.find_tenant(db, name)
    with context.sessions.tenant(tenant.id) as db:
        users.add_user(
            db, username=f"{name}-admin", password=ADMIN_PASSWORD, role="admin", now=env.clock.now()
        )
    admin = env.login(f"{name}-admin", tenant=name)
    viewer = env.client.post(
        "/api/v1/users",
        headers=admin,
        json={"username": f"{name}-viewer", "password": ADMIN_PASSWORD, "role": "viewer"},
    )
    assert viewer.status_code == 201, viewer.text
    key = env.client.post(
        "/api/v1/apikeys", headers=admin, json={"name": "machines", "scopes": ["admin"]}
    )
    assert key.status_code == 201, key.text
    return TenantFixture(
        name=name,
        admin=admin,
        viewer=env.login(f"{name}-viewer", tenant=name),
        key={"X-API-Key": key.json()["key"]},
        key_id=key.json()["id"],
        viewer_id=viewer.json()["id"],
    )


@pytest.fixture
def root(env: Env) -> dict[str, str]:
    return env.login()


@pytest.fixture
def acme(env: Env, root: dict[str, str]) -> TenantFixture:
    return make_tenant(env, root, "acme")


@pytest.fixture
def globex(env: Env, root: dict[str, str]) -> TenantFixture:
    return make_tenant(env, root, "globex")
