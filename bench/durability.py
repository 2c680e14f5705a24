"""What Redis persistence costs the pipeline: no AOF, ``appendfsync everysec``, ``always``.

Run: ``.venv/bin/python bench/durability.py [--events 60000] [--rounds 2]``

Why this exists: ``appendfsync everysec`` does not make every acknowledged write survive a
Redis *process* crash. While a background ``fsync`` is still running (a busy or slow disk),
Redis postpones writing its AOF buffer for up to two seconds and keeps answering clients;
a ``kill -9`` in that window loses what it had acknowledged (``INFO persistence`` counts, as
``aof_delayed_fsync``, only the stalls that ran the whole two seconds). ``always`` writes and
fsyncs before it answers.
The shipped configurations therefore use ``always``; this bench measures what that costs.

Everything is real and local, as in ``bench/pipeline.py``: for each configuration a fresh
private ``redis-server`` (with its AOF in the run's temporary folder, on this machine's disk),
the emulator in its own process (unlimited), one ``celery -A worker worker -c 2`` and the
producer API in this process. Per configuration and round it measures:

* end-to-end events/s: ``--events`` events for two destinations, enqueued in the producer's
  default chunks, until the emulator holds every one;
* the producer's latency per ``enqueue`` call of 5 events (what an upstream request handler
  waits), 200 calls paced at 40 per second while nothing else runs;
* Redis CPU per event and, for ``everysec``, how often Redis postponed its AOF write
  (``aof_delayed_fsync``: each one a window in which acknowledged writes were not yet written).

Configurations run in turn within each round (the order rotates), each in a fresh bench
process (the producer API caches its settings and broker connection per process), and ratios
are against the no-AOF run of the same round: this machine is shared and noisy, absolute
numbers are not.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stack import PIXEL_A, PIXEL_B, Stack, make_events, sent_count  # noqa: E402
from pipeline import CHUNK, RedisMeter, enqueue, percentile, warm_up  # noqa: E402

from devstack import wait_until  # noqa: E402

CONFIGS = ("off", "everysec", "always")


@dataclass
class Sample:
    """One configuration in one round."""

    rate: float  # events/s end to end
    delivered: bool
    redis_us: float  # Redis CPU per event (µs)
    enqueue_p50_ms: float
    enqueue_p99_ms: float
    delayed_fsync: int


@dataclass
class Results:
    by_config: dict[str, list[Sample]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)


def run_once(directory: Path, config: str, n: int, tag: str) -> Sample:
    stack = Stack(directory, appendfsync=None if config == "off" else config)
    emulator = stack.start_emulator(f"emulator-{tag}", rate_limit=0, capacity=2000)
    try:
        env = {"TIKTOK_API_BASE_URL": emulator.url, "TIKTOK_RATE_LIMIT": "0"}
        for name in ("REDIS_URL", "MASIVO_TIKTOK_DESTINATIONS", "MASIVO_TIKTOK_DATA_DIR"):
            os.environ[name] = stack.env[name]
        per_dest = {
            "brand-a": make_events(n // 2, f"{tag}-a"),
            "brand-b": make_events(n - n // 2, f"{tag}-b", seed=8),
        }
        expected = {
            PIXEL_A: sent_count(per_dest["brand-a"]),
            PIXEL_B: sent_count(per_dest["brand-b"]),
        }
        stack.start_workers("worker", 1, 2, env)
        warm_up(emulator, [("brand-a", PIXEL_A), ("brand-b", PIXEL_B)], tag)

        # the producer's latency, alone: 200 calls of 5 events, 40 per second
        small = make_events(1000, f"{tag}-lat", seed=3)
        before = emulator.unique(PIXEL_A)
        latencies: list[float] = []
        for i in range(0, len(small), 5):
            t = time.perf_counter()
            enqueue(small[i : i + 5], "brand-a")
            latencies.append((time.perf_counter() - t) * 1000)
            time.sleep(max(0.0, 0.025 - (time.perf_counter() - t)))
        small_sent = sent_count(small)
        if not wait_until(lambda: emulator.unique(PIXEL_A) >= before + small_sent, 60, 0.05):
            raise RuntimeError("the latency probe's events were not delivered")
        base = {p: emulator.unique(p) for p in expected}

        # throughput
        gc.collect()
        gc.freeze()
        rmeter = RedisMeter(stack.redis)
        t0 = time.perf_counter()
        for i in range(0, max(len(v) for v in per_dest.values()), CHUNK):
            for dest, events in per_dest.items():
                if events[i : i + CHUNK]:
                    enqueue(events[i : i + CHUNK], dest, chunk_size=CHUNK)

        def done() -> bool:
            s = emulator.summary()["by_pixel"]
            return all(s.get(p, {}).get("unique", 0) >= base[p] + expected[p] for p in expected)

        finished = wait_until(done, timeout_s=120 + n / 500, every_s=0.05)
        elapsed = time.perf_counter() - t0
        gc.unfreeze()
        redis_cpu, _ = rmeter.used()
        total = sum(expected.values())
        persistence = stack.redis.info("persistence")
        return Sample(
            rate=total / elapsed,
            delivered=finished,
            redis_us=redis_cpu / total * 1e6,
            enqueue_p50_ms=percentile(latencies, 50),
            enqueue_p99_ms=percentile(latencies, 99),
            delayed_fsync=int(persistence.get("aof_delayed_fsync", 0)),
        )
    finally:
        stack.stop()


def run_child(directory: Path, config: str, n: int, tag: str) -> Sample:
    """:func:`run_once` in a fresh interpreter; its sample comes back as JSON on stdout."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            config,
            "--events",
            str(n),
            "--dir",
            str(directory),
            "--tag",
            tag,
        ],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return Sample(**json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sample = run_once(args.dir, args.child, args.events, args.tag)
        print(json.dumps(asdict(sample)), flush=True)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-durability-"))
    results = Results()
    failed = False
    try:
        for r in range(args.rounds):
            order = CONFIGS[r % 3 :] + CONFIGS[: r % 3]
            round_samples: dict[str, Sample] = {}
            for config in order:
                sample = run_child(tmp / f"r{r}-{config}", config, args.events, f"r{r}{config}")
                round_samples[config] = sample
                results.by_config.setdefault(config, []).append(sample)
                failed |= not sample.delivered
                print(f"round {r + 1} {config:<9} {sample}", flush=True)
            for config in CONFIGS:
                ratio = round_samples[config].rate / round_samples["off"].rate
                results.ratios.setdefault(config, []).append(ratio)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(
        f"{'AOF':<10} {'events/s (median)':>18} {'vs no AOF':>16} {'Redis µs/ev':>12} "
        f"{'enqueue p50 ms':>15} {'p99 ms':>8} {'delayed fsync':>14}"
    )
    for config in CONFIGS:
        samples = results.by_config[config]
        ratios = results.ratios[config]
        print(
            f"{config:<10} {statistics.median(s.rate for s in samples):>18,.0f} "
            f"{min(ratios):>7.2f}-{max(ratios):.2f}x "
            f"{statistics.median(s.redis_us for s in samples):>12.1f} "
            f"{statistics.median(s.enqueue_p50_ms for s in samples):>15.2f} "
            f"{statistics.median(s.enqueue_p99_ms for s in samples):>8.2f} "
            f"{max(s.delayed_fsync for s in samples):>14}"
        )
    if failed:
        print("some run did not deliver every event")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
