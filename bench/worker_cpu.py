"""The worker's hot path in one process: CPU per event of ingest and flush, and Redis' share.

Run: ``.venv/bin/python bench/worker_cpu.py [--events 40000]``

A private ``redis-server`` and the emulator (its own process, unlimited) are started; the
bench appends ``--events`` realistic events (``bench/_stack.make_events``) to one destination's
intake in 2000-event chunks, as producers do, then, in this process, runs what a worker runs
for them: :func:`worker.ingest.ingest_next` until the intake is empty, then
:func:`worker.flush.flush` until nothing is left. No Celery, no other worker: the figures are
this thread's CPU time (``time.thread_time``) and Redis' own (``INFO cpu``) per event, per
phase, plus the Lua scripts' share (``SLOWLOG`` with a zero threshold, by script file). The
first chunk is a warm-up, not counted.

Instruction counts, which do not move with the machine's load (``docs/benchmarks.md``, "CPU
per event (issue 12)"): run the same path under callgrind for 5 chunks and for 1 and divide
the difference by the 8,000 events between::

    .venv/bin/python bench/worker_cpu.py --serve          # prints REDIS_URL and EMULATOR_URL
    for k in 1 5; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$k \\
        .venv/bin/python bench/worker_cpu.py --chunks $k --redis-url R --emulator-url E; done
    # (Collected of k=5 - Collected of k=1) / 8000: instructions per event

(The events are generated and encoded the same whatever ``--chunks``; 2000 customers, so a
chunk meets most of them for the first time, as a worker process does.)
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import tempfile
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import orjson  # noqa: E402
import redis  # noqa: E402
from _stack import CREDENTIALS, PIXEL_A, make_events  # noqa: E402

from devstack import EmulatorProcess, RedisProcess  # noqa: E402
from devstack.credentials import TOKEN_A, destination  # noqa: E402
from devstack.stack import write_destinations  # noqa: E402

CHUNK = 2000
DEST = "brand-a"


def _runtime(redis_url: str, emulator_url: str, tmp: Path) -> Any:
    dests = write_destinations(tmp / "destinations.json", [destination(DEST, PIXEL_A, TOKEN_A)])
    os.environ.update(
        {
            "REDIS_URL": redis_url,
            "MASIVO_TIKTOK_DESTINATIONS": str(dests),
            "TIKTOK_API_BASE_URL": emulator_url,
            "TIKTOK_RATE_LIMIT": "0",
            "MASIVO_TIKTOK_DATA_DIR": str(tmp / "data"),
        }
    )
    from worker.runtime import Runtime
    from worker.settings import Settings
    from worker.tiktok import TikTokClient

    settings = Settings()
    client = TikTokClient(settings.api_base_url, timeout_s=30)
    r = redis.Redis.from_url(redis_url)
    return Runtime(settings=settings, redis=r, client=client, schedule_flush=lambda d, c: None)


def _redis_cpu(r: redis.Redis) -> float:
    info: Any = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _script_names() -> dict[str, str]:
    names = {}
    for entry in resources.files("worker.store.lua").iterdir():
        if entry.name.endswith(".lua"):
            body = entry.read_bytes()
            for source in (body, b"#!lua flags=allow-oom\n" + body):
                names[hashlib.sha1(source).hexdigest()] = entry.name
    return names


def _drain(rt: Any, chunks: int) -> tuple[int, int]:
    """Ingest ``chunks`` entries and deliver what they queued; (ingested, delivered)."""
    from worker import flush as flushing
    from worker import ingest as ingesting

    queued = delivered = 0
    for _ in range(chunks):
        queued += ingesting.ingest_next(rt, DEST, ring=False).queued
        while (report := flushing.flush(rt, DEST)).action != "idle":
            delivered += report.events
    return queued, delivered


def measure(rt: Any, events: int) -> None:
    from worker import flush as flushing
    from worker import ingest as ingesting

    r = rt.redis
    raw = make_events(events + CHUNK, "cpu")
    intake = rt.intake(DEST)
    for i in range(0, len(raw), CHUNK):
        part = raw[i : i + CHUNK]
        intake.append(orjson.dumps(part), len(part))
    del raw
    gc.collect()
    gc.freeze()  # as worker processes do after fork (worker/celery_app.py)
    gc.set_threshold(50_000, 50, 100)
    _drain(rt, 1)  # warm-up
    r.config_set("slowlog-log-slower-than", 0)
    r.config_set("slowlog-max-len", 100_000)
    r.slowlog_reset()
    t0, r0 = time.thread_time(), _redis_cpu(r)
    queued = 0
    while (report := ingesting.ingest_next(rt, DEST, ring=False)).action != "idle":
        queued += report.queued
    t1, r1 = time.thread_time(), _redis_cpu(r)
    delivered = 0
    while (done := flushing.flush(rt, DEST)).action != "idle":
        delivered += done.events
    t2, r2 = time.thread_time(), _redis_cpu(r)
    n = max(1, delivered)
    print(f"events: {queued:,} queued, {delivered:,} delivered")
    print(
        f"ingest: worker {(t1 - t0) / n * 1e6:6.1f} µs/ev   Redis {(r1 - r0) / n * 1e6:5.1f} µs/ev"
    )
    print(
        f"flush:  worker {(t2 - t1) / n * 1e6:6.1f} µs/ev   Redis {(r2 - r1) / n * 1e6:5.1f} µs/ev"
    )
    print(
        f"total:  worker {(t2 - t0) / n * 1e6:6.1f} µs/ev   Redis {(r2 - r0) / n * 1e6:5.1f} µs/ev"
    )
    names = _script_names()
    usec: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for entry in r.slowlog_get(100_000):
        parts = bytes(entry["command"]).split(b" ")
        name = parts[0].decode().upper()
        if name == "EVALSHA" and len(parts) > 1:
            name = names.get(parts[1].decode(), "EVALSHA ?")
        usec[name] += int(entry["duration"])
        calls[name] += 1
    print("Redis time by command or script (µs per event, µs per call):")
    for name, total in usec.most_common(8):
        print(f"  {name:<28} {total / n:6.2f}   {total / calls[name]:8.0f}  ({calls[name]} calls)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000, help="events measured")
    parser.add_argument("--serve", action="store_true", help="start Redis + emulator, wait")
    parser.add_argument("--chunks", type=int, help="callgrind mode: ingest + flush N chunks")
    parser.add_argument("--redis-url")
    parser.add_argument("--emulator-url")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-cpu-"))
    if args.chunks is not None:  # against servers started with --serve
        rt = _runtime(args.redis_url, args.emulator_url, tmp)
        rt.redis.flushall()
        # the same events whatever N (up to 5 chunks): only ingesting and flushing differ
        raw = make_events(max(5, args.chunks) * CHUNK, "cg")
        chunks = [orjson.dumps(raw[i : i + CHUNK]) for i in range(0, len(raw), CHUNK)]
        for data in chunks[: args.chunks]:
            rt.intake(DEST).append(data, CHUNK)
        print(_drain(rt, args.chunks))
        return 0
    (tmp / "redis").mkdir()
    server = RedisProcess(tmp / "redis").start()
    emulator = EmulatorProcess(
        tmp / "emulator.log", credentials=CREDENTIALS, rate_limit=0, capacity=1000
    ).start()
    try:
        if args.serve:
            print(f"REDIS_URL={server.url} EMULATOR_URL={emulator.url}  (Ctrl-C ends)", flush=True)
            while True:
                time.sleep(3600)
        measure(_runtime(server.url, emulator.url, tmp), args.events)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
