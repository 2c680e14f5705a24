"""Issue 12: a destination's limit holds in EVERY one-second window, from 1 to 10,000 events/s.

The bucket is driven through its Lua script on a simulated clock (``now_us``), sized exactly as
the worker sizes it (:meth:`worker.runtime.Runtime.bucket`), by many takers asking for batches
of every size (full requests, partial batches, bisected halves, single events) at arbitrary
moments, with 40100 penalties thrown in. Whatever they do, the events granted in any closed
one-second window never exceed the limit. Counts only: no wall clock is read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from worker.store.ratelimit import (
    TokenBucket,
    bucket_capacity,
    refill_rate,
    request_size,
    window_s,
)

T0 = 1_700_000_000_000_000  # µs
SECOND = 1_000_000
BATCH = 1000


def busiest_window(grants: Sequence[tuple[int, int]], length_us: int = SECOND) -> int:
    """The most events granted in any closed window ``[t, t + length_us]`` (grants sorted)."""
    best, total, j = 0, 0, 0
    for t, n in grants:
        total += n
        while grants[j][0] < t - length_us:
            total -= grants[j][1]
            j += 1
        best = max(best, total)
    return best


def sized_bucket(client: redis.Redis, limit: float, headroom: float) -> TokenBucket:
    """A bucket sized as the worker sizes a destination's (``Runtime.bucket``)."""
    burst = bucket_capacity(limit, BATCH)
    return TokenBucket(
        client,
        f"win-{uuid.uuid4().hex}",
        rate=refill_rate(limit, headroom),
        burst=burst,
        window_s=window_s(limit, headroom, burst),
    )


