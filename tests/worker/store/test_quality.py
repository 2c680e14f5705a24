"""Match-quality counters: the pure increments, the atomic commit, the read model."""

from __future__ import annotations

import time
from typing import Any

import redis

from tests.worker.conftest import FakeClock
from transforms import Send, TransformOptions, transform
from transforms.quality import Quality
from worker.ingest import encode_chunk, ingest_next, transform_chunk
from worker.runtime import Runtime
from worker.store import keys, quality
from worker.store.intake import Intake


def test_fields_of_one_event() -> None:
    q = Quality("AddToCart", ("email", "external_id"), ("currency_missing",))
    assert quality.fields_of(q) == [
        "AddToCart|events",
        "AddToCart|key:email",
        "AddToCart|key:external_id",
        "AddToCart|warn:currency_missing",
    ]


def test_increments_count_events_keys_and_warnings() -> None:
    cart = Quality("AddToCart", ("email",), ())
    bare = Quality("AddToCart", (), ("no_match_key",))
    sends = [Send(({},), (cart,)), Send(({},), (cart,)), Send(({},), (bare,))]
    sends.append(Send(({}, {}), (Quality("AudienceUpdated", ("external_id",)),) * 2))
    assert quality.increments(sends) == {
        "AddToCart|events": 3,
        "AddToCart|key:email": 2,
        "AddToCart|warn:no_match_key": 1,
        "AudienceUpdated|events": 2,
        "AudienceUpdated|key:external_id": 2,
    }
    assert quality.increments([]) == {}


def test_increments_of_real_outcomes_use_the_fixed_vocabularies() -> None:
    options = TransformOptions(destination_id="d")
    events: list[Any] = [
        {"type": "search", "customer_id": "c1", "query": "q"},
        {"type": "search", "email": "nope"},
        {"type": "my|event", "customer_id": "c1", "ssn": "x"},  # "|" in a custom name
    ]
    sends = [o for o in (transform(e, options, time.time()) for e in events) if isinstance(o, Send)]
    assert quality.increments(sends) == {
        "Search|events": 2,
        "Search|key:external_id": 1,
        "Search|warn:no_match_key": 1,
        "Search|warn:email_unusable": 1,
        "Search|warn:recommended_missing": 1,
        "my|event|events": 1,
        "my|event|key:external_id": 1,
        "my|event|warn:params_ignored": 1,
    }


def test_read_parses_and_sorts(redis_client: redis.Redis) -> None:
    redis_client.hset(
        keys.quality("brand-a"),
        mapping={
            "Search|events": 1,
            "AddToCart|events": 5,
            "AddToCart|key:email": 4,
            "AddToCart|warn:no_match_key": 1,
            "my|event|events": 2,
            "junk": 3,
        },
    )
    assert quality.read(redis_client, "brand-a") == {
        "AddToCart": {"events": 5, "keys": {"email": 4}, "warnings": {"no_match_key": 1}},
        "my|event": {"events": 2, "keys": {}, "warnings": {}},
        "Search": {"events": 1, "keys": {}, "warnings": {}},
    }
    assert quality.read(redis_client, "nobody") == {}


def test_quality_key_shares_the_destination_slot() -> None:
    assert keys.quality("brand-a") == "mtt:{brand-a}:quality"
    assert keys.quality("brand-a").split(":")[1] == keys.stats("brand-a").split(":")[1]


def test_commit_writes_quality_with_stats_once(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client, "brand-a")
    intake.append(encode_chunk([{"type": "search"}]), 1)
    entry = intake.claim("w1", 60)
    assert entry is not None
    counts = {"received": 1, "queued": 1, "dropped:x": 0}
    depth = intake.commit(entry, [b"item"], counts, {"Search|events": 1, "Search|key:ttp": 0})
    assert depth == 1
    assert redis_client.hgetall(keys.quality("brand-a")) == {b"Search|events": b"1"}
    stats = redis_client.hgetall(keys.stats("brand-a"))
    assert stats == {b"received": b"1", b"queued": b"1"}
    # a worker that took the entry over and commits again writes nothing
    assert intake.commit(entry, [b"item"], counts, {"Search|events": 1}) is None
    assert redis_client.hgetall(keys.quality("brand-a")) == {b"Search|events": b"1"}
    assert redis_client.hget(keys.stats("brand-a"), "received") == b"1"


def test_commit_without_quality_still_counts(redis_client: redis.Redis) -> None:
    intake = Intake(redis_client, "brand-a")
    intake.append(encode_chunk([1]), 1)
    entry = intake.claim("w1", 60)
    assert entry is not None
    assert intake.commit(entry, [], {"received": 1}) == 0
    assert redis_client.hget(keys.stats("brand-a"), "received") == b"1"
    assert not redis_client.exists(keys.quality("brand-a"))


def test_ingest_counts_quality_in_the_same_commit(rt: Runtime, clock: FakeClock) -> None:
    now = int(clock()) - 60
    events: list[Any] = [
        {"id": "1", "type": "add_to_cart", "customer_id": "c1", "issued_at": now},
        {"id": "2", "type": "add_to_cart", "email": "bad", "issued_at": now},
        {"id": "3", "type": "add_to_cart", "issued_at": now - 30 * 86400},  # dropped: too old
        {"id": "4", "type": "AUDIENCE", "action": "calculate", "audience": {"id": "a"}},
        "not an event",
    ]
    done = transform_chunk(rt, "brand-a", events, clock())
    assert done.quality["AddToCart|events"] == 2
    Intake(rt.redis, "brand-a").append(encode_chunk(events), len(events))
    assert ingest_next(rt, "brand-a", ring=False).action == "ingested"
    report = quality.read(rt.redis, "brand-a")
    assert report["AddToCart"]["events"] == 2
    assert report["AddToCart"]["keys"] == {"external_id": 1}
    assert report["AddToCart"]["warnings"] == {
        "no_match_key": 1,
        "email_unusable": 1,
        "recommended_missing": 2,
    }
    assert report["AudienceUpdated"] == {"events": 1, "keys": {"external_id": 1}, "warnings": {}}
    assert rt.redis.hget(keys.stats("brand-a"), "queued") == b"3"
