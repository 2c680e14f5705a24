"""Issue 12, "fair and exact per brand": oversized scheduled batches are split to fit the
bucket, and a success after failures releases the destination's retries at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devstack.credentials import PIXEL_A, TOKEN_A, destination
from emulator import EmulatorServer
from tests.worker.conftest import FakeClock, Recorder, write_destinations
from worker.flush import Action, flush
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store.outbox import Batch, Item, new_batch_id
from worker.tiktok import TikTokClient


def item(i: int, now: float) -> Item:
    event = {
        "event": "ViewContent",
        "event_id": f"fr-{i}",
        "event_time": int(now) - 60,
        "user": {"external_id": f"{i:064x}"},
    }
    return Item.of(event, enqueued_at=now - 60)


@pytest.fixture
def slow_rt(
    tmp_path: Path,
    redis_url: str,
    redis_client: redis.Redis,
    emulator: EmulatorServer,
    clock: FakeClock,
) -> Iterator[Runtime]:
    """brand-slow: 10 events/s, so its burst is 10 and a request carries 5."""
    emulator.reset()
    emulator.set_faults("")
    settings = Settings(
        redis_url=redis_url,
        api_base_url=emulator.url,
        destinations_file=write_destinations(
            tmp_path / "destinations.yaml",
            [destination("brand-slow", PIXEL_A, TOKEN_A, rate_limit=10)],
        ),
        rate_limit=0,
        linger_s=0,
        batch_size=100,
        data_dir=tmp_path / "data",
    )
    client = TikTokClient(settings.api_base_url, timeout_s=2)
    runtime = Runtime(
        settings=settings, redis=redis_client, client=client, schedule_flush=Recorder(), clock=clock
    )
    try:
        yield runtime
    finally:
        client.close()


def test_a_scheduled_batch_bigger_than_the_burst_is_split_keeping_its_history(
    slow_rt: Runtime, clock: FakeClock
) -> None:
    """Made under the old sizing (half of max(batch, rate) = 50 events at 10/s), it could never
    be granted by a bucket of 10: split into requests of today's size, due now."""
    now = clock()
    box = slow_rt.outbox("brand-slow")
    old = Batch(
        id=new_batch_id(now - 60),
        items=[item(i, now) for i in range(23)],
        attempts=2,
        first_failure=now - 30,
    )
    box.reschedule(None, [(old, now - 1)])
    report = flush(slow_rt, "brand-slow")
    assert report.action is Action.IDLE and report.detail == "split an oversized batch"
    batches = [box.load(b) for b in box.batch_ids()]
    assert sorted(len(b.items) for b in batches if b) == [3, 5, 5, 5, 5]
    assert {(b.attempts, b.first_failure) for b in batches if b} == {(2, now - 30)}
    assert box.due_at(old.id) is None
    assert all((box.due_at(b.id) or 0) <= clock() for b in batches if b)
    # and the parts go out within the bucket: two requests fill this second's window
    sent = [flush(slow_rt, "brand-slow").action for _ in range(3)]
    assert sent == [Action.DELIVERED, Action.DELIVERED, Action.NO_TOKENS]