def run_takers(
    client: redis.Redis, bucket: TokenBucket, calls: Sequence[tuple[int, int, bool]]
) -> list[tuple[int, int]]:
    """Each call ``(now_us, n, penalize_first)`` in one pipeline (a non-adaptive adversary:
    the takers ask regardless of the answers); returns the grants ``(now_us, n)``."""
    pipe = client.pipeline(transaction=False)
    for now, n, penalty in calls:
        if penalty:
            bucket._script(keys=[bucket.key], args=bucket._args("penalize", 1, now), client=pipe)
        bucket._script(keys=[bucket.key], args=bucket._args("take", n, now), client=pipe)
    answers = iter(pipe.execute())
    grants = []
    for now, n, penalty in calls:
        if penalty:
            next(answers)
        granted = int(float(next(answers)[0]))
        assert granted in (0, n)
        if granted:
            grants.append((now, n))
    client.delete(bucket.key)
    return grants


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    limit=st.one_of(
        st.integers(min_value=1, max_value=10_000),
        st.sampled_from([1, 2, 3, 5, 7, 100, 999, 1000, 1001, 5000, 10_000]),
    ),
    headroom=st.sampled_from([0.0, 0.01, 0.05]),
    takers=st.integers(min_value=1, max_value=8),
    steps=st.lists(
        st.tuples(
            # time since the previous call: often nothing (takers racing), often a few ms,
            # sometimes long enough to refill
            st.one_of(
                st.just(0),
                st.integers(min_value=1, max_value=20_000),
                st.integers(min_value=20_000, max_value=2 * SECOND),
            ),
            st.floats(min_value=0.0, max_value=1.0),  # size as a share of a full request
            st.integers(min_value=0, max_value=50),  # 0 = a 40100 before this take
        ),
        min_size=1,
        max_size=150,
    ),
)
def test_property_no_one_second_window_exceeds_the_limit(
    redis_client: redis.Redis,
    limit: int,
    headroom: float,
    takers: int,
    steps: list[tuple[int, float, int]],
) -> None:
    bucket = sized_bucket(redis_client, limit, headroom)
    full = request_size(limit, BATCH)
    assert 1 <= full <= bucket.burst <= limit
    now, calls = T0, []
    for delta, share, draw in steps:
        now += delta
        for _ in range(takers):  # every taker asks at this moment, each for its own size
            calls.append((now, max(1, round(share * full)), draw == 0))
            share = 1.0 - share  # the next taker asks for the complement (mixed sizes)
    grants = run_takers(redis_client, bucket, calls)
    assert busiest_window(grants) <= limit
    # and in the worker's own window (a little longer than a second) at most the burst
    assert busiest_window(grants, round(bucket.window_s * SECOND) - 1) <= bucket.burst


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    limit=st.sampled_from([1, 5, 100, 1000, 10_000]) | st.integers(min_value=1, max_value=10_000),
    tick_us=st.sampled_from([1000, 3000, 7000]),
    sizes=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=4),
)
def test_greedy_takers_every_tick_never_exceed_the_limit_and_use_the_budget(
    redis_client: redis.Redis, limit: int, tick_us: int, sizes: list[float]
) -> None:
    """Takers asking at every tick for 3 simulated seconds: the most any 1 s window can get.

    Also that the window does not starve them: a full window's budget (or all they asked)
    goes out over the run."""
    bucket = sized_bucket(redis_client, limit, 0.01)
    full = request_size(limit, BATCH)
    calls = [
        (T0 + tick * tick_us, max(1, round(share * full)), False)
        for tick in range(3 * SECOND // tick_us)
        for share in sizes
    ]
    grants = run_takers(redis_client, bucket, calls)
    assert busiest_window(grants) <= limit
    asked = sum(n for _, n, _ in calls)
    assert sum(n for _, n in grants) >= min(asked, bucket.burst)


def test_the_detector_catches_the_old_sizing(redis_client: redis.Redis) -> None:
    """The sizing before issue 12 (burst max(batch, rate) less a request, no window) let a
    limit of 100/s grant 500 events in one second, and 1000/s grant 1,490: the helpers
    above see it, so their silence about the new sizing means something."""
    old_100 = TokenBucket(redis_client, "old-100", rate=99, burst=500)
    calls = [(T0, 500, False)] + [(T0 + i * 10_000, 1, False) for i in range(1, 100)]
    assert busiest_window(run_takers(redis_client, old_100, calls)) > 500
    old_1000 = TokenBucket(redis_client, "old-1000", rate=990, burst=500)
    calls = [(T0, 500, False)] + [(T0 + i * 1000, 10, False) for i in range(1, 1000)]
    assert busiest_window(run_takers(redis_client, old_1000, calls)) > 1400


def test_a_refused_take_says_when_the_window_has_room(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "w", rate=10_000, burst=10, window_s=1.0)
    assert bucket.take(6, now_us=T0).granted == 6
    assert bucket.take(4, now_us=T0 + 100_000).granted == 4
    refused = bucket.take(5, now_us=T0 + 200_000)
    assert refused.granted == 0 and refused.tokens == 0  # the bucket has them, the window not
    assert refused.wait_s == pytest.approx(0.8)  # when the first grant (6) leaves the window
    assert bucket.take(5, now_us=T0 + SECOND - 1).granted == 0
    assert bucket.take(5, now_us=T0 + SECOND).granted == 5
    # 10 less the 4 + 5 still in the window
    assert bucket.state(now_us=T0 + SECOND)["tokens"] == pytest.approx(1)


def test_a_clock_that_went_backwards_never_grants_more(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "back", rate=10_000, burst=10, window_s=1.0)
    assert bucket.take(10, now_us=T0 + 5 * SECOND).granted == 10
    # Redis failed over to a replica whose clock is 5 s behind: the log still counts
    assert bucket.take(1, now_us=T0).granted == 0
    assert bucket.take(1, now_us=T0 + SECOND).granted == 1  # a window after "now"


def test_a_restamp_counts_the_request_from_when_it_leaves(redis_client: redis.Redis) -> None:
    bucket = TokenBucket(redis_client, "re", rate=10_000, burst=10, window_s=1.0)
    grant = bucket.take(10, now_us=T0)
    assert grant.granted == 10 and grant.stamp_us == T0
    bucket.restamp(grant, now_us=T0 + 300_000)  # claimed, then sent 300 ms later
    assert bucket.take(1, now_us=T0 + SECOND).granted == 0  # it left at T0 + 0.3 s
    assert bucket.take(10, now_us=T0 + 1_300_000).granted == 10
    plain = TokenBucket(redis_client, "plain", rate=10, burst=10)
    no_window = plain.take(1, now_us=T0)
    assert no_window.stamp_us == 0
    plain.restamp(no_window, now_us=T0 + 1)  # nothing to move


@example(  # the first request of a full window leaves 0.9 s late; the next window opens
    limit=1000,
    steps=[
        (0, 1.0, 900_000),
        (0, 1.0, 0),
        (400_000, 1.0, 0),
        (400_000, 1.0, 0),
        (220_000, 1.0, 0),
        (0, 1.0, 0),
    ],
)
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    limit=st.integers(min_value=1, max_value=10_000) | st.sampled_from([1, 5, 100, 1000]),
    steps=st.lists(
        st.tuples(
            st.one_of(st.just(0), st.integers(min_value=1, max_value=400_000)),
            st.floats(min_value=0.0, max_value=1.0),  # size as a share of a full request
            st.integers(min_value=0, max_value=900_000),  # from grant to send (µs)
        ),
        min_size=1,
        max_size=80,
    ),
)
def test_property_with_restamps_no_second_of_sends_exceeds_the_limit(
    redis_client: redis.Redis, limit: int, steps: list[tuple[int, float, int]]
) -> None:
    """Requests leave up to 0.9 s after their grant (a claim, a busy CPU), each restamped as
    it leaves: then the limit holds on *send* times in every sliding second, not only on
    grant times (which a late request could otherwise crowd into the next window)."""
    bucket = sized_bucket(redis_client, limit, 0.01)
    full = request_size(limit, BATCH)
    now, pending, sends = T0, [], []  # pending: (send time, grant)

    def send_due(until: int) -> None:
        pending.sort(key=lambda p: p[0])
        while pending and pending[0][0] <= until:
            at, grant = pending.pop(0)
            bucket.restamp(grant, now_us=at)
            sends.append((at, grant.granted))

    for delta, share, delay in steps:
        now += delta
        send_due(now)
        grant = bucket.take(max(1, round(share * full)), now_us=now)
        if grant.granted:
            pending.append((now + delay, grant))
    send_due(now + SECOND)
    sends.sort()
    assert busiest_window(sends) <= limit
    redis_client.delete(bucket.key)
