"""Who may send how much: a bucket per principal and per tenant for each kind of request.

Kinds: `reads` (GET/HEAD and PromQL queries, whatever the method), `ingest` (remote_write,
JSON ingest) and `writes` (every other state-changing request). A request is charged to its
principal's bucket and to its tenant's (`tenant_multiplier` times larger), so one tenant's
machines cannot take the whole server either.

Adaptive: every principal, client address and tenant has a failure score (bad credentials,
4xx answers, refusals of a tenant over its share) that halves every `failure_half_life_seconds`.
Above `failure_threshold`, each request costs score/threshold tokens (at most `max_penalty`):
a client that keeps failing gets less, in proportion, and recovers by itself once it stops.

State lives in Redis when `redis_url` is set (limits hold across replicas), else in memory.
If Redis fails, this process falls back to its memory buckets for a while (logged) rather
than refusing or stalling requests.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from watchkeeper.auth.principal import Principal
from watchkeeper.clock import Clock
from watchkeeper.config import RateLimitSettings
from watchkeeper.ratelimit.buckets import Buckets, Charge, MemoryBuckets, Penalty, RedisBuckets

log = structlog.get_logger(__name__)

READS, WRITES, INGEST = "reads", "writes", "ingest"
INGEST_PREFIXES = ("/api/v1/write", "/api/v1/ingest", "/v1/metrics", "/api/v1/otlp/")
"""Data-plane writes: remote_write, JSON push, OTLP (both of its paths)."""
# PromQL, metadata and remote_read: reads that Grafana and Prometheus clients send as POST.
READ_PREFIXES = (
    "/api/v1/query",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/label/",
    "/api/v1/read",
)
EXEMPT_PREFIXES = ("/health/", "/metrics")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REDIS_RETRY_SECONDS = 30.0


def kind_of(method: str, path: str) -> str | None:
    """The bucket a request is charged to; None for probes and /metrics (never limited)."""
    if path.startswith(EXEMPT_PREFIXES):
        return None
    if path.startswith(INGEST_PREFIXES):
        return INGEST
    if method in _READ_METHODS or path.startswith(READ_PREFIXES):
        return READS
    return WRITES


class RateLimited(Exception):
    """Over a limit: answer 429 with Retry-After."""

    def __init__(self, retry_after: float, kind: str, subject: str) -> None:
        self.retry_after = retry_after
        self.kind = kind
        self.subject = subject
        super().__init__(
            f"rate limit for {kind} exceeded ({subject}; security.rate_limits); "
            f"retry in {retry_after:.1f} s"
        )


class RateLimiter:
    def __init__(
        self,
        settings: Callable[[], RateLimitSettings],
        clock: Clock,
        *,
        redis_url: str | None = None,
        redis_password: str | None = None,
    ) -> None:
        self._settings = settings
        self.clock = clock
        self.memory = MemoryBuckets()
        self.shared: RedisBuckets | None = (
            RedisBuckets(redis_url, redis_password, settings().redis_key_prefix)
            if redis_url
            else None
        )
        self._redis_down_until = 0.0
        self._charge_cache: dict[tuple[str, str, str, str], tuple[Charge, Charge]] = {}
        self._cached: tuple[RateLimitSettings, Penalty, dict[str, tuple[float, float]]] | None = (
            None
        )

    def _config(self) -> tuple[RateLimitSettings, Penalty, dict[str, tuple[float, float]]]:
        current = self._settings()
        cached = self._cached
        if cached is None or cached[0] is not current:
            penalty = Penalty(
                current.failure_threshold, current.failure_half_life_seconds, current.max_penalty
            )
            rates = {
                READS: (current.reads_per_second, current.reads_burst),
                WRITES: (current.writes_per_second, current.writes_burst),
                INGEST: (current.ingest_per_second, current.ingest_burst),
            }
            cached = self._cached = (current, penalty, rates)
            self._charge_cache = {}
        return cached

    def _backend(self) -> Buckets | None:
        if self.shared is None or self.clock.time() < self._redis_down_until:
            return None
        return self.shared

    def _redis_failed(self, exc: Exception) -> None:
        self._redis_down_until = self.clock.time() + REDIS_RETRY_SECONDS
        log.warning("rate_limit_redis_unavailable", error=str(exc), retry_s=REDIS_RETRY_SECONDS)

    def _charges(self, principal: Principal, kind: str) -> tuple[Charge, Charge]:
        """The principal's and its tenant's charge for `kind`, built once per principal and
        settings (they are the same for every request)."""
        key = (principal.kind, principal.id, principal.tenant_id, kind)
        hit = self._charge_cache.get(key)
        if hit is None:
            config, _, rates = self._config()
            rate, burst = rates[kind]
            scale = config.tenant_multiplier
            who = f"{principal.kind}:{principal.id}"
            tenant = principal.tenant_id
            hit = (
                Charge(f"b:{who}:{kind}", rate, burst, f"f:{who}"),
                Charge(f"b:t:{tenant}:{kind}", rate * scale, burst * scale, f"f:t:{tenant}", True),
            )
            if len(self._charge_cache) >= 100_000:
                self._charge_cache.clear()
            self._charge_cache[key] = hit
        return hit

    async def check(self, principal: Principal, kind: str) -> None:
        """Charge one request; raises RateLimited when the principal or its tenant is over."""
        config, penalty, _ = self._config()
        if not config.enabled:
            return
        mine, tenants = self._charges(principal, kind)
        now = self.clock.time()
        backend = self._backend()
        if backend is None:
            wait = self.memory.take_pair(mine, tenants, now, penalty)
        else:
            try:
                wait = await backend.take([mine, tenants], now, penalty)
            except Exception as exc:  # Redis down: limit locally, do not fail the request
                self._redis_failed(exc)
                wait = self.memory.take_pair(mine, tenants, now, penalty)
        if wait:
            raise RateLimited(wait, kind, f"{principal.kind} {principal.name!r}")

    async def check_address(self, address: str, kind: str) -> None:
        """Before authentication: an address with many recent failures (bad credentials) is
        limited like a principal, at its penalised cost. Free for addresses without failures."""
        config, penalty, rates = self._config()
        if not config.enabled:
            return
        score = f"f:a:{address}"
        # Addresses this process has not seen fail pass without a lookup (with Redis too:
        # the shared score is consulted once this replica has seen the address fail).
        if not self.memory.known(score):
            return
        backend = self._backend()
        rate, burst = rates[kind]
        charges = [Charge(f"b:a:{address}:{kind}", rate, burst, score)]
        now = self.clock.time()
        if backend is None:
            wait = self.memory.take_now(charges, now, penalty)
        else:
            try:
                wait = await backend.take(charges, now, penalty)
            except Exception as exc:
                self._redis_failed(exc)
                return
        if wait:
            raise RateLimited(wait, kind, f"address {address}")

    async def failed(self, principal: Principal | None, address: str | None) -> None:
        """A request that failed (4xx): count it against the principal, or the address."""
        if principal is not None:
            key = f"f:{principal.kind}:{principal.id}"
        elif address is not None:
            key = f"f:a:{address}"
        else:
            return
        _, penalty, _ = self._config()
        now = self.clock.time()
        self.memory.fail_now(key, now, penalty)
        backend = self._backend()
        if backend is not None:
            try:
                await backend.fail(key, now, penalty)
            except Exception as exc:
                self._redis_failed(exc)

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()
