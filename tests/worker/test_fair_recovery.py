"""Issue 12, "fair and exact per brand": oversized scheduled batches are split to fit the
bucket, and a success after failures releases the destination's retries at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devstack.credentials import TOKEN_A, destination
from emulator import EmulatorServer
from tests.worker.conftest import PIXEL_A, FakeClock, Recorder, write_destinations
from tests.worker.test_pipeline import view
from worker.flush import Action, flush
from worker.ingest import ingest
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store import counters
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


# -- a success releases the retries that waited out an outage ------------------------------


def failed(kind: str, at: float, http_status: int | None = None) -> dict[str, object]:
    """A batch header's ``last_error`` as ``worker.flush`` writes it."""
    return {"kind": kind, "message": "m", "http_status": http_status, "code": None, "at": at}


def test_a_success_releases_only_the_retries_an_outage_delayed(rt: Runtime) -> None:
    now = rt.clock()
    box = rt.outbox("brand-a")
    cases = {
        "server_error": (failed("retryable", now - 50, 503), True),
        "bad_gateway": (failed("retryable", now - 50, 502), True),
        "request_timeout": (failed("retryable", now - 50, 408), True),
        "network": (failed("retryable", now - 50), True),
        "timeout": (failed("timeout", now - 50), True),
        # TikTok asked us to slow down: the bucket paces those, not a success
        "rate_limited": (failed("rate_limited", now - 50, 200), False),
        # another failure class: this success says nothing about it
        "other_status": (failed("retryable", now - 50, 404), False),
        "other_code": (failed("retryable", now - 50, 200), False),
        # failed after the successful request was sent: no newer news than its failure
        "after": (failed("retryable", now + 1, 503), False),
        "no_error": (None, False),
    }
    ids = {}
    for n, (name, (error, _)) in enumerate(cases.items()):
        batch = Batch(
            id=new_batch_id(now - 100 + n),
            items=[item(n, now)],
            attempts=3,
            first_failure=now - 90,
            last_error=error,
        )
        ids[name] = batch.id
        box.reschedule(None, [(batch, now + 300)])
    already_due = Batch(id=new_batch_id(now - 200), items=[item(99, now)], attempts=1)
    box.reschedule(None, [(already_due, now - 5)])
    assert box.release_retries(now) == 5
    for name, (_, released) in cases.items():
        assert box.due_at(ids[name]) == (now if released else now + 300), name
        stored = box.load(ids[name])
        assert stored is not None and (stored.attempts, stored.first_failure) == (3, now - 90)
    assert box.due_at(already_due.id) == now - 5  # never pushed later
    assert box.release_retries(now + 1) == 0  # released ones are due: nothing to do twice


def test_after_an_outage_the_first_success_sends_the_delayed_batches_at_once(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    """TikTok answers 503 to three batches (backoff: due seconds later); it comes back and a
    new batch goes through; the three are due at once and go out, oldest first, attempts
    kept, with no clock jump. Exhaustion still counts them: one more failure each would be
    their second attempt, not a fresh start."""
    ingest(rt, "brand-a", [view(i) for i in range(300)])
    emulator.set_faults("503=1")
    assert [flush(rt, "brand-a").action for _ in range(3)] == [Action.RETRY] * 3
    box = rt.outbox("brand-a")
    delayed = sorted(box.batch_ids())
    assert len(delayed) == 3 and all((box.due_at(b) or 0) > clock() for b in delayed)
    emulator.set_faults("")
    ingest(rt, "brand-a", [view(i) for i in range(300, 350)])
    assert flush(rt, "brand-a").action is Action.DELIVERED  # the new events: TikTok is back
    assert all((box.due_at(b) or 0) <= clock() for b in delayed)
    assert {b.attempts for b in (box.load(x) for x in delayed) if b} == {1}
    before = len(emulator.events(pixel=PIXEL_A, limit=100_000))
    assert [flush(rt, "brand-a").action for _ in range(3)] == [Action.DELIVERED] * 3
    got = emulator.events(pixel=PIXEL_A, limit=100_000)[before:]
    assert [e["event_id"] for e in got] == [f"evt-{i}" for i in range(300)]  # oldest first
    assert box.batch_ids() == []
    assert counters.read(rt.redis, "brand-a")["delivered"] == 350


def test_a_released_batch_still_exhausts_at_max_attempts(
    rt: Runtime, emulator: EmulatorServer
) -> None:
    now = rt.clock()
    box = rt.outbox("brand-a")
    last = Batch(
        id=new_batch_id(now - 60),
        items=[item(1, now)],
        attempts=rt.settings.max_attempts - 1,
        first_failure=now - 60,
        last_error=failed("retryable", now - 10, 503),
    )
    box.reschedule(None, [(last, now + 200)])
    assert box.release_retries(now) == 1
    emulator.set_faults("503=1")
    report = flush(rt, "brand-a")
    assert report.action is Action.DEAD and report.detail == "retries exhausted"
    assert counters.read(rt.redis, "brand-a")["dead_lettered:exhausted"] == 1


def test_a_retry_due_sooner_is_not_held_back_by_a_flush_armed_for_later(rt: Runtime) -> None:
    """The bench found it: a batch due 1 s after the outage waited ~9 s for a flush armed
    earlier for a later retry (one pending flush per destination). A sooner retry now
    schedules its own; everything else still coalesces."""
    recorder = rt.schedule_flush
    assert isinstance(recorder, Recorder)
    rt.disarm_flush("brand-a")
    assert rt.arm_flush("brand-a", 25.0, sooner=True)
    assert not rt.arm_flush("brand-a", 30.0, sooner=True)  # later: the pending one will do
    assert not rt.arm_flush("brand-a", 0.0)  # plain requests coalesce as before
    assert rt.arm_flush("brand-a", 1.0, sooner=True)  # sooner: scheduled too
    assert not rt.arm_flush("brand-a", 2.0, sooner=True)
    assert [c for _, c in recorder.calls] == [25.0, 1.0]
