"""Ingest → outbox → flush against the emulator over real sockets, with a real Redis."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import redis

from emulator import EmulatorServer
from tests.worker.conftest import PIXEL_A, PIXEL_B, TOKEN_A, FakeClock, drain
from worker import jobs
from worker.flush import flush
from worker.ingest import ingest
from worker.runtime import Runtime
from worker.store import counters, keys
from worker.store.outbox import Item
from worker.store.pause import is_paused


def view(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"evt-{i}",
        "type": "view_item",
        "customer_id": f"c{i}",
        "issued_at": int(time.time()) - 60,
        "items": [{"id": f"sku-{i}", "name": "Socks", "price": 9.5}],
        **extra,
    }


def purchase(i: int) -> dict[str, Any]:
    return {
        "id": f"buy-{i}",
        "type": "PURCHASE",
        "customer_id": f"c{i}",
        "issued_at": int(time.time()) - 30,
        "order": {
            "purchase_id": f"o{i}",
            "value": 20,
            "products": [{"sku": "s1", "amount": 2, "value": 20}],
        },
    }


def delivered_ids(emulator: EmulatorServer, pixel: str, test: str | None = None) -> set[str]:
    return {e["event_id"] for e in emulator.events(pixel=pixel, test=test, limit=100_000)}


def test_events_of_several_destinations_reach_their_pixels(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(250)] + [purchase(1)])
    ingest(rt, "brand-b", [view(i) for i in range(30)])
    drain(rt, "brand-a", clock)
    drain(rt, "brand-b", clock)
    assert delivered_ids(emulator, PIXEL_A) == {f"evt-{i}" for i in range(250)} | {"buy-1"}
    assert delivered_ids(emulator, PIXEL_B, test="TEST12345") == {f"evt-{i}" for i in range(30)}
    stats = counters.read(rt.redis, "brand-a")
    assert stats["received"] == 251
    assert stats["delivered"] == 251
    assert stats["delivered:CompletePayment"] == 1
    assert stats["requests"] == 3  # batch size 100


def test_batches_never_exceed_the_batch_size(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(305)])
    drain(rt, "brand-a", clock)
    summary = emulator.summary()
    assert summary["accepted_requests"] == 4
    assert summary["accepted"]["unique"] == 305


def test_drops_and_rejects_are_counted_and_rejects_dead_lettered(rt: Runtime) -> None:
    old = view(1, issued_at=int(time.time()) - 8 * 86400)
    unconsented = view(2, consent={"vendors": {"tiktok": False}})
    result = ingest(rt, "brand-a", [old, unconsented, "not an object", {"no": "type"}, view(3)])
    assert result == {"received": 5, "queued": 1, "dropped": 2, "rejected": 2}
    stats = counters.read(rt.redis, "brand-a")
    assert stats["dropped:too_old"] == 1
    assert stats["dropped:no_consent"] == 1
    entries = rt.dlq.list(destination="brand-a")
    assert [e.category for _, e in entries] == ["rejected", "rejected"]
    assert entries[0][1].raw_event == "not an object"
    assert entries[1][1].raw_event == {"no": "type"}


def test_unknown_destination_is_dead_lettered_not_lost(rt: Runtime) -> None:
    ingest(rt, "nobody", [view(1), view(2)])
    entries = rt.dlq.list(destination="nobody")
    assert len(entries) == 2
    assert {e.reason for _, e in entries} == {"unknown_destination"}


@pytest.mark.parametrize("fault", ["500=1", "503=1", "40100=1"])
def test_transient_failures_are_retried_until_delivered(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock, fault: str
) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(10)])
    emulator.set_faults(fault)
    first = flush(rt, "brand-a")
    assert first.action == "retry"
    assert rt.outbox("brand-a").counts()["scheduled_retries"] == 1
    emulator.set_faults("")
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {f"evt-{i}" for i in range(10)}
    assert counters.read(rt.redis, "brand-a")["retried"] == 10


def test_a_rate_limited_answer_slows_the_bucket(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    dest = rt.settings.destination("brand-limited")
    assert rt.bucket(dest).state()["factor"] == 1.0
    ingest(rt, "brand-limited", [view(1)])
    emulator.set_faults("40100=1")
    assert flush(rt, "brand-limited").action == "retry"
    assert counters.read(rt.redis, "brand-limited")["rate_limited"] == 1
    state = rt.bucket(dest).state()
    assert state["factor"] == pytest.approx(0.5, abs=0.05)
    assert state["rate"] < 1000


def test_timeouts_are_retried(rt: Runtime, emulator: EmulatorServer, clock: FakeClock) -> None:
    ingest(rt, "brand-a", [view(1)])
    emulator.set_faults("hang=1:5s")
    report = flush(rt, "brand-a")
    assert report.action == "retry"
    assert report.detail == "timeout"  # a Retryable of its own kind
    assert counters.read(rt.redis, "brand-a")["requests:timeout"] == 1
    emulator.set_faults("")
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {"evt-1"}


def test_retries_exhausted_end_in_the_dead_letter_queue(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(1), view(2)])
    emulator.set_faults("503=1")
    drain(rt, "brand-a", clock)
    entries = rt.dlq.list(destination="brand-a")
    assert {e.event_id for _, e in entries} == {"evt-1", "evt-2"}
    entry = entries[0][1]
    assert entry.category == "exhausted"
    assert entry.attempts == rt.settings.max_attempts
    assert entry.http_status == 503
    assert entry.payload is not None and entry.payload["event_id"] in {"evt-1", "evt-2"}
    assert entry.first_failure < entry.last_failure


def test_a_poison_event_is_isolated_and_its_neighbours_delivered(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(40)])
    # Corrupt one queued event behind the transform's back, as a bug or a TikTok rule change would.
    box = rt.outbox("brand-a")
    item = Item.loads(rt.redis.lindex(box.k_outbox, 17) or b"")
    corrupt = dict(item.event, event_id=12345)
    rt.redis.lset(box.k_outbox, 17, Item.of(corrupt, item.enqueued_at).dumps())
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {f"evt-{i}" for i in range(40) if i != 17}
    entries = rt.dlq.list(destination="brand-a")
    assert len(entries) == 1
    poison = entries[0][1]
    assert poison.category == "invalid"
    assert poison.tiktok_code == 40002
    assert poison.request_id
    assert poison.payload is not None and poison.payload["event_id"] == 12345


def test_poison_without_an_index_is_found_by_bisection(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    from worker.errors import Invalid
    from worker.tiktok import Accepted

    ingest(rt, "brand-a", [view(i) for i in range(16)])
    real_send = rt.client.send_raw

    def send(pixel: str, token: Any, events: list[bytes], test: str | None = None) -> Accepted:
        if any(b'"event_id":"evt-11"' in e for e in events):
            raise Invalid("bad request", code=40002, http_status=200, request_id="r1")
        return real_send(pixel, token, events, test)

    rt.client.send_raw = send  # type: ignore[method-assign]
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {f"evt-{i}" for i in range(16) if i != 11}
    assert [e.event_id for _, e in rt.dlq.list()] == ["evt-11"]


def test_auth_failure_pauses_keeps_events_and_resumes_by_probe(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-bad", [view(i) for i in range(5)])
    report = flush(rt, "brand-bad")
    assert report.action == "auth"
    assert is_paused(rt.redis, "brand-bad")
    assert flush(rt, "brand-bad").action == "paused"
    assert rt.dlq.size() == 0  # nothing dead-lettered in bulk
    assert rt.outbox("brand-bad").scheduled_events() == 5
    # Still wrong: the probe leaves it paused.
    assert jobs.probe_auth(rt)["brand-bad"].startswith("still paused")
    # The brand fixes its token (here: the emulator learns the old one).
    emulator.app.config.credentials["wrong-token-xyz"] = frozenset({"C9CCCCCCCCCCCCCCCCCC"})  # type: ignore[index]
    assert jobs.probe_auth(rt)["brand-bad"] == "resumed"
    assert not is_paused(rt.redis, "brand-bad")
    drain(rt, "brand-bad", clock)
    assert delivered_ids(emulator, "C9CCCCCCCCCCCCCCCCCC") == {f"evt-{i}" for i in range(5)}


def test_an_expired_lease_is_recovered_and_delivered_once_more(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(7)])
    box = rt.outbox("brand-a")
    claimed = box.claim_new(100, rt.settings.lease_s, clock())  # a worker that then dies
    assert claimed is not None and box.depth() == 0
    assert jobs.recover(rt) == {}
    clock.advance(rt.settings.lease_s + 1)
    assert jobs.recover(rt) == {"brand-a": 1}
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {f"evt-{i}" for i in range(7)}


def test_events_that_pass_the_age_limit_while_waiting_are_dropped_not_sent(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    six_days_ago = int(clock()) - 6 * 86400 - 23 * 3600
    ingest(rt, "brand-a", [view(1, issued_at=six_days_ago), view(2)])
    clock.advance(2 * 3600)  # the first one is now older than 7 days
    drain(rt, "brand-a", clock)
    clock.advance(-2 * 3600)
    assert delivered_ids(emulator, PIXEL_A) == {"evt-2"}
    assert counters.read(rt.redis, "brand-a")["dropped:too_old"] == 1


def test_expire_job_drops_old_events_from_outbox_and_dlq(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    almost = int(clock()) - 7 * 86400 + 600
    # one nearly-expired event ends in the DLQ, one in a scheduled retry batch, one queued
    ingest(rt, "brand-a", [view(1, issued_at=almost), view(2)])
    emulator.set_faults("503=1")
    assert flush(rt, "brand-a").action == "retry"  # both now wait in a retry batch
    emulator.set_faults("")
    ingest(rt, "brand-a", [view(3, issued_at=almost), view(4)])
    from worker.store.deadletter import DeadLetter

    rt.dlq.add(
        [
            DeadLetter(
                destination="brand-a",
                reason="retryable",
                category="exhausted",
                first_failure=clock(),
                last_failure=clock(),
                event_time=almost,
                payload={"event": "ViewContent", "event_id": "evt-5"},
            )
        ]
    )
    rt.redis.set(keys.paused("brand-a"), b'{"kind": "operator"}')
    clock.advance(3600)
    try:
        dropped = jobs.expire(rt)
    finally:
        clock.advance(-3600)
    assert dropped == {"brand-a": 3}
    box = rt.outbox("brand-a")
    assert box.depth() == 1  # evt-4
    assert box.scheduled_events() == 1  # evt-2
    assert rt.dlq.size() == 0
    assert counters.read(rt.redis, "brand-a")["dropped:too_old"] == 3


def test_dlq_replay_goes_through_the_normal_path(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(1), view(2)])
    emulator.set_faults("503=1")
    drain(rt, "brand-a", clock)
    assert rt.dlq.size() == 2
    emulator.set_faults("")
    result = jobs.replay_retryable(rt)
    assert result["replayed"] == 2
    assert rt.dlq.size() == 0
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {"evt-1", "evt-2"}


def test_the_access_token_is_never_stored_in_redis_outside_settings(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock, redis_client: redis.Redis
) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(3)] + ["bad"])
    emulator.set_faults("503=1")
    drain(rt, "brand-a", clock)
    ingest(rt, "brand-bad", [view(9)])
    flush(rt, "brand-bad")
    for k in redis_client.keys("*"):
        dump = redis_client.dump(k) or b""
        assert TOKEN_A.encode() not in dump
        assert b"wrong-token-xyz" not in dump


def test_status_reports_counters_and_state(rt: Runtime, clock: FakeClock) -> None:
    ingest(rt, "brand-a", [view(1), "bad"])
    from cli.status import status

    report = status(rt)
    a = report["brand-a"]
    assert a["counters"]["received"] == 2
    assert a["state"]["outbox"] == 1
    assert a["state"]["dlq"] == 1
    assert a["state"]["paused"] is None
    assert "tokens" in a["state"]["bucket"]


def test_shutdown_releases_held_batches_at_once(rt: Runtime, clock: FakeClock) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(3)])
    box = rt.outbox("brand-a")
    batch = box.claim_new(100, rt.settings.lease_s, clock())
    assert batch is not None
    rt.in_flight.add(("brand-a", batch.id))
    assert rt.release_in_flight() == 1
    counts = box.counts()
    assert counts["in_flight"] == 0
    assert counts["scheduled_retries"] == 1
    nxt = box.next_retry()
    assert nxt is not None
    assert nxt[1] <= clock()  # due now, not after the lease


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([{"a": 1}], [{"a": 1}], id="list"),
        pytest.param('[{"a": 1}, 2]', [{"a": 1}, 2], id="json-string"),
        pytest.param(b"[3]", [3], id="json-bytes"),
        pytest.param("not json", ["not json"], id="garbage-becomes-one-rejectable-event"),
        pytest.param({"a": 1}, [{"a": 1}], id="single-object"),
    ],
)
def test_an_ingest_chunk_is_a_list_or_a_json_string(events: Any, expected: list[Any]) -> None:
    from worker.ingest import decode_chunk

    assert decode_chunk(events) == expected


def test_outbox_items_and_batches_round_trip_any_event_name() -> None:
    from worker.store.outbox import Batch

    odd = {"event": 'we"ird name\nwith newline', "event_time": 7, "event_id": "é"}
    item = Item.of(odd, 12.25)
    back = Item.loads(item.dumps())
    assert (back.name, back.event_time, back.enqueued_at, back.event) == (
        odd["event"],
        7,
        12.25,
        odd,
    )
    batch = Batch(
        id="b1", items=[item, Item.of({"event": "Search"}, 1.0)], attempts=2, first_failure=3.0
    )
    again = Batch.loads("b1", batch.dumps())
    assert again.events == [odd, {"event": "Search"}]
    assert (again.attempts, again.first_failure) == (2, 3.0)


def test_rate_limited_answers_do_not_use_up_attempts(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(1)])
    emulator.set_faults("40100=1")
    for _ in range(rt.settings.max_attempts + 2):
        report = flush(rt, "brand-a")
        if report.action != "retry":
            nxt = rt.outbox("brand-a").next_retry()
            assert nxt is not None
        clock.advance(rt.settings.retry_max_s + 1)
    assert rt.dlq.size() == 0  # still scheduled, not exhausted
    emulator.set_faults("")
    drain(rt, "brand-a", clock)
    assert delivered_ids(emulator, PIXEL_A) == {"evt-1"}


def test_replaying_a_line_that_is_still_not_json_keeps_its_entry(rt: Runtime) -> None:
    from worker.store.deadletter import DeadLetter

    now = time.time()
    bad = DeadLetter(
        destination="brand-a",
        reason="invalid_json",
        category="rejected",
        detail="line 3: x",
        attempts=0,
        first_failure=now,
        last_failure=now,
        raw_event="{not json",
    )
    fixed = DeadLetter(
        destination="brand-a",
        reason="invalid_json",
        category="rejected",
        detail="line 4: x",
        attempts=0,
        first_failure=now,
        last_failure=now,
        raw_event=orjson.dumps(view(5)).decode(),
    )
    ids = rt.dlq.add([bad, fixed])
    result = jobs.replay(rt, [(i, rt.dlq.get(i)) for i in ids])  # type: ignore[misc]
    assert result == {"replayed": 1, "skipped": 0, "still_invalid": 1}
    left = rt.dlq.list()
    assert [(e.reason, e.detail) for _, e in left] == [("invalid_json", "line 3: x")]
    assert rt.outbox("brand-a").depth() == 1


def test_metrics_sum_custom_event_names_under_one_label(rt: Runtime, clock: FakeClock) -> None:
    from prometheus_client import generate_latest

    from cli.metrics import registry_for

    now = int(time.time())
    ingest(
        rt, "brand-a", [{"id": f"c{i}", "type": f"idea_{i}", "issued_at": now} for i in range(3)]
    )
    drain(rt, "brand-a", clock)
    text = generate_latest(registry_for(lambda: rt)).decode()
    assert 'masivo_tiktok_events_delivered_total{destination="brand-a",event="custom"} 3.0' in text
    assert "idea_1" not in text


def _crash_loop(rt: Runtime, clock: FakeClock, times: int) -> None:
    """Claim the next due batch and 'die' holding it, ``times`` times."""
    box = rt.outbox("brand-a")
    for _ in range(times):
        nxt = box.next_retry()
        batch = (
            box.claim_retry(nxt[0], rt.settings.lease_s, clock())
            if nxt
            else box.claim_new(100, rt.settings.lease_s, clock())
        )
        assert batch is not None
        clock.advance(rt.settings.lease_s + 1)
        assert box.recover(clock()) == 1


def test_a_batch_that_keeps_killing_its_worker_is_split(rt: Runtime, clock: FakeClock) -> None:
    ingest(rt, "brand-a", [view(i) for i in range(4)])
    _crash_loop(rt, clock, rt.settings.max_recoveries)
    report = flush(rt, "brand-a")
    assert report.action == "isolated"
    box = rt.outbox("brand-a")
    assert box.counts()["scheduled_retries"] == 2
    assert rt.redis.hlen(box.k_recoveries) == 0


def test_a_single_event_that_keeps_killing_its_worker_is_dead_lettered(
    rt: Runtime, clock: FakeClock
) -> None:
    ingest(rt, "brand-a", [view(9)])
    _crash_loop(rt, clock, rt.settings.max_recoveries)
    assert flush(rt, "brand-a").action == "dead"
    [(_, entry)] = rt.dlq.list()
    assert (entry.reason, entry.category, entry.event_id) == ("worker_lost", "crashed", "evt-9")
    assert rt.outbox("brand-a").counts() == {"outbox": 0, "in_flight": 0, "scheduled_retries": 0}
