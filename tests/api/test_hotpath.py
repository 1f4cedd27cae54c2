"""The hot read paths answer from memory exactly what the routes answer, and only when the
caller is already known to be allowed; everything else reaches the real route."""

from __future__ import annotations

from tests.conftest import Env, TenantFixture


def _status_requests() -> float:
    from prometheus_client import REGISTRY

    labels = {"method": "GET", "route": "/system/status", "status": "200"}
    return REGISTRY.get_sample_value("watchkeeper_http_requests_total", labels) or 0.0


def test_status_fast_answer_equals_the_route(env: Env, acme: TenantFixture) -> None:
    before = _status_requests()
    first = env.client.get("/system/status", headers=acme.viewer)  # route: fills caches
    second = env.client.get("/system/status", headers=acme.viewer)  # answered from memory
    assert first.status_code == second.status_code == 200
    strip = lambda body: {k: v for k, v in body.items() if k != "uptime_seconds"}  # noqa: E731
    assert strip(first.json()) == strip(second.json())
    assert second.json()["tenant"] == "acme"
    assert _status_requests() == before + 2  # both counted under the route's name


def test_status_still_refuses_what_the_route_refuses(env: Env, acme: TenantFixture) -> None:
    env.client.get("/system/status", headers=acme.viewer)
    assert env.client.get("/system/status").status_code == 401
    assert (
        env.client.get(
            "/system/status", headers={"Authorization": "Bearer forged.token.x"}
        ).status_code
        == 401
    )
    env.client.post("/auth/logout", headers=acme.viewer)
    assert env.client.get("/system/status", headers=acme.viewer).status_code == 401
    env.clock.advance(3600)
    expired = env.client.get("/system/status", headers=acme.admin)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


def test_health_live_is_answered_with_request_id(env: Env) -> None:
    response = env.client.get("/health/live", headers={"X-Request-ID": "probe-1"})
    assert response.json() == {"status": "ok"} and response.headers["x-request-id"] == "probe-1"


def test_status_fast_answers_keep_time_and_tenant(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    """The fast body is encoded once per cache refresh; the uptime is spliced in per request."""
    for tenant in (acme, globex):
        env.client.get("/system/status", headers=tenant.viewer)  # fill the caches
    first = env.client.get("/system/status", headers=acme.viewer).json()
    env.clock.advance(1.25)
    later = env.client.get("/system/status", headers=acme.viewer).json()
    assert abs(later["uptime_seconds"] - first["uptime_seconds"] - 1.25) < 0.002
    assert env.client.get("/system/status", headers=globex.viewer).json()["tenant"] == "globex"
    # A new user shows in the counts once the cache has expired (5 s).
    before = later["counts"]
    created = env.client.post(
        "/api/v1/users",
        json={"username": "newcomer", "password": "a-long-enough-password", "role": "viewer"},
        headers=acme.admin,
    )
    assert created.status_code == 201, created.text
    env.clock.advance(6)
    env.client.get("/system/status", headers=acme.viewer)  # the route refreshes the cache
    after = env.client.get("/system/status", headers=acme.viewer).json()["counts"]
    assert after != before and after["users"] == before["users"] + 1
