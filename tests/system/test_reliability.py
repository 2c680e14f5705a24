"""Reliability with real processes: Redis killed with ``kill -9`` and restarted, Redis at
``maxmemory``, garbage on every Celery queue, TikTok down — and every event counted.

Each scenario runs real ``celery -A worker worker -B`` processes against a private
``redis-server`` (AOF on) and the emulator over sockets, and checks the accounting identity per
destination: acknowledged = delivered (unique event_id at the emulator) + dropped + rejected +
pending. Quick sizes run in ``make test``; ``make chaos`` (``MASIVO_TIKTOK_CHAOS=full``) runs
them bigger and writes the measurements to ``MASIVO_TIKTOK_CHAOS_REPORT`` (a JSON-lines file;
``docs/reliability.md`` has the numbers). Nothing here asserts on how long anything took.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

import devstack
from devstack import RedisProcess
from devstack.credentials import PIXEL_A, PIXEL_B, emulator_credentials
from emulator import EmulatorConfig, EmulatorServer
from tests.leakscan import scan_for_leaks
from tests.system.stack import wait_for
from worker.producer import IntakeRefused, enqueue
from worker.settings import Settings
from worker.store import counters
from worker.store.intake import backlog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

FULL = os.environ.get("MASIVO_TIKTOK_CHAOS") == "full"
#: how long before a ``kill -9`` an acknowledged write may still be unwritten under
#: ``appendfsync everysec``: Redis postpones its AOF write while a background fsync runs, for
#: 2 s counted in whole seconds of its clock (aof.c, ``flushAppendOnlyFile``): under 3 s real
#: time, plus its timer's tick and our own bookkeeping; 4 s leaves the margin
EVERYSEC_WINDOW_S = 4.0
EVENTS = 40_000 if FULL else 4_000  # per destination
CHUNK = 500
BRANDS = {"brand-a": PIXEL_A, "brand-b": PIXEL_B}
FAST_BEAT = {
    "MASIVO_TIKTOK_RECOVER": "1",
    "MASIVO_TIKTOK_LEASE": "5",
    "MASIVO_TIKTOK_LINGER": "0.1",
    "MASIVO_TIKTOK_RETRY_BASE": "0.5",
    "MASIVO_TIKTOK_RETRY_MAX": "2",
    "MASIVO_TIKTOK_MAX_ATTEMPTS": "1000",
    "MASIVO_TIKTOK_HTTP_TIMEOUT": "5",
    "TIKTOK_RATE_LIMIT": "0",
}


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


@dataclass
class Ledger:
    """What a producer was told, per destination: event ids acknowledged by ``enqueue``."""

    acknowledged: dict[str, set[str]] = field(default_factory=dict)
    refusals: int = 0
    redis_errors: int = 0
    #: when ``enqueue`` returned for each event id (``time.monotonic``)
    acknowledged_at: dict[str, float] = field(default_factory=dict)

    def add(self, brand: str, ids: list[str]) -> None:
        self.acknowledged.setdefault(brand, set()).update(ids)
        now = time.monotonic()
        self.acknowledged_at.update(dict.fromkeys(ids, now))


def produce(
    settings: Settings,
    url: str,
    ledger: Ledger,
    brands: dict[str, int],
    *,
    stop_on_refusal: bool = False,
    after_chunk: Callable[[int], None] | None = None,
) -> None:
    """Chunks for each brand, interleaved; a chunk that fails is retried (as a real producer
    would), so its events count as acknowledged only once ``enqueue`` returned for it."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    sent = 0
    try:
        for start in range(0, max(brands.values()), CHUNK):
            for brand, total in brands.items():
                if start >= total:
                    continue
                chunk = [event(brand, i) for i in range(start, min(total, start + CHUNK))]
                while True:
                    try:
                        enqueue(
                            chunk,
                            brand,
                            settings=settings,
                            client=client,
                            chunk_size=CHUNK,
                            doorbell=lambda d: None,  # beat rings (every second here)
                        )
                    except IntakeRefused:
                        ledger.refusals += 1
                        if stop_on_refusal:
                            return
                        time.sleep(0.2)
                        continue
                    except redis.RedisError:
                        ledger.redis_errors += 1
                        time.sleep(0.2)
                        continue
                    ledger.add(brand, [e["id"] for e in chunk])
                    break
                sent += 1
                if after_chunk is not None:
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
    duplicates_sent: int

    @property
    def balanced(self) -> bool:
        return self.acknowledged == self.delivered + self.dropped + self.rejected + self.pending


