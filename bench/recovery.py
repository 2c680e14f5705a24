"""Recovery after a TikTok outage: how long after TikTok returns is the backlog delivered?

Run: ``.venv/bin/python bench/recovery.py [--events 20000] [--outage 120] [--arrival spread]``

Everything real and local, as in ``bench/pipeline.py``: a private ``redis-server``, the
emulator in its own process (limit ``--rate`` events/s per pixel, the default 1,000), two
``celery -A worker worker -c 2`` processes and ``celery -A worker beat`` (backoffs over 30 s
are found by beat's recovery), configured through the environment. The bench sets the
emulator's fault spec to ``outage=<outage>s`` (every track request answers 503 for that
long, from the moment it is applied) and enqueues ``--events`` events for brand-a during the
outage: ``spread`` evenly over it, in one chunk a second (a brand with live traffic), or
``burst``, all at its start. It reports the time from the end of the outage until the
emulator holds every event (the goal of issue 12: 20 s of work, 20,000 events at 1,000/s,
done <= 30 s after TikTok returns), the ideal (events / rate), the 40100 answers, the busiest
sliding second after the outage and the dead letters (none expected: 12 attempts outlast a
2-minute outage).

To measure another version of the code (before/after), run this file from a ``git
worktree`` of it: the processes import the code of the tree the script lives in
(``PYTHONPATH``), e.g.::

    git worktree add /tmp/before <commit> && cp bench/recovery.py /tmp/before/bench/
    .venv/bin/python /tmp/before/bench/recovery.py

Every process listens on 127.0.0.1 and is ended (SIGTERM, then SIGKILL) before exit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stack import PIXEL_A, Stack, make_events, sent_count  # noqa: E402

from devstack import wait_until  # noqa: E402


def enqueue(events: list[dict[str, Any]], destination: str) -> None:
    from worker.producer import enqueue as _enqueue

    _enqueue(events, destination)


def busiest_second(times: list[float]) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def run(stack: Stack, events: int, outage_s: float, arrival: str, rate: int) -> dict[str, Any]:
    emulator = stack.start_emulator("emulator-recovery", rate_limit=rate, capacity=events + 10_000)
    env = {"TIKTOK_API_BASE_URL": emulator.url, "TIKTOK_RATE_LIMIT": str(rate)}
    stack.start_workers("worker", 2, 2, env)
    stack.start_beat(env=env, loglevel="WARNING")
    try:
        enqueue(make_events(1, f"warm-{time.time_ns()}"), "brand-a")
        if not wait_until(lambda: emulator.unique(PIXEL_A) >= 1, 90, every_s=0.1):
            raise RuntimeError("the workers did not deliver the warm-up event")
        time.sleep(1.5)  # buckets full again
        emulator.reset()
        batch = make_events(events, f"rec-{time.time_ns()}")
        expected = sent_count(batch)
        emulator.set_faults(f"outage={outage_s:g}s")
        t_start = time.time()
        t_end = t_start + outage_s
        if arrival == "burst":
            enqueue(batch, "brand-a")
        else:
            seconds = max(1, int(outage_s) - 1)
            per = -(-len(batch) // seconds)
            for k in range(seconds):
                chunk = batch[k * per : (k + 1) * per]
                if chunk:
                    enqueue(chunk, "brand-a")
                time.sleep(max(0.0, t_start + k + 1 - time.time()))
        t_enqueued = time.time() - t_start
        during = emulator.unique(PIXEL_A)
        done = wait_until(
            lambda: emulator.unique(PIXEL_A) >= expected,
            timeout_s=outage_s + 600,
            every_s=0.2,
        )
        t_done = time.time()
        time.sleep(0.5)
        summary = emulator.summary()
        seen = emulator.events(PIXEL_A, limit=expected + 5000)
        after = sorted(e["received_at"] for e in seen if e["received_at"] >= t_end)
        dead = stack.redis.xlen("mtt:{brand-a}:dlq") + stack.redis.xlen("mtt:dlq")
        return {
            "events": expected,
            "delivered": emulator.unique(PIXEL_A),
            "finished": done,
            "outage_s": outage_s,
            "arrival": arrival,
            "rate": rate,
            "enqueue_s": round(t_enqueued, 1),
            "delivered_during_outage": during,
            "drain_after_outage_s": round(t_done - t_end, 1),
            "ideal_s": round(expected / rate, 1),
            "first_after_outage_s": round(after[0] - t_end, 1) if after else None,
            "last_after_outage_s": round(after[-1] - t_end, 1) if after else None,
            "refused_40100": int(summary["refused"]["by_code"].get("40100", 0)),
            "busiest_second_after": busiest_second(after),
            "dead_lettered": int(dead),
        }
    finally:
        stack.stop_workers()
        emulator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--outage", type=float, default=120.0, help="seconds")
    parser.add_argument("--arrival", choices=["spread", "burst"], default="spread")
    parser.add_argument("--rate", type=int, default=1000, help="events/s (ours and TikTok's)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    stack: Stack | None = None
    try:
        stack = Stack(tmp)
        for name in [
            k for k in os.environ if k.startswith(("TIKTOK_", "MASIVO_", "REDIS_", "SENTRY_"))
        ]:
            del os.environ[name]
        for name in ("REDIS_URL", "MASIVO_TIKTOK_DESTINATIONS", "MASIVO_TIKTOK_DATA_DIR"):
            os.environ[name] = stack.env[name]
        print(f"code: {ROOT} @ {commit}; cores {os.cpu_count()}; logs in {tmp}", flush=True)
        result = run(stack, args.events, args.outage, args.arrival, args.rate)
    finally:
        if stack is not None:
            stack.stop()
    result["commit"] = commit
    print(json.dumps(result, indent=2))
    ok = result["finished"] and result["drain_after_outage_s"] <= 30
    print(
        f"drain after the outage: {result['drain_after_outage_s']} s "
        f"(ideal {result['ideal_s']} s, goal <= 30 s): {'ok' if ok else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
