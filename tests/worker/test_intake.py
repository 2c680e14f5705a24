"""Durable intake: an acknowledged event lives in Redis structures we own until it is ingested.

Real Redis, the emulator over real sockets, the Runtime with a fake clock (tests/worker/conftest).
Each test counts: acknowledged = queued/delivered + dropped + rejected + pending.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from devstack import RedisProcess
from emulator import EmulatorServer
from tests.worker.conftest import PIXEL_A, FakeClock, drain
from worker import jobs
from worker.ingest import encode_chunk, ingest_next
from worker.producer import IntakeGuard, IntakeRefused, enqueue
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store import counters, keys
from worker.store.intake import Intake, backlog


def view(i: int) -> dict[str, Any]:
    return {
        "id": f"evt-{i}",
        "type": "view_item",
        "customer_id": f"c{i}",
        "issued_at": int(time.time()) - 60,
        "items": [{"id": f"sku-{i}", "name": "Socks", "price": 9.5}],
    }


class Bell:
    """Records doorbells instead of sending Celery messages."""

    def __init__(self) -> None:
        self.rung: list[str] = []

    def __call__(self, destination: str) -> None:
        self.rung.append(destination)


def produce(rt: Runtime, events: list[Any], destination: str = "brand-a", **kw: Any) -> int:
    bell = Bell()
    n = enqueue(
        events,
        destination,
        settings=rt.settings,
        client=rt.redis,
        doorbell=bell,
        chunk_size=kw.pop("chunk_size", 50),
        **kw,
    )
    assert set(bell.rung) <= {destination}
    return n


def ingest_all(rt: Runtime, destination: str = "brand-a") -> int:
    n = 0
    while ingest_next(rt, destination, ring=False).action not in ("idle", "memory_wait"):
        n += 1
    return n


def test_enqueue_appends_chunks_to_the_intake_and_rings_once(rt: Runtime) -> None:
    bell = Bell()
    n = enqueue(
        [view(i) for i in range(120)],
        "brand-a",
        settings=rt.settings,
        client=rt.redis,
        doorbell=bell,
        chunk_size=50,
    )
    assert n == 120
    assert bell.rung == ["brand-a"]  # one pending doorbell, coalesced
    intake = rt.intake("brand-a")
    assert intake.entries() == 3  # 50 + 50 + 20
    assert backlog(rt.redis, "brand-a") == 120
    assert rt.redis.get(keys.rung("brand-a")) == b"1"
    assert b"brand-a" in rt.redis.smembers(keys.DESTINATIONS)


def test_enqueue_without_a_client_keeps_one_connection_per_process(rt: Runtime) -> None:
    """A producer calls enqueue once per request: a connection per call cost ~1.5 ms of each
    call and left a socket in TIME_WAIT per call (bench/producer.py)."""
    opened = int(rt.redis.info("stats")["total_connections_received"])
    bell = Bell()
    for i in range(20):
        assert enqueue([view(i)], "brand-a", settings=rt.settings, doorbell=bell) == 1
    assert int(rt.redis.info("stats")["total_connections_received"]) - opened <= 1
    assert backlog(rt.redis, "brand-a") == 20


def test_threads_share_the_process_client_and_every_call_is_acknowledged(rt: Runtime) -> None:
    bell = Bell()
    acknowledged: list[int] = []

    def producer(t: int) -> None:
        for i in range(25):
            event = view(t * 100 + i)
            acknowledged.append(enqueue([event], "brand-a", settings=rt.settings, doorbell=bell))

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert acknowledged == [1] * 200
    assert backlog(rt.redis, "brand-a") == 200
    assert rt.intake("brand-a").entries() == 200


def test_the_shared_client_serves_again_after_a_redis_restart(
    tmp_path: Path, settings: Settings
) -> None:
    with RedisProcess(tmp_path / "redis", appendonly=True) as server:
        s = settings.model_copy(update={"redis_url": server.url})
        bell = Bell()
        assert enqueue([view(1)], "brand-a", settings=s, doorbell=bell) == 1
        server.kill()
        with pytest.raises(redis.ConnectionError):  # down: refused, nothing acknowledged
            enqueue([view(2)], "brand-a", settings=s, doorbell=bell)
        server.start()
        assert enqueue([view(3)], "brand-a", settings=s, doorbell=bell) == 1  # reconnected
        client = redis.Redis.from_url(server.url)
        assert backlog(client, "brand-a") == 2  # 1 and 3: both acknowledged, both kept
        client.close()


def test_the_shared_client_works_over_a_unix_socket(tmp_path: Path, settings: Settings) -> None:
    """The embedded Redis listens on a unix socket, where redis-py refuses TCP options."""
    sock = tmp_path / "r.sock"
    with RedisProcess(tmp_path / "redis", port=None, unix_socket=sock) as server:
        s = settings.model_copy(update={"redis_url": server.url})
        assert server.url.startswith("unix://")
        assert enqueue([view(1)], "brand-a", settings=s, doorbell=Bell()) == 1


def test_a_redis_turned_replica_drops_the_shared_client_for_the_next_call(
    tmp_path: Path, settings: Settings
) -> None:
    """A failover behind a fixed endpoint: the server the pool talks to is now a replica.
    The call fails (nothing acknowledged) and the next one starts from a new client."""
    from worker import producer

    with RedisProcess(tmp_path / "a") as a, RedisProcess(tmp_path / "b") as b:
        s = settings.model_copy(update={"redis_url": a.url})
        bell = Bell()
        assert enqueue([view(1)], "brand-a", settings=s, doorbell=bell) == 1
        first = producer._clients[a.url]
        admin = redis.Redis.from_url(a.url)
        admin.replicaof("127.0.0.1", b.port)
        with pytest.raises(redis.exceptions.ReadOnlyError):
            enqueue([view(2)], "brand-a", settings=s, doorbell=bell)
        assert a.url not in producer._clients
        admin.replicaof("NO", "ONE")
        assert enqueue([view(3)], "brand-a", settings=s, doorbell=bell) == 1
        assert producer._clients[a.url] is not first
        admin.close()


def test_ingest_moves_entries_to_the_outbox_and_deletes_them(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    produce(rt, [view(i) for i in range(120)] + ["not an event"])
    assert ingest_all(rt) == 3
    intake = rt.intake("brand-a")
    assert intake.entries() == 0
    assert intake.pending() == 0
    stats = counters.read(rt.redis, "brand-a")
    assert stats["received"] == 121
    assert stats["queued"] == 120
    assert stats["rejected:not_an_object"] == 1
    assert backlog(rt.redis, "brand-a") == 120  # now in the outbox
    drain(rt, "brand-a", clock)
    assert backlog(rt.redis, "brand-a") == 0
    assert len({e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=1000)}) == 120


def test_a_worker_dying_before_its_commit_leaves_the_entry_pending_for_another(
    rt: Runtime,
) -> None:
    produce(rt, [view(i) for i in range(10)])
    intake = rt.intake("brand-a")
    taken = intake.claim("dead-worker", min_idle_s=60)  # claimed, then the worker is killed
    assert taken is not None
    assert intake.pending() == 1
    assert intake.claim("other", min_idle_s=60) is None  # still leased
    assert not intake.has_work(60)
    assert intake.has_work(0)  # past its lease
    again = intake.claim("other", min_idle_s=0)
    assert again is not None
    assert again.id == taken.id
    assert again.deliveries == 2
    assert intake.commit(again, [], {"received": 10}) is not None
    assert intake.commit(taken, [], {"received": 10}) is None  # the slow one writes nothing
    assert counters.read(rt.redis, "brand-a")["received"] == 10


def test_an_entry_that_keeps_killing_its_workers_is_dead_lettered_whole(rt: Runtime) -> None:
    produce(rt, [view(i) for i in range(5)])
    intake = rt.intake("brand-a")
    for n in range(rt.settings.max_recoveries):
        assert intake.claim(f"victim-{n}", min_idle_s=0) is not None
    rt.settings = rt.settings.model_copy(update={"lease_s": 0})  # the last lease ran out
    report = ingest_next(rt, "brand-a", ring=False)
    assert report.action == "dead"
    assert intake.entries() == 0
    [(_, letter)] = rt.dlq.list(destination="brand-a")
    assert letter.reason == "worker_lost"
    assert letter.category == "crashed"
    assert letter.raw_event == [view(i) for i in range(5)]
    assert counters.read(rt.redis, "brand-a")["rejected:worker_lost"] == 5


@pytest.mark.parametrize(
    "fields",
    [
        {b"e": b"garbage"},
        {b"e": b"\xff\xfe not utf-8"},
        {b"other": b"1"},
        {b"e": b'{"events": "not a list"}'},
    ],
)
def test_a_malformed_entry_is_dead_lettered_and_its_neighbours_go_through(
    rt: Runtime, fields: dict[bytes, bytes]
) -> None:
    produce(rt, [view(1)])
    rt.redis.xadd(keys.intake("brand-a"), fields)  # another tool wrote something odd
    produce(rt, [view(2)])
    ingest_all(rt)
    stats = counters.read(rt.redis, "brand-a")
    assert stats["queued"] == 2
    assert rt.intake("brand-a").entries() == 0
    letters = rt.dlq.list(destination="brand-a")
    assert len(letters) == 1
    assert letters[0][1].reason in {"undecodable", "missing_type"}


def test_a_chunk_for_an_unknown_destination_is_dead_lettered_not_lost(rt: Runtime) -> None:
    intake = Intake(rt.redis, "nobody")
    intake.append(encode_chunk([view(1), view(2)]), 2)
    assert ingest_all(rt, "nobody") == 1
    assert counters.read(rt.redis, "nobody")["rejected:unknown_destination"] == 2
    assert len(rt.dlq.list(destination="nobody")) == 2


def test_beat_rings_for_intakes_with_new_or_abandoned_entries(rt: Runtime) -> None:
    bell = Bell()
    rt.schedule_ingest = bell
    produce(rt, [view(1)])
    rt.unring("brand-a")  # the doorbell was lost with a Redis crash
    jobs.recover(rt)
    assert bell.rung == ["brand-a"]
    rt.intake("brand-a").claim("dead-worker", min_idle_s=60)
    rt.unring("brand-a")
    bell.rung.clear()
    jobs.recover(rt)
    assert bell.rung == []  # still leased: nothing to do yet
    rt.clock.advance(0)  # type: ignore[attr-defined]


def test_producer_is_refused_past_the_backlog_bound_and_keeps_what_it_acknowledged(
    rt: Runtime,
) -> None:
    settings = rt.settings.model_copy(update={"max_backlog_events": 120})
    with pytest.raises(IntakeRefused) as refused:
        enqueue(
            [view(i) for i in range(200)],
            "brand-a",
            settings=settings,
            client=rt.redis,
            doorbell=Bell(),
            chunk_size=50,
        )
    assert refused.value.reason == "backlog"
    assert refused.value.accepted == 100
    assert "brand-a" in str(refused.value)
    assert rt.intake("brand-a").entries() == 2
    assert backlog(rt.redis, "brand-a") == 100


def test_producer_is_refused_near_maxmemory_with_headroom_left(rt: Runtime) -> None:
    used = int(rt.redis.info("memory")["used_memory"])
    rt.redis.config_set("maxmemory", str(used + 200_000))
    try:
        guard = IntakeGuard(rt.redis, max_backlog=0, memory_share=0.5)
        with pytest.raises(IntakeRefused) as refused:
            guard.check("brand-a", 1)
        assert refused.value.reason == "memory"
        IntakeGuard(rt.redis, max_backlog=0, memory_share=1.0).check("brand-a", 1)
    finally:
        rt.redis.config_set("maxmemory", "0")


def _fill_to_maxmemory(client: redis.Redis) -> None:
    """Fill Redis, then set maxmemory below what it uses: every plain write is refused."""
    client.config_set("maxmemory-policy", "noeviction")
    pipe = client.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"junk:{i}", b"x" * 10_000)
    pipe.execute()
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", str(used - 100_000))
    with pytest.raises(redis.ResponseError, match="maxmemory"):
        client.set("probe", b"1")


def _server_major(client: redis.Redis) -> int:
    return int(str(client.info("server")["redis_version"]).split(".")[0])


def test_a_full_redis_refuses_producers_but_still_drains_to_tiktok(
    rt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    if _server_major(rt.redis) < 7:
        pytest.skip("script flags (allow-oom) need Redis 7")
    rt.memory.ttl_s = 0  # read memory afresh every time
    produce(rt, [view(i) for i in range(100)])
    assert ingest_all(rt) == 2
    produce(rt, [view(i) for i in range(100, 150)])
    _fill_to_maxmemory(rt.redis)
    try:
        with pytest.raises(IntakeRefused) as refused:
            enqueue([view(1000)], "brand-a", settings=rt.settings, client=rt.redis, doorbell=Bell())
        assert refused.value.reason == "memory"
        assert refused.value.accepted == 0
        # ingest waits (it could grow Redis); delivery drains (claim, forget, counters: OOM-safe)
        assert ingest_next(rt, "brand-a", ring=False).action == "memory_wait"
        drain(rt, "brand-a", clock)
        assert len({e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=1000)}) == 100
        assert rt.intake("brand-a").entries() == 1  # still acknowledged, still waiting
    finally:
        rt.redis.config_set("maxmemory", "0")
    ingest_all(rt)
    drain(rt, "brand-a", clock)
    assert len({e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=1000)}) == 150
    assert backlog(rt.redis, "brand-a") == 0


def test_legacy_chunk_bytes_round_trip() -> None:
    events = [view(1), {"odd": {1, 2}}]
    assert orjson.loads(encode_chunk(events))[1] == {"odd": [1, 2]}


def test_settings_bounds_have_safe_defaults(settings: Settings) -> None:
    assert settings.max_backlog_events > 0
    assert 0 < settings.intake_memory_share < 1


def test_the_age_of_the_oldest_waiting_event_is_read_without_loading_events(
    rt: Runtime, clock: FakeClock
) -> None:
    assert rt.intake("brand-a").oldest_since() is None
    assert rt.outbox("brand-a").oldest_waiting_since() is None
    before = time.time()
    produce(rt, [view(i) for i in range(30)])
    since = rt.intake("brand-a").oldest_since()
    assert since is not None and before - 1 <= since <= time.time() + 1
    ingest_all(rt)
    assert rt.intake("brand-a").oldest_since() is None
    box = rt.outbox("brand-a")
    queued = box.oldest_waiting_since()
    assert queued is not None
    batch = box.claim_new(10, lease_s=60, now=clock())
    assert batch is not None
    assert box.oldest_waiting_since() == pytest.approx(min(queued, clock()), abs=0.002)
