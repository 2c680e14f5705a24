"""How batches are stored (issue 12, less CPU per event): a claimed batch's items are copied
inside Redis into its own list, the batches hash holds ``@`` + header; batches written whole
(rescheduled ones, and every batch of earlier versions) are still read; nothing is left behind
when a batch finishes; and the outbox items are byte for byte what they were."""

from __future__ import annotations

import orjson
import pytest
import redis

from worker.store import keys
from worker.store.outbox import LISTED, Batch, Item, Outbox, encode_items, new_batch_id

D = "brand-a"


def _events(n: int) -> list[dict[str, object]]:
    return [
        {"event": "AddToCart" if i % 2 else "Ünïcode \"name\"", "event_time": 1_700_000_000 + i,
         "event_id": f"e{i}", "properties": {"value": i}}
        for i in range(n)
    ]  # fmt: skip


def _fill(box: Outbox, r: redis.Redis, n: int, now: float) -> list[bytes]:
    items = encode_items(_events(n), now)
    r.rpush(box.k_outbox, *items)
    return items


def test_encode_items_is_item_dumps_byte_for_byte() -> None:
    events = [
        *_events(5),
        {"event": "X", "event_time": True},  # not an int: 0, as Item.of
        {"event_time": 5},  # no name
        {"event": 3, "event_time": 7.5},
    ]
    now = 1_764_000_000.123456
    assert encode_items(events, now) == [Item.of(e, now).dumps() for e in events]


def test_a_claim_moves_the_head_into_the_batch_list_and_forget_leaves_nothing(
    redis_client: redis.Redis,
) -> None:
    box, now = Outbox(redis_client, D), 1_764_000_000.0
    items = _fill(box, redis_client, 25, now)
    batch = box.claim_new(10, 60, now)
    assert batch is not None and [i.dumps() for i in batch.items] == items[:10]
    assert redis_client.lrange(box.k_outbox, 0, -1) == items[10:]
    stored = redis_client.hget(box.k_batches, batch.id) or b""
    assert stored.startswith(LISTED) and b"\n" not in stored
    assert redis_client.lrange(keys.batch_items(D, batch.id), 0, -1) == items[:10]
    assert box.scheduled_events() == 10
    loaded = box.load(batch.id)
    assert loaded is not None and [i.dumps() for i in loaded.items] == items[:10]
    assert box.forget(batch)
    assert not redis_client.exists(keys.batch_items(D, batch.id))
    assert box.scheduled_events() == 0 and box.batch_ids() == []


def test_an_empty_outbox_claims_nothing_and_writes_nothing(redis_client: redis.Redis) -> None:
    box = Outbox(redis_client, D)
    assert box.claim_new(10, 60, 1.0) is None
    assert redis_client.keys("*") == []


def test_a_rescheduled_batch_is_stored_whole_and_its_list_goes(redis_client: redis.Redis) -> None:
    box, now = Outbox(redis_client, D), 1_764_000_000.0
    items = _fill(box, redis_client, 6, now)
    batch = box.claim_new(6, 60, now)
    assert batch is not None
    batch.attempts = 1
    mid = 3
    parts = [
        (Batch(id=new_batch_id(now), items=batch.items[:mid], attempts=1), now + 5),
        (Batch(id=new_batch_id(now), items=batch.items[mid:], attempts=1), now + 5),
    ]
    assert box.reschedule(batch, parts)
    assert not redis_client.exists(keys.batch_items(D, batch.id))
    for part, _ in parts:
        stored = redis_client.hget(box.k_batches, part.id) or b""
        assert not stored.startswith(LISTED)
        again = box.claim_retry(part.id, 60, now + 6)
        assert again is not None and again.attempts == 1
        assert [i.dumps() for i in again.items] == [i.dumps() for i in part.items]
    assert [i.dumps() for p, _ in parts for i in p.items] == items
    # retried in place (same id): stored whole, the list is gone too
    first = parts[0][0]
    assert box.reschedule(first, [(first, now + 10)])
    loaded = box.load(first.id)
    assert loaded is not None and len(loaded.items) == mid


def test_a_batch_stored_by_an_earlier_version_still_loads(redis_client: redis.Redis) -> None:
    """Before issue 12 a claimed batch was one value: header line + one item per line."""
    box, now = Outbox(redis_client, D), 1_764_000_000.0
    items = encode_items(_events(4), now)
    old = b"\n".join([Batch.header(attempts=2, created=now), *items])
    batch_id = new_batch_id(now)
    redis_client.hset(box.k_batches, batch_id, old)
    redis_client.zadd(box.k_retry, {batch_id: now})
    redis_client.hset(box.k_backlog, "batched", 4)
    batch = box.claim_retry(batch_id, 60, now)
    assert batch is not None and batch.attempts == 2
    assert [i.dumps() for i in batch.items] == items
    assert box.forget(batch) and box.scheduled_events() == 0


def test_an_earlier_version_cannot_take_a_listed_batch_for_empty() -> None:
    """A worker of an earlier version decodes the first line as JSON: ``@`` makes it fail (the
    batch stays leased, is recovered and retried by a current worker) instead of reading a
    batch of no events, which it would have forgotten as delivered."""
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads((LISTED + Batch.header(created=1.0)).split(b"\n")[0])


def test_loads_many_is_loads_item_by_item() -> None:
    lines = [*encode_items(_events(7), 1.25), b"", *encode_items(_events(3), 2.5)]
    one = [Item.loads(x) for x in lines if x]
    many = Item.loads_many(lines)
    assert [(i.raw, i.enqueued_at, i.event_time, i.name) for i in many] == [
        (i.raw, i.enqueued_at, i.event_time, i.name) for i in one
    ]
