"""The whole pipeline with the data on a 3-master Redis Cluster and the broker on a separate
plain Redis (issue 12, point 1): real ``celery -A worker worker -B`` processes, the emulator
over sockets, destinations whose hash tags land on every master; one master is killed with
``kill -9`` mid-run and restarted on its port and folder (AOF, ``appendfsync always``), and
the books must balance per destination: acknowledged = delivered + dropped + rejected +
pending, nothing lost.

Quick size in ``make test``; ``make chaos`` (``MASIVO_TIKTOK_CHAOS=full``) runs it bigger,
with two crashes (a destination's master, then the master of the registry's sets).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import kombu
import orjson
import pytest
import redis

import devstack
from devstack import RedisProcess
from devstack.cluster import RedisCluster
from devstack.credentials import (
    PIXEL_A,
    PIXEL_B,
    TOKEN_A,
    TOKEN_B,
    destination,
    emulator_credentials,
)
from emulator import EmulatorConfig, EmulatorServer
from tests.system.stack import wait_for
from worker.celery_app import QUEUES
from worker.producer import IntakeRefused, enqueue
from worker.settings import Settings
from worker.store import counters, keys, registry
from worker.store.connection import connect
from worker.store.intake import backlog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

FULL = os.environ.get("MASIVO_TIKTOK_CHAOS") == "full"
EVENTS = 20_000 if FULL else 1_500  # per destination
CHUNK = 250
#: slots 7862, 11989, 3603, 16116: with the usual 3-master split, every master holds one
PIXELS = {"brand-a": PIXEL_A, "brand-b": PIXEL_B, "brand-d": PIXEL_A, "brand-c": PIXEL_B}
TOKENS = {PIXEL_A: TOKEN_A, PIXEL_B: TOKEN_B}
ENV = {
    "MASIVO_TIKTOK_RECOVER": "1",
    "MASIVO_TIKTOK_EXPIRE": "5",  # also the period of beat's full scan (the fallback)
    "MASIVO_TIKTOK_LEASE": "5",
    "MASIVO_TIKTOK_LINGER": "0.1",
    "MASIVO_TIKTOK_RETRY_BASE": "0.5",
    "MASIVO_TIKTOK_RETRY_MAX": "2",
    "MASIVO_TIKTOK_MAX_ATTEMPTS": "1000",
    "MASIVO_TIKTOK_HTTP_TIMEOUT": "5",
    "TIKTOK_RATE_LIMIT": "0",
}


@dataclass
class Ledger:
    acknowledged: dict[str, set[str]] = field(default_factory=dict)
    redis_errors: int = 0
    refusals: int = 0


def event(brand: str, i: int) -> dict[str, Any]:
    return {
        "id": f"{brand}-{i}",
        "type": "add_to_cart",
        "customer_id": f"c{i}",
        "email": f"user{i}@shop.mx",
        "issued_at": int(time.time()) - 5,
        "items": [{"sku": f"sku-{i % 7}", "name": "Tenis", "unit_price": 10, "quantity": 1}],
        "currency": "MXN",
        "value": 10,
    }


def produce(settings: Settings, ledger: Ledger, after_chunk: Any) -> None:
    """Chunks for every brand, interleaved; a chunk that fails is retried, as a producer
    would: its events count as acknowledged once ``enqueue`` returned for it."""
    client = connect(str(settings.redis_url), socket_timeout=5)
    sent = 0
    try:
        for start in range(0, EVENTS, CHUNK):
            for brand in PIXELS:
                chunk = [event(brand, i) for i in range(start, min(EVENTS, start + CHUNK))]
                while True:
                    try:
                        enqueue(chunk, brand, settings=settings, client=client,
                                chunk_size=CHUNK, doorbell=lambda d: None)  # fmt: skip
                    except IntakeRefused:
                        ledger.refusals += 1
                        time.sleep(0.2)
                        continue
                    except redis.RedisError:
                        ledger.redis_errors += 1  # its master is down: retry
                        time.sleep(0.2)
                        continue
                    ledger.acknowledged.setdefault(brand, set()).update(e["id"] for e in chunk)
                    break
                sent += 1
                after_chunk(sent)
    finally:
        client.close()


@dataclass
class Books:
    destination: str
    acknowledged: int
    delivered: int
    dropped: int
    rejected: int
    pending: int
    lost: int

    @property
    def balanced(self) -> bool:
        return self.acknowledged == self.delivered + self.dropped + self.rejected + self.pending


def books(r: redis.Redis, emulator: EmulatorServer, brand: str, acked: set[str]) -> Books:
    seen = {e["event_id"] for e in emulator.events(pixel=PIXELS[brand], limit=10_000_000)}
    stats = counters.read(r, brand)
    return Books(
        destination=brand,
        acknowledged=len(acked),
        delivered=len(acked & seen),
        dropped=int(sum(v for k, v in stats.items() if k.startswith("dropped:"))),
        rejected=int(sum(v for k, v in stats.items() if k.startswith("rejected:"))),
        pending=backlog(r, brand),
        lost=len(acked - seen),
    )


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        credentials=emulator_credentials(), rate_limit=0, events_capacity=2_000_000
    )
    with EmulatorServer(config) as server:
        yield server


@contextlib.contextmanager
def redis_broker(tmp_path: Path) -> Iterator[str]:
    with RedisProcess(tmp_path / "broker", port=0) as broker:
        yield broker.url


@contextlib.contextmanager
def rabbitmq_broker(tmp_path: Path) -> Iterator[str]:
    """The RabbitMQ of this machine (guest/guest on 127.0.0.1:5672), its queues emptied of an
    earlier run's doorbells; skipped where none runs (a fresh CI machine)."""
    url = os.environ.get("MASIVO_TIKTOK_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
    try:
        with kombu.Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            for queue in QUEUES:
                with contextlib.suppress(Exception):  # not declared yet
                    conn.channel().queue_purge(queue)
    except Exception as exc:
        pytest.skip(f"no RabbitMQ at {url.split('@')[-1]}: {type(exc).__name__}")
    yield url


@pytest.mark.parametrize("broker_kind", ["redis", "amqp"])
def test_pipeline_on_a_cluster_with_a_master_killed_loses_nothing(
    tmp_path: Path, cluster: RedisCluster, emulator: EmulatorServer, broker_kind: str
) -> None:
    masters = {brand: cluster.master_of(keys.intake(brand)) for brand in PIXELS}
    assert set(masters.values()) == {0, 1, 2}, masters  # every master holds a destination
    broker_of = redis_broker if broker_kind == "redis" else rabbitmq_broker
    with broker_of(tmp_path) as broker_url:
        stack = devstack.Stack(
            tmp_path / "stack",
            redis_url=cluster.url,
            api_base_url=emulator.url,
            destinations=[destination(b, p, TOKENS[p]) for b, p in PIXELS.items()],
            env={**ENV, "CELERY_BROKER_URL": broker_url},
        )
        with stack:
            worker = stack.start_worker(concurrency=2, beat=True)
            settings = Settings(
                redis_url=cluster.url,
                celery_broker_url=broker_url,
                destinations_file=stack.destinations_file,
                data_dir=stack.data_dir,
            )
            ledger = Ledger()
            chunks = len(PIXELS) * EVENTS // CHUNK
            victims = [masters["brand-a"]]
            if FULL:
                victims.append(cluster.master_of(keys.ACTIVE))
            at = {chunks * (n + 1) // (len(victims) + 1): v for n, v in enumerate(victims)}
            crashes: list[threading.Thread] = []

            def crash(victim: int) -> None:
                cluster.kill(victim)
                time.sleep(2.0)  # producers of that master's destinations retry meanwhile
                cluster.restart(victim)

            def after_chunk(sent: int) -> None:
                if sent in at:
                    thread = threading.Thread(target=crash, args=(at[sent],))
                    thread.start()
                    crashes.append(thread)

            produce(settings, ledger, after_chunk)
            for thread in crashes:
                thread.join()
            r = stack.redis

            def done() -> bool:
                return all(
                    backlog(r, b) == 0 and books(r, emulator, b, ids).delivered == len(ids)
                    for b, ids in ledger.acknowledged.items()
                )

            try:
                wait_for(done, 240, "every acknowledged event delivered")
            except AssertionError:
                for b, ids in ledger.acknowledged.items():
                    print(asdict(books(r, emulator, b, ids)))
                print(stack.logs()[-6000:])
                raise
            assert worker.poll() is None, "the worker died with a master; it must go on"
            results = [books(r, emulator, b, ids) for b, ids in ledger.acknowledged.items()]
            print("cluster books:", [asdict(x) for x in results], "producer retries:",
                  ledger.redis_errors)  # fmt: skip
            path = os.environ.get("MASIVO_TIKTOK_CHAOS_REPORT")
            if path:
                with open(path, "ab") as f:
                    f.write(orjson.dumps({
                        "scenario": f"cluster-kill9-broker-{broker_kind}", "events": EVENTS,
                        "crashes": len(victims), "producer_retries": ledger.redis_errors,
                        "books": [asdict(x) for x in results],
                    }) + b"\n")  # fmt: skip
            for x in results:
                assert x.acknowledged == EVENTS, x
                assert x.lost == 0 and x.balanced, x
            # the broker is apart: Celery's keys on the broker, none on the cluster
            if broker_kind == "redis":
                assert any(redis.Redis.from_url(broker_url).scan_iter("_kombu*", count=1000))
            assert not any(r.scan_iter("_kombu*"))
            where = broker_url.split("@")[-1].split("://")[-1].split("/")[0]  # host:port
            assert any(
                "Connected to" in line and where in line for line in stack.logs().splitlines()
            )
            assert set(registry.known(r)) == set(PIXELS)
