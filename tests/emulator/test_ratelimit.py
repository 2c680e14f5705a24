"""Per-pixel token bucket: 40100 when a request would overdraw it, recovery as the clock moves."""

from __future__ import annotations

import httpx
import pytest

from emulator.ratelimit import PixelBuckets, TokenBucket

from .conftest import OTHER_PIXEL, Api, FakeClock, ServerFactory, make_body, make_event


def test_bucket_refuses_without_consuming_and_refills() -> None:
    bucket = TokenBucket(rate=10, now=0.0)  # capacity max(10, 1000) = 1000
    assert bucket.try_take(1000, now=0.0)
    assert not bucket.try_take(1, now=0.0)
    assert not bucket.try_take(11, now=1.0)  # 10 tokens back, 11 asked: nothing taken
    assert bucket.try_take(10, now=1.0)
    assert not bucket.try_take(1, now=1.0)


def test_bucket_capacity_is_the_rate_when_above_one_batch() -> None:
    bucket = TokenBucket(rate=5000, now=0.0)
    assert bucket.try_take(5000, now=0.0)
    assert not bucket.try_take(1, now=0.0)
    assert bucket.try_take(5000, now=100.0)  # never more than capacity
    assert not bucket.try_take(1, now=100.0)


def test_zero_rate_disables_limiting() -> None:
    buckets = PixelBuckets(rate=0)
    assert all(buckets.try_take("P", 1000, now=0.0) for _ in range(100))


@pytest.fixture
def limited(make_server: ServerFactory, client: httpx.Client, clock: FakeClock) -> Api:
    return Api(client, make_server(rate_limit=100), clock)


def test_rate_limit_answers_40100_then_recovers(limited: Api, clock: FakeClock) -> None:
    assert limited.send(1000)["code"] == 0  # one full batch fits the burst
    refused = limited.send(1, start=5000)
    assert refused["code"] == 40100
    assert refused["message"] == "Too many requests. Please retry in some time."
    clock.advance(0.5)  # 50 tokens back: a 60-event request still does not fit
    assert limited.send(60, start=6000)["code"] == 40100
    assert limited.send(50, start=7000)["code"] == 0  # the refusal consumed nothing
    clock.advance(10)
    assert limited.send(1000, start=8000)["code"] == 0
    summary = limited.server.summary()
    assert summary["accepted"]["events"] == 2050
    assert summary["refused"]["by_code"] == {"40100": 2}


def test_rate_limit_is_per_pixel(make_server: ServerFactory, clock: FakeClock) -> None:
    server = make_server(rate_limit=100, credentials=None)
    with httpx.Client() as http:
        api = Api(http, server, clock)
        assert api.send(1000)["code"] == 0
        assert api.send(1, start=2000)["code"] == 40100
        assert api.send(1000, pixel=OTHER_PIXEL)["code"] == 0


def test_invalid_requests_do_not_consume_tokens(limited: Api) -> None:
    events = [make_event(i, limited.clock.now) for i in range(1000)]
    events[999]["event_id"] = 1
    assert limited.post(make_body(events)).json()["code"] == 40002
    assert limited.send(1000)["code"] == 0


def test_rate_histogram_counts_events_per_clock_second(limited: Api, clock: FakeClock) -> None:
    second = int(clock.now)
    limited.send(600)
    limited.send(400, start=1000)
    assert limited.send(1, start=3000)["code"] == 40100
    clock.advance(1)
    limited.send(100, start=2000)
    view = limited.get("rate", pixel="D17TA5JC77UDOT6CA5FG")
    assert view["rate_limit"] == 100
    assert view["burst"] == 1000
    pixel = view["pixels"]["D17TA5JC77UDOT6CA5FG"]
    assert pixel["per_second"] == {str(second): 1000, str(second + 1): 100}
    assert pixel["max"] == 1000
    assert limited.server.rate() == {"D17TA5JC77UDOT6CA5FG": {second: 1000, second + 1: 100}}
