"""Adversarial faults on the 3-master cluster, in one process (issue 12's promises under
attack): the master holding beat's worklist (``mtt:active``) down while the doorbells are
lost; what an operator's CLI does across masters. The real-process attacks (separate broker
flushed, killed, fed garbage) are in ``tests/system/test_cluster_attacks.py``."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from devstack import wait_until
from emulator import EmulatorServer
from tests.worker.conftest import (
    PIXEL_A,
    PIXEL_B,
    TEST_EVENT_CODE,
    FakeClock,
    IngestRecorder,
    Recorder,
    drain,
    view,
)
from worker import jobs
from worker.ingest import ingest_next
from worker.producer import enqueue
from worker.runtime import Runtime
from worker.store import keys, registry
from worker.store.connection import connect

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh_memory_gauge() -> Iterator[None]:
    """A master skipped by the gauge after a failure stays skipped for 10 s in the process:
    each test here starts (and leaves) with every master read."""
    from worker.store import memory

    memory._skip_until.clear()
    yield
    memory._skip_until.clear()


def test_beat_rings_other_masters_while_the_registry_master_is_down(
    crt: Runtime, redis_cluster: Any, emulator: EmulatorServer, clock: FakeClock
) -> None:
    """The master of ``mtt:active`` killed, and every doorbell lost (nothing rung by the
    producer): beat's jobs must still ring and arm the destinations of the other masters
    (the full scan walks the configured ones) and keep them out of harm; nothing waits for
    the dead master to come back."""
    down = redis_cluster.master_of(keys.ACTIVE)
    other = "brand-b"
    assert redis_cluster.master_of(keys.intake(other)) != down, "the test needs two masters"
    ingest_calls: Any = crt.schedule_ingest
    flush_calls: Any = crt.schedule_flush
    try:
        redis_cluster.kill(down)
        acked = enqueue([view(i, "orphan") for i in range(40)], other,
                        settings=crt.settings, client=crt.redis, doorbell=lambda d: None)  # fmt: skip
        assert acked == 40  # acknowledged: the registry is best effort
        jobs.recover(crt, full=True)  # the full scan: every configured destination
        assert other in ingest_calls.calls, "beat rang no doorbell for brand-b"
        while ingest_next(crt, other, ring=False).action != "idle":
            pass
        flush_calls.calls.clear()
        jobs.recover(crt, full=True)  # the outbox has work: a flush is armed
        assert other in [d for d, _ in flush_calls.calls]
        drain(crt, other, clock)
        got = {
            e["event_id"]
            for e in emulator.events(pixel=PIXEL_B, test=TEST_EVENT_CODE, limit=100_000)
        }
        assert {f"orphan-{i}" for i in range(40)} <= got
        jobs.expire(crt, full=True)
        jobs.probe_auth(crt, full=True)
    finally:
        if redis_cluster.nodes[down].pid is None:
            redis_cluster.restart(down)
    jobs.recover(crt, full=True)  # back: the active set is repaired
    assert other not in registry.active(crt.redis)  # idle now: retired


def test_a_beat_job_runs_when_the_master_of_its_lock_is_down(
    crt: Runtime, redis_cluster: Any
) -> None:
    """``mtt:lock:recover`` lives on one master: with it down, the recover job still runs
    (the lock only guards against a second beat; the job is safe twice), else every other
    master's lost doorbells would wait for that one."""
    from worker.store.locks import run_once_per_period

    down = redis_cluster.master_of(keys.lock("recover"))
    enqueue([view(i) for i in range(3)], "brand-a", settings=crt.settings, client=crt.redis,
            doorbell=lambda d: None)  # fmt: skip
    runs: list[int] = []
    try:
        redis_cluster.kill(down)
        got = run_once_per_period(crt.redis, "recover", 30, lambda: runs.append(1) or "ran")
        assert got == "ran" and runs == [1]
    finally:
        redis_cluster.restart(down)
    assert run_once_per_period(crt.redis, "recover", 30, lambda: "ran") == "ran"
    assert run_once_per_period(crt.redis, "recover", 30, lambda: "ran") == "skipped"


