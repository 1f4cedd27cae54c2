"""Login, me, refresh (with reuse detection), logout, password change, lockout."""

from __future__ import annotations

import base64
import json

import jwt

from tests.conftest import Env
from tests.support import ADMIN_PASSWORD


def _login(env: Env, password: str = ADMIN_PASSWORD) -> dict[str, object]:
    response = env.client.post("/auth/login", json={"username": "admin", "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_login_me_refresh_logout(env: Env) -> None:
    tokens = _login(env)
    me = env.client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert (
        me.json()["name"] == "admin"
        and me.json()["tenant"] == "default"
        and me.json()["role"] == "admin"
    )

    refreshed = env.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert env.client.get("/auth/me", headers=bearer(new["access_token"])).status_code == 200

    assert env.client.post("/auth/logout", headers=bearer(new["access_token"])).status_code == 204
    after = env.client.get("/auth/me", headers=bearer(new["access_token"]))
    assert after.status_code == 401
    assert "logged out" in after.json()["error"]["message"]
    assert (
        env.client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]}).status_code
        == 401
    )


def test_replayed_refresh_token_revokes_the_whole_family(env: Env) -> None:
    first = _login(env)
    second = env.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()

    replay = env.client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]["message"]
    # The legitimate holder's newer token is revoked with the family.
    assert (
        env.client.post(
            "/auth/refresh", json={"refresh_token": second["refresh_token"]}
        ).status_code
        == 401
    )


def test_wrong_password_and_unknown_user_give_the_same_401(env: Env) -> None:
    wrong = env.client.post("/auth/login", json={"username": "admin", "password": "nope-nope-nope"})
    unknown = env.client.post(
        "/auth/login", json={"username": "ghost", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]


def test_repeated_failures_lock_out_then_expire(env: Env) -> None:
    limit = env.context.settings.auth.login_max_failures
    for _ in range(limit):
        env.client.post("/auth/login", json={"username": "admin", "password": "wrong-password-x"})
    locked = env.client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    env.clock.advance(env.context.settings.auth.login_lockout_seconds + 1)
    assert (
        env.client.post(
            "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).status_code
        == 200
    )


def test_access_token_expires_on_the_injected_clock(env: Env) -> None:
    tokens = _login(env)
    env.clock.advance(901)
    response = env.client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_forged_and_alg_none_tokens_are_refused(env: Env) -> None:
    token = str(_login(env)["access_token"])
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-secret-at-all-0123456789", algorithm="HS256")
    response = env.client.get("/auth/me", headers=bearer(forged))
    assert response.status_code == 401 and "signature" in response.json()["error"]["message"]

    def b64(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    response = env.client.get("/auth/me", headers=bearer(unsigned))
    assert response.status_code == 401 and "algorithm" in response.json()["error"]["message"]

    garbage = env.client.get("/auth/me", headers=bearer("not.a.jwt"))
    assert garbage.status_code == 401


def test_password_change_clears_the_one_time_flag(env: Env) -> None:
    from watchkeeper.bootstrap import initialise  # noqa: F401  (init marks generated passwords)

    headers = bearer(_login(env)["access_token"])
    bad = env.client.post(
        "/auth/password",
        headers=headers,
        json={"current_password": "wrong-wrong-wrong", "new_password": "a-much-better-passphrase"},
    )
    assert bad.status_code == 401
    weak = env.client.post(
        "/auth/password",
        headers=headers,
        json={"current_password": ADMIN_PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422
    ok = env.client.post(
        "/auth/password",
        headers=headers,
        json={"current_password": ADMIN_PASSWORD, "new_password": "a-much-better-passphrase"},
    )
    assert ok.status_code == 204
    assert (
        env.client.post(
            "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).status_code
        == 401
    )
    assert _login(env, "a-much-better-passphrase")["password_change_required"] is False


def test_api_key_authenticates_by_bearer_and_header_until_revoked(env: Env) -> None:
    admin = bearer(_login(env)["access_token"])
    created = env.client.post(
        "/api/v1/apikeys", headers=admin, json={"name": "prom", "scopes": ["ingest", "read"]}
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert env.client.get("/auth/me", headers=bearer(key)).json()["kind"] == "apikey"
    assert env.client.get("/auth/me", headers={"X-API-Key": key}).status_code == 200
    listed = env.client.get("/api/v1/apikeys", headers=admin).json()
    assert all("key" not in k and key not in json.dumps(k) for k in listed)

    assert (
        env.client.delete(f"/api/v1/apikeys/{created.json()['id']}", headers=admin).status_code
        == 204
    )
    revoked = env.client.get("/auth/me", headers=bearer(key))
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
