"""Login throttling across addresses and usernames, forwarded headers believed only from
trusted proxies, and `password_change_required` enforced by the server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.conftest import Env
from tests.security.helpers import audited_client_ips, client_at, configure
from tests.support import ADMIN_PASSWORD, free_port
from watchkeeper import serve

GOOD = {"username": "admin", "password": ADMIN_PASSWORD}
BAD = {"username": "admin", "password": "wrong-password-123"}


@pytest.fixture
def strict(env: Env) -> Env:
    """Two failures per (user, address): so four per user, six per address by default."""
    configure(env, {"auth": {"login_max_failures": 2, "login_lockout_seconds": 300}})
    return env


@pytest.fixture
def real_server(strict: Env) -> Iterator[str]:
    """The app behind uvicorn as `watchkeeper serve` runs it, on a loopback port."""
    port = free_port()
    options = getattr(serve, "UVICORN_OPTIONS", {})  # what serve.run passes to uvicorn
    server = uvicorn.Server(
        uvicorn.Config(
            strict.client.app,
            host="127.0.0.1",
            port=port,
            lifespan="off",  # the TestClient already started the app
            log_config=None,
            access_log=False,
            **options,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_rotating_x_forwarded_for_from_loopback_neither_bypasses_the_lockout_nor_the_audit(
    strict: Env, real_server: str
) -> None:
    with httpx.Client(base_url=real_server) as http:
        for i in range(2):
            forged = {"X-Forwarded-For": f"198.51.100.{i + 1}"}
            assert http.post("/auth/login", json=BAD, headers=forged).status_code == 401
        locked = http.post("/auth/login", json=GOOD, headers={"X-Forwarded-For": "198.51.100.9"})
    assert locked.status_code == 429, locked.text
    assert int(locked.headers["Retry-After"]) > 0
    ips = audited_client_ips(strict, "POST /auth/login", expected=3)
    assert ips == ["127.0.0.1"] * 3


def test_failures_for_one_user_from_many_addresses_lock_that_user_out(strict: Env) -> None:
    for i in range(4):  # two failures per address would be allowed; four per user are not
        assert (
            client_at(strict, f"198.51.100.{i + 1}").post("/auth/login", json=BAD).status_code
            == 401
        )
    locked = client_at(strict, "203.0.113.77").post("/auth/login", json=GOOD)
    assert locked.status_code == 429, locked.text
    assert "too many failed logins" in locked.json()["error"]["message"]
    strict.clock.advance(301)
    assert client_at(strict, "203.0.113.77").post("/auth/login", json=GOOD).status_code == 200


def test_one_address_trying_many_usernames_is_locked_out(strict: Env) -> None:
    sprayer = client_at(strict, "198.51.100.66")
    for i in range(6):
        wrong = {"username": f"user{i}", "password": "wrong-password-123"}
        assert sprayer.post("/auth/login", json=wrong).status_code == 401
    assert sprayer.post("/auth/login", json=GOOD).status_code == 429
    # The user itself is not locked: only that address is.
    assert client_at(strict, "203.0.113.5").post("/auth/login", json=GOOD).status_code == 200


def test_behind_trusted_proxies_the_right_most_untrusted_address_is_the_client(
    strict: Env,
) -> None:
    configure(strict, {"security": {"trusted_proxies": ["127.0.0.1/32", "10.0.0.0/8"]}})
    proxy = client_at(strict, "127.0.0.1")
    for i in range(2):  # the client rotates what it writes; the proxies append the truth
        chain = {"X-Forwarded-For": f"192.0.2.{i + 1}, 203.0.113.50, 10.0.0.7"}
        assert proxy.post("/auth/login", json=BAD, headers=chain).status_code == 401
    chain = {"X-Forwarded-For": "192.0.2.99, 203.0.113.50, 10.0.0.7"}
    assert proxy.post("/auth/login", json=GOOD, headers=chain).status_code == 429
    other = {"X-Forwarded-For": "203.0.113.51, 10.0.0.7"}
    assert proxy.post("/auth/login", json=GOOD, headers=other).status_code == 200
    assert audited_client_ips(strict, "POST /auth/login", expected=4) == [
        "203.0.113.50",
        "203.0.113.50",
        "203.0.113.50",
        "203.0.113.51",
    ]
    # An untrusted peer's forwarded headers are ignored.
    direct = client_at(strict, "198.51.100.200")
    assert (
        direct.post("/auth/login", json=GOOD, headers={"X-Forwarded-For": "10.0.0.1"}).status_code
        == 200
    )
    assert audited_client_ips(strict, "POST /auth/login", expected=5)[-1] == "198.51.100.200"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"x-forwarded-for", b"1.2.3.4, 5.6.7.8")], "5.6.7.8"),
        ([(b"x-forwarded-for", b"1.2.3.4"), (b"x-forwarded-for", b"10.0.0.2")], "1.2.3.4"),
        ([(b"forwarded", b'for=1.2.3.4;proto=https, for="[2001:db8::1]:443"')], "2001:db8::1"),
        ([(b"forwarded", b"for=5.6.7.8"), (b"x-forwarded-for", b"1.2.3.4")], "5.6.7.8"),
        ([(b"x-real-ip", b"9.9.9.9")], "9.9.9.9"),
        ([(b"x-forwarded-for", b"10.0.0.3, 10.0.0.2")], "10.0.0.3"),
        ([(b"x-forwarded-for", b"1.2.3.4, not-an-ip")], "10.0.0.1"),
        ([], "10.0.0.1"),
    ],
)
def test_client_address_from_forwarded_headers(
    headers: list[tuple[bytes, bytes]], expected: str
) -> None:
    from watchkeeper.api.client_address import client_address, parse_networks

    trusted = parse_networks(["10.0.0.0/8"])
    assert client_address("10.0.0.1", headers, trusted) == expected
    assert client_address("192.0.2.1", headers, trusted) == "192.0.2.1"  # untrusted peer
    assert client_address("10.0.0.1", headers, ()) == "10.0.0.1"  # nothing trusted


def _user_who_must_change_password(env: Env) -> dict[str, str]:
    from watchkeeper.auth import users

    with env.context.sessions.system("test") as db:
        from watchkeeper.tenancy.service import find_tenant

        tenant_id = find_tenant(db, "default").id
    with env.context.sessions.tenant(tenant_id) as db:
        users.add_user(
            db,
            username="newbie",
            password=ADMIN_PASSWORD,
            role="admin",
            now=env.clock.now(),
            password_change_required=True,
        )
    return env.login("newbie")


def test_password_change_required_allows_only_password_change_logout_and_me(env: Env) -> None:
    headers = _user_who_must_change_password(env)
    for method, path in [
        ("GET", "/api/v1/rules"),
        ("GET", "/system/status"),
        ("GET", "/system/status"),  # the second one would come from the fast path
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/apikeys"),
    ]:
        response = env.client.request(method, path, headers=headers, json={"name": "k"})
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "password_change_required"
        assert "/auth/password" in response.json()["error"]["message"]
    assert env.client.get("/auth/me", headers=headers).status_code == 200
    changed = env.client.post(
        "/auth/password",
        headers=headers,
        json={"current_password": ADMIN_PASSWORD, "new_password": "a-brand-new-password-42"},
    )
    assert changed.status_code == 204, changed.text
    fresh = env.login("newbie", "a-brand-new-password-42")
    assert env.client.get("/api/v1/rules", headers=fresh).status_code == 200


def test_password_change_required_survives_a_token_refresh(env: Env) -> None:
    _user_who_must_change_password(env)
    tokens = env.client.post(
        "/auth/login", json={"username": "newbie", "password": ADMIN_PASSWORD}
    ).json()
    refreshed = env.client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert env.client.get("/api/v1/rules", headers=headers).status_code == 403
    assert env.client.post("/auth/logout", headers=headers).status_code == 204
