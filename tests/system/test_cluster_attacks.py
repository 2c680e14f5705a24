"""The cluster + broker-apart topology attacked as an operator (or bad luck) would (issue 12):
real ``celery -A worker worker -B`` processes, data on a local 3-master Redis Cluster, the
broker on a separate plain Redis or RabbitMQ, the emulator over sockets.

* every broker queue fed garbage (not JSON, not an envelope, unknown task, wrong arguments,
  megabytes), the broker flushed (every doorbell lost), the broker Redis ``kill -9``ed and
  restarted empty, and the master holding ``mtt:active`` ``kill -9``ed and **kept down**: the
  destinations of the other masters must still be delivered meanwhile, their producers'
  doorbells lost (only beat rings them); every ``enqueue`` either returned (acknowledged: must be delivered) or
  raised (not acknowledged), counted;
* one master at ``maxmemory`` with TikTok down: producers refused with ``IntakeRefused``,
  nothing acknowledged lost, draining resumes when TikTok is back (an intake that alone fills
  its master is ingested anyway: ``tests/worker/test_cluster_attacks.py``);
* a token leak scan over every cluster node's keys (dead-letter streams included), the broker,
  the logs and the CLI's output, with a token of odd characters.

Counts only, never timings. Quick sizes in ``make test``; ``MASIVO_TIKTOK_CHAOS=full`` runs
them bigger and adds RabbitMQ as the broker.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kombu
import orjson
import pytest
import redis
from celery import Celery

import devstack
from devstack import RedisProcess
from devstack.cluster import RedisCluster
from devstack.credentials import PIXEL_A, PIXEL_B, destination, emulator_credentials
from emulator import EmulatorConfig, EmulatorServer
from tests.leakscan import scan_for_leaks
from tests.system.stack import wait_for
from tests.system.test_cluster import ENV, PIXELS, TOKENS, Books, books, event
from tests.system.test_reliability import GARBAGE, _redis_texts
from worker.celery_app import QUEUES
from worker.producer import IntakeRefused, enqueue
from worker.settings import Settings
from worker.store import keys
from worker.store.connection import connect
from worker.store.intake import backlog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FULL = os.environ.get("MASIVO_TIKTOK_CHAOS") == "full"
EVENTS = 8_000 if FULL else 800  # per destination
CHUNK = 200
#: the full scan's period (the fallback under a lost announcement), small for the test
FAST = {**ENV, "MASIVO_TIKTOK_EXPIRE": "3"}


@dataclass
class Tally:
    """What the producer was told: ids acknowledged per destination, calls that raised."""

    acknowledged: dict[str, set[str]] = field(default_factory=dict)
    raised: dict[str, int] = field(default_factory=dict)  # calls that raised: not acknowledged
    refused: int = 0

    def send(self, settings: Settings, client: redis.Redis, brand: str, start: int,
             ring: Any) -> bool:  # fmt: skip
        """One ``enqueue`` call of one chunk; True if it returned."""
        chunk = [event(brand, i) for i in range(start, min(EVENTS, start + CHUNK))]
        try:
            enqueue(chunk, brand, settings=settings, client=client, chunk_size=CHUNK,
                    doorbell=ring)  # fmt: skip
        except IntakeRefused as exc:
            self.refused += 1
            ids = [e["id"] for e in chunk[: exc.accepted]]
            self.acknowledged.setdefault(brand, set()).update(ids)
            return False
        except redis.RedisError:
            self.raised[brand] = self.raised.get(brand, 0) + 1
            return False
        self.acknowledged.setdefault(brand, set()).update(e["id"] for e in chunk)
        return True


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        credentials=emulator_credentials(), rate_limit=0, events_capacity=2_000_000
    )
    with EmulatorServer(config) as server:
        yield server


def doorbell_app(broker_url: str) -> Celery:
    """A producer's own Celery app (not the process-wide one): rings the real doorbell."""
    return Celery("producer", broker=broker_url, set_as_current=False)


def ringer(app: Celery) -> Any:
    def ring(d: str) -> None:
        with contextlib.suppress(Exception):  # a doorbell may be lost: beat rings again
            app.send_task("tiktok.ingest", args=[d], queue="ingest", routing_key="ingest",
                          retry=False)  # fmt: skip

    return ring


