"""The global rate limiter: one token bucket per destination (or shared group) in Redis.

Why in Redis and not Celery's ``rate_limit``: Celery limits one worker process; TikTok limits
the pixel/token across every process on every machine. The bucket's state lives in one Redis
hash and is updated by one Lua script (atomic), refilled from Redis's clock
(``redis.call('TIME')``), so hosts with skewed clocks still share one budget. Scripts that read
TIME and then write are fine under effects replication (the default since Redis 5, the only
mode in 7): replicas receive the resulting HSET, not the script.

Why a token bucket (and not GCRA or a sliding window): we take a whole batch (up to 1000
events) at once and need "may I send n now, and if not, when?" — a token bucket answers that
with one hash and O(1) work, and its capacity is exactly the burst we want to allow. GCRA is
the same algorithm stored as one timestamp (as in redis-cell) but makes the adaptive rate
below awkward; a sliding-window log costs memory per event.

Bursts: a full bucket holds ``burst`` tokens (default ``max(batch_size, rate)``, i.e. one full
batch), so an idle destination may send ``burst`` events at once; after that, on average
``rate * effective factor`` per second. Over any interval of ``t`` seconds at most
``burst + rate * t`` events are granted.

Adaptive back-off: when TikTok answers 40100 (rate limited), :meth:`TokenBucket.penalize`
empties the bucket and multiplies the *factor* by 0.5 (floor 5 %). The factor then climbs back
linearly by +10 % of the base rate per second without a new penalty, to 1. Tokens accrue at
``rate * factor(t)``, integrated exactly in Lua, so results do not depend on how often the
script runs. Penalties within 1 s of the previous one empty the bucket but do not cut again:
one burst of 40100s from parallel requests is one signal, not ten.

The Lua contract (``worker/lua/token_bucket.lua``)::

    KEYS[1]   mtt:{<name>}:bucket   hash: tokens, ts (µs), factor, pen (µs of last penalty)
    ARGV[1]   "take" | "penalize" | "state"
    ARGV[2]   rate (tokens/s, > 0)          ARGV[3]  burst (capacity)
    ARGV[4]   n (tokens wanted)             ARGV[5]  ttl_ms (PEXPIRE after each write)
    ARGV[6]   penalty multiplier (0.5)      ARGV[7]  min factor (0.05)
    ARGV[8]   recovery per second (0.1)     ARGV[9]  penalty window (µs)
    ARGV[10]  now in µs, "" = Redis TIME (a simulated clock, for tests only)
    returns   {granted, wait_s, tokens, factor} as strings

Idle buckets expire (PEXPIRE ``idle_ttl_s``, by default long enough to be full and fully
recovered, which is exactly the state of a missing key): abandoned destinations leave nothing.

Nothing here sleeps. A caller that gets ``granted == 0`` re-schedules itself ``wait_s`` later.

Sizing (pure functions of numbers, so this module needs no settings): from a destination's
configured ``limit`` (events/s, 0 = unlimited), the batch size and the assumed TikTok burst,
:func:`refill_rate`, :func:`tiktok_burst`, :func:`request_size` and :func:`bucket_capacity`
give the bucket's rate and capacity and how many events one request carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import redis

from worker.store import keys
from worker.store.lua import Script

__all__ = [
    "Grant",
    "TokenBucket",
    "bucket_capacity",
    "bucket_key",
    "refill_rate",
    "request_size",
    "states",
    "tiktok_burst",
]


PENALTY: Final = 0.5
MIN_FACTOR: Final = 0.05
RECOVERY_PER_S: Final = 0.1
PENALTY_WINDOW_S: Final = 1.0


def refill_rate(limit: float, headroom: float) -> float:
    """The bucket's refill rate: the configured limit less the headroom (0 = unlimited)."""
    return limit * (1.0 - headroom)


def tiktok_burst(limit: float, batch_size: int, burst: int | None = None) -> int:
    """TikTok's burst as we assume it: ``burst``, else one second of budget, at least a batch."""
    return burst or max(batch_size, int(limit))


