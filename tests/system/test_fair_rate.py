"""Issue 12, "fair and exact per brand", with real worker processes and the emulator.

* A brand's limit holds in every sliding one-second window of *arrivals* at the emulator, whose
  limiter counts exactly that (``emulator/ratelimit.py``): nothing is refused with 40100 and
  no window holds more than the limit, at 5/s and at 100/s.
* After an outage, the first success releases the retries that waited it out: with backoffs
  of at least 150 s, the backlog still goes out right after a new batch succeeds.

Counts and order only: waits poll for an outcome with a generous deadline; nothing asserts on
how long something took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from devstack.credentials import emulator_credentials
from emulator import EmulatorConfig, EmulatorServer
from tests.system.stack import PIXEL_A, Stack, events_file, wait_for

pytestmark = pytest.mark.integration


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any closed one-second window."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.fixture
def limited_emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(credentials=emulator_credentials(), rate_limit=request.param)
    with EmulatorServer(config) as server:
        yield server


@pytest.mark.parametrize(
    ("limited_emulator", "limit", "events"),
    [(5, 5, 40), (100, 100, 700)],
    indirect=["limited_emulator"],
)
def test_no_sliding_second_of_arrivals_exceeds_the_brands_limit(
    tmp_path: Path, fresh_redis: str, limited_emulator: EmulatorServer, limit: int, events: int
) -> None:
    """Four worker processes share brand-a's bucket; TikTok (the emulator) limits the pixel to
    the same rate, counting arrivals in sliding windows. Before issue 12 a brand at 100/s sent
    its first 500 events at once (refused: 40100, then the adaptive back-off)."""
    stack = Stack(tmp_path, fresh_redis, limited_emulator, TIKTOK_RATE_LIMIT=str(limit))
    try:
        stack.worker(concurrency=2)
        stack.worker(concurrency=2)
        path = events_file(tmp_path / "a.jsonl", events, f"r{limit}")
        done = stack.cli("enqueue", str(path), "--destination", "brand-a")
        assert done.returncode == 0, done.stderr
        wait_for(lambda: stack.unique(PIXEL_A) == events, 60 + 3 * events / limit, "delivery")
        arrivals = [
            e["received_at"] for e in limited_emulator.events(pixel=PIXEL_A, limit=events + 100)
        ]
        assert len(arrivals) == events
        assert busiest_second(arrivals) <= limit
        assert limited_emulator.summary()["refused"]["by_code"].get("40100", 0) == 0
        report = orjson.loads(stack.cli("status", "--json").stdout)
        assert report["brand-a"]["counters"].get("rate_limited", 0) == 0
    finally:
        stack.close()


def test_after_an_outage_a_success_sends_the_delayed_backlog_at_once(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    """5,000 events meet a 20 s outage: every batch fails once and is scheduled 150-300 s
    later (``MASIVO_TIKTOK_RETRY_BASE=300``). After the outage the brand's live traffic (ten
    new events) goes through first, and releases the backlog: all 5,000 arrive right after
    it, each on its second attempt, long before any backoff ends (the deadline is 90 s)."""
    stack = Stack(tmp_path, fresh_redis, emulator, MASIVO_TIKTOK_RETRY_BASE="300")
    try:
        stack.worker(concurrency=2)
        stack.worker(concurrency=2)
        emulator.set_faults("outage=20s")
        outage_ends = time.time() + 20
        backlog = events_file(tmp_path / "backlog.jsonl", 5000, "old")
        assert stack.cli("enqueue", str(backlog), "--destination", "brand-a").returncode == 0

        def status() -> dict[str, int]:
            report = orjson.loads(stack.cli("status", "--json").stdout)
            counters: dict[str, int] = report["brand-a"]["counters"]
            return counters

        wait_for(lambda: status().get("retried", 0) == 5000, 60, "every batch failed once")
        assert stack.unique(PIXEL_A) == 0
        time.sleep(max(0.0, outage_ends + 0.5 - time.time()))  # TikTok is back (no assert)
        live = events_file(tmp_path / "live.jsonl", 10, "new")
        assert stack.cli("enqueue", str(live), "--destination", "brand-a").returncode == 0
        wait_for(lambda: stack.unique(PIXEL_A) == 5010, 90, "the released backlog")
        arrived = emulator.events(pixel=PIXEL_A, limit=10_000)
        ids = [e["event_id"] for e in arrived]
        assert sorted(ids[:10]) == sorted(f"new-{i}" for i in range(10))  # the success first
        assert set(ids[10:]) == {f"old-{i}" for i in range(5000)}  # then the backlog
        counters = status()
        assert counters["retried"] == 5000  # one failure each: released on the 2nd attempt
        assert counters["delivered"] == 5010
        assert not any(k.startswith("dead_lettered") and v for k, v in counters.items())
        assert emulator.summary()["refused"]["by_code"].get("40100", 0) == 0
    finally:
        stack.close()
