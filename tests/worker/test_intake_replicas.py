"""``MASIVO_TIKTOK_INTAKE_REPLICAS``: an acknowledgement that survives a failover.

Redis replication is asynchronous: a primary answers a write before its replicas have it, so
a replica promoted after the primary dies (Sentinel, a managed service, a cluster failover)
may lack events a producer was told were accepted. With ``MASIVO_TIKTOK_INTAKE_REPLICAS=n``
the producer sends ``WAIT n`` on the connection that wrote the chunk and acknowledges only
when ``n`` replicas have it. Real ``redis-server`` processes: a primary and a replica (AOF,
``appendfsync always``), the primary killed with ``kill -9`` and the replica promoted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from devstack import RedisProcess
from tests.worker.conftest import view
from worker.producer import IntakeRefused, enqueue
from worker.settings import Settings
from worker.store import keys
from worker.store.intake import backlog


def _no_bell(destination: str) -> None:
    """Doorbells are not the question here."""


def _wait_linked(replica: redis.Redis, primary: redis.Redis) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        link = replica.info("replication").get("master_link_status")
        if link == "up" and int(primary.info("replication")["connected_slaves"]) >= 1:
            return
        time.sleep(0.05)
    raise AssertionError("the replica did not link to the primary")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[RedisProcess, RedisProcess]]:
    primary = RedisProcess(tmp_path / "primary", appendonly=True).start()
    replica = RedisProcess(tmp_path / "replica", appendonly=True).start()
    try:
        p, r = redis.Redis.from_url(primary.url), redis.Redis.from_url(replica.url)
        r.replicaof("127.0.0.1", primary.port)
        _wait_linked(r, p)
        p.close()
        r.close()
        yield primary, replica
    finally:
        replica.stop()
        primary.stop()


def _settings(settings: Settings, url: str, replicas: int) -> Settings:
    return settings.model_copy(update={"redis_url": url, "intake_replicas": replicas})


def _ids_in_intake(client: redis.Redis, destination: str) -> set[str]:
    ids: set[str] = set()
    for _, fields in client.xrange(keys.intake(destination)):
        ids.update(e["id"] for e in orjson.loads(fields[b"e"]))
    return ids


def test_an_acknowledged_chunk_is_already_on_the_replica(
    pair: tuple[RedisProcess, RedisProcess], settings: Settings
) -> None:
    primary, replica = pair
    s = _settings(settings, primary.url, replicas=1)
    on_replica = redis.Redis.from_url(replica.url)
    acknowledged = 0
    for i in range(0, 200, 10):
        acknowledged += enqueue([view(j) for j in range(i, i + 10)], "brand-a", settings=s,
                                doorbell=_no_bell)  # fmt: skip
        # read at once: WAIT returned only after the replica had applied the chunk
        assert backlog(on_replica, "brand-a") == acknowledged
    assert acknowledged == 200
    on_replica.close()


def test_without_a_replica_nothing_is_acknowledged_and_the_producer_is_told_why(
    pair: tuple[RedisProcess, RedisProcess], settings: Settings
) -> None:
    primary, replica = pair
    s = _settings(settings, primary.url, replicas=1)
    assert enqueue([view(1)], "brand-a", settings=s, doorbell=_no_bell) == 1
    replica.kill()
    with pytest.raises(IntakeRefused) as refused:
        enqueue([view(2), view(3)], "brand-a", settings=s, doorbell=_no_bell)
    assert refused.value.reason == "replication"
    assert refused.value.accepted == 0
    assert "0 of 1 replica" in str(refused.value)
    assert "MASIVO_TIKTOK_INTAKE_REPLICAS" in str(refused.value)


def test_zero_replicas_asks_for_no_confirmation(
    pair: tuple[RedisProcess, RedisProcess], settings: Settings
) -> None:
    primary, replica = pair
    replica.kill()  # nobody to confirm, and nobody asked to
    s = _settings(settings, primary.url, replicas=0)
    assert enqueue([view(1)], "brand-a", settings=s, doorbell=_no_bell) == 1


def _failover_with_a_lagging_replica(
    pair: tuple[RedisProcess, RedisProcess], settings: Settings, replicas: int
) -> tuple[list[str], set[str]]:
    """A producer writing as fast as it can; the replica stops reading (``SIGSTOP``: a
    replica far behind) for two seconds; the primary is killed with ``kill -9``; the replica
    resumes and is promoted. Returns what the producer was told was acknowledged and what
    the promoted replica holds."""
    primary, replica = pair
    s = _settings(settings, primary.url, replicas)
    acknowledged: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            chunk = [view(j) for j in range(i, i + 200)]
            try:
                enqueue(chunk, "brand-a", settings=s, doorbell=_no_bell)
            except (redis.RedisError, IntakeRefused):
                time.sleep(0.05)  # refused or the primary is gone: not acknowledged
                continue
            finally:
                i += 200
            acknowledged.extend(e["id"] for e in chunk)

    producer = threading.Thread(target=produce)
    producer.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 2_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert replica.pid is not None
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        time.sleep(2.0)
        primary.kill()
        stop.set()
        producer.join(30)
    finally:
        os.kill(replica.pid, signal.SIGCONT)
    promoted = redis.Redis.from_url(replica.url)
    promoted.replicaof("NO", "ONE")
    held = _ids_in_intake(promoted, "brand-a")
    promoted.close()
    return acknowledged, held


def test_a_failover_to_a_lagging_replica_keeps_every_acknowledged_event(
    pair: tuple[RedisProcess, RedisProcess], settings: Settings
) -> None:
    acknowledged, held = _failover_with_a_lagging_replica(pair, settings, replicas=1)
    assert len(acknowledged) >= 2_000
    missing = set(acknowledged) - held
    assert not missing, f"{len(missing)} acknowledged events missing after the failover"


def test_without_replica_confirmation_the_same_failover_loses_acknowledged_events(
    pair: tuple[RedisProcess, RedisProcess], settings: Settings
) -> None:
    """What the setting is for: with the default (0) the primary alone acknowledges, and
    what it answered while its replica lagged dies with it."""
    acknowledged, held = _failover_with_a_lagging_replica(pair, settings, replicas=0)
    # measured: 218,400 of 223,200 lost here (39,600 of 44,800 with the cores and disk busy)
    assert set(acknowledged) - held


def test_on_a_cluster_the_slots_master_waits_for_its_own_replica(
    tmp_path: Path, settings: Settings
) -> None:
    """WAIT counts the writes of the connection it is sent on: on a cluster it must go to the
    master of the destination's slot, on the connection that wrote. A replica that stops
    reading then refuses the chunk; sent on any other connection, WAIT would have answered 1
    at once (that connection wrote nothing), and the chunk would have been acknowledged."""
    from devstack.cluster import ClusterUnavailable, RedisCluster

    try:
        cluster = RedisCluster(tmp_path / "cluster").start()
    except ClusterUnavailable as exc:
        pytest.skip(f"no local Redis Cluster: {exc}")
    master = cluster.nodes[cluster.master_of(keys.intake("brand-a"))]
    replica = RedisProcess(
        tmp_path / "replica", port=0, appendonly=True, binary=cluster.server_bin,
        extra={"cluster-enabled": "yes", "cluster-config-file": "nodes.conf"},
    )  # fmt: skip
    try:
        replica.start()
        master_id = redis.Redis(port=master.port).execute_command("CLUSTER MYID")
        done = subprocess.run(
            [cluster.cli_bin, "--cluster", "add-node", f"127.0.0.1:{replica.port}",
             f"127.0.0.1:{master.port}", "--cluster-slave", "--cluster-master-id",
             master_id.decode()],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        _wait_linked(redis.Redis(port=replica.port), redis.Redis(port=master.port))
        s = _settings(settings, cluster.url, replicas=1)
        assert enqueue([view(1)], "brand-a", settings=s, doorbell=_no_bell) == 1
        assert replica.pid is not None
        os.kill(replica.pid, signal.SIGSTOP)
        try:
            with pytest.raises(IntakeRefused) as refused:
                enqueue([view(2)], "brand-a", settings=s, doorbell=_no_bell)
        finally:
            os.kill(replica.pid, signal.SIGCONT)
        assert refused.value.reason == "replication"
        assert "0 of 1 replica" in str(refused.value)
        assert enqueue([view(3)], "brand-a", settings=s, doorbell=_no_bell) == 1  # caught up
        # the master crashes and is back 0.3 s later: retried like the cluster client's own
        # writes (never a raw connection error); its replica may not be back within WAIT
        # (the backlog bound's read is a cluster pipeline, which redis-py does not retry:
        # off here, so the append itself meets the dead master)
        s = s.model_copy(update={"max_backlog_events": 0})
        index = cluster.master_of(keys.intake("brand-a"))
        cluster.kill(index)
        restart = threading.Timer(0.3, cluster.nodes[index].start)  # same port and folder
        restart.start()
        try:
            outcome: object = enqueue([view(4)], "brand-a", settings=s, doorbell=_no_bell)
        except IntakeRefused as exc:
            outcome = exc.reason
        finally:
            restart.join()
        assert outcome in (1, "replication")
    finally:
        replica.stop()
        cluster.stop()
