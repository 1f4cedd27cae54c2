"""Token buckets and decaying failure scores, in memory or in Redis.

A bucket holds up to `burst` tokens and refills at `rate` per second; a request takes tokens
from every bucket it is charged to, or from none (all or nothing). Each charge names a failure
score; a score above the threshold makes the request cost more (score / threshold tokens, at
most `max_cost`), so a caller that keeps failing gets a proportionally smaller share. Scores
halve every `half_life` seconds.

The Redis backend does the same in one Lua script per request, so replicas share the limits;
time comes from the caller's (injected) clock, not from Redis.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


class Charge(NamedTuple):
    """A request's claim on `bucket`; `score` raises its cost; `penalize`: a refusal adds a
    failure to `score` (a tenant over its share). A tuple: built twice per request."""

    bucket: str
    rate: float
    burst: float
    score: str
    penalize: bool = False


@dataclass(frozen=True)
class Penalty:
    threshold: float
    half_life: float
    max_cost: float

    def cost(self, score: float) -> float:
        return 1.0 if score <= self.threshold else min(self.max_cost, score / self.threshold)


class Buckets(Protocol):
    async def take(self, charges: list[Charge], now: float, penalty: Penalty) -> float:
        """0.0 when every bucket had its tokens (now taken), else seconds until they will."""
        ...

    async def fail(self, key: str, now: float, penalty: Penalty) -> None:
        """One more failure on a score."""
        ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """One process's buckets: plain dicts under a lock, about a microsecond per charge."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, list[float]] = {}
        self._scores: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def known(self, key: str) -> bool:
        """Has this score seen a failure (not yet forgotten)? A dict lookup, no decay maths."""
        return key in self._scores

    def score(self, key: str, now: float, half_life: float) -> float:
        item = self._scores.get(key)
        if item is None:
            return 0.0
        return item[0] * math.exp2(-(now - item[1]) / half_life)

    def take_now(self, charges: list[Charge], now: float, penalty: Penalty) -> float:
        with self._lock:
            buckets = self._buckets
            if len(buckets) > self._max_keys:
                buckets.clear()  # forgetting buckets only ever lets requests through
            wait = 0.0
            states: list[tuple[list[float], float]] = []
            for charge in charges:
                cost = 1.0
                if charge.score in self._scores:
                    score = self.score(charge.score, now, penalty.half_life)
                    if score < 0.01:  # forgiven: back to the allocation-free path
                        del self._scores[charge.score]
                    cost = penalty.cost(score)
                state = buckets.get(charge.bucket)
                if state is None:
                    state = buckets[charge.bucket] = [charge.burst, now]
                tokens = min(charge.burst, state[0] + (now - state[1]) * charge.rate)
                state[0], state[1] = tokens, now
                if tokens < cost:
                    wait = max(wait, (cost - tokens) / charge.rate)
                    if charge.penalize:
                        self._add(charge.score, now, penalty)
                states.append((state, cost))
            if wait:
                return wait
            for state, cost in states:
                state[0] -= cost
            return 0.0

    async def take(self, charges: list[Charge], now: float, penalty: Penalty) -> float:
        return self.take_now(charges, now, penalty)

    def take_pair(self, first: Charge, second: Charge, now: float, penalty: Penalty) -> float:
        """`take_now` for the usual principal + tenant pair, without the general loop: this
        runs on every request, so it avoids allocations on the path where both are unpenalised
        and have tokens."""
        scores = self._scores
        if first.score in scores or second.score in scores:
            return self.take_now([first, second], now, penalty)
        with self._lock:
            buckets = self._buckets
            a = buckets.get(first.bucket)
            b = buckets.get(second.bucket)
            if a is None or b is None:
                if len(buckets) > self._max_keys:
                    buckets.clear()
                if a is None:
                    a = buckets[first.bucket] = [first.burst, now]
                if b is None:
                    b = buckets[second.bucket] = [second.burst, now]
            ta = a[0] + (now - a[1]) * first.rate
            if ta > first.burst:
                ta = first.burst
            tb = b[0] + (now - b[1]) * second.rate
            if tb > second.burst:
                tb = second.burst
            a[1] = b[1] = now
            if ta >= 1.0 and tb >= 1.0:
                a[0], b[0] = ta - 1.0, tb - 1.0
                return 0.0
            a[0], b[0] = ta, tb
            if tb < 1.0 and second.penalize:
                self._add(second.score, now, penalty)
            if ta < 1.0 and first.penalize:
                self._add(first.score, now, penalty)
            return max(
                (1.0 - ta) / first.rate if ta < 1.0 else 0.0,
                (1.0 - tb) / second.rate if tb < 1.0 else 0.0,
            )

    def _add(self, key: str, now: float, penalty: Penalty) -> None:
        current = self.score(key, now, penalty.half_life)
        if len(self._scores) > self._max_keys:
            self._scores.clear()
        self._scores[key] = (current + 1.0, now)

    def fail_now(self, key: str, now: float, penalty: Penalty) -> None:
        with self._lock:
            self._add(key, now, penalty)

    async def fail(self, key: str, now: float, penalty: Penalty) -> None:
        self.fail_now(key, now, penalty)

    async def close(self) -> None:
        return None


