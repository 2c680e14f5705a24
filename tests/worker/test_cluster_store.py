"""The store, ingest, flush and beat's jobs on a real 3-master Redis Cluster (issue 12):
every key and script single-slot, the registry and the dead-letter read model across slots,
scripts that still run on a master restarted (its script cache empty)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from emulator import EmulatorServer
from tests.worker.conftest import PIXEL_A, PIXEL_B, FakeClock, drain, view
from worker import jobs
from worker.ingest import ingest
from worker.runtime import Runtime
from worker.store import counters, keys, registry
from worker.store.deadletter import Category, DeadLetter
from worker.store.pause import is_paused, pause, resume

pytestmark = pytest.mark.integration


def delivered(emulator: EmulatorServer, pixel: str, test: str | None = None) -> set[str]:
    return {e["event_id"] for e in emulator.events(pixel=pixel, test=test, limit=100_000)}


def test_destinations_on_different_masters_flow_end_to_end(
    crt: Runtime, redis_cluster: Any, emulator: EmulatorServer, clock: FakeClock
) -> None:
    masters = {d: redis_cluster.master_of(keys.intake(d)) for d in ("brand-a", "brand-b")}
    assert len(set(masters.values())) == 2, masters  # the test means two masters
    ingest(crt, "brand-a", [view(i) for i in range(250)])
    ingest(crt, "brand-b", [view(i) for i in range(30)])
    assert registry.known(crt.redis) == ["brand-a", "brand-b"]
    assert registry.active(crt.redis) == ["brand-a", "brand-b"]
    drain(crt, "brand-a", clock)
    drain(crt, "brand-b", clock)
    assert delivered(emulator, PIXEL_A) == {f"evt-{i}" for i in range(250)}
    assert delivered(emulator, PIXEL_B, test="TEST12345") == {f"evt-{i}" for i in range(30)}
    assert counters.read(crt.redis, "brand-a")["delivered"] == 250
    jobs.recover(crt, full=False)  # nothing left: both leave the active set
    assert registry.active(crt.redis) == []
    assert registry.known(crt.redis) == ["brand-a", "brand-b"]


def test_dead_letters_across_masters_merge_replay_and_purge(
    crt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    now = time.time()
    letters = [
        DeadLetter(
            destination=d,
            reason="server_error",
            category=Category.EXHAUSTED,
            event_id=f"{d}-dead-{i}",
            first_failure=now,
            last_failure=now,
            event_time=int(now) - 60,
            payload={"event": "ViewContent", "event_id": f"{d}-dead-{i}", "event_time": int(now)},
        )
        for d in ("brand-a", "brand-b")
        for i in range(3)
    ]
    ids = crt.dlq.add(letters)
    assert {i.split("/")[0] for i in ids} == {"brand-a", "brand-b"}
    assert crt.dlq.size() == 6
    assert crt.dlq.stats()["by_destination"] == {"brand-a": 3, "brand-b": 3}
    assert [e.event_id for _, e in crt.dlq.list(destination="brand-b")] == [
        f"brand-b-dead-{i}" for i in range(3)
    ]
    shown = crt.dlq.get(ids[0])
    assert shown is not None and shown.event_id == "brand-a-dead-0"
    assert jobs.replay_retryable(crt)["replayed"] == 6
    drain(crt, "brand-a", clock)
    drain(crt, "brand-b", clock)
    assert {f"brand-a-dead-{i}" for i in range(3)} <= delivered(emulator, PIXEL_A)
    assert crt.dlq.size() == 0
    crt.dlq.add(letters[:2])
    assert crt.dlq.purge() == 2
    jobs.expire(crt, full=False)  # empty streams leave the dead-letter index
    assert registry.dlq_destinations(crt.redis) == []


def test_pause_flags_and_buckets_work_on_the_cluster(crt: Runtime) -> None:
    pause(crt.redis, "brand-b", "operator", "maintenance", time.time())  # one-slot transaction
    assert is_paused(crt.redis, "brand-b")
    resume(crt.redis, "brand-b")
    assert not is_paused(crt.redis, "brand-b")
    assert crt.arm_flush("brand-a")
    assert not crt.arm_flush("brand-a")  # coalesced
    bucket = crt.bucket(crt.settings.destination("brand-limited"))
    assert bucket.take(10).granted == 10


def test_a_master_killed_and_restarted_keeps_its_data_and_runs_scripts_again(
    crt: Runtime, redis_cluster: Any, emulator: EmulatorServer, clock: FakeClock
) -> None:
    ingest(crt, "brand-a", [view(i, "before") for i in range(120)])
    index = redis_cluster.master_of(keys.outbox("brand-a"))
    try:
        redis_cluster.kill(index)
        with pytest.raises(redis.RedisError):
            ingest(crt, "brand-a", [view(0, "during")])
        # the worst case: the client's default node (redis-py asks it about some commands)
        client: Any = crt.redis
        client.nodes_manager.default_node = client.get_node("127.0.0.1", redis_cluster.ports[index])
        assert crt.intake("brand-b").claim("probe", 60.0) is None  # XREADGROUP's keys: local
        # the other masters serve meanwhile: brand-b's events go all the way
        assert ingest(crt, "brand-b", [view(i, "other") for i in range(5)])["queued"] == 5
        drain(crt, "brand-b", clock)
        assert {f"other-{i}" for i in range(5)} <= delivered(emulator, PIXEL_B, test="TEST12345")
    finally:  # (on a failure above too: the next tests need every master)
        redis_cluster.restart(index)  # AOF (appendfsync always): everything acknowledged is back
    assert crt.redis.llen(keys.outbox("brand-a")) == 120
    ingest(crt, "brand-a", [view(i, "after") for i in range(10)])  # scripts reloaded by EVAL
    drain(crt, "brand-a", clock)
    drain(crt, "brand-b", clock)
    got = delivered(emulator, PIXEL_A)
    assert {f"before-{i}" for i in range(120)} | {f"after-{i}" for i in range(10)} <= got


def test_the_memory_gauge_reads_the_fullest_master_and_skips_a_dead_one(
    cluster_client: redis.Redis, redis_cluster: Any
) -> None:
    from worker.store.memory import MemoryGauge

    ports = redis_cluster.ports
    limits = {ports[0]: 0, ports[1]: 500 * 1024 * 1024, ports[2]: 100 * 1024 * 1024}
    for port, limit in limits.items():
        redis.Redis(port=port).config_set("maxmemory", str(limit))
    try:
        used, limit = MemoryGauge(cluster_client, ttl_s=0).read()
        assert used > 0 and limit == 100 * 1024 * 1024  # the fullest, by share
        redis_cluster.kill(2)
        used, limit = MemoryGauge(cluster_client, ttl_s=0).read()
        assert limit == 500 * 1024 * 1024  # the dead master is skipped
    finally:
        if redis_cluster.nodes[2].pid is None:
            redis_cluster.restart(2)
        for port in ports:
            redis.Redis(port=port).config_set("maxmemory", "0")


def test_status_reads_every_destination_and_bucket_on_the_cluster(crt: Runtime) -> None:
    """``status`` (and the exporter) pipeline reads of many destinations and a script per
    bucket across the masters: a cluster pipeline carries scripts by EVAL."""
    from cli.status import status
    from worker.store import ratelimit

    ingest(crt, "brand-a", [view(i) for i in range(3)])
    crt.dlq.add(
        [
            DeadLetter(
                destination="brand-b",
                reason="server_error",
                category=Category.EXHAUSTED,
                first_failure=time.time(),
                last_failure=time.time(),
            )
        ]
    )
    report = status(crt)
    assert report["brand-a"]["state"]["outbox"] == 3
    assert report["brand-b"]["state"]["dlq"] == 1
    buckets = [crt.bucket(crt.settings.destination(d)) for d in ("brand-limited", "brand-a")]
    assert len(ratelimit.states(crt.redis, buckets)) == 2


def test_a_metrics_scrape_works_on_the_cluster(crt: Runtime) -> None:
    from prometheus_client import generate_latest

    from cli.metrics import registry_for

    ingest(crt, "brand-a", [view(i) for i in range(2)])
    text = generate_latest(registry_for(lambda: crt)).decode()
    assert "masivo_tiktok_redis_up 1.0" in text
    assert 'masivo_tiktok_events_queued_total{destination="brand-a"} 2.0' in text


def test_every_outbox_script_runs_on_one_slot_of_the_cluster(
    crt: Runtime, clock: FakeClock
) -> None:
    """claim (new, retry), release, reschedule (a split), recover, forget: every script's keys
    in the destination's slot (a CROSSSLOT error would fail here), its books kept."""
    from worker.store.outbox import Batch, new_batch_id

    ingest(crt, "brand-b", [view(i) for i in range(40)])
    box = crt.outbox("brand-b")
    now = clock()
    batch = box.claim_new(10, 60, now)
    assert batch is not None and len(batch.items) == 10
    assert box.release(batch.id, now)
    again = box.claim_retry(batch.id, 60, now)
    assert again is not None and len(again.items) == 10
    halves = [
        Batch(id=new_batch_id(now), items=again.items[:5], attempts=1, created=now),
        Batch(id=new_batch_id(now), items=again.items[5:], attempts=1, created=now),
    ]
    assert box.reschedule(again, [(b, now) for b in halves])
    assert box.counts() == {"outbox": 30, "in_flight": 0, "scheduled_retries": 2}
    leased = box.claim_new(10, 1, now)
    assert leased is not None
    assert box.recover(now + 5) == 1  # its lease ran out: back on the schedule
    first = box.claim_retry(halves[0].id, 60, now)
    assert first is not None and box.forget(first)
    assert box.scheduled_events() == 15 and box.depth() == 20
