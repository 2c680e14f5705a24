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
below awkward; a sliding-window log *of events* costs memory per event (ours, below, logs
grants: one entry per request).

Exact per second (issue 12): TikTok counts the events that *arrive* for a pixel; we assume the
strict reading, at most ``limit`` in every sliding one-second window (``emulator/ratelimit.py``
counts exactly that). A bucket of capacity ``b`` refilled at ``r`` grants at most
``b + r * t`` over ``t`` seconds (its whole content at once, then the refill), so "every
second <= limit" needs ``b + r <= limit``. Grants are discrete (``take(n)`` is all or
nothing), but partial batches, bisected halves and retries come in every size, so the bound is
reached: a bucket of 500 at 990/s granted 1,490 in one second, and a brand limited to 100/s
(whose burst used to be a whole batch) got 500. With ``r`` at 97-99 % of the limit, ``b`` and
so every request would be 1-3 % of it: 10-30 events at 1,000/s, 30-100 requests per second per
brand, and each grant waits for a Celery countdown, whose lateness a bucket that small cannot
absorb. So the bucket is no longer the only rule: the script also keeps the grants of the last
``window_s`` (one entry per *grant*, i.e. per request, in the same hash) and grants ``n`` only
if they plus ``n`` stay within ``burst``. That is exact by construction, for any grant sizes,
any number of takers on any number of hosts (one atomic script on Redis's clock), any limit.

Sizing, from the configured ``limit`` (see :func:`tiktok_burst` and the functions below):

* ``burst = floor(limit)`` (at least 1; ``MASIVO_TIKTOK_BURST`` may only lower it): the most
  granted in any window, and the bucket's capacity. An idle brand may send one second of
  budget at once, never more.
* ``window_s = max(1, burst / limit) / (1 - headroom)``: slightly *longer* than a second (1.0101
  s at the default 1 % headroom). That is the slack at TikTok's. Events granted in a window of
  ``window_s`` reach TikTok in a window of one second only if the first request travelled
  ``window_s - 1`` s (10 ms) longer than one sent up to a second later; shorter differences keep
  every one-second window of arrivals within the limit. The earlier rule (our burst = TikTok's
  less one request) kept one request of slack against a *token bucket* at TikTok's; under the
  sliding reading a request's worth of slack would cost a request's share of every second (50 %
  with requests of half the burst), so the slack is kept as time, and the headroom is its price:
  at most ``burst / window_s = (1 - headroom) * limit`` per second on average, as before. Jitter
  beyond that, or a TikTok that counts otherwise, meets the adaptive back-off below.
* Counted from when a request *leaves*: the flush calls :meth:`TokenBucket.restamp` right
  before its HTTP request, which moves the grant's entry in the log to that moment (later,
  never earlier). What happens between grant and send (claiming the batch, a CPU busy with
  other work: tens of ms under load) is then not jitter at TikTok's: the window holds on send
  times for every request sent within a window of its grant (hypothesis-checked with sends up
  to 0.9 s late). The 10 ms of slack is left for the network and TikTok's own stamping.
* ``rate = (1 - headroom) * limit``: the bucket's refill, which matters after a 40100 (the
  factor below) and spreads grants after an idle period.
* ``request_size = min(batch_size, burst // 2)`` (at least 1): two requests fit a window, so two
  workers send in parallel and a request never waits for a whole window to empty. 500 at
  1,000/s (as before), 50 at 100/s, 2 at 5/s, 1 at 1/s, 1,000 (a full batch) from 2,000/s up.

Over any interval of ``t`` seconds at most ``burst * ceil(t / window_s)`` events are granted,
which is at most ``limit`` for every ``t <= 1``: checked by ``tests/worker/store/
test_ratelimit_window.py`` (hypothesis, limits 1 to 10,000, many takers, simulated clock) and,
end to end against the emulator, by ``tests/system/test_fair_rate.py``. The log holds one entry
per grant inside the window: two or three with full requests, in theory at most ``burst`` or
about 1,000 (grants of the same millisecond share one entry, counted as granted at its end).
With ``window_s`` 0 (the default of :class:`TokenBucket`, for callers that want a plain bucket)
the script is the bucket alone.

Adaptive back-off: when TikTok answers 40100 (rate limited), :meth:`TokenBucket.penalize`
empties the bucket and multiplies the *factor* by 0.5 (floor 5 %). The factor then climbs back
linearly by +10 % of the base rate per second without a new penalty, to 1. Tokens accrue at
``rate * factor(t)``, integrated exactly in Lua, so results do not depend on how often the
script runs. Penalties within 1 s of the previous one empty the bucket but do not cut again:
one burst of 40100s from parallel requests is one signal, not ten.

The Lua contract (``worker/lua/token_bucket.lua``)::

    KEYS[1]   mtt:{<name>}:bucket   hash: tokens, ts (µs), factor, pen (µs of last penalty),
                                    log (the window's grants, "<µs>:<n>," oldest first)
    ARGV[1]   "take" | "penalize" | "state" | "restamp"
    ARGV[2]   rate (tokens/s, > 0)          ARGV[3]  burst (capacity)
    ARGV[4]   n (tokens wanted)             ARGV[5]  ttl_ms (PEXPIRE after each write)
    ARGV[6]   penalty multiplier (0.5)      ARGV[7]  min factor (0.05)
    ARGV[8]   recovery per second (0.1)     ARGV[9]  penalty window (µs)
    ARGV[10]  now in µs, "" = Redis TIME (a simulated clock, for tests only)
    ARGV[11]  window in µs (0 = none): at most ``burst`` granted in any window this long
    ARGV[12]  "restamp": the grant's stamp (from "take"'s fifth value)
    returns   {granted, wait_s, tokens, factor[, stamp]} as strings (tokens: grantable now)

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
    "window_s",
]