# Scores are hashes {s, t}; buckets are hashes {k (tokens), t}.
_LIB = """
local function score_of(key, now, half_life)
  local saved = redis.call('HMGET', key, 's', 't')
  if not saved[1] then return 0 end
  return tonumber(saved[1]) * math.pow(2, -math.max(0, now - tonumber(saved[2])) / half_life)
end
local function add_failure(key, now, half_life)
  local score = score_of(key, now, half_life) + 1
  redis.call('HSET', key, 's', tostring(score), 't', tostring(now))
  redis.call('EXPIRE', key, math.ceil(half_life * 20))
end
"""

# KEYS: bucket, score for each charge. ARGV: now, half_life, threshold, max_cost, then
# rate, burst, penalize (0/1) for each charge. Returns the wait in seconds, as a string.
_TAKE = (
    _LIB
    + """
local now, half_life = tonumber(ARGV[1]), tonumber(ARGV[2])
local threshold, max_cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS / 2
local wait = 0
local tokens, costs = {}, {}
for i = 1, n do
  local rate = tonumber(ARGV[2 + i * 3])
  local burst = tonumber(ARGV[3 + i * 3])
  local score = score_of(KEYS[n + i], now, half_life)
  local cost = 1
  if score > threshold then cost = math.min(max_cost, score / threshold) end
  local saved = redis.call('HMGET', KEYS[i], 'k', 't')
  local have = burst
  if saved[1] then
    have = math.min(burst, tonumber(saved[1]) + math.max(0, now - tonumber(saved[2])) * rate)
  end
  tokens[i], costs[i] = have, cost
  if have < cost then
    wait = math.max(wait, (cost - have) / rate)
    if ARGV[4 + i * 3] == '1' then add_failure(KEYS[n + i], now, half_life) end
  end
end
for i = 1, n do
  local rate = tonumber(ARGV[2 + i * 3])
  local burst = tonumber(ARGV[3 + i * 3])
  local have = tokens[i]
  if wait == 0 then have = have - costs[i] end
  redis.call('HSET', KEYS[i], 'k', tostring(have), 't', tostring(now))
  redis.call('EXPIRE', KEYS[i], math.ceil(burst / rate) + 60)
end
return tostring(wait)
"""
)

# KEYS: a score. ARGV: now, half_life.
_FAIL = _LIB + "add_failure(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))\nreturn 1\n"


class RedisBuckets:
    """Buckets shared by every replica through Redis (`redis_url`); keys under `prefix`."""

    def __init__(self, url: str, password: str | None, prefix: str) -> None:
        import redis.asyncio as aioredis

        self.prefix = prefix
        self._client: Any = aioredis.Redis.from_url(
            url, password=password, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._take = self._client.register_script(_TAKE)
        self._fail = self._client.register_script(_FAIL)

    async def take(self, charges: list[Charge], now: float, penalty: Penalty) -> float:
        keys = [self.prefix + c.bucket for c in charges]
        keys += [self.prefix + c.score for c in charges]
        args: list[float | int] = [now, penalty.half_life, penalty.threshold, penalty.max_cost]
        for charge in charges:
            args += [charge.rate, charge.burst, int(charge.penalize)]
        return float(await self._take(keys=keys, args=args))

    async def fail(self, key: str, now: float, penalty: Penalty) -> None:
        await self._fail(keys=[self.prefix + key], args=[now, penalty.half_life])

    async def close(self) -> None:
        await self._client.aclose()
