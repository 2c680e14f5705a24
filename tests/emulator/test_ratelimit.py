"""Per-pixel sliding window: 40100 when a request would overfill any one-second window."""

from __future__ import annotations

import httpx
import pytest

from emulator.ratelimit import PixelBuckets, SlidingWindow

from .conftest import OTHER_PIXEL, Api, FakeClock, ServerFactory, make_body, make_event


def test_window_refuses_without_consuming_and_frees_as_grants_age() -> None:
    window = SlidingWindow(rate=10)
    assert window.try_take(6, now=0.0)
    assert window.try_take(4, now=0.5)
    assert not window.try_take(1, now=0.9)  # 10 in (-0.1, 0.9]
    assert not window.try_take(7, now=1.0)  # the 6 left the window, 4 remain: 7 do not fit
    assert window.try_take(6, now=1.0)  # the refusal consumed nothing
    assert not window.try_take(1, now=1.4)
    assert window.try_take(4, now=1.5)


def test_no_one_second_window_ever_holds_more_than_the_rate() -> None:
    """Unlike the token bucket it replaced (capacity max(rate, 1000): 1,000 at once for a pixel
    limited to 10/s, then twice the rate in a second), whatever the request pattern."""
    window = SlidingWindow(rate=10)
    assert not window.try_take(11, now=0.0)  # more than a second's worth never fits
    accepted = [(t / 100, 1) for t in range(500) if window.try_take(1, now=t / 100)]
    for start, _ in accepted:
        assert sum(n for t, n in accepted if start <= t < start + 1.0) <= 10
    assert len(accepted) == 50  # and the whole budget is usable: 10 per second


def test_zero_rate_disables_limiting() -> None:
    buckets = PixelBuckets(rate=0)
    assert all(buckets.try_take("P", 1000, now=0.0) for _ in range(100))


@pytest.fixture
def limited(make_server: ServerFactory, client: httpx.Client, clock: FakeClock) -> Api:
    return Api(client, make_server(rate_limit=100), clock)


def test_rate_limit_answers_40100_then_recovers(limited: Api, clock: FakeClock) -> None:
    assert limited.send(100)["code"] == 0  # one second of budget at once
    refused = limited.send(1, start=5000)
    assert refused["code"] == 40100
    assert refused["message"] == "Too many requests. Please retry in some time."
    clock.advance(0.5)  # the window still holds the 100
    assert limited.send(60, start=6000)["code"] == 40100
    clock.advance(0.5)  # they left it
    assert limited.send(50, start=7000)["code"] == 0  # the refusals consumed nothing
    assert limited.send(50, start=7100)["code"] == 0
    clock.advance(10)
    assert limited.send(101, start=8000)["code"] == 40100  # never more than a second's worth
    summary = limited.server.summary()
    assert summary["accepted"]["events"] == 200
    assert summary["refused"]["by_code"] == {"40100": 3}


def test_rate_limit_is_per_pixel(make_server: ServerFactory, clock: FakeClock) -> None:
    server = make_server(rate_limit=100, credentials=None)
    with httpx.Client() as http:
        api = Api(http, server, clock)
        assert api.send(100)["code"] == 0
        assert api.send(1, start=2000)["code"] == 40100
        assert api.send(100, pixel=OTHER_PIXEL)["code"] == 0


def test_invalid_requests_do_not_consume_tokens(limited: Api) -> None:
    events = [make_event(i, limited.clock.now) for i in range(100)]
    events[99]["event_id"] = 1
    assert limited.post(make_body(events)).json()["code"] == 40002
    assert limited.send(100)["code"] == 0


def test_rate_histogram_counts_events_per_clock_second(limited: Api, clock: FakeClock) -> None:
    second = int(clock.now)
    limited.send(60)
    limited.send(40, start=1000)
    assert limited.send(1, start=3000)["code"] == 40100
    clock.advance(1)
    limited.send(10, start=2000)
    view = limited.get("rate", pixel="D17TA5JC77UDOT6CA5FG")
    assert view["rate_limit"] == 100
    assert view["burst"] == 100
    pixel = view["pixels"]["D17TA5JC77UDOT6CA5FG"]
    assert pixel["per_second"] == {str(second): 100, str(second + 1): 10}
    assert pixel["max"] == 100
    assert limited.server.rate() == {"D17TA5JC77UDOT6CA5FG": {second: 100, second + 1: 10}}
