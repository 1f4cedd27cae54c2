"""A tenant admin manages memberships of its own tenant only; global accounts (password,
disabled, email, super-admin) belong to the user and to a super-admin."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import Env, TenantFixture
from tests.support import ADMIN_PASSWORD

NEW_PASSWORD = "an-attacker-chosen-passphrase"


def _join(env: Env, username: str, tenant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Add an existing account to a tenant the operator's way (`watchkeeper user add`)."""
    monkeypatch.setenv("WATCHKEEPER_USER_PASSWORD", ADMIN_PASSWORD)
    _cli(
        "user",
        "add",
        username,
        "--tenant",
        tenant,
        "--config",
        str(env.config_file),
        monkeypatch=monkeypatch,
    )


def _user_id(env: Env, headers: dict[str, str], username: str) -> str:
    listed = env.client.get("/api/v1/users", headers=headers).json()
    return str(next(u["id"] for u in listed if u["username"] == username))


def _can_log_in(env: Env, username: str, password: str = ADMIN_PASSWORD, **extra: str) -> bool:
    body = {"username": username, "password": password, **extra}
    return env.client.post("/auth/login", json=body).status_code == 200


def _cli(*args: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.cli.main import main

    with monkeypatch.context() as patch:
        patch.setattr(sys, "argv", ["watchkeeper", *args])
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code


def test_adding_an_existing_account_is_refused_without_revealing_or_changing_it(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    answers = {}
    for name in ("admin", "globex-viewer", "acme-viewer"):  # super-admin, elsewhere, here
        response = env.client.post(
            "/api/v1/users",
            headers=acme.admin,
            json={"username": name, "password": NEW_PASSWORD, "role": "admin"},
        )
        assert response.status_code == 409, response.text
        answers[name] = response.json()["error"]["message"].replace(repr(name), "<name>")
    # One message whatever the account is; no id, tenant, role or state in it.
    assert len(set(answers.values())) == 1
    assert "admin" not in {
        u["username"] for u in env.client.get("/api/v1/users", headers=acme.admin).json()
    }
    assert _can_log_in(env, "admin") and not _can_log_in(env, "admin", NEW_PASSWORD)
    assert _can_log_in(env, "globex-viewer", tenant="globex")


def test_tenant_admin_cannot_lock_out_the_superadmin(
    env: Env, acme: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _join(env, "admin", "acme", monkeypatch)
    admin_id = _user_id(env, acme.admin, "admin")
    for change in ({"disabled": True}, {"password": NEW_PASSWORD}, {"email": "x@evil.test"}):
        response = env.client.patch(f"/api/v1/users/{admin_id}", headers=acme.admin, json=change)
        assert response.status_code == 403, (change, response.text)
    assert _can_log_in(env, "admin", tenant="default")
    root = env.login(tenant="default")
    assert env.client.get("/admin/config", headers=root).status_code == 200


def test_tenant_admin_cannot_change_an_account_shared_with_another_tenant(
    env: Env, acme: TenantFixture, globex: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _join(env, "globex-viewer", "acme", monkeypatch)
    shared = _user_id(env, acme.admin, "globex-viewer")
    for change in ({"disabled": True}, {"password": NEW_PASSWORD}):
        response = env.client.patch(f"/api/v1/users/{shared}", headers=acme.admin, json=change)
        assert response.status_code == 403, (change, response.text)
        assert "super-admin" in response.json()["error"]["message"]
    assert _can_log_in(env, "globex-viewer", tenant="globex")
    # What is acme's own stays acme's: the role here, and the membership.
    role = env.client.patch(f"/api/v1/users/{shared}", headers=acme.admin, json={"role": "editor"})
    assert role.status_code == 200 and role.json()["role"] == "editor"
    body = {"username": "globex-viewer", "password": ADMIN_PASSWORD, "tenant": "globex"}
    elsewhere = env.client.post("/auth/login", json=body).json()
    assert env.client.delete(f"/api/v1/users/{shared}", headers=acme.admin).status_code == 204
    # Removal here revokes the sessions here only.
    again = env.client.post("/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]})
    assert again.status_code == 200, again.text
    assert _can_log_in(env, "globex-viewer", tenant="globex")


def test_only_a_superadmin_grants_superadmin(env: Env, acme: TenantFixture) -> None:
    viewer = acme.viewer_id  # exclusive to acme, yet the flag is global
    response = env.client.patch(
        f"/api/v1/users/{viewer}", headers=acme.admin, json={"superadmin": True}
    )
    assert response.status_code == 403
    me = env.client.get("/auth/me", headers=env.login("acme-viewer", tenant="acme")).json()
    assert me["superadmin"] is False


def test_tenant_admin_may_disable_an_account_only_its_tenant_uses(
    env: Env, acme: TenantFixture
) -> None:
    response = env.client.patch(
        f"/api/v1/users/{acme.viewer_id}", headers=acme.admin, json={"disabled": True}
    )
    assert response.status_code == 200 and response.json()["disabled"] is True
    assert not _can_log_in(env, "acme-viewer", tenant="acme")


def test_superadmin_may_disable_a_shared_account(
    env: Env, root: dict[str, str], acme: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _join(env, "acme-viewer", "default", monkeypatch)
    shared = _user_id(env, root, "acme-viewer")
    response = env.client.patch(f"/api/v1/users/{shared}", headers=root, json={"disabled": True})
    assert response.status_code == 200
    assert not _can_log_in(env, "acme-viewer", tenant="acme")


def test_cli_user_enable_re_enables_a_disabled_account(
    env: Env, acme: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.client.patch(f"/api/v1/users/{acme.viewer_id}", headers=acme.admin, json={"disabled": True})
    assert not _can_log_in(env, "acme-viewer", tenant="acme")
    _cli("user", "enable", "acme-viewer", "--config", str(env.config_file), monkeypatch=monkeypatch)
    assert _can_log_in(env, "acme-viewer", tenant="acme")


def test_cli_user_add_of_an_existing_account_keeps_its_password(
    env: Env, acme: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHKEEPER_USER_PASSWORD", NEW_PASSWORD)
    _cli(
        "user",
        "add",
        "acme-viewer",
        "--tenant",
        "default",
        "--config",
        str(env.config_file),
        monkeypatch=monkeypatch,
    )
    assert _can_log_in(env, "acme-viewer", tenant="default")
    assert not _can_log_in(env, "acme-viewer", NEW_PASSWORD, tenant="default")


def test_an_account_added_to_a_tenant_a_moment_ago_can_use_it_at_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator adds admin to a new tenant out of band (the CLI) while admin's state is
    cached by the server: the login there reads the membership, and so must the requests
    made with its token (they were refused as "no longer a member" for up to 2 s)."""
    root = env.login()
    assert (
        env.client.post("/api/v1/tenants", json={"name": "fresh"}, headers=root).status_code == 201
    )
    assert env.client.get("/auth/me", headers=root).status_code == 200  # caches admin's state
    _join(env, "admin", "fresh", monkeypatch)

    there = env.login(tenant="fresh")  # the manual clock has not moved: the cache is warm

    me = env.client.get("/auth/me", headers=there)
    assert me.status_code == 200, me.text
    assert me.json()["tenant"] == "fresh"