def test_a_hung_master_costs_other_masters_producers_one_attempt_not_one_per_chunk(
    crt: Runtime, redis_cluster: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The master of ``mtt:active`` stops answering without resetting its connections (a
    vanished host, a partition: ``SIGSTOP`` here). A producer of another master's destination
    must go on: every call acknowledged, and the dead master asked once by the announcement,
    not on every chunk (each ask costs a socket timeout: before, every chunk of every master
    waited 5-70 s), and never by the memory gauge, which reads the destination's own master."""
    down = redis_cluster.master_of(keys.ACTIVE)
    other = "brand-b"
    assert redis_cluster.master_of(keys.intake(other)) != down
    pid = redis_cluster.nodes[down].pid
    calls, acked = 4, 0
    fast = connect(redis_cluster.url, socket_timeout=1, socket_connect_timeout=1)
    os.kill(pid, signal.SIGSTOP)
    try:
        with caplog.at_level(logging.WARNING):
            for n in range(calls):
                acked += enqueue([view(n, "hung")], other, settings=crt.settings,
                                 client=fast, doorbell=lambda d: None)  # fmt: skip
    finally:
        os.kill(pid, signal.SIGCONT)
        redis_cluster.wait_ok()
        fast.close()
    asks = [
        r.name for r in caplog.records if r.name in ("worker.store.memory", "worker.store.registry")
    ]
    assert acked == calls
    assert asks.count("worker.store.registry") == 1, asks
    assert asks.count("worker.store.memory") == 0, asks


def test_beat_skips_a_hung_master_after_one_ping_and_rings_the_others(
    crt: Runtime, redis_cluster: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The master of ``mtt:active`` (and of brand-a, brand-bad) hangs without resetting its
    connections. Each beat job asks it once (one ``PING``) and skips its keys, so the other
    masters' destinations are rung and armed within the job's time limit. Before, every
    destination and registry command on it paid the client's retries (5 s each): a full scan
    took 150 s, the recover task's hard limit, and the others were never reached."""
    down = redis_cluster.master_of(keys.ACTIVE)
    alive = [
        d for d in ("brand-b", "brand-limited") if redis_cluster.master_of(keys.intake(d)) != down
    ]
    assert alive and redis_cluster.master_of(keys.intake("brand-a")) == down
    for d in [*alive, "brand-a"]:
        enqueue([view(i, d) for i in range(5)], d, settings=crt.settings, client=crt.redis,
                doorbell=lambda d: None)  # fmt: skip
    rung = IngestRecorder()
    fast = connect(redis_cluster.url, socket_timeout=1, socket_connect_timeout=1)
    beat = Runtime(settings=crt.settings, redis=fast, client=crt.client,
                   schedule_flush=Recorder(), schedule_ingest=rung, clock=crt.clock)  # fmt: skip
    pid = redis_cluster.nodes[down].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        with caplog.at_level(logging.WARNING):
            jobs.recover(beat, full=True)
            jobs.expire(beat, full=True)
            jobs.probe_auth(beat, full=True)
    finally:
        os.kill(pid, signal.SIGCONT)
        redis_cluster.wait_ok()
        fast.close()
    assert sorted(set(rung.calls)) == sorted(alive)
    pings = [r for r in caplog.records if "did not answer" in r.getMessage()]
    assert len(pings) == 3, [r.getMessage() for r in caplog.records]  # one per job
    jobs.recover(crt, full=True)  # back: brand-a is rung too
    assert "brand-a" in crt.schedule_ingest.calls  # type: ignore[attr-defined]


def test_the_active_set_never_strands_work_under_concurrent_appends_and_retires(
    crt: Runtime, redis_cluster: Any, emulator: EmulatorServer
) -> None:
    """Producers append, a consumer ingests and delivers, and beat's remove-then-look-again
    retires the idle, all at once on three masters; at each quiet point every destination with
    work must be in ``mtt:active`` (no full scan: the announcement and the re-check alone)."""
    from worker.flush import flush

    dests = ["brand-a", "brand-b", "brand-limited"]
    assert len({redis_cluster.master_of(keys.intake(d)) for d in dests}) == 3
    stranded: list[str] = []
    retired = appended = 0
    rounds = 6
    for round_ in range(rounds):
        stop = threading.Event()
        retired_before = retired

        def retire(stop: threading.Event = stop) -> None:
            nonlocal retired
            r = connect(redis_cluster.url, socket_timeout=5)  # its own connections
            while not stop.is_set():
                for d in dests:
                    retired += registry.retire_if_idle(r, d)
            r.close()

        def consume(stop: threading.Event = stop) -> None:
            while not stop.is_set():
                for d in dests:
                    ingest_next(crt, d, ring=False)
                    flush(crt, d)

        threads = [threading.Thread(target=retire), threading.Thread(target=consume)]
        for t in threads:
            t.start()
        producer = connect(redis_cluster.url, socket_timeout=5)
        for i in range(60):
            d = dests[i % 3]
            appended += enqueue([view(i, f"r{round_}")], d, settings=crt.settings,
                                client=producer, doorbell=lambda d: None)  # fmt: skip
            if i % (10 + round_) == 0:
                time.sleep(0.002 * round_)  # let the consumer drain to idle now and then
        # the consumer drains and beat's retire runs before the round ends, however slow the
        # machine (in the full suite none had raced the appends by the end of six rounds)
        wait_until(lambda before=retired_before: retired > before, 60)
        stop.set()
        for t in threads:
            t.join()
        producer.close()
        active = set(registry.active(crt.redis))
        stranded += [f"{round_}:{d}" for d in dests
                     if registry.has_work(crt.redis, d) and d not in active]  # fmt: skip
    print("appended", appended, "retired", retired)
    assert appended == rounds * 60
    assert retired > 0, "the test means retires racing appends"
    assert stranded == []


def _fill_master_of(redis_cluster: Any, destination: str, headroom: int) -> redis.Redis:
    """Set maxmemory on ``destination``'s master to what it uses plus ``headroom`` bytes."""
    node = redis.Redis(port=redis_cluster.ports[redis_cluster.master_of(keys.intake(destination))])
    used = int(node.info("memory")["used_memory"])
    node.config_set("maxmemory", str(used + headroom))
    return node


def test_a_full_master_does_not_stop_ingestion_on_the_other_masters(
    crt: Runtime, redis_cluster: Any
) -> None:
    """brand-b's master within one commit of its maxmemory, brand-a's master without a limit:
    brand-a's intake must still be ingested (its growth lands on its own master)."""
    assert redis_cluster.master_of(keys.intake("brand-a")) != redis_cluster.master_of(
        keys.intake("brand-b")
    )
    enqueue([view(i) for i in range(20)], "brand-a", settings=crt.settings, client=crt.redis,
            doorbell=lambda d: None)  # fmt: skip
    node = _fill_master_of(redis_cluster, "brand-b", 64 * 1024)
    try:
        report = ingest_next(crt, "brand-a", ring=False)
    finally:
        node.config_set("maxmemory", "0")
    assert report.action == "ingested", report


def test_an_intake_that_alone_fills_its_master_still_drains(
    crt: Runtime, redis_cluster: Any, emulator: EmulatorServer, clock: FakeClock
) -> None:
    """The producers' cached memory reading let them overshoot: brand-b's intake holds its
    master within one commit of maxmemory, its outbox and retry schedule are empty. Nothing but
    ingestion can free that memory (delivering needs it first), so ingest must go on; the
    commit script may pass maxmemory (allow-oom) and the broker is apart. Once there is
    something to deliver, ingest waits for delivery to free memory first, as before."""
    acked = enqueue([view(i) for i in range(400)], "brand-b", settings=crt.settings,
                    client=crt.redis, chunk_size=200, doorbell=lambda d: None)  # fmt: skip
    node = _fill_master_of(redis_cluster, "brand-b", 64 * 1024)
    actions = []
    try:
        for _ in range(10):  # ingest, deliver what it made, ingest the next chunk...
            actions.append(ingest_next(crt, "brand-b", ring=False).action)
            drain(crt, "brand-b", clock)
            if crt.intake("brand-b").entries() == 0:
                break
    finally:
        node.config_set("maxmemory", "0")
    got = {
        e["event_id"] for e in emulator.events(pixel=PIXEL_B, test=TEST_EVENT_CODE, limit=10_000)
    }
    assert acked == 400 and actions == ["ingested", "ingested"], actions
    assert {f"evt-{i}" for i in range(400)} <= got


def test_on_one_redis_a_beat_job_still_stops_at_the_first_error(crt: Runtime) -> None:
    """The tolerance above is for a cluster only: with one Redis down there is no other master
    to serve, and a job that swallowed each error would pay a timeout per destination (a hung
    Redis) instead of stopping at once, as before."""
    from devstack.ports import free_port
    from worker.store.locks import run_once_per_period

    dead = redis.Redis(port=free_port(), socket_timeout=1, socket_connect_timeout=1, retry=None)
    one = Runtime(settings=crt.settings, redis=dead, client=crt.client,
                  schedule_flush=Recorder(), clock=crt.clock)  # fmt: skip
    for job in (jobs.recover, jobs.expire, jobs.probe_auth):
        with pytest.raises(redis.ConnectionError):
            job(one, full=True)
    with pytest.raises(redis.ConnectionError):
        run_once_per_period(dead, "recover", 30, lambda: "ran")


def test_legacy_dead_letters_moved_onto_a_cluster_are_migrated_not_stranded(
    crt: Runtime, emulator: EmulatorServer, clock: FakeClock
) -> None:
    """An operator moves a single Redis' data onto the cluster (``redis-cli --cluster import``)
    before running ``dlq migrate``: the legacy ``mtt:dlq`` and its counts land on two masters.
    No read on a cluster sees that stream, so ``migrate`` must move its entries there too
    (before, it answered 0 and left them invisible to list, replay, expiry and status)."""
    from tests.worker.test_dlq_legacy import _legacy

    now = int(time.time())
    for i in range(3):
        _legacy(crt.redis, f"legacy-{i}", now - 60)
    crt.redis.xadd(keys.LEGACY_DLQ, {b"d": b"not json", b"k": b"x|y|z"})  # unreadable: dropped
    assert crt.dlq.size() == 0  # invisible on a cluster until migrated
    assert crt.dlq.migrate_legacy() == 3
    assert not crt.redis.exists(keys.LEGACY_DLQ) and not crt.redis.exists(keys.LEGACY_DLQ_COUNTS)
    assert sorted(e.event_id or "" for _, e in crt.dlq.list()) == [f"legacy-{i}" for i in range(3)]
    assert crt.dlq.stats()["by_destination"] == {"brand-a": 3}
    assert jobs.replay_retryable(crt)["replayed"] == 3
    drain(crt, "brand-a", clock)
    got = {e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=100_000)}
    assert {f"legacy-{i}" for i in range(3)} <= got
    assert crt.dlq.size() == 0