def books(r: redis.Redis, emulator: EmulatorServer, brand: str, acked: set[str]) -> Books:
    pixel = BRANDS[brand]
    seen = [e["event_id"] for e in emulator.events(pixel=pixel, limit=10_000_000)]
    delivered = acked & set(seen)
    stats = counters.read(r, brand)
    return Books(
        destination=brand,
        acknowledged=len(acked),
        delivered=len(delivered),
        dropped=int(sum(v for k, v in stats.items() if k.startswith("dropped:"))),
        rejected=int(sum(v for k, v in stats.items() if k.startswith("rejected:"))),
        pending=backlog(r, brand),
        lost=len(acked - set(seen)),
        duplicates_sent=int(emulator.summary()["by_pixel"].get(pixel, {}).get("duplicates", 0)),
    )


def report(scenario: str, **facts: Any) -> None:
    path = os.environ.get("MASIVO_TIKTOK_CHAOS_REPORT")
    if path:
        with open(path, "ab") as f:
            f.write(orjson.dumps({"scenario": scenario, "events": EVENTS, **facts}) + b"\n")


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        credentials=emulator_credentials(), rate_limit=0, events_capacity=2_000_000
    )
    with EmulatorServer(config) as server:
        yield server


def start_stack(
    tmp: Path, emulator: EmulatorServer, server: RedisProcess, **env: str
) -> devstack.Stack:
    stack = devstack.Stack(tmp, api_base_url=emulator.url, env={**FAST_BEAT, **env})
    stack.redis_server = server
    return stack.start()


def settings_for(stack: devstack.Stack, **overrides: Any) -> Settings:
    return Settings(
        redis_url=stack.redis_url,
        destinations_file=stack.destinations_file,
        data_dir=stack.data_dir,
        **overrides,
    )


def needs_redis_7(r: redis.Redis) -> None:
    """Script flags (allow-oom) exist from Redis 7: on 6.2 a full Redis cannot drain itself."""
    if int(str(r.info("server")["redis_version"]).split(".")[0]) < 7:
        pytest.skip("draining a Redis at maxmemory needs Redis 7 (script flags)")


def alive(proc: Any) -> bool:
    return bool(proc.poll() is None)


