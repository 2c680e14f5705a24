"""Real Celery worker processes, a real Redis, the emulator over sockets.

The worker and the producer run as subprocesses with the environment an operator would set,
so this is the product as deployed, minus TikTok. Waits poll for an outcome with a generous
deadline; nothing asserts on how long something took.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import orjson
import pytest

from emulator import EmulatorServer
from tests.system.stack import (
    PIXEL_A,
    PIXEL_B,
    TOKEN_A,
    TOKEN_B,
    TOKEN_BAD,
    Stack,
    events_file,
    pool_children,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_several_workers_deliver_every_event_within_the_rate_limit(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    stack = Stack(tmp_path, fresh_redis, emulator)
    try:
        stack.worker(concurrency=2)
        stack.worker(concurrency=2)  # 4 processes share one bucket per destination
        a = stack.cli(
            "enqueue", str(events_file(tmp_path / "a.jsonl", 3500, "a")), "--destination", "brand-a"
        )
        assert a.returncode == 0, a.stderr
        assert "enqueued 3500 events" in a.stdout
        b = stack.cli(
            "enqueue", str(events_file(tmp_path / "b.jsonl", 300, "b")), "--destination", "brand-b"
        )
        assert b.returncode == 0, b.stderr
        wait_for(
            lambda: stack.unique(PIXEL_A) == 3500 and stack.unique(PIXEL_B) == 300, 90, "delivery"
        )
        summary = emulator.summary()
        # The window keeps 10 ms of slack for what happens between our stamp and TikTok's
        # (worker/store/ratelimit.py); under `appendfsync always` the restamp's reply also
        # waits for Redis' fsync, and on a loaded machine one request in a run may land a few
        # ms early (seen once in `make chaos`): answered 40100, backed off, delivered.
        assert summary["refused"]["by_code"].get("40100", 0) <= 1
        status = stack.cli("status", "--json")
        report = orjson.loads(status.stdout)
        assert report["brand-a"]["counters"]["delivered"] == 3500
        assert report["brand-a"]["state"]["outbox"] == 0
    finally:
        stack.close()


def test_wrong_token_pauses_the_brand_and_never_leaks_the_token(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    stack = Stack(tmp_path, fresh_redis, emulator)
    try:
        stack.worker(concurrency=1)
        bad = stack.cli(
            "enqueue",
            str(events_file(tmp_path / "bad.jsonl", 20, "x")),
            "--destination",
            "brand-bad",
        )
        assert bad.returncode == 0, bad.stderr
        good = stack.cli(
            "enqueue", str(events_file(tmp_path / "a.jsonl", 20, "a")), "--destination", "brand-a"
        )
        assert good.returncode == 0, good.stderr
        wait_for(lambda: stack.unique(PIXEL_A) == 20, 60, "brand-a delivered")
        wait_for(lambda: b"auth" in (stack.redis.get("mtt:{brand-bad}:paused") or b""), 60, "pause")
        report = orjson.loads(stack.cli("status", "--json").stdout)
        assert report["brand-bad"]["state"]["paused"]["kind"] == "auth"
        assert report["brand-bad"]["state"]["dlq"] == 0
        stack.cli("dlq", "list")
        logs = stack.logs()
        assert "brand-bad paused" in logs
        for token in (TOKEN_A, TOKEN_B, TOKEN_BAD):
            assert token not in logs
            for k in stack.redis.keys("*"):
                assert token.encode() not in (stack.redis.dump(k) or b"")
    finally:
        stack.close()


def test_a_worker_killed_mid_batch_loses_nothing(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    stack = Stack(
        tmp_path,
        fresh_redis,
        emulator,
        MASIVO_TIKTOK_LEASE="3",
        MASIVO_TIKTOK_RECOVER="1",
        MASIVO_TIKTOK_BATCH_SIZE="50",
    )
    emulator.set_faults("latency=2000ms")
    try:
        main = stack.worker(concurrency=2, beat=True)
        enq = stack.cli(
            "enqueue", str(events_file(tmp_path / "a.jsonl", 400, "k")), "--destination", "brand-a"
        )
        assert enq.returncode == 0, enq.stderr
        wait_for(lambda: stack.redis.zcard("mtt:{brand-a}:leases") > 0, 60, "a batch in flight")
        for child in pool_children(main.pid):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"celery" in cmdline and b"beat" not in cmdline:
                os.kill(child, signal.SIGKILL)
        emulator.set_faults("")
        wait_for(lambda: stack.unique(PIXEL_A) == 400, 120, "every event after the kill")
        ids = {e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=100_000)}
        assert ids == {f"k-{i}" for i in range(400)}
    finally:
        stack.close()


def test_a_producer_in_another_language_can_enqueue_by_the_documented_format(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    """The README's task message, built by hand (no Celery), LPUSHed onto the `ingest` list."""
    import base64
    import uuid

    stack = Stack(tmp_path, fresh_redis, emulator)
    try:
        stack.worker(concurrency=1)
        events = [
            {"id": f"raw-{i}", "type": "search", "query": "tenis", "customer_id": i}
            for i in range(5)
        ]
        body = [
            [],
            {"destination": "brand-a", "events": events},
            {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
        ]
        task_id = str(uuid.uuid4())
        message = {
            "body": base64.b64encode(orjson.dumps(body)).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {
                "lang": "py",
                "task": "tiktok.ingest",
                "id": task_id,
                "root_id": task_id,
                "parent_id": None,
                "group": None,
                "retries": 0,
                "eta": None,
                "expires": None,
                "argsrepr": "()",
                "kwargsrepr": "{'destination': 'brand-a', 'events': '<5 events>'}",
                "origin": "node-producer",
            },
            "properties": {
                "correlation_id": task_id,
                "reply_to": "",
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": "ingest"},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
        stack.redis.lpush("ingest", orjson.dumps(message))
        wait_for(lambda: stack.unique(PIXEL_A) == 5, 60, "hand-built message delivered")
    finally:
        stack.close()


def test_real_workers_ride_out_faults_isolate_poison_and_resume_a_fixed_token(
    tmp_path: Path, fresh_redis: str
) -> None:
    """500s, 503s, 40100 storms and hangs past the client timeout; two events TikTok refuses;
    a brand whose token TikTok does not know until it is fixed. Nothing is lost."""
    from emulator import EmulatorConfig, EmulatorServer, parse_faults
    from tests.system.stack import PIXEL_BAD

    creds = {TOKEN_A: frozenset({PIXEL_A}), TOKEN_B: frozenset({PIXEL_B})}
    config = EmulatorConfig(
        credentials=creds,
        rate_limit=0,
        max_age_s=86400,  # stricter than our 7 days: 2-day-old events become poison
        faults=parse_faults("500=0.15,503=0.1,40100=0.1,hang=0.05:3s"),
        seed=7,
    )
    with EmulatorServer(config) as emulator:
        stack = Stack(
            tmp_path,
            fresh_redis,
            emulator,
            MASIVO_TIKTOK_HTTP_TIMEOUT="1",
            MASIVO_TIKTOK_RETRY_BASE="0.2",
            MASIVO_TIKTOK_RETRY_MAX="1",
            MASIVO_TIKTOK_MAX_ATTEMPTS="100",
            MASIVO_TIKTOK_RECOVER="1",
            MASIVO_TIKTOK_AUTH_PROBE="1",
            MASIVO_TIKTOK_BATCH_SIZE="50",
        )
        try:
            stack.worker(concurrency=2, beat=True)
            src = events_file(tmp_path / "a.jsonl", 300, "c")
            old = int(time.time()) - 2 * 86400
            poison = [
                {"id": f"old-{i}", "type": "search", "query": "x", "issued_at": old}
                for i in range(2)
            ]
            src.write_bytes(src.read_bytes() + b"".join(orjson.dumps(p) + b"\n" for p in poison))
            assert stack.cli("enqueue", str(src), "--destination", "brand-a").returncode == 0
            bad = stack.cli(
                "enqueue",
                str(events_file(tmp_path / "b.jsonl", 20, "x")),
                "--destination",
                "brand-bad",
            )
            assert bad.returncode == 0

            def dlq_ids() -> set[str]:
                rows = [
                    orjson.loads(x) for x in stack.cli("dlq", "list", "--json").stdout.splitlines()
                ]
                return {r["event_id"] for r in rows}

            wait_for(lambda: stack.unique(PIXEL_A) == 300, 120, "brand-a through the faults")
            wait_for(lambda: dlq_ids() == {"old-0", "old-1"}, 60, "the poison isolated")
            wait_for(lambda: stack.redis.get("mtt:{brand-bad}:paused") is not None, 60, "pause")
            assert stack.unique(PIXEL_BAD) == 0
            summary = emulator.summary()
            assert sum(summary["faults"].values()) > 0  # the faults really happened
            creds[TOKEN_BAD] = frozenset({PIXEL_BAD})  # the brand fixes its token
            # a request that hung past the client's timeout may be accepted after the fix while
            # the probe itself timed out, so wait for both: everything there, pause lifted
            wait_for(
                lambda: (
                    stack.unique(PIXEL_BAD) == 20
                    and stack.redis.get("mtt:{brand-bad}:paused") is None
                ),
                60,
                "resumed by the probe",
            )
        finally:
            stack.close()


def test_a_producer_in_another_language_appends_to_the_intake_with_the_readme_acl(
    tmp_path: Path, fresh_redis: str, emulator: EmulatorServer
) -> None:
    """The README's XADD + SADD, as a Redis user limited by the README's ACL; no doorbell:
    beat rings for every destination whose intake holds entries."""
    import redis

    stack = Stack(tmp_path, fresh_redis, emulator, MASIVO_TIKTOK_RECOVER="1")
    try:
        stack.redis.execute_command(
            "ACL", "SETUSER", "masivo-producer", "on", ">producer-password", "resetkeys",
            "~mtt:{*}:intake", "~mtt:destinations", "-@all", "+xadd", "+sadd", "+ping",
        )  # fmt: skip
        port = int(fresh_redis.rsplit(":", 1)[1].split("/")[0])
        producer = redis.Redis(port=port, username="masivo-producer", password="producer-password")
        events = [
            {"id": f"xadd-{i}", "type": "search", "query": "tenis", "customer_id": i}
            for i in range(7)
        ]
        producer.xadd("mtt:{brand-a}:intake", {"e": orjson.dumps(events), "n": len(events)})
        producer.sadd("mtt:destinations", "brand-a")
        with pytest.raises(redis.exceptions.NoPermissionError):
            producer.get("mtt:{brand-a}:stats")  # nothing but appending
        stack.worker(concurrency=1, beat=True)
        wait_for(lambda: stack.unique(PIXEL_A) == 7, 60, "appended events delivered")
        producer.close()
    finally:
        stack.close()
