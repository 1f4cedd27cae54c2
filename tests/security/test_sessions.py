"""A change to a user takes effect on their next request: password change or reset, disable,
demotion, removal, role change and logout-all end (or narrow) sessions, refresh tokens and
WebSocket streams; WebSocket credentials never travel in a URL."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import update
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import Env, TenantFixture
from tests.support import ADMIN_PASSWORD, free_port
from watchkeeper.auth import users
from watchkeeper.auth.service import AuthService
from watchkeeper.clock import ManualClock
from watchkeeper.db.tables import User
from watchkeeper.events import publish

NEW_PASSWORD = "a-brand-new-passphrase"


def _session(env: Env, username: str, tenant: str) -> tuple[dict[str, str], str]:
    """(access headers, refresh token) of a fresh login."""
    body = {"username": username, "password": ADMIN_PASSWORD, "tenant": tenant}
    tokens = env.client.post("/auth/login", json=body).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}, tokens["refresh_token"]


def _me(env: Env, headers: dict[str, str]) -> int:
    return env.client.get("/auth/me", headers=headers).status_code


def _refresh(env: Env, refresh_token: str) -> int:
    return env.client.post("/auth/refresh", json={"refresh_token": refresh_token}).status_code


def _second_admin(env: Env, acme: TenantFixture, name: str = "acme-ops") -> dict[str, str]:
    created = env.client.post(
        "/api/v1/users",
        headers=acme.admin,
        json={"username": name, "password": ADMIN_PASSWORD, "role": "admin"},
    )
    assert created.status_code == 201, created.text
    return env.login(name, tenant="acme")


def test_password_change_ends_every_other_session(env: Env, acme: TenantFixture) -> None:
    first, _ = _session(env, "acme-viewer", "acme")
    other, other_refresh = _session(env, "acme-viewer", "acme")
    changed = env.client.post(
        "/auth/password",
        headers=first,
        json={"current_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    assert _me(env, other) == 401
    assert _refresh(env, other_refresh) == 401


def test_password_reset_by_an_admin_ends_the_users_sessions(env: Env, acme: TenantFixture) -> None:
    headers, refresh = _session(env, "acme-viewer", "acme")
    reset = env.client.patch(
        f"/api/v1/users/{acme.viewer_id}", headers=acme.admin, json={"password": NEW_PASSWORD}
    )
    assert reset.status_code == 200, reset.text
    assert _me(env, headers) == 401 and _refresh(env, refresh) == 401


def test_disable_ends_sessions_and_refresh(env: Env, acme: TenantFixture) -> None:
    headers, refresh = _session(env, "acme-viewer", "acme")
    env.client.patch(f"/api/v1/users/{acme.viewer_id}", headers=acme.admin, json={"disabled": True})
    assert _me(env, headers) == 401
    assert _refresh(env, refresh) == 401


def test_a_superadmin_disabled_elsewhere_loses_admin_config_within_the_cache_time(
    env: Env, root: dict[str, str]
) -> None:
    assert env.client.get("/admin/config", headers=root).status_code == 200
    # Disabled by another process (the CLI, another replica): this one cannot drop its cache.
    with env.context.sessions.system("test") as db:
        db.execute(update(User).where(User.username == "admin").values(disabled=True))
    env.clock.advance(AuthService.CACHE_SECONDS)
    assert env.client.get("/admin/config", headers=root).status_code == 401


def test_superadmin_demotion_ends_the_sessions(env: Env, root: dict[str, str]) -> None:
    context = env.context
    with context.sessions.tenant(context.tenants.id_of("default")) as db:
        ops, _ = users.add_user(
            db,
            username="ops",
            password=ADMIN_PASSWORD,
            role="viewer",
            now=env.clock.now(),
            superadmin=True,
        )
    headers, refresh = _session(env, "ops", "default")
    assert env.client.get("/admin/config", headers=headers).status_code == 200
    demoted = env.client.patch(f"/api/v1/users/{ops.id}", headers=root, json={"superadmin": False})
    assert demoted.status_code == 200, demoted.text
    assert env.client.get("/admin/config", headers=headers).status_code == 401
    assert _refresh(env, refresh) == 401


def test_a_removed_admin_can_no_longer_act(env: Env, acme: TenantFixture) -> None:
    ops = _second_admin(env, acme)
    ops_id = next(
        u["id"]
        for u in env.client.get("/api/v1/users", headers=acme.admin).json()
        if u["username"] == "acme-ops"
    )
    assert env.client.delete(f"/api/v1/users/{ops_id}", headers=acme.admin).status_code == 204
    attempt = env.client.post(
        "/api/v1/users",
        headers=ops,
        json={"username": "backdoor", "password": ADMIN_PASSWORD, "role": "admin"},
    )
    assert attempt.status_code == 401


def test_removal_revokes_the_members_refresh_tokens(env: Env, acme: TenantFixture) -> None:
    headers, refresh = _session(env, "acme-viewer", "acme")
    env.client.delete(f"/api/v1/users/{acme.viewer_id}", headers=acme.admin)
    assert _me(env, headers) == 401 and _refresh(env, refresh) == 401


def test_a_role_change_applies_to_the_next_request_without_a_new_login(
    env: Env, acme: TenantFixture
) -> None:
    ops = _second_admin(env, acme)
    ops_id = next(
        u["id"]
        for u in env.client.get("/api/v1/users", headers=acme.admin).json()
        if u["username"] == "acme-ops"
    )
    env.client.patch(f"/api/v1/users/{ops_id}", headers=acme.admin, json={"role": "viewer"})
    attempt = env.client.post(
        "/api/v1/users",
        headers=ops,
        json={"username": "backdoor", "password": ADMIN_PASSWORD, "role": "admin"},
    )
    assert attempt.status_code == 403
    assert _me(env, ops) == 200  # still logged in, as a viewer


def test_api_keys_of_a_disabled_user_stop_working(env: Env, acme: TenantFixture) -> None:
    assert env.client.get("/api/v1/users", headers=acme.key).status_code == 200
    ops = _second_admin(env, acme)
    acme_admin_id = next(
        u["id"]
        for u in env.client.get("/api/v1/users", headers=ops).json()
        if u["username"] == "acme-admin"
    )
    disabled = env.client.patch(
        f"/api/v1/users/{acme_admin_id}", headers=ops, json={"disabled": True}
    )
    assert disabled.status_code == 200, disabled.text
    assert env.client.get("/api/v1/users", headers=acme.key).status_code == 401


def test_logout_all_ends_every_session_of_the_caller(env: Env, acme: TenantFixture) -> None:
    first, first_refresh = _session(env, "acme-viewer", "acme")
    second, second_refresh = _session(env, "acme-viewer", "acme")
    assert env.client.post("/auth/logout-all", headers=first).status_code == 204
    assert _me(env, first) == 401 and _me(env, second) == 401
    assert _refresh(env, first_refresh) == 401 and _refresh(env, second_refresh) == 401
    assert _me(env, env.login("acme-viewer", tenant="acme")) == 200  # a new login works


# --- WebSocket --------------------------------------------------------------------------


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_a_token_in_the_websocket_url_is_refused(env: Env, acme: TenantFixture) -> None:
    with env.client.websocket_connect(f"/ws/notifications?token={_token(acme.viewer)}") as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert error["type"] == "error" and closed.value.code == 4400
    assert "URL" in error["data"]["message"]


def test_websocket_authenticates_with_the_bearer_subprotocol(env: Env, acme: TenantFixture) -> None:
    with env.client.websocket_connect(
        "/ws/notifications", subprotocols=["bearer", _token(acme.viewer)]
    ) as ws:
        assert ws.accepted_subprotocol == "bearer"  # the token itself is never echoed
        assert ws.receive_json()["type"] == "ready"


def test_a_stream_is_closed_at_the_next_event_after_logout(env: Env, acme: TenantFixture) -> None:
    headers, _ = _session(env, "acme-viewer", "acme")
    acme_id = env.context.tenants.id_of("acme")
    with env.client.websocket_connect("/ws/notifications") as ws:
        ws.send_json({"type": "auth", "token": _token(headers)})
        assert ws.receive_json()["type"] == "ready"
        assert env.client.post("/auth/logout", headers=headers).status_code == 204
        with env.context.sessions.tenant(acme_id) as db:
            publish(db, acme_id, "anomaly", {"n": "after logout"}, now=env.clock.now())
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert error["type"] == "error" and error["data"]["code"] == "revoked"
    assert closed.value.code == 1008


@pytest.fixture
def server(tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> Iterator[str]:
    """The app under uvicorn in a thread, its log lines captured (uvicorn's own logging
    configuration is off, so they reach pytest's handler)."""
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise

    caplog.set_level(logging.INFO, logger="uvicorn.error")
    result = initialise(tmp_path / "d", clock=clock, admin_password=ADMIN_PASSWORD)
    app = create_app(result.settings, clock=clock, config_file=result.config_file)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, ws="websockets-sansio"
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        served.should_exit = True
        thread.join(30)


def _receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return message


def test_websocket_credentials_never_reach_the_log(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with httpx.Client(base_url=f"http://{server}", timeout=10) as http:
        login = http.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        token = login.json()["access_token"]
        created = http.post(
            "/api/v1/apikeys",
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "stream", "scopes": ["read"]},
        )
        key = created.json()["key"]
    for credential in (token, key):
        with connect(
            f"ws://{server}/ws/notifications",
            subprotocols=[Subprotocol("bearer"), Subprotocol(credential)],
        ) as ws:
            assert _receive(ws)["type"] == "ready"
    logged = [r.getMessage() for r in caplog.records]
    assert any("/ws/notifications" in line for line in logged)  # the access line is there
    assert not any(token in line or key in line for line in logged)


def test_a_quiet_stream_is_closed_on_the_clock_after_logout(
    server: str, clock: ManualClock
) -> None:
    with httpx.Client(base_url=f"http://{server}", timeout=10) as http:
        login = http.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        token = login.json()["access_token"]
        with connect(f"ws://{server}/ws/notifications") as ws:
            ws.send(json.dumps({"type": "auth", "token": token}))
            assert _receive(ws)["type"] == "ready"
            ended = http.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
            assert ended.status_code == 204
            clock.advance(AuthService.CACHE_SECONDS)  # the stream's recheck interval
            error = _receive(ws)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
    assert error["data"]["code"] == "revoked"
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_logout_all_closes_the_callers_streams(env: Env, acme: TenantFixture) -> None:
    headers, _ = _session(env, "acme-viewer", "acme")
    with env.client.websocket_connect(
        "/ws/notifications", subprotocols=["bearer", _token(headers)]
    ) as ws:
        assert ws.receive_json()["type"] == "ready"
        assert env.client.post("/auth/logout-all", headers=headers).status_code == 204
        env.clock.advance(AuthService.CACHE_SECONDS)
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert error["data"]["code"] == "revoked" and closed.value.code == 1008
