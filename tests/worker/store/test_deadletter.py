"""The dead-letter streams (one per destination, and the legacy global one) against a real
Redis, through the read model that merges them."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import redis

from worker.store import keys, registry
from worker.store.deadletter import Category, DeadLetter, DeadLetterStore, entry_time, scrub

DLQ_KEY = keys.dlq("brand-a")
LEGACY = keys.LEGACY_DLQ


def _entry(**overrides: Any) -> DeadLetter:
    fields: dict[str, Any] = {
        "destination": "brand-a",
        "reason": "invalid_event",
        "category": Category.INVALID,
        "event_id": "e-1",
        "event_name": "CompletePayment",
        "http_status": 200,
        "tiktok_code": 40002,
        "tiktok_message": "Invalid value for field: email",
        "request_id": "req-1",
        "attempts": 1,
        "first_failure": 1_700_000_000.0,
        "last_failure": 1_700_000_001.5,
        "event_time": 1_699_999_000,
        "payload": {"event": "CompletePayment", "event_id": "e-1", "properties": {"value": 9.5}},
    }
    fields.update(overrides)
    return DeadLetter(**fields)


@pytest.fixture
def store(redis_client: redis.Redis) -> DeadLetterStore:
    return DeadLetterStore(redis_client, max_entries=100)


def test_add_then_get_round_trips(store: DeadLetterStore) -> None:
    entry = _entry(raw_event={"id": "m-1", "nested": [1, "two", None]}, test_event_code="TEST1")
    [entry_id] = store.add([entry])
    assert store.get(entry_id) == entry
    assert store.get("1-1") is None
    assert store.get("not-an-id") is None
    assert store.add([]) == []


def test_one_orjson_field_per_entry_and_its_count_field(
    store: DeadLetterStore, redis_client: redis.Redis
) -> None:
    [entry_id] = store.add([_entry()])
    rows: Any = redis_client.xrange(DLQ_KEY)
    [(raw_id, fields)] = rows
    assert entry_id == f"brand-a/{raw_id.decode()}"
    assert list(fields) == [b"d", b"k"]
    assert orjson.loads(fields[b"d"])["tiktok_code"] == 40002
    entry = _entry()
    assert fields[b"k"].decode() == f"{entry.destination}|{entry.category}|{entry.reason}"


def test_counts_follow_adds_trims_deletes_and_purges_exactly(redis_client: redis.Redis) -> None:
    store = DeadLetterStore(redis_client, max_entries=10)
    store.add([_entry(event_id=str(i)) for i in range(8)])
    store.add([_entry(event_id=str(i)) for i in range(8, 14)])
    ids = store.add([_entry(event_id=f"b{i}", destination="brand-b") for i in range(6)])
    counts = store.counts()
    assert sum(counts.values()) == store.size() == 16  # the bound is per destination, exact
    assert {k[0]: v for k, v in counts.items()} == {"brand-a": 10, "brand-b": 6}
    assert store.list(destination="brand-a")[0][1].event_id == "4"  # the oldest went
    assert store.purge(destination="brand-a", reason="invalid_event") == 10
    store.add([_entry(event_id=str(i)) for i in range(4)])
    assert store.delete(ids[:2]) == 2
    assert store.stats()["by_destination"] == {"brand-a": 4, "brand-b": 4}
    assert store.purge(destination="brand-a") == 4
    assert store.stats()["by_destination"] == {"brand-b": 4}
    assert store.purge() == 4
    assert store.counts() == {}
    assert store.stats()["oldest"] is None


def test_counts_are_rebuilt_once_for_entries_written_before_them(
    redis_client: redis.Redis,
) -> None:
    for i in range(3):  # the first release's format: one field, no counts
        redis_client.xadd(LEGACY, {b"d": _entry(event_id=str(i)).to_json()})
    store = DeadLetterStore(redis_client, max_entries=100)
    assert store.stats()["by_destination"] == {"brand-a": 3}
    [(first, _)] = [store.list(limit=1)[0]]
    assert store.delete([first]) == 1  # an old entry: its JSON says what to subtract
    assert store.stats()["by_destination"] == {"brand-a": 2}


def test_list_filters_and_orders_oldest_first(store: DeadLetterStore) -> None:
    ids = store.add(
        [
            _entry(event_id="1"),
            _entry(event_id="2", destination="brand-b", reason="worker_lost", category="crashed"),
            _entry(event_id="3", reason="retryable", category=Category.EXHAUSTED),
            _entry(event_id="4", destination="brand-b"),
        ]
    )
    listed = [i for i, _ in store.list()]
    assert sorted(listed) == sorted(ids)  # one add: one script per destination's stream
    assert listed == sorted(listed, key=entry_time)  # merged by the time it was added
    assert [e.event_id for _, e in store.list(destination="brand-b")] == ["2", "4"]
    assert [e.event_id for _, e in store.list(reason="retryable")] == ["3"]
    assert [e.event_id for _, e in store.list(destination="brand-b", reason="worker_lost")] == ["2"]
    assert [i for i, _ in store.list(limit=2)] == listed[:2]
    assert store.list(limit=0) == []
    assert store.list(destination="nobody") == []


def test_since_uses_the_time_it_was_added(
    store: DeadLetterStore, redis_client: redis.Redis
) -> None:
    # explicit ids: added at t=1000.000 s, 2000.000 s and 3000.000 s
    for ms, event_id in ((1_000_000, "old"), (2_000_000, "mid"), (3_000_000, "new")):
        redis_client.xadd(LEGACY, {b"d": _entry(event_id=event_id).to_json()}, id=f"{ms}-0")
    assert [e.event_id for _, e in store.list(since=2000)] == ["mid", "new"]
    assert [e.event_id for _, e in store.list(since=1999.9995)] == ["mid", "new"]
    assert store.purge(since=2000.5) == 1
    assert [e.event_id for _, e in store.list()] == ["old", "mid"]


def test_pages_through_more_than_one_xrange_page(redis_client: redis.Redis) -> None:
    store = DeadLetterStore(redis_client, max_entries=5000)
    store.add([_entry(event_id=str(i)) for i in range(1203)])
    entries = store.list()
    assert [e.event_id for _, e in entries] == [str(i) for i in range(1203)]
    assert len(store.list(limit=501)) == 501


def test_delete_and_purge(store: DeadLetterStore) -> None:
    ids = store.add([_entry(event_id=str(i), reason="retryable") for i in range(5)])
    store.add([_entry(event_id="x", destination="brand-b")])
    assert store.delete([ids[0], ids[1], "1-1"]) == 2
    assert store.delete([]) == 0
    assert store.size() == 4
    assert store.purge(reason="retryable") == 3
    assert store.size() == 1
    assert store.purge() == 1
    assert store.size() == 0
    assert store.purge() == 0


def test_stats(store: DeadLetterStore) -> None:
    assert store.stats() == {
        "size": 0,
        "by_destination": {},
        "by_reason": {},
        "by_category": {},
        "oldest": None,
        "newest": None,
    }
    ids = store.add(
        [
            _entry(),
            _entry(destination="brand-b", reason="worker_lost", category=Category.CRASHED),
            _entry(),
        ]
    )
    stats = store.stats()
    assert stats["size"] == 3
    assert stats["by_destination"] == {"brand-a": 2, "brand-b": 1}
    assert stats["by_reason"] == {"invalid_event": 2, "worker_lost": 1}
    assert stats["by_category"] == {"invalid": 2, "crashed": 1}
    assert stats["oldest"] == entry_time(ids[0]) == int(ids[0].split("/")[1].split("-")[0]) / 1000
    assert stats["newest"] == max(entry_time(i) for i in ids)  # brand-b.s went second


def test_stream_is_bounded(redis_client: redis.Redis) -> None:
    store = DeadLetterStore(redis_client, max_entries=100)
    for start in range(0, 1000, 50):
        store.add([_entry(event_id=str(i)) for i in range(start, start + 50)])
    assert store.size() == 100  # exact
    kept = [e.event_id for _, e in store.list()]
    assert kept[-1] == "999"  # the oldest went first
    assert "0" not in kept


def test_unreadable_entries_are_skipped(store: DeadLetterStore, redis_client: redis.Redis) -> None:
    redis_client.xadd(DLQ_KEY, {b"d": b"{not json"})
    redis_client.xadd(DLQ_KEY, {b"other": b"1"})
    registry.mark_dlq(redis_client, "brand-a")
    [good] = store.add([_entry()])
    assert [i for i, _ in store.list()] == [good]
    assert store.stats()["by_destination"] == {"brand-a": 1}


@pytest.mark.parametrize(
    "secret_key",
    [
        pytest.param("access_token", id="snake"),
        pytest.param("Access-Token", id="header"),
        pytest.param("ACCESS_TOKEN", id="upper"),
        pytest.param("accessToken", id="camel"),
        pytest.param("Authorization", id="authorization"),
    ],
)
def test_no_token_is_ever_stored(
    store: DeadLetterStore, redis_client: redis.Redis, secret_key: str
) -> None:
    secret = "s3cr3t-token-value"
    entry = _entry(
        payload={"event": "X", secret_key: secret, "context": {"user": {secret_key: secret}}},
        raw_event=[{"headers": {secret_key: secret}}, "ok"],
    )
    assert entry.payload == {"event": "X", "context": {"user": {}}}
    assert entry.raw_event == [{"headers": {}}, "ok"]
    store.add([entry])
    rows: Any = redis_client.xrange(DLQ_KEY)
    for _, fields in rows:
        assert secret.encode() not in fields[b"d"]


def test_scrub_keeps_everything_else() -> None:
    value = {"token_type": "x", "access": 1, "items": [{"access_token": "t", "id": 2}]}
    assert scrub(value) == {"token_type": "x", "access": 1, "items": [{"id": 2}]}
    assert scrub("access_token") == "access_token"


def test_categories_are_the_stored_strings(store: DeadLetterStore) -> None:
    """The enum is the vocabulary; the stream keeps plain strings (a wire format)."""
    assert [c.value for c in Category] == ["rejected", "invalid", "exhausted", "crashed"]
    [entry_id] = store.add([_entry(category=Category.EXHAUSTED)])
    raw = store.redis.xrange(store.stream("brand-a").key)[0][1][b"d"]  # type: ignore[index]
    assert orjson.loads(raw)["category"] == "exhausted"
    entry = store.get(entry_id)
    assert entry is not None and entry.category == Category.EXHAUSTED.value == "exhausted"
    # an entry written by an older version, with a category no longer used, still reads
    [old] = store.add([_entry(category="auth")])
    assert store.get(old) is not None


def test_each_destination_has_its_own_stream_in_its_own_slot(
    store: DeadLetterStore, redis_client: redis.Redis
) -> None:
    store.add([_entry(), _entry(destination="brand-b"), _entry()])
    assert redis_client.xlen(keys.dlq("brand-a")) == 2
    assert redis_client.xlen(keys.dlq("brand-b")) == 1
    assert not redis_client.exists(LEGACY)
    assert registry.dlq_destinations(redis_client) == ["brand-a", "brand-b"]
    # a stream and its counts share the hash tag: one slot, so one script may keep both
    assert keys.dlq("brand-b").startswith("mtt:{brand-b}:")
    assert keys.dlq_counts("brand-b").startswith("mtt:{brand-b}:")


def test_the_read_model_merges_streams_oldest_first_with_the_legacy_one(
    store: DeadLetterStore, redis_client: redis.Redis
) -> None:
    redis_client.xadd(LEGACY, {b"d": _entry(event_id="legacy-old").to_json()}, id="1000-0")
    ids: list[str] = []
    for entry in (_entry(event_id="a1"), _entry(event_id="b1", destination="brand-b"),
                  _entry(event_id="a2")):  # fmt: skip
        ids += store.add([entry])
        time.sleep(0.003)  # across streams, the order is the stream ids' milliseconds
    listed = store.list()
    assert [e.event_id for _, e in listed] == ["legacy-old", "a1", "b1", "a2"]
    assert [i for i, _ in listed] == ["1000-0", *ids]
    newest = [raw["event_id"] for _, raw in store.newest_first()]
    assert newest == ["a2", "b1", "a1", "legacy-old"]
    assert store.size() == 4
    assert store.stats()["by_destination"] == {"brand-a": 3, "brand-b": 1}
    assert store.stats()["oldest"] == 1.0
    # a legacy id (as older versions printed it) still shows and deletes
    legacy = store.get("1000-0")
    assert legacy is not None and legacy.event_id == "legacy-old"
    assert store.delete(["1000-0"]) == 1
    assert store.counts() == {("brand-a", "invalid", "invalid_event"): 2,
                              ("brand-b", "invalid", "invalid_event"): 1}  # fmt: skip


def test_purge_by_destination_reaches_its_legacy_entries(
    store: DeadLetterStore, redis_client: redis.Redis
) -> None:
    redis_client.xadd(LEGACY, {b"d": _entry(event_id="old-a").to_json()})
    redis_client.xadd(LEGACY, {b"d": _entry(event_id="old-b", destination="brand-b").to_json()})
    store.add([_entry(event_id="new-a"), _entry(event_id="new-b", destination="brand-b")])
    assert store.purge(destination="brand-a") == 2
    assert sorted(e.event_id or "" for _, e in store.list()) == ["new-b", "old-b"]
    assert store.purge() == 2
    assert store.size() == 0 and not redis_client.exists(LEGACY)


def test_migrate_moves_the_legacy_stream_into_per_destination_streams(
    store: DeadLetterStore, redis_client: redis.Redis
) -> None:
    for i in range(3):
        redis_client.xadd(LEGACY, {b"d": _entry(event_id=f"a{i}").to_json()})
    redis_client.xadd(LEGACY, {b"d": _entry(event_id="b", destination="brand-b").to_json()})
    redis_client.xadd(LEGACY, {b"d": b"{not json"})  # unreadable: dropped, as reads skip it
    before = store.counts()
    assert store.migrate_legacy() == 4
    assert not redis_client.exists(LEGACY) and not redis_client.exists(keys.LEGACY_DLQ_COUNTS)
    assert store.counts() == before
    assert redis_client.xlen(keys.dlq("brand-a")) == 3
    assert [e.event_id for _, e in store.list(destination="brand-b")] == ["b"]
    assert store.migrate_legacy() == 0


def test_an_emptied_stream_leaves_the_index_and_an_add_puts_it_back(
    store: DeadLetterStore, redis_client: redis.Redis
) -> None:
    [entry_id] = store.add([_entry()])
    assert not registry.retire_dlq_if_empty(redis_client, "brand-a")
    store.delete([entry_id])
    assert registry.retire_dlq_if_empty(redis_client, "brand-a")
    assert registry.dlq_destinations(redis_client) == []
    store.add([_entry()])
    assert registry.dlq_destinations(redis_client) == ["brand-a"]
