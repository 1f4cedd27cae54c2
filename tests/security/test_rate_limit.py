"""Adaptive rate limiting: buckets per principal and tenant, 429 with Retry-After, exempt
probes, tighter limits for callers that keep failing, and limits shared through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Env, TenantFixture
from tests.security.helpers import client_at, configure
from tests.support import ADMIN_PASSWORD, REDIS_URL, missing, port_open
from watchkeeper.auth.principal import Principal
from watchkeeper.clock import ManualClock
from watchkeeper.config import RateLimitSettings
from watchkeeper.ratelimit.limiter import READS, RateLimited, RateLimiter


def _limits(env: Env, **values: float) -> None:
    configure(env, {"security": {"rate_limits": values}})


def test_a_principal_over_its_read_limit_gets_429_with_retry_after(
    env: Env, acme: TenantFixture
) -> None:
    _limits(env, reads_per_second=2, reads_burst=3)
    assert [env.client.get("/api/v1/rules", headers=acme.key).status_code for _ in range(3)] == [
        200
    ] * 3
    refused = env.client.get("/api/v1/rules", headers=acme.key)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "reads" in refused.json()["error"]["message"]
    # Another principal of the same tenant has its own bucket.
    assert env.client.get("/api/v1/rules", headers=acme.viewer).status_code == 200
    env.clock.advance(0.5)  # one token back
    assert env.client.get("/api/v1/rules", headers=acme.key).status_code == 200
    assert env.client.get("/api/v1/rules", headers=acme.key).status_code == 429


def test_the_status_fast_path_is_limited_and_probes_and_metrics_are_not(
    env: Env, acme: TenantFixture
) -> None:
    env.client.get("/system/status", headers=acme.viewer)  # fills the fast path's caches
    _limits(env, reads_per_second=1, reads_burst=2)
    codes = [env.client.get("/system/status", headers=acme.viewer).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert env.client.get(path, headers=acme.viewer).status_code != 429, path


def test_reads_writes_and_ingest_have_separate_buckets(env: Env, acme: TenantFixture) -> None:
    _limits(env, reads_per_second=1, reads_burst=1, writes_per_second=1, writes_burst=1)
    assert env.client.get("/api/v1/rules", headers=acme.key).status_code == 200
    assert env.client.get("/api/v1/rules", headers=acme.key).status_code == 429
    ingest = env.client.post("/api/v1/ingest", headers=acme.key, json=[])
    assert ingest.status_code != 429
    # A PromQL query sent as POST (what Grafana does) is a read, not a write.
    query = env.client.post("/api/v1/query", headers=acme.key, data={"query": "up"})
    assert query.status_code == 429
    silence = {"matchers": [{"name": "a", "value": "b"}], "endsAt": "2999-01-01T00:00:00Z"}
    first = env.client.post("/api/v1/silences", headers=acme.key, json=silence)
    assert first.status_code != 429
    assert env.client.post("/api/v1/silences", headers=acme.key, json=silence).status_code == 429


def test_a_tenant_cannot_take_more_than_its_share(
    env: Env, acme: TenantFixture, globex: TenantFixture
) -> None:
    _limits(env, reads_per_second=1, reads_burst=4, tenant_multiplier=1)
    for _ in range(2):
        assert env.client.get("/api/v1/rules", headers=acme.key).status_code == 200
        assert env.client.get("/api/v1/rules", headers=acme.viewer).status_code == 200
    # Each principal has tokens left, but their tenant's bucket is empty.
    assert env.client.get("/api/v1/rules", headers=acme.admin).status_code == 429
    assert env.client.get("/api/v1/rules", headers=globex.key).status_code == 200


def test_a_principal_that_keeps_failing_gets_a_smaller_share(env: Env, acme: TenantFixture) -> None:
    _limits(env, failure_threshold=5)
    for _ in range(20):  # a 4xx storm: score 20, so each request costs 20/5 = 4 tokens
        assert env.client.get("/api/v1/rules/groups/nope", headers=acme.key).status_code == 404
    _limits(env, reads_per_second=0.1, reads_burst=10, failure_threshold=5)
    env.clock.advance(100)  # the bucket refills; the score decays to 20/2^(100/60) = 6.3
    served = 0
    while env.client.get("/api/v1/rules", headers=acme.key).status_code == 200:
        served += 1
    assert served == 7  # 10 tokens at 1.26 each; a clean principal gets 10
    clean = [env.client.get("/api/v1/rules", headers=acme.viewer).status_code for _ in range(10)]
    assert clean == [200] * 10
    env.clock.advance(1200)  # failures forgiven
    assert all(
        env.client.get("/api/v1/rules", headers=acme.key).status_code == 200 for _ in range(10)
    )


def test_an_address_sending_bad_credentials_is_refused_before_authentication(
    env: Env, acme: TenantFixture
) -> None:
    _limits(env, failure_threshold=5)
    attacker = client_at(env, "198.51.100.23")
    forged = {"Authorization": "Bearer wk_00000000_guess"}
    for _ in range(20):
        assert attacker.get("/api/v1/rules", headers=forged).status_code == 401
    _limits(env, reads_per_second=0.1, reads_burst=3, failure_threshold=5)
    # Score 20 / threshold 5: each request costs 4 of the address's 3 tokens.
    refused = attacker.get("/api/v1/rules", headers=acme.key)
    assert (
        refused.status_code == 429 and "address 198.51.100.23" in refused.json()["error"]["message"]
    )
    assert client_at(env, "203.0.113.8").get("/api/v1/rules", headers=acme.key).status_code == 200


# --- Redis: limits shared by replicas ---------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    if not port_open("127.0.0.1", 6379):
        missing("Redis is not reachable at 127.0.0.1:6379")
    import redis

    prefix = f"wk:test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _principal(name: str, tenant: str = "t1") -> Principal:
    return Principal(kind="apikey", id=name, name=name, tenant_id=tenant, permissions=frozenset())


def _limiter(clock: ManualClock, prefix: str, **values: float) -> RateLimiter:
    settings = RateLimitSettings.model_validate({**values, "redis_key_prefix": prefix})
    return RateLimiter(lambda: settings, clock, redis_url=REDIS_URL)


async def _served(limiter: RateLimiter, principal: Principal, tries: int) -> int:
    served = 0
    for _ in range(tries):
        try:
            await limiter.check(principal, READS)
            served += 1
        except RateLimited:
            pass
    return served


@pytest.mark.anyio
async def test_replicas_share_buckets_and_failure_scores_through_redis(
    redis_prefix: str, clock: ManualClock
) -> None:
    limits = {"reads_per_second": 1.0, "reads_burst": 4.0, "failure_threshold": 2.0}
    one, two = _limiter(clock, redis_prefix, **limits), _limiter(clock, redis_prefix, **limits)
    try:
        alice = _principal("alice")
        assert await _served(one, alice, 3) == 3
        assert await _served(two, alice, 3) == 1  # the bucket is shared
        with pytest.raises(RateLimited) as refused:
            await two.check(alice, READS)
        assert 0.9 < refused.value.retry_after <= 1.0
        clock.advance(4)
        bob = _principal("bob")
        for _ in range(8):  # failures seen by one replica: score 8, cost 4 on both
            await one.failed(bob, None)
        assert await _served(two, bob, 4) == 1
        assert await _served(one, _principal("carol"), 4) == 4
    finally:
        await one.close()
        await two.close()


@pytest.mark.anyio
async def test_without_redis_the_limiter_falls_back_to_memory(clock: ManualClock) -> None:
    settings = RateLimitSettings(reads_per_second=1, reads_burst=2)
    limiter = RateLimiter(lambda: settings, clock, redis_url="redis://127.0.0.1:1/0")
    try:
        assert await _served(limiter, _principal("dave"), 3) == 2  # refused locally, not failed
    finally:
        await limiter.close()


def test_two_app_replicas_enforce_one_limit_with_redis(
    tmp_path: Path, clock: ManualClock, redis_prefix: str
) -> None:
    from watchkeeper.api.app import create_app
    from watchkeeper.bootstrap import initialise
    from watchkeeper.config import apply_patch

    result = initialise(tmp_path / "d", clock=clock, admin_password=ADMIN_PASSWORD)
    shared = apply_patch(
        result.settings,
        {
            "redis_url": REDIS_URL,
            "security": {
                "rate_limits": {
                    "reads_per_second": 1,
                    "reads_burst": 4,
                    "redis_key_prefix": redis_prefix,
                }
            },
        },
    )
    first_app, second_app = (
        create_app(apply_patch(shared, {"storage": {"path": str(tmp_path / name)}}), clock=clock)
        for name in ("metrics-a", "metrics-b")
    )
    with TestClient(first_app) as first, TestClient(second_app) as second:
        login = first.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        codes = [
            replica.get("/api/v1/rules", headers=headers).status_code
            for replica in (first, second, first, second, first, second)
        ]
    assert codes == [200, 200, 200, 200, 429, 429]