def envelope(task: str, args: Any, queue: str, body: bytes | None = None) -> bytes:
    """A kombu Redis message (what ``LPUSH``ed items look like) for ``task``."""
    raw = body if body is not None else orjson.dumps([args, {}, {}])
    return orjson.dumps({
        "body": base64.b64encode(raw).decode(),
        "content-type": "application/json", "content-encoding": "utf-8",
        "headers": {"task": task, "id": f"junk-{task}-{len(raw)}", "lang": "py"},
        "properties": {"delivery_tag": f"t-{task}-{len(raw)}", "body_encoding": "base64",
                       "delivery_info": {"exchange": "", "routing_key": queue}},
    })  # fmt: skip


def redis_garbage(queue: str) -> list[bytes]:
    """Everything an operator's mistake can push onto a Redis broker's queue."""
    huge = os.urandom(6 * 1024 * 1024)
    return [
        *GARBAGE,
        huge,  # megabytes of binary noise
        envelope("tiktok.ingest", None, queue, body=b"[" * 2_000_000),  # deep, huge, not JSON
        envelope("tiktok.flush", ["brand-b", "extra", "args"], queue),  # wrong arity
        envelope("tiktok.ingest", [{"not": "a destination"}], queue),  # wrong type
        envelope("tiktok.flush", ["no-such-brand"], queue),  # unconfigured destination
        envelope("tiktok.ingest", ["no}such{brand"], queue),  # braces: a hash tag's edge
        envelope("tiktok.recover", [1, 2, 3], queue),
        envelope("celery.chord_unlock", ["x"], queue),
        envelope("tiktok.not_registered", ["brand-a"], queue),
    ]


def amqp_garbage(url: str) -> int:
    """The same kinds of garbage published to RabbitMQ's queues; returns how many."""
    sent = 0
    with kombu.Connection(url) as conn:
        producer = conn.Producer()
        for queue in QUEUES:
            kinds: list[tuple[bytes, str, dict[str, Any]]] = [
                (b"garbage", "application/json", {}),
                (b"\xff\xfe\x00 not utf-8", "application/json", {"task": "tiktok.ingest"}),
                (b"[1, 2, 3]", "application/json", {"task": "tiktok.ingest", "id": "a"}),
                (b"x" * (6 * 1024 * 1024), "application/octet-stream", {}),
                (orjson.dumps([["brand-a"], {}, {}]), "application/x-python-serialize",
                 {"task": "tiktok.ingest", "id": "p"}),  # pickle: never accepted
                (orjson.dumps([["brand-a"], {}, {}]), "application/json",
                 {"task": "tiktok.not_registered", "id": "b"}),
                (orjson.dumps([[{"a": 1}], {}, {}]), "application/json",
                 {"task": "tiktok.ingest", "id": "c"}),
                (orjson.dumps([["no-such-brand"], {}, {}]), "application/json",
                 {"task": "tiktok.flush", "id": "d"}),
            ]  # fmt: skip
            for body, ctype, headers in kinds:
                producer.publish(body, exchange=queue, routing_key=queue, serializer=None,
                                 content_type=ctype, content_encoding="binary",
                                 headers=headers, declare=[kombu.Queue(
                                     queue, kombu.Exchange(queue, type="direct"),
                                     routing_key=queue)])  # fmt: skip
                sent += 1
    return sent