def request_size(limit: float, batch_size: int, burst: int | None = None) -> int:
    """Events per request: the batch size, or half of TikTok's burst when rate-limited."""
    if limit <= 0:
        return batch_size
    return max(1, min(batch_size, tiktok_burst(limit, batch_size, burst) // 2))


def bucket_capacity(limit: float, batch_size: int, burst: int | None = None) -> int:
    """Our bucket's capacity: TikTok's burst less one request, kept as slack.

    If our bucket could hold TikTok's whole burst, then right after we spent it TikTok's
    bucket would be as empty as ours, and a request that overtook its predecessor by a
    few milliseconds of network jitter would find it short: a 40100. Holding one request
    back leaves TikTok half a second of slack at 1000 events/s, at any moment.
    """
    assumed = tiktok_burst(limit, batch_size, burst)
    if limit <= 0:
        return assumed  # unlimited: the bucket is never consulted
    return max(1, assumed - request_size(limit, batch_size, burst))


def bucket_key(name: str) -> str:
    """``mtt:{name}:bucket``: the hash tag keeps it with the destination's other keys."""
    return keys.bucket(name)


@dataclass(frozen=True)
class Grant:
    """The answer to ``take(n)``: ``granted`` is n or 0; retry after ``wait_s`` if 0."""

    granted: int
    wait_s: float
    tokens: float  # left after this call (inf when unlimited)


class TokenBucket:
    """One shared bucket: ``rate`` tokens/s (0 = unlimited), capacity ``burst``.

    Cheap to build (no I/O): make one per flush if convenient. The script is registered
    once per instance and loaded into Redis on first use (EVALSHA, falling back to LOAD).
    """

    def __init__(
        self,
        redis: redis.Redis,
        name: str,
        rate: float,
        burst: int,
        *,
        penalty: float = PENALTY,
        min_factor: float = MIN_FACTOR,
        recovery_per_s: float = RECOVERY_PER_S,
        penalty_window_s: float = PENALTY_WINDOW_S,
        idle_ttl_s: float | None = None,
    ) -> None:
        if rate < 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a finite number >= 0 (0 = unlimited), got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        if not (0 < penalty < 1 and 0 < min_factor <= 1 and recovery_per_s > 0):
            raise ValueError("need 0 < penalty < 1, 0 < min_factor <= 1, recovery_per_s > 0")
        self.redis = redis
        self.name = name
        self.key = bucket_key(name)
        self.rate = float(rate)
        self.burst = int(burst)
        self.penalty = penalty
        self.min_factor = min_factor
        self.recovery_per_s = recovery_per_s
        self.penalty_window_s = penalty_window_s
        if idle_ttl_s is None:
            # long enough to refill from empty at the lowest rate and to recover fully:
            # after that the stored state equals a missing key's, so expiring loses nothing
            slowest = burst / (self.rate * min_factor) if self.rate else 0.0
            idle_ttl_s = slowest + (1 - min_factor) / recovery_per_s + 60.0
        self.idle_ttl_s = idle_ttl_s
        # allowed under OOM: delivering is what frees a full Redis (worker.store.lua)
        self._script = Script(redis, "token_bucket", allow_oom=True)

    @property
    def unlimited(self) -> bool:
        return self.rate == 0

    def take(self, n: int, *, now_us: int | None = None) -> Grant:
        """Grant all ``n`` tokens now, or none and how long until ``n`` will be there.

        ``wait_s`` assumes the current effective rate; while recovering from a penalty the
        tokens come a little sooner. ``n > burst`` could never be granted and raises
        ``ValueError``: take ``min(n, bucket.burst)``. ``now_us`` is for tests only.
        """
        if n < 1:
            raise ValueError(f"take(n) needs n >= 1, got {n}")
        if n > self.burst:
            raise ValueError(
                f"bucket {self.name!r}: cannot take {n} tokens, capacity (burst) is {self.burst}"
            )
        if self.unlimited:
            return Grant(granted=n, wait_s=0.0, tokens=math.inf)
        granted, wait_s, tokens, _ = self._run("take", n, now_us)
        return Grant(granted=int(granted), wait_s=wait_s, tokens=tokens)

    def penalize(self, *, now_us: int | None = None) -> None:
        """TikTok said 40100: empty the bucket and halve the effective rate (floor 5 %)."""
        if not self.unlimited:
            self._run("penalize", 1, now_us)

    def state(self, *, now_us: int | None = None) -> dict[str, float]:
        """``tokens``, ``rate`` (effective), ``factor``, ``base_rate``, ``burst``; no write."""
        if self.unlimited:
            tokens, factor = math.inf, 1.0
        else:
            _, _, tokens, factor = self._run("state", 1, now_us)
        return self._state_dict(tokens, factor)

    def _args(self, op: str, n: int, now_us: int | None) -> list[str]:
        return [
            op,
            repr(self.rate),
            str(self.burst),
            str(n),
            str(max(1, math.ceil(self.idle_ttl_s * 1000))),
            repr(self.penalty),
            repr(self.min_factor),
            repr(self.recovery_per_s),
            str(round(self.penalty_window_s * 1_000_000)),
            "" if now_us is None else str(int(now_us)),
        ]

    def _run(self, op: str, n: int, now_us: int | None) -> tuple[float, float, float, float]:
        raw = self._script(keys=[self.key], args=self._args(op, n, now_us))
        granted, wait_s, tokens, factor = (float(x) for x in raw)
        return granted, wait_s, tokens, factor

    def _state_dict(self, tokens: float, factor: float) -> dict[str, float]:
        return {
            "tokens": tokens,
            "rate": self.rate * factor,
            "factor": factor,
            "base_rate": self.rate,
            "burst": float(self.burst),
        }


def states(client: redis.Redis, buckets: list[TokenBucket]) -> list[dict[str, float]]:
    """:meth:`TokenBucket.state` of many buckets in one round trip (status, metrics)."""
    limited = [b for b in buckets if not b.unlimited]
    answers: dict[int, tuple[float, float]] = {}
    if limited:
        pipe = client.pipeline(transaction=False)
        for bucket in limited:
            bucket._script(keys=[bucket.key], args=bucket._args("state", 1, None), client=pipe)
        for bucket, raw in zip(limited, pipe.execute(), strict=True):
            answers[id(bucket)] = (float(raw[2]), float(raw[3]))
    return [b._state_dict(*answers.get(id(b), (math.inf, 1.0))) for b in buckets]