def wait_delivered(stack: devstack.Stack, emulator: EmulatorServer, ledger: Ledger) -> None:
    def done() -> bool:
        return all(
            backlog(stack.redis, b) == 0
            and books(stack.redis, emulator, b, ids).delivered == len(ids)
            for b, ids in ledger.acknowledged.items()
        )

    try:
        wait_for(done, 180, "every acknowledged event delivered")
    except AssertionError:
        info = stack.redis.info("memory")
        print("memory", info.get("used_memory"), "of", info.get("maxmemory"))
        for b, ids in ledger.acknowledged.items():
            print(asdict(books(stack.redis, emulator, b, ids)))
        print(stack.logs()[-4000:])
        raise


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_redis_kill9_during_ingestion_and_delivery(
    tmp_path: Path, emulator: EmulatorServer, fsync: str
) -> None:
    server = RedisProcess(tmp_path / "redis", appendonly=True, extra={"appendfsync": fsync})
    with start_stack(tmp_path, emulator, server) as stack:
        worker = stack.start_worker(concurrency=2, beat=True)
        ledger = Ledger()
        chunks = 2 * EVENTS // CHUNK
        crashes: list[float] = []

        def crash(sent: int) -> None:
            if sent in (chunks // 3, 2 * chunks // 3):  # twice, while producing and delivering
                crashes.append(time.monotonic())
                server.kill()
                time.sleep(1.0)
                server.start()

        produce(settings_for(stack), stack.redis_url, ledger, dict.fromkeys(BRANDS, EVENTS),
                after_chunk=crash)  # fmt: skip
        if fsync == "always":
            wait_delivered(stack, emulator, ledger)
        else:  # loss is possible, bounded by one second of writes: wait for what is left
            wait_for(
                lambda: (
                    all(backlog(stack.redis, b) == 0 for b in BRANDS)
                    and stack.redis.xlen("mtt:{brand-a}:intake") == 0
                ),
                180,
                "the pipeline drains",
            )
        assert alive(worker), "the worker died with Redis; it must reconnect by itself"
        results = [books(stack.redis, emulator, b, ids) for b, ids in ledger.acknowledged.items()]
        report(f"kill9-{fsync}", crashes=len(crashes), books=[asdict(r) for r in results])
        for r in results:
            if fsync == "always":
                assert r.lost == 0, r
                assert r.balanced, r
        if fsync == "everysec":
            # Redis answers before its AOF write while a background fsync is still running,
            # postponing that write up to 2 s (whole seconds of its clock): only events
            # acknowledged in that window before a crash may be lost, and nothing else
            lost = {i for b, ids in ledger.acknowledged.items() for i in ids} - {
                e["event_id"]
                for p in BRANDS.values()
                for e in emulator.events(pixel=p, limit=10_000_000)
            }
            outside = sorted(
                i
                for i in lost
                if not any(0 <= t - ledger.acknowledged_at[i] <= EVERYSEC_WINDOW_S for t in crashes)
            )
            assert not outside, f"{len(outside)} lost outside everysec's window: {outside[:5]}"


def test_full_redis_with_tiktok_down_refuses_producers_then_delivers_everything(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    server = RedisProcess(tmp_path / "redis", appendonly=True)
    with start_stack(tmp_path, emulator, server) as stack:
        needs_redis_7(stack.redis)
        used = int(stack.redis.info("memory")["used_memory"])
        limit = used + (24 if FULL else 8) * 1024 * 1024
        stack.redis.config_set("maxmemory", str(limit))
        emulator.set_faults("outage=600s")  # TikTok is down
        worker = stack.start_worker(concurrency=2, beat=True)
        ledger = Ledger()
        produce(settings_for(stack), stack.redis_url, ledger, dict.fromkeys(BRANDS, 10 * EVENTS),
                stop_on_refusal=True)  # fmt: skip
        assert ledger.refusals == 1, "the producer is refused cleanly once Redis fills up"
        acknowledged = sum(len(v) for v in ledger.acknowledged.values())
        assert acknowledged > 0
        time.sleep(3)  # workers ingest and retry against the outage while Redis is full
        assert alive(worker)
        emulator.set_faults("")  # TikTok is back
        wait_delivered(stack, emulator, ledger)
        assert int(stack.redis.config_get("maxmemory")["maxmemory"]) == limit  # never raised
        assert alive(worker)
        results = [books(stack.redis, emulator, b, ids) for b, ids in ledger.acknowledged.items()]
        report("maxmemory-outage", acknowledged=acknowledged, books=[asdict(r) for r in results])
        assert all(r.lost == 0 and r.balanced for r in results), results


def test_redis_pushed_past_maxmemory_still_drains_once_tiktok_is_back(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    """The worst case of a full Redis: past ``maxmemory`` (an operator lowers it, another
    tenant's keys fill it, a burst of client buffers), with work waiting and TikTok down.
    Redis then refuses the broker's writes, so no doorbell and no beat job can be sent; what
    is already acknowledged must still be delivered once TikTok is back."""
    server = RedisProcess(tmp_path / "redis", appendonly=True)
    with start_stack(tmp_path, emulator, server) as stack:
        needs_redis_7(stack.redis)
        emulator.set_faults("outage=600s")  # TikTok is down
        worker = stack.start_worker(concurrency=2, beat=True)
        ledger = Ledger()
        produce(settings_for(stack), stack.redis_url, ledger, dict.fromkeys(BRANDS, EVENTS))
        wait_for(lambda: stack.redis.xlen("mtt:{brand-a}:intake") == 0, 120, "ingested")
        time.sleep(2)  # retries against the outage
        used = int(stack.redis.info("memory")["used_memory"])
        stack.redis.config_set("maxmemory", str(used - 4 * 1024 * 1024))  # now far past it
        time.sleep(3)  # every publish refused: doorbells and beat's jobs are lost
        emulator.set_faults("")  # TikTok is back
        wait_delivered(stack, emulator, ledger)
        assert alive(worker)
        results = [books(stack.redis, emulator, b, ids) for b, ids in ledger.acknowledged.items()]
        report("past-maxmemory", books=[asdict(r) for r in results])
        assert all(r.lost == 0 and r.balanced for r in results), results


def test_a_worker_started_against_a_full_redis_stays_up_and_drains_later(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    server = RedisProcess(tmp_path / "redis", appendonly=True)
    with start_stack(tmp_path, emulator, server) as stack:
        ledger = Ledger()
        needs_redis_7(stack.redis)
        produce(settings_for(stack), stack.redis_url, ledger, {"brand-a": 1000})
        pipe = stack.redis.pipeline(transaction=False)
        for i in range(300):
            pipe.set(f"junk:{i}", b"x" * 10_000)
        pipe.execute()
        used = int(stack.redis.info("memory")["used_memory"])
        stack.redis.config_set("maxmemory", str(used - 500_000))  # every plain write refused
        worker = stack.start_worker(concurrency=2, beat=True)
        time.sleep(5)  # it tries to connect, declare queues, ring, ingest: all refused
        assert alive(worker)
        stack.redis.delete(*[f"junk:{i}" for i in range(300)])  # an operator frees memory
        wait_delivered(stack, emulator, ledger)
        assert alive(worker)


GARBAGE: list[bytes] = [
    b"garbage",
    b"\xff\xfe\x00 not utf-8",
    b"[1, 2, 3]",
    b'{"no": "properties"}',
    b'{"body": "!!!not base64!!!", "content-type": "application/json", "content-encoding":'
    b' "utf-8", "headers": {"task": "tiktok.ingest", "id": "x"}, "properties": {"delivery_tag":'
    b' "t", "body_encoding": "base64", "delivery_info": {"exchange": "", "routing_key": "i"}}}',
    orjson.dumps(
        {
            "body": "eyJ1c2VyQHNob3AubXgiOiAxfQ==",  # base64 of {"user@shop.mx": 1}: not a task
            "content-type": "application/json",
            "content-encoding": "utf-8",
            "headers": {"task": "tiktok.not_registered", "id": "y", "lang": "py"},
            "properties": {
                "delivery_tag": "u",
                "body_encoding": "base64",
                "delivery_info": {"exchange": "", "routing_key": "ingest"},
            },
        }
    ),
]


def test_garbage_on_every_celery_queue_never_kills_a_worker(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    server = RedisProcess(tmp_path / "redis", appendonly=True)
    with start_stack(tmp_path, emulator, server) as stack:
        worker = stack.start_worker(concurrency=2, beat=True)
        for queue in ("ingest", "deliver", "maintenance"):
            stack.redis.lpush(queue, *GARBAGE)
        ledger = Ledger()
        produce(settings_for(stack), stack.redis_url, ledger, {"brand-a": 1000, "brand-b": 500})
        wait_delivered(stack, emulator, ledger)
        wait_for(lambda: all(stack.redis.llen(q) == 0 for q in ("ingest", "maintenance")), 30)
        assert alive(worker)
        logs = stack.logs()
        assert "discarded" in logs
        assert "user@shop.mx" not in logs  # a bad message is named, never shown
        assert "!!!not base64!!!" not in logs


def _redis_texts(r: redis.Redis) -> list[bytes]:
    """Every value in Redis, decoded to bytes: strings, hashes, lists, sets, zsets, streams."""
    out: list[bytes] = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        if kind == b"string":
            out.append(r.get(key) or b"")
        elif kind == b"hash":
            out.extend(k + b"=" + v for k, v in r.hgetall(key).items())
        elif kind == b"list":
            out.extend(r.lrange(key, 0, -1))
        elif kind == b"set":
            out.extend(r.smembers(key))
        elif kind == b"zset":
            out.extend(m for m, _ in r.zrange(key, 0, -1, withscores=True))
        elif kind == b"stream":
            for _, fields in r.xrange(key):
                out.extend(k + b"=" + v for k, v in fields.items())
    return out


class SentryInbox:
    """A local HTTP server standing in for Sentry: keeps every envelope it is sent."""

    def __init__(self) -> None:
        import http.server

        bodies: list[bytes] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                elif self.headers.get("Content-Encoding") == "br":
                    body = b"<brotli body: not decoded>"
                bodies.append(body)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_whole_run_leaks_no_token_and_no_raw_pii(tmp_path: Path) -> None:
    odd_token = "tok\"en\\with'odd<chars>&%=+" + "x" * 12  # visible ASCII: a valid header value
    bad_token = "revoked\"'\\token-0123456789"
    config = EmulatorConfig(credentials={odd_token: frozenset({PIXEL_A})}, rate_limit=0)
    emails = [f"person{i}@mail.example" for i in range(50)]
    phones = [f"+52155512{i:04d}" for i in range(50)]
    with EmulatorServer(config) as emulator:
        destinations = [
            {"id": "brand-a", "pixel_code": PIXEL_A, "access_token": odd_token},
            {"id": "brand-bad", "pixel_code": PIXEL_B, "access_token": bad_token},
        ]
        server = RedisProcess(tmp_path / "redis", appendonly=True)
        inbox = SentryInbox()
        stack = devstack.Stack(
            tmp_path,
            api_base_url=emulator.url,
            destinations=destinations,
            env={**FAST_BEAT, "SENTRY_DSN": inbox.dsn},
        )
        stack.redis_server = server
        with stack.start():
            worker = stack.start_worker(concurrency=2, beat=True, loglevel="DEBUG")
            client = redis.Redis.from_url(stack.redis_url)
            for brand in ("brand-a", "brand-bad"):
                events = [
                    {
                        "id": f"{brand}-{i}",
                        "type": "sign_up",
                        "customer_id": f"c{i}",
                        "email": emails[i],
                        "phone": phones[i],
                        "ip": "203.0.113.7",
                        "issued_at": int(time.time()) - 5,
                    }
                    for i in range(50)
                ]
                enqueue(events, brand, settings=settings_for(stack), client=client,
                        doorbell=lambda d: None)  # fmt: skip
            wait_for(lambda: len(emulator.events(pixel=PIXEL_A, limit=1000)) == 50, 60)
            wait_for(lambda: client.exists("mtt:{brand-bad}:paused") == 1, 60, "auth pause")
            wait_for(lambda: any(b"paused" in b for b in inbox.bodies), 60, "Sentry told")
            cli = [stack.cli(*args) for args in (["status", "--json"], ["dlq", "list", "--json"])]
            texts: list[str | bytes] = [stack.logs(), *_redis_texts(client)]
            texts += [c.stdout + c.stderr for c in cli]
            texts += inbox.bodies
            assert alive(worker)
            client.close()
        inbox.close()
        assert inbox.bodies, "Sentry received the pause report"
        assert scan_for_leaks(texts, [odd_token, bad_token], needles=emails + phones) == []


def test_a_token_that_cannot_be_a_header_is_refused_at_start_and_never_printed(
    tmp_path: Path,
) -> None:
    token = 'tok"én\x01secret-0123456789'
    stack = devstack.Stack(
        tmp_path,
        destinations=[{"id": "brand-odd", "pixel_code": PIXEL_A, "access_token": token}],
        env=FAST_BEAT,
    )
    with stack.start():
        status = stack.cli("status")
        worker = stack.start_worker(concurrency=1)
        wait_for(lambda: worker.poll() is not None or "brand-odd" in stack.logs(), 60)
        time.sleep(1)
        texts = [status.stdout, status.stderr, stack.logs()]
    assert status.returncode == 2
    assert "brand-odd" in status.stderr and "access_token" in status.stderr
    assert scan_for_leaks(texts, [token]) == []


def test_worker_sigkill_storm_loses_nothing_and_sends_no_unexpected_duplicates(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    server = RedisProcess(tmp_path / "redis", appendonly=True)
    with start_stack(tmp_path, emulator, server) as stack:
        beat = stack.start_beat()
        workers = [stack.start_worker(concurrency=2, name=f"w{i}") for i in range(2)]
        ledger = Ledger()
        kills = 0

        def storm(sent: int) -> None:
            nonlocal kills
            if sent % 4 == 0:  # every few chunks a worker dies mid-whatever, a new one starts
                victim = workers.pop(0)
                os.killpg(victim.pid, 9)
                victim.wait()
                kills += 1
                workers.append(stack.start_worker(concurrency=2, name=f"w{kills + 2}"))

        produce(settings_for(stack), stack.redis_url, ledger, dict.fromkeys(BRANDS, EVENTS),
                after_chunk=storm)  # fmt: skip
        wait_delivered(stack, emulator, ledger)
        assert alive(beat)
        results = [books(stack.redis, emulator, b, ids) for b, ids in ledger.acknowledged.items()]
        report("sigkill-storm", kills=kills, books=[asdict(r) for r in results])
        assert all(r.lost == 0 and r.balanced for r in results), results
        assert rt_dlq_size(stack) == 0


def rt_dlq_size(stack: devstack.Stack) -> int:
    return int(stack.redis.xlen("mtt:dlq"))


def test_a_tiktok_outage_is_ridden_out_without_a_dead_letter(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    outage = "120s" if FULL else "8s"
    server = RedisProcess(tmp_path / "redis", appendonly=True)
    backoff = {"MASIVO_TIKTOK_MAX_ATTEMPTS": "12", "MASIVO_TIKTOK_RETRY_BASE": "1",
               "MASIVO_TIKTOK_RETRY_MAX": "30"}  # fmt: skip
    with start_stack(tmp_path, emulator, server, **backoff) as stack:
        worker = stack.start_worker(concurrency=2, beat=True)
        emulator.set_faults(f"outage={outage}")
        ledger = Ledger()
        produce(settings_for(stack), stack.redis_url, ledger, dict.fromkeys(BRANDS, EVENTS // 2))
        wait_delivered(stack, emulator, ledger)
        results = [books(stack.redis, emulator, b, ids) for b, ids in ledger.acknowledged.items()]
        report("outage", outage=outage, books=[asdict(r) for r in results])
        assert all(r.lost == 0 and r.balanced for r in results), results
        assert rt_dlq_size(stack) == 0
        assert alive(worker)
