"""The Redis token bucket, against a real Redis, on a simulated clock where time matters."""

from __future__ import annotations

import math
import threading
import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.store.ratelimit import (
    Grant,
    TokenBucket,
    bucket_capacity,
    bucket_key,
    refill_rate,
    request_size,
    tiktok_burst,
    window_s,
)

T0 = 1_700_000_000_000_000  # a simulated "now" in µs
SECOND = 1_000_000


def _redis_time_s(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def test_key_is_hash_tagged(redis_client: redis.Redis) -> None:
    assert bucket_key("brand-a") == "mtt:{brand-a}:bucket"
    bucket = TokenBucket(redis_client, "brand-a", rate=10, burst=5)
    bucket.take(1)
    assert redis_client.exists("mtt:{brand-a}:bucket") == 1


def test_grants_up_to_burst_then_says_how_long_to_wait(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "b", rate=100, burst=10)
    grants = [bucket.take(3, now_us=T0) for _ in range(3)]
    assert [g.granted for g in grants] == [3, 3, 3]
    assert grants[-1].tokens == pytest.approx(1)
    refused = bucket.take(3, now_us=T0)
    assert refused.granted == 0
    assert refused.wait_s == pytest.approx(0.02)
    assert refused.tokens == pytest.approx(1)
    # exactly when it said: 2 tokens at 100/s are 20 ms away
    assert bucket.take(3, now_us=T0 + 19_000).granted == 0
    assert bucket.take(3, now_us=T0 + 20_001).granted == 3


def test_refill_never_exceeds_burst(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "b", rate=1000, burst=50)
    assert bucket.take(50, now_us=T0).granted == 50
    assert bucket.state(now_us=T0 + 3600 * SECOND)["tokens"] == pytest.approx(50)
    assert bucket.take(50, now_us=T0 + 3600 * SECOND).granted == 50


def test_refills_from_redis_time(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "real-clock", rate=1000, burst=1000)
    assert bucket.take(1000).granted == 1000
    start = _redis_time_s(redis_client)
    while _redis_time_s(redis_client) - start < 0.01:  # busy-wait on Redis's clock, ~10 ms
        pass
    tokens = bucket.state()["tokens"]
    assert 5 <= tokens <= 1000  # at least 10 ms of refill at 1000/s, never above capacity


def test_invalid_takes_raise(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "b", rate=10, burst=5)
    with pytest.raises(ValueError, match="capacity"):
        bucket.take(6)
    with pytest.raises(ValueError, match="n >= 1"):
        bucket.take(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(redis_client, "b", rate=10, burst=0)


def test_rate_zero_is_unlimited_and_touches_nothing(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "free", rate=0, burst=10)
    assert all(bucket.take(10).granted == 10 for _ in range(100))
    bucket.penalize()
    assert bucket.take(10) == Grant(granted=10, wait_s=0.0, tokens=math.inf)
    assert bucket.state()["tokens"] == math.inf
    assert redis_client.keys("*") == []


def test_penalize_empties_halves_and_recovers(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "p", rate=100, burst=100)
    bucket.take(1, now_us=T0)
    bucket.penalize(now_us=T0)
    state = bucket.state(now_us=T0)
    assert state["tokens"] == 0
    assert state["factor"] == pytest.approx(0.5)
    assert state["rate"] == pytest.approx(50)
    refused = bucket.take(10, now_us=T0)
    assert refused.granted == 0
    assert refused.wait_s == pytest.approx(10 / 50)  # at the effective rate
    # a second 40100 in the same burst empties the bucket but does not cut again
    bucket.penalize(now_us=T0 + SECOND // 10)
    assert bucket.state(now_us=T0 + SECOND // 10)["factor"] == pytest.approx(0.51)
    # one second later: +10 % of the base rate
    later = bucket.state(now_us=T0 + SECOND + SECOND // 10)
    assert later["factor"] == pytest.approx(0.61)
    # tokens are the exact integral of the rising rate: 100 * (0.51 + 0.61) / 2
    assert later["tokens"] == pytest.approx(56)
    assert bucket.state(now_us=T0 + 10 * SECOND)["factor"] == 1.0


def test_penalties_compound_down_to_the_floor(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "p", rate=1000, burst=1000)
    for i in range(10):
        bucket.penalize(now_us=T0 + i * 2000)  # 2 ms apart: inside the window, one cut
    assert bucket.state(now_us=T0 + 20_000)["factor"] == pytest.approx(0.5, abs=0.01)
    # a 40100 every second: the cut (x0.5) meets the recovery (+0.1/s) at factor 0.1
    for i in range(1, 30):
        bucket.penalize(now_us=T0 + i * SECOND)
    assert bucket.state(now_us=T0 + 29 * SECOND)["factor"] == pytest.approx(0.1, abs=1e-3)
    eager = TokenBucket(redis_client, "q", rate=1000, burst=1000, penalty_window_s=0)
    for _ in range(10):
        eager.penalize(now_us=T0)
    assert eager.state(now_us=T0)["factor"] == pytest.approx(0.05)
    assert eager.state(now_us=T0)["rate"] == pytest.approx(50)


def test_clock_going_back_grants_nothing_extra(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "c", rate=10, burst=10)
    assert bucket.take(10, now_us=T0).granted == 10
    assert bucket.take(1, now_us=T0 - 3600 * SECOND).granted == 0
    assert bucket.take(1, now_us=T0 - 3600 * SECOND + SECOND // 10 + 1).granted == 1


def test_idle_bucket_expires(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "idle", rate=10, burst=10)
    bucket.take(1)
    ttl = redis_client.pttl(bucket.key)
    assert 0 < ttl <= math.ceil(bucket.idle_ttl_s * 1000)
    assert bucket.idle_ttl_s >= 10 / (10 * 0.05)  # long enough to refill at the floor rate
    short = TokenBucket(redis_client, "idle-short", rate=10, burst=10, idle_ttl_s=0.001)
    short.take(1)
    start = _redis_time_s(redis_client)
    while _redis_time_s(redis_client) - start < 0.005:  # let Redis's clock pass the 1 ms TTL
        pass
    assert redis_client.exists(short.key) == 0


def test_threads_sharing_a_bucket_never_exceed_the_limit(redis_url: str) -> None:
    rate, burst = 200.0, 20
    name = f"shared-{uuid.uuid4().hex}"
    granted: list[int] = []
    lock = threading.Lock()
    client = redis.Redis.from_url(redis_url)
    start = _redis_time_s(client)

    def worker() -> None:
        own = redis.Redis.from_url(redis_url)
        bucket = TokenBucket(own, name, rate=rate, burst=burst)
        total = sum(bucket.take(1).granted + bucket.take(3).granted for _ in range(100))
        with lock:
            granted.append(total)
        own.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = _redis_time_s(client) - start
    client.close()
    assert sum(granted) >= burst
    assert sum(granted) <= burst + rate * elapsed + 1e-6


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rate=st.floats(min_value=0.5, max_value=5000),
    burst=st.integers(min_value=1, max_value=1000),
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2 * SECOND),  # time since the previous call
            st.floats(min_value=0.0, max_value=1.0),  # take size as a fraction of burst
            st.booleans(),  # a 40100 penalty at this step
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_property_never_more_than_burst_plus_rate_times_elapsed(
    redis_client: redis.Redis,
    rate: float,
    burst: int,
    steps: list[tuple[int, float, bool]],
) -> None:
    bucket = TokenBucket(redis_client, f"prop-{uuid.uuid4().hex}", rate=rate, burst=burst)
    now, total = T0, 0
    for delta, fraction, penalty in steps:
        now += delta
        if penalty:
            bucket.penalize(now_us=now)
        n = max(1, round(fraction * burst))
        grant = bucket.take(n, now_us=now)
        assert grant.granted in (0, n)
        assert grant.tokens >= 0
        assert grant.wait_s >= 0
        assert (grant.wait_s == 0) == (grant.granted == n)
        total += grant.granted
        elapsed = (now - T0) / SECOND
        assert total <= burst + rate * elapsed + 1e-6 * max(1.0, rate * elapsed)
    redis_client.delete(bucket.key)


def test_rate_keeps_headroom_and_burst_is_one_second_of_budget() -> None:
    # issue 12: the burst used to be max(batch, rate) = 1000 here, so a brand limited to
    # 200/s could get 500 events in one second; now no window holds more than the limit
    assert refill_rate(200, 0.01) == pytest.approx(198)
    assert tiktok_burst(200, batch_size=1000) == 200
    assert request_size(200, batch_size=1000) == 100  # two requests fit a window
    assert bucket_capacity(200, batch_size=1000) == 200
    assert window_s(200, 0.01, 200) == pytest.approx(1 / 0.99)  # the slack, as time


def test_a_configured_burst_and_a_fast_limit_size_the_bucket() -> None:
    assert tiktok_burst(5000, batch_size=1000) == 5000  # one second of budget
    assert request_size(5000, batch_size=1000) == 1000
    assert bucket_capacity(5000, batch_size=1000) == 5000
    assert tiktok_burst(5000, batch_size=1000, burst=300) == 300
    assert request_size(5000, batch_size=1000, burst=300) == 150
    assert bucket_capacity(5000, batch_size=1000, burst=300) == 300
    assert request_size(10, batch_size=1000, burst=1) == 1  # never below one event
    assert bucket_capacity(10, batch_size=1000, burst=1) == 1
    # a configured burst may lower the window's content, never raise it above the limit
    assert bucket_capacity(100, batch_size=1000, burst=5000) == 100


def test_small_and_fractional_limits_never_exceed_one_second_of_budget() -> None:
    assert (bucket_capacity(1, 1000), request_size(1, 1000)) == (1, 1)
    assert (bucket_capacity(5, 1000), request_size(5, 1000)) == (5, 2)
    assert (bucket_capacity(2.5, 1000), request_size(2.5, 1000)) == (2, 1)
    assert window_s(2.5, 0.0, 2) == pytest.approx(1.0)
    # below one event per second: one event per 1/limit seconds
    assert bucket_capacity(0.5, 1000) == 1
    assert window_s(0.5, 0.0, 1) == pytest.approx(2.0)
    assert window_s(0, 0.01, 1000) == 0  # unlimited: no window


def test_without_a_rate_limit_requests_carry_full_batches() -> None:
    assert refill_rate(0, 0.01) == 0
    assert request_size(0, batch_size=1000) == 1000
    assert bucket_capacity(0, batch_size=1000) == 1000  # never consulted: unlimited


def test_many_bucket_states_in_one_round_trip_equal_their_own_reads(
    redis_client: redis.Redis,
) -> None:
    from worker.store.ratelimit import states

    buckets = [
        TokenBucket(redis_client, f"b{i}", rate=100.0 * (i + 1), burst=1000) for i in range(3)
    ]
    buckets.append(TokenBucket(redis_client, "free", rate=0, burst=1000))
    buckets[1].take(400)
    buckets[2].penalize()
    together = states(redis_client, buckets)
    alone = [b.state() for b in buckets]
    for a, b in zip(together, alone, strict=True):
        assert a["factor"] == pytest.approx(b["factor"], abs=0.01)  # it recovers as time passes
        assert a["rate"] == pytest.approx(b["rate"], rel=0.02)
        assert a["tokens"] == pytest.approx(b["tokens"], abs=50)