@contextlib.contextmanager
def rabbitmq(tmp_path: Path) -> Iterator[str]:
    url = os.environ.get("MASIVO_TIKTOK_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
    try:
        with kombu.Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            purge_amqp(url)
    except Exception as exc:
        pytest.skip(f"no RabbitMQ at {url.split('@')[-1]}: {type(exc).__name__}")
    yield url


def purge_amqp(url: str) -> int:
    purged = 0
    with kombu.Connection(url, connect_timeout=2) as conn:
        for queue in QUEUES:
            with contextlib.suppress(Exception):  # not declared yet
                purged += int(conn.channel().queue_purge(queue) or 0)
    return purged


def wait_books(r: redis.Redis, emulator: EmulatorServer, tally: Tally, brands: list[str],
               stack: devstack.Stack, what: str, timeout: float = 240) -> list[Books]:  # fmt: skip
    def done() -> bool:
        return all(
            books(r, emulator, b, tally.acknowledged.get(b, set())).lost == 0 for b in brands
        )

    try:
        wait_for(done, timeout, what)
    except AssertionError:
        for b in brands:
            print(asdict(books(r, emulator, b, tally.acknowledged.get(b, set()))))
        print(stack.logs()[-8000:])
        raise
    return [books(r, emulator, b, tally.acknowledged.get(b, set())) for b in brands]


def report(scenario: str, **facts: Any) -> None:
    path = os.environ.get("MASIVO_TIKTOK_CHAOS_REPORT")
    if path:
        with open(path, "ab") as f:
            f.write(orjson.dumps({"scenario": scenario, "events": EVENTS, **facts}) + b"\n")


@pytest.mark.parametrize("broker_kind", ["redis", "amqp"] if FULL else ["redis"])
def test_broker_garbage_flush_and_kill_with_the_registry_master_down_loses_nothing(
    tmp_path: Path, cluster: RedisCluster, emulator: EmulatorServer, broker_kind: str
) -> None:
    registry_master = cluster.master_of(keys.ACTIVE)
    masters = {b: cluster.master_of(keys.intake(b)) for b in PIXELS}
    survivors = [b for b, m in masters.items() if m != registry_master]
    stranded = [b for b, m in masters.items() if m == registry_master]
    assert survivors and stranded, masters  # brand-a shares mtt:active's master
    broker = RedisProcess(tmp_path / "broker", port=0)  # no persistence: a restart is empty
    with contextlib.ExitStack() as exits:
        if broker_kind == "redis":
            broker_url = exits.enter_context(broker).url
        else:
            broker_url = exits.enter_context(rabbitmq(tmp_path))
        stack = devstack.Stack(
            tmp_path / "stack",
            redis_url=cluster.url,
            api_base_url=emulator.url,
            destinations=[destination(b, p, TOKENS[p]) for b, p in PIXELS.items()],
            env={**FAST, "CELERY_BROKER_URL": broker_url},
        )
        stack = exits.enter_context(stack)
        settings = Settings(redis_url=cluster.url, celery_broker_url=broker_url,
                            destinations_file=stack.destinations_file,
                            data_dir=stack.data_dir)  # fmt: skip
        bell = doorbell_app(broker_url)
        ring = ringer(bell)
        garbage = 0
        if broker_kind == "redis":
            b = redis.Redis.from_url(broker_url)
            for queue in QUEUES:
                items = redis_garbage(queue)
                b.lpush(queue, *items)
                garbage += len(items)
        else:
            garbage = amqp_garbage(broker_url)
        worker = stack.start_worker(concurrency=2, beat=True)
        client = connect(cluster.url, socket_timeout=5)
        exits.callback(client.close)
        tally = Tally()
        starts = list(range(0, EVENTS, CHUNK))
        third = len(starts) // 3

        def produce(brands: list[str], chunks: list[int], bell: Any = ring) -> None:
            for start in chunks:
                for brand in brands:
                    while not tally.send(settings, client, brand, start, bell):
                        time.sleep(0.2)  # a producer retries a call that raised

        # 1. a third with the doorbells, then the broker loses every doorbell
        produce(list(PIXELS), starts[:third])
        if broker_kind == "redis":
            redis.Redis.from_url(broker_url).flushall()
        else:
            purge_amqp(broker_url)
        # 2. a third; then the broker Redis crashes and comes back empty
        produce(list(PIXELS), starts[third : 2 * third])
        if broker_kind == "redis":
            broker.kill()
            time.sleep(1.0)
            broker.start()
        # 3. once that is delivered (no ingest left running to ring again), the master of
        #    mtt:active crashes and stays down: the others' producers go on, their doorbells
        #    lost; a call for a destination of the dead master raises (not acknowledged)
        wait_books(stack.redis, emulator, tally, list(PIXELS), stack, "the first two thirds")
        cluster.kill(registry_master)
        try:
            for brand in stranded:
                assert not tally.send(settings, client, brand, starts[2 * third], ring)
            produce(survivors, starts[2 * third :], bell=lambda d: None)  # doorbells lost
            if broker_kind == "redis":  # and any doorbell of beat's lost again
                redis.Redis.from_url(broker_url).flushall()
            else:
                purge_amqp(broker_url)
            during = wait_books(stack.redis, emulator, tally, survivors, stack,
                                "the other masters' events delivered while it is down",
                                timeout=120)  # fmt: skip
            assert worker.poll() is None, "the worker died; it must go on"
        finally:
            cluster.restart(registry_master)
        produce(stranded, starts[2 * third :])
        results = wait_books(stack.redis, emulator, tally, list(PIXELS), stack,
                             "every acknowledged event delivered")  # fmt: skip
        wait_for(lambda: all(backlog(stack.redis, b) == 0 for b in PIXELS), 60, "drained")
        results = [books(stack.redis, emulator, b, tally.acknowledged[b]) for b in PIXELS]
        assert worker.poll() is None, "the worker died; it must go on"
        print("books:", [asdict(x) for x in results], "raised:", tally.raised,
              "garbage:", garbage)  # fmt: skip
        report(f"cluster-broker-{broker_kind}-attacks", garbage=garbage, raised=tally.raised,
               during=[asdict(x) for x in during], books=[asdict(x) for x in results])  # fmt: skip
        for x in results:
            assert x.acknowledged == EVENTS and x.lost == 0 and x.balanced, x
        assert sum(tally.raised.values()) >= len(stranded)
        logs = stack.logs()
        assert "Unrecoverable error" not in logs
        assert "!!!not base64!!!" not in logs and "user@shop.mx" not in logs
        # no garbage turned into data: nothing for the unconfigured or odd names
        found = set(stack.redis.scan_iter("mtt:{no*", count=1000))
        assert not any(b"}:intake" in k or b"}:outbox" in k for k in found), found
        bell.close()


def node_texts(port: int, password: str) -> list[bytes]:
    """Every value held by one cluster node (its own keys: a node scans only its slots)."""
    client = redis.Redis(port=port, password=password)
    try:
        return _redis_texts(client)
    finally:
        client.close()


def test_no_token_or_redis_password_leaks_on_a_cluster_with_a_separate_broker(
    tmp_path: Path, cluster: RedisCluster
) -> None:
    """Odd tokens (one TikTok accepts, one it revokes: an auth pause), rejected events in a
    per-destination dead-letter stream, and a Redis password of odd characters in the cluster
    URL; then every node's keys, the broker's, the logs and the CLI's output (a wrong password
    too) are scanned for any spelling of any secret."""
    odd_token = "tok\"en\\with'odd<chars>&%=+" + "x" * 12
    bad_token = "revoked\"'\\token-0123456789"
    password = "p@ss:w/rd%\"'<odd>#?" + "y" * 8
    wrong = "wr@ng:pa%ss\"'<x>#?" + "z" * 8
    for port in cluster.ports:
        redis.Redis(port=port).config_set("requirepass", password)
    hosts = ",".join(f"127.0.0.1:{p}" for p in cluster.ports)
    url = f"redis+cluster://:{quote(password, safe='')}@{hosts}"
    config = EmulatorConfig(credentials={odd_token: frozenset({PIXEL_A})}, rate_limit=0)
    try:
        with EmulatorServer(config) as emulator, RedisProcess(tmp_path / "broker") as broker:
            stack = devstack.Stack(
                tmp_path / "stack",
                redis_url=url,
                api_base_url=emulator.url,
                destinations=[
                    {"id": "brand-a", "pixel_code": PIXEL_A, "access_token": odd_token},
                    {"id": "brand-bad", "pixel_code": PIXEL_B, "access_token": bad_token},
                ],
                env={**FAST, "CELERY_BROKER_URL": broker.url},
            )
            with stack:
                worker = stack.start_worker(concurrency=2, beat=True, loglevel="DEBUG")
                settings = Settings(redis_url=url, celery_broker_url=broker.url,
                                    destinations_file=stack.destinations_file,
                                    data_dir=stack.data_dir)  # fmt: skip
                client = connect(url, socket_timeout=5)
                good = [event("brand-a", i) for i in range(50)]
                invalid = [{"id": f"bad-{i}", "customer_id": "c"} for i in range(5)]  # no type
                enqueue(good + invalid, "brand-a", settings=settings, client=client,
                        doorbell=ringer(doorbell_app(broker.url)))  # fmt: skip
                enqueue([event("brand-bad", i) for i in range(10)], "brand-bad",
                        settings=settings, client=client, doorbell=lambda d: None)  # fmt: skip
                wait_for(lambda: len(emulator.events(pixel=PIXEL_A, limit=1000)) == 50, 60)
                wait_for(lambda: client.exists(keys.paused("brand-bad")) == 1, 60, "auth pause")
                wait_for(lambda: client.xlen(keys.dlq("brand-a")) == 5, 60, "rejects kept")
                runs = [stack.cli(*a) for a in (["status", "--json"], ["dlq", "list", "--json"],
                                                ["dlq", "stats"], ["health", "--ready"])]  # fmt: skip
                assert runs[0].returncode == 0 and runs[1].returncode == 0, runs
                lines = runs[1].stdout.splitlines()  # JSON lines, one per entry
                assert len(lines) == 5, runs[1].stdout
                runs.append(stack.cli("dlq", "show", str(orjson.loads(lines[0])["id"])))
                assert runs[-1].returncode == 0, runs[-1]
                bad_url = f"redis+cluster://:{quote(wrong, safe='')}@{hosts}"
                for args in (["status"], ["health", "--ready"], ["dlq", "list"]):
                    runs.append(subprocess.run(
                        [str(Path(sys.executable).with_name("masivo-tiktok")), *args],
                        cwd=stack.directory, env={**stack.env, "REDIS_URL": bad_url},
                        capture_output=True, text=True, timeout=120, check=False,
                    ))  # fmt: skip
                assert runs[-1].returncode != 0  # the wrong password is refused
                texts: list[str | bytes] = [stack.logs()]
                for port in cluster.ports:
                    texts += node_texts(port, password)
                assert any(b"bad-0" in t for t in texts[1:]), "the scan reads the DLQ streams"
                texts += _redis_texts(redis.Redis.from_url(broker.url))
                texts += [r.stdout + r.stderr for r in runs]
                assert worker.poll() is None
                client.close()
    finally:
        for port in cluster.ports:
            with contextlib.suppress(redis.RedisError):
                redis.Redis(port=port, password=password).config_set("requirepass", "")
    found = scan_for_leaks(texts, [odd_token, bad_token, password, wrong])
    assert found == [], found


def test_one_master_at_maxmemory_refuses_producers_and_drains_after_an_outage(
    tmp_path: Path, cluster: RedisCluster, emulator: EmulatorServer
) -> None:
    """One master (brand-b's) nearly full while TikTok is down: producers are refused with
    ``IntakeRefused`` (the gauge reads their own master), what was acknowledged stays, and
    everything is delivered once TikTok is back; the limit is never raised."""
    full = cluster.master_of(keys.intake("brand-b"))
    node = redis.Redis(port=cluster.ports[full])
    used = int(node.info("memory")["used_memory"])
    limit = used + 16 * 1024 * 1024
    node.config_set("maxmemory", str(limit))
    emulator.set_faults("outage=600s")
    with RedisProcess(tmp_path / "broker") as broker:
        stack = devstack.Stack(
            tmp_path / "stack",
            redis_url=cluster.url,
            api_base_url=emulator.url,
            destinations=[destination(b, p, TOKENS[p]) for b, p in PIXELS.items()],
            env={**FAST, "CELERY_BROKER_URL": broker.url},
        )
        with stack:
            worker = stack.start_worker(concurrency=2, beat=True)
            settings = Settings(redis_url=cluster.url, celery_broker_url=broker.url,
                                destinations_file=stack.destinations_file,
                                data_dir=stack.data_dir)  # fmt: skip
            client = connect(cluster.url, socket_timeout=5)
            tally = Tally()
            ring = ringer(doorbell_app(broker.url))
            start, refusal = 0, ("", -1)
            while not tally.refused and start < 2_000_000:
                for brand in PIXELS:
                    chunk = [event(brand, i) for i in range(start, start + CHUNK)]
                    try:
                        enqueue(chunk, brand, settings=settings, client=client,
                                chunk_size=CHUNK, doorbell=ring)  # fmt: skip
                    except IntakeRefused as exc:
                        tally.refused += 1
                        refusal = (exc.reason, exc.accepted)
                        break
                    tally.acknowledged.setdefault(brand, set()).update(e["id"] for e in chunk)
                start += CHUNK
            assert tally.refused == 1, "refused cleanly once the fullest master fills up"
            assert refusal == ("memory", 0), refusal
            acknowledged = sum(len(v) for v in tally.acknowledged.values())
            time.sleep(3)  # workers ingest and retry against the outage while it is full
            assert worker.poll() is None
            emulator.set_faults("")  # TikTok is back
            try:
                results = wait_books(stack.redis, emulator, tally, list(tally.acknowledged),
                                     stack, "every acknowledged event delivered",
                                     timeout=120)  # fmt: skip
            except AssertionError:
                info = node.info("memory")
                print("full master:", info["used_memory"], "of", limit, "dataset",
                      info.get("used_memory_dataset"), "overhead",
                      info.get("used_memory_overhead"))  # fmt: skip
                for key in node.scan_iter(count=1000):
                    print(key, node.memory_usage(key))
                raise
            assert int(node.config_get("maxmemory")["maxmemory"]) == limit  # never raised
            assert worker.poll() is None
            client.close()
    node.config_set("maxmemory", "0")
    print("maxmemory books:", [asdict(x) for x in results], "acknowledged:", acknowledged)
    report("cluster-maxmemory-outage", acknowledged=acknowledged,
           books=[asdict(x) for x in results])  # fmt: skip
    for x in results:
        assert x.lost == 0 and x.balanced, x