PENALTY: Final = 0.5
MIN_FACTOR: Final = 0.05
RECOVERY_PER_S: Final = 0.1
PENALTY_WINDOW_S: Final = 1.0


def refill_rate(limit: float, headroom: float) -> float:
    """The bucket's refill rate: the configured limit less the headroom (0 = unlimited)."""
    return limit * (1.0 - headroom)


def tiktok_burst(limit: float, batch_size: int, burst: int | None = None) -> int:
    """The most granted in any window: one second of budget, ``burst`` only to lower it.

    ``batch_size`` no longer raises it (it used to be at least a batch: 1,000 events in one
    second for a brand limited to 100/s). Unlimited (``limit <= 0``): a batch.
    """
    if limit <= 0:
        return burst or batch_size
    whole = max(1, int(limit))
    return max(1, min(whole, burst)) if burst else whole


def request_size(limit: float, batch_size: int, burst: int | None = None) -> int:
    """Events per request: the batch size, or half of the burst when rate-limited (>= 1)."""
    if limit <= 0:
        return batch_size
    return max(1, min(batch_size, tiktok_burst(limit, batch_size, burst) // 2))


def bucket_capacity(limit: float, batch_size: int, burst: int | None = None) -> int:
    """Our bucket's capacity, which is also the most granted in any window: the burst.

    The slack at TikTok's is no longer one request held back from the capacity (that was
    against a token bucket at TikTok's; see the module docstring) but the window being longer
    than a second (:func:`window_s`). Always >= :func:`request_size`.
    """
    return tiktok_burst(limit, batch_size, burst)


def window_s(limit: float, headroom: float, burst: int) -> float:
    """The sliding window in which at most ``burst`` events are granted (0 = unlimited).

    ``max(1, burst / limit)`` seconds is when ``burst`` events are exactly the limit; dividing
    by ``1 - headroom`` makes it a little longer: that much arrival jitter is tolerated.
    """
    if limit <= 0:
        return 0.0
    return max(1.0, burst / limit) / (1.0 - headroom)


def bucket_key(name: str) -> str:
    """``mtt:{name}:bucket``: the hash tag keeps it with the destination's other keys."""
    return keys.bucket(name)


@dataclass(frozen=True)
class Grant:
    """The answer to ``take(n)``: ``granted`` is n or 0; retry after ``wait_s`` if 0."""

    granted: int
    wait_s: float
    tokens: float  # left after this call (inf when unlimited)
    #: where the grant sits in the bucket's window log (µs; 0 = no window): see restamp
    stamp_us: int = 0


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
        window_s: float = 0.0,
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
        if window_s < 0 or not math.isfinite(window_s):
            raise ValueError(f"window_s must be a finite number >= 0, got {window_s}")
        #: at most ``burst`` granted in any window this long (0 = the bucket alone)
        self.window_s = float(window_s)
        if idle_ttl_s is None:
            # long enough to refill from empty at the lowest rate and to recover fully:
            # after that the stored state equals a missing key's, so expiring loses nothing
            slowest = burst / (self.rate * min_factor) if self.rate else 0.0
            idle_ttl_s = slowest + (1 - min_factor) / recovery_per_s + 60.0
        self.idle_ttl_s = max(idle_ttl_s, self.window_s)  # the log must outlive its window
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
        raw = self._script(keys=[self.key], args=self._args("take", n, now_us))
        stamp = int(float(raw[4])) if len(raw) > 4 else 0
        return Grant(int(float(raw[0])), float(raw[1]), float(raw[2]), stamp)

    def restamp(self, grant: Grant, *, now_us: int | None = None) -> None:
        """The request of ``grant`` leaves now: count it in the window from now, not from
        its grant (moved later: never more granted). Called right before the HTTP request,
        so what happened in between (the claim, a busy CPU) is not arrival jitter at TikTok's:
        the window then holds on send times for any request sent within a window of its
        grant. No-op without a window."""
        if grant.stamp_us and grant.granted and not self.unlimited:
            args = self._args("restamp", grant.granted, now_us)
            self._script(keys=[self.key], args=[*args, str(grant.stamp_us)])

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
            str(round(self.window_s * 1_000_000)),
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
