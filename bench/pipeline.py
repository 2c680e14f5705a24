"""End-to-end benchmarks of the pipeline: throughput, rate-limit precision, latency.

Run: ``.venv/bin/python bench/pipeline.py [--quick] [--only throughput,ratelimit,latency]``

Everything is real and local: a private ``redis-server``, the TikTok emulator in its own
process, ``celery -A worker worker`` subprocesses configured through the environment an
operator would set, and the producer API (:func:`worker.producer.enqueue`) in this process,
competing with the workers for the machine's cores as a real producer would. One run measures:

1. **Throughput** - N realistic events for two destinations, rate limits lifted
   (``TIKTOK_RATE_LIMIT=0``, emulator unlimited), worker ``-c 2``, the producer's default chunk
   of 2000 events per message: events/s from the first
   enqueue until the emulator has accepted every unique event. Against a naive Celery
   baseline in the same run (``bench/_naive.py``: one task and one HTTP POST per event, worker
   ``-c 2``, same Redis, same emulator). Goals (issue 12): >= 30,000 events/s, >= 40x the baseline,
   worker CPU <= 35 µs per event. Also reported: producer, worker and Redis CPU per event
   (Redis' own ``INFO cpu``), Redis commands per event (``INFO commandstats``, commands run
   inside scripts and the broker's included) and bytes per event waiting in an outbox
   (``MEMORY USAGE``).
2. **Rate-limit precision** - 4 worker processes (two ``-c 2``), one destination, a budget of
   1000 events/s (``TIKTOK_RATE_LIMIT=1000``, the emulator at 1000 in any sliding second), N
   events enqueued at once, with the default headroom (1 %) and with none. Steady-state rate =
   (events - initial burst) / time from the first to the last accepted request (the refill).
   Goals: >= 97 % of the budget, no sliding second above the budget (issue 12; the calendar
   second, shown too, was held to budget + burst before), no 40100. The run without headroom
   is for comparison: our window is then exactly one second, with no slack for arrival jitter
   (docs/architecture.md, "Rate limiting"): a 40100 may happen there.
3. **Latency** - 200 events/s in chunks of 5 (one ``enqueue`` call each, paced) for ~20 s;
   latency = emulator ``received_at`` - time the bench called ``enqueue`` for that event.
   Goal: p99 <= linger + 500 ms (default linger 0.5 s).

Every process is started on 127.0.0.1 and ended (SIGTERM, then SIGKILL) before exit.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stack import PIXEL_A, PIXEL_B, PIXEL_NAIVE, Stack, make_events, sent_count  # noqa: E402

from devstack import EmulatorProcess, wait_until  # noqa: E402
from worker.settings import Settings  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    section: str
    metric: str
    value: str
    goal: str
    ok: bool | None  # None: informational

    def line(self) -> str:
        verdict = {True: "PASS", False: "FAIL", None: "info"}[self.ok]
        return f"{self.section:<11} {self.metric:<44} {self.value:>18}  {self.goal:<22} {verdict}"


RESULTS: list[Result] = []


def report(section: str, metric: str, value: str, goal: str = "", ok: bool | None = None) -> None:
    result = Result(section, metric, value, goal, ok)
    RESULTS.append(result)
    print(result.line(), flush=True)


# -- CPU accounting (from /proc, so we can say where the cores went) -------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds (user + system) of ``roots`` and their live descendants."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                parent[int(entry.name)], cpu[int(entry.name)] = found
    total = 0.0
    wanted = set(roots)
    for pid, seconds in cpu.items():
        p, hops = pid, 0
        while p and hops < 64:
            if p in wanted:
                total += seconds
                break
            p, hops = parent.get(p, 0), hops + 1
    return total


def _own_cpu(pid: int) -> float:
    found = _stat(pid)
    return found[1] if found is not None else 0.0


class CpuMeter:
    def __init__(self, stack: Stack, emulator: EmulatorProcess) -> None:
        redis = stack.redis_server
        self.groups: dict[str, Callable[[], float]] = {
            "producer (bench process)": lambda: time.process_time(),
            "workers": lambda: tree_cpu([p.pid for p in stack.workers]),
            "of which pool parents": lambda: sum(_own_cpu(p.pid) for p in stack.workers),
            "emulator": lambda: tree_cpu([emulator.pid]) if emulator.pid else 0.0,
            "redis": lambda: tree_cpu([redis.pid]) if redis and redis.pid else 0.0,
        }
        self.start = {k: f() for k, f in self.groups.items()}

    def used(self) -> dict[str, float]:
        return {k: f() - self.start[k] for k, f in self.groups.items()}


class RedisMeter:
    """Redis' own accounting between two points: CPU (``INFO cpu``: used_cpu_sys +
    used_cpu_user, the server's whole process) and commands (``INFO commandstats``: every
    command, those run inside Lua scripts included, and the broker's)."""

    def __init__(self, client: Any) -> None:
        self.r = client
        self.cpu0, self.calls0 = self._read()

    def _read(self) -> tuple[float, dict[str, int]]:
        cpu = self.r.info("cpu")
        stats = self.r.info("commandstats")
        calls = {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}
        return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]), calls

    def used(self) -> tuple[float, dict[str, int]]:
        """CPU seconds and command calls (by command) since this meter was made."""
        cpu, calls = self._read()
        delta = {k: v - self.calls0.get(k, 0) for k, v in calls.items()}
        return cpu - self.cpu0, {k: v for k, v in delta.items() if v > 0}


def outbox_bytes_per_event(stack: Stack, events: list[dict[str, Any]]) -> tuple[float, int]:
    """Bytes of Redis memory per event waiting in an outbox (``MEMORY USAGE`` of the outbox
    key, every element sampled, / events queued) after ingesting ``events`` in this process
    (no worker, no flush), as the workers store them; and the events queued."""
    from worker.ingest import ingest
    from worker.runtime import Runtime
    from worker.store import keys
    from worker.tiktok import TikTokClient

    settings = Settings()
    client = TikTokClient("http://127.0.0.1:9", timeout_s=1)
    rt = Runtime(settings=settings, redis=stack.redis, client=client, schedule_flush=_no_flush)
    try:
        queued = 0
        for i in range(0, len(events), CHUNK):
            queued += ingest(rt, "brand-a", events[i : i + CHUNK])["queued"]
        used = rt.redis.memory_usage(keys.outbox("brand-a"), samples=0) or 0
    finally:
        client.close()
    return used / max(1, queued), queued


def _no_flush(destination: str, countdown: float) -> None:
    """The memory probe ingests without delivering."""


# -- helpers --------------------------------------------------------------------------------


def enqueue(events: list[dict[str, Any]], destination: str, chunk_size: int | None = None) -> int:
    from worker.producer import enqueue as _enqueue

    return _enqueue(events, destination, chunk_size=chunk_size)


def warm_up(
    emulator: EmulatorProcess, targets: list[tuple[str, str]], tag: str, timeout_s: float = 90
) -> None:
    """One event per destination; returns when the emulator has them (workers are ready)."""
    before = {pixel: emulator.unique(pixel) for _, pixel in targets}
    for dest, _pixel in targets:
        enqueue(make_events(1, f"warm-{tag}-{dest}-{time.time_ns()}"), dest)
    ok = wait_until(
        lambda: all(emulator.unique(p) > before[p] for _, p in targets), timeout_s, every_s=0.1
    )
    if not ok:
        raise RuntimeError(f"workers did not deliver the warm-up events within {timeout_s:.0f}s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def cpu_line(used: dict[str, float], events: int) -> str:
    return ", ".join(f"{k} {v:.1f}s ({v / events * 1e6:.0f} µs/ev)" for k, v in used.items())


# -- 1. throughput --------------------------------------------------------------------------


def throughput(stack: Stack, n: int, n_naive: int) -> None:
    emulator = stack.start_emulator("emulator-throughput", rate_limit=0, capacity=2000)
    try:
        env = {"TIKTOK_API_BASE_URL": emulator.url, "TIKTOK_RATE_LIMIT": "0"}
        # the pipeline ------------------------------------------------------------------
        per_dest = {
            "brand-a": make_events(n // 2, "tp-a"),
            "brand-b": make_events(n - n // 2, "tp-b", seed=8),
        }
        expected = {
            PIXEL_A: sent_count(per_dest["brand-a"]),
            PIXEL_B: sent_count(per_dest["brand-b"]),
        }
        total = sum(expected.values())
        stack.start_workers("worker", 1, 2, env, pool=POOL)
        warm_up(emulator, [("brand-a", PIXEL_A), ("brand-b", PIXEL_B)], "tp")
        base = {p: emulator.unique(p) for p in expected}
        # The test data (100,000 dicts, built before the clock starts) is the harness's, not
        # the producer's: keep the bench process's collector from rescanning it on every pass.
        gc.collect()
        gc.freeze()
        meter = CpuMeter(stack, emulator)
        rmeter = RedisMeter(stack.redis)
        chunk = CHUNK
        t0 = time.perf_counter()
        for i in range(0, max(len(v) for v in per_dest.values()), chunk):
            for dest, events in per_dest.items():
                if events[i : i + chunk]:
                    enqueue(events[i : i + chunk], dest, chunk_size=chunk)
        t_enq = time.perf_counter() - t0

        def done() -> bool:
            s = emulator.summary()["by_pixel"]
            return all(s.get(p, {}).get("unique", 0) >= base[p] + expected[p] for p in expected)

        finished = wait_until(done, timeout_s=60 + total / 500, every_s=0.05)
        elapsed = time.perf_counter() - t0
        used = meter.used()
        redis_cpu, calls = rmeter.used()
        summary = emulator.summary()
        got = sum(summary["by_pixel"].get(p, {}).get("unique", 0) - base[p] for p in expected)
        stack.stop_workers()
        stack.flushall()
        rate = got / elapsed
        report(
            "throughput",
            "pipeline: events delivered",
            f"{got:,}/{total:,}",
            "all",
            got == total and finished,
        )
        report(
            "throughput",
            "pipeline: producer enqueue rate (ev/s)",
            f"{total / t_enq:,.0f}",
            "",
            None,
        )
        report(
            "throughput", "pipeline: end-to-end (ev/s)", f"{rate:,.0f}", ">= 30,000", rate >= 30_000
        )
        report(
            "throughput",
            "pipeline: emulator requests",
            f"{summary['requests']:,}",
            f"dups {summary['accepted']['duplicates']}",
            None,
        )
        print(
            f"    CPU during run ({elapsed:.1f}s wall, 2 cores = {2 * elapsed:.1f}s): {cpu_line(used, total)}"
        )
        per_event = (sum(used.values()) - used["of which pool parents"]) / total
        cores = os.cpu_count() or 1
        for label, seconds in (
            ("workers", used["workers"]),
            ("producer", used["producer (bench process)"]),
            ("Redis (INFO cpu)", redis_cpu),
        ):
            report(
                "throughput",
                f"pipeline: {label} CPU per event (µs)",
                f"{seconds / total * 1e6:,.1f}",
                "<= 35" if label == "workers" else "",
                seconds / total * 1e6 <= 35 if label == "workers" else None,
            )
        n_calls = sum(calls.values())
        report(
            "throughput",
            "pipeline: Redis commands per event",
            f"{n_calls / total:,.3f}",
            "",
            None,
        )
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:10]
        print(
            "    Redis commands per 1000 events: "
            + ", ".join(f"{k} {v / total * 1000:.1f}" for k, v in top)
        )
        report(
            "throughput",
            "pipeline: CPU per event, all processes (µs)",
            f"{per_event * 1e6:,.0f}",
            "",
            None,
        )
        report(
            "throughput",
            f"pipeline: CPU-bound ceiling on {cores} cores (ev/s)",
            f"{cores / per_event:,.0f}",
            "",
            None,
        )
        report(
            "throughput",
            "pipeline: share of the machine we got",
            f"{per_event * total / (cores * elapsed):.0%}",
            "",
            None,
        )

        # the naive baseline ------------------------------------------------------------
        from _naive import enqueue as naive_enqueue

        naive_events = make_events(n_naive, "naive")
        expected_naive = sent_count(naive_events, "naive")
        stack.start_workers("bench._naive", 1, 2, env, queues="naive", pool=POOL)
        before = emulator.unique(PIXEL_NAIVE)
        naive_enqueue(make_events(1, f"warm-naive-{time.time_ns()}"))
        if not wait_until(lambda: emulator.unique(PIXEL_NAIVE) > before, 90, every_s=0.1):
            raise RuntimeError("naive worker did not deliver its warm-up event")
        base_naive = emulator.unique(PIXEL_NAIVE)
        meter = CpuMeter(stack, emulator)
        t0 = time.perf_counter()
        naive_enqueue(naive_events)
        finished = wait_until(
            lambda: emulator.unique(PIXEL_NAIVE) >= base_naive + expected_naive,
            timeout_s=60 + n_naive / 50,
            every_s=0.05,
        )
        elapsed_naive = time.perf_counter() - t0
        used = meter.used()
        got_naive = emulator.unique(PIXEL_NAIVE) - base_naive
        stack.stop_workers()
        stack.flushall()
        naive_rate = got_naive / elapsed_naive
        report(
            "throughput",
            "naive: events delivered",
            f"{got_naive:,}/{expected_naive:,}",
            "all",
            got_naive == expected_naive and finished,
        )
        report("throughput", "naive: end-to-end (ev/s)", f"{naive_rate:,.0f}", "", None)
        print(f"    CPU during run ({elapsed_naive:.1f}s wall): {cpu_line(used, expected_naive)}")
        ratio = rate / naive_rate if naive_rate else math.inf
        report("throughput", "pipeline / naive", f"{ratio:,.1f}x", ">= 40x", ratio >= 40)

        # memory per waiting event -----------------------------------------------------------
        probe = make_events(min(n, 20_000), "mem")
        per_waiting, queued = outbox_bytes_per_event(stack, probe)
        stack.flushall()
        report(
            "throughput",
            f"outbox: bytes per waiting event ({queued:,})",
            f"{per_waiting:,.0f}",
            "",
            None,
        )
    finally:
        stack.stop_workers()
        emulator.stop()


# -- 2. rate-limit precision ----------------------------------------------------------------


#: events per ingest message: the producer's default (``MASIVO_TIKTOK_CHUNK``)
CHUNK = int(Settings.model_fields["ingest_chunk_size"].default)

#: the worker pool of the throughput section (``--pool``)
POOL = "prefork"


def rate_precision(stack: Stack, n: int, headroom: str) -> None:
    budget, burst = 1000, 1000
    label = f"headroom {float(headroom):.0%}"
    emulator = stack.start_emulator(
        f"emulator-rate-{headroom}", rate_limit=budget, capacity=n + 5000
    )
    try:
        env = {
            "TIKTOK_API_BASE_URL": emulator.url,
            "TIKTOK_RATE_LIMIT": str(budget),
            "MASIVO_TIKTOK_RATE_HEADROOM": headroom,
        }
        stack.start_workers("worker", 2, 2, env)  # 4 processes share one bucket
        warm_up(emulator, [("brand-a", PIXEL_A)], f"rate{headroom}")
        time.sleep(1.5)  # both buckets (ours and the emulator's) full again
        emulator.reset()
        events = make_events(n, f"rl-{headroom}")
        expected = sent_count(events)
        t0 = time.time()
        enqueue(events, "brand-a")
        t_enq = time.time() - t0
        finished = wait_until(
            lambda: emulator.unique(PIXEL_A) >= expected,
            timeout_s=60 + 2 * expected / budget,
            every_s=0.1,
        )
        time.sleep(0.5)
        summary = emulator.summary()
        got = emulator.unique(PIXEL_A)
        seen = emulator.events(PIXEL_A, limit=expected + 5000)
        per_second = emulator.rate(PIXEL_A)
        stack.stop_workers()
        stack.flushall()

        times = sorted(e["received_at"] for e in seen if not e["duplicate"])
        # A token bucket grants at most (what it held at the start) + rate * t over t seconds;
        # with the bucket kept empty, (events - the initial burst) / (last - first) is the
        # refill rate achieved. The initial burst is what arrived with the first request(s):
        # one second of budget, two requests (docs/architecture.md, "Rate limiting").
        span = times[-1] - times[0]
        initial = sum(1 for t in times if t - times[0] < 0.05)
        steady = (len(times) - initial) / span if span > 0 else math.nan
        window_max, j = 0, 0
        for i, t in enumerate(times):  # the busiest sliding 1-second window
            while times[j] <= t - 1.0:
                j += 1
            window_max = max(window_max, i - j + 1)
        second_max = max(per_second.values(), default=0)
        r40100 = int(summary["refused"]["by_code"].get("40100", 0))
        pct = steady / budget * 100
        report(
            "ratelimit",
            f"[{label}] events delivered",
            f"{got:,}/{expected:,}",
            "all",
            got == expected and finished,
        )
        report(
            "ratelimit",
            f"[{label}] steady-state rate (ev/s)",
            f"{steady:,.0f} = {pct:.1f}%",
            ">= 97% of 1000",
            pct >= 97,
        )
        report(
            "ratelimit",
            f"[{label}] max events in a clock second",
            f"{second_max:,}",
            f"<= {budget + burst:,}",
            second_max <= budget + burst,
        )
        report(
            "ratelimit",
            f"[{label}] max events in any 1 s window",
            f"{window_max:,}",
            f"<= {budget:,}",
            window_max <= budget,
        )
        report("ratelimit", f"[{label}] 40100 answers", f"{r40100}", "0", r40100 == 0)
        report(
            "ratelimit",
            f"[{label}] wall time / enqueue time",
            f"{times[-1] - t0:.1f}s / {t_enq:.2f}s",
            "",
            None,
        )
        secs = sorted(per_second)
        print(f"    per second: {[per_second[s] for s in secs]}")
    finally:
        stack.stop_workers()
        emulator.stop()


# -- 3. latency -----------------------------------------------------------------------------


def latency(stack: Stack, seconds: float, per_s: int = 200, chunk: int = 5) -> None:
    linger = 0.5  # the default MASIVO_TIKTOK_LINGER
    emulator = stack.start_emulator(
        "emulator-latency", rate_limit=1000, capacity=per_s * int(seconds + 10)
    )
    try:
        env = {"TIKTOK_API_BASE_URL": emulator.url}
        stack.start_workers("worker", 1, 2, env)
        warm_up(emulator, [("brand-a", PIXEL_A)], "lat")
        base = emulator.unique(PIXEL_A)
        total = int(per_s * seconds)
        events = make_events(total, "lat")
        sent_at: dict[str, float] = {}
        interval = chunk / per_s
        start = time.monotonic()
        late = 0
        for k, i in enumerate(range(0, total, chunk)):
            due = start + k * interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            elif pause < -interval:
                late += 1
            part = events[i : i + chunk]
            now = time.time()
            for e in part:
                sent_at[e["id"]] = now
            enqueue(part, "brand-a", chunk_size=chunk)
        paced = time.monotonic() - start
        finished = wait_until(lambda: emulator.unique(PIXEL_A) >= base + total, 60, every_s=0.1)
        seen = emulator.events(PIXEL_A, limit=total + 100)
        stack.stop_workers()
        stack.flushall()
        lat = [
            (e["received_at"] - sent_at[e["event_id"]]) * 1000
            for e in seen
            if e["event_id"] in sent_at and not e["duplicate"]
        ]
        goal_ms = (linger + 0.5) * 1000
        p50, p95, p99 = (percentile(lat, q) for q in (50, 95, 99))
        report(
            "latency",
            "events delivered",
            f"{len(lat):,}/{total:,}",
            "all",
            len(lat) == total and finished,
        )
        report(
            "latency",
            "offered rate (ev/s)",
            f"{total / paced:,.0f}",
            f"{per_s} (late chunks {late})",
            None,
        )
        report("latency", "p50 (ms)", f"{p50:,.0f}", "", None)
        report("latency", "p95 (ms)", f"{p95:,.0f}", "", None)
        report("latency", "p99 (ms)", f"{p99:,.0f}", f"<= {goal_ms:,.0f}", p99 <= goal_ms)
        report("latency", "max (ms)", f"{max(lat, default=math.nan):,.0f}", "", None)
    finally:
        stack.stop_workers()
        emulator.stop()


# -- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--pool",
        choices=["prefork", "solo"],
        default="prefork",
        help="throughput: one `-c 2` prefork worker, or two `--pool solo` workers",
    )
    parser.add_argument("--only", default="throughput,ratelimit,latency", help="sections to run")
    args = parser.parse_args()
    global POOL
    POOL = args.pool
    only = set(args.only.split(","))
    if args.quick:
        n, n_naive, n_rate, lat_s = 10_000, 1_000, 4_000, 5.0
    else:
        n, n_naive, n_rate, lat_s = 100_000, 5_000, 20_000, 20.0
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    stack: Stack | None = None
    try:
        stack = Stack(tmp)
        for name in [
            k for k in os.environ if k.startswith(("TIKTOK_", "MASIVO_", "REDIS_", "SENTRY_"))
        ]:
            del os.environ[name]
        for name in ("REDIS_URL", "MASIVO_TIKTOK_DESTINATIONS", "MASIVO_TIKTOK_DATA_DIR"):
            os.environ[name] = stack.env[name]
        print(f"cores: {os.cpu_count()}, redis {stack.redis_url}, logs in {tmp}", flush=True)
        print(f"{'section':<11} {'metric':<44} {'value':>18}  {'goal':<22} verdict", flush=True)
        if "throughput" in only:
            throughput(stack, n, n_naive)
        if "ratelimit" in only:
            for headroom in ("0.01", "0"):
                rate_precision(stack, n_rate, headroom)
        if "latency" in only:
            latency(stack, lat_s)
    finally:
        if stack is not None:
            stack.stop()
    print()
    print("=" * 110)
    print(f"{'section':<11} {'metric':<44} {'value':>18}  {'goal':<22} verdict")
    for result in RESULTS:
        print(result.line())
    failed = [r for r in RESULTS if r.ok is False and "headroom 0%" not in r.metric]
    if failed:
        print(f"{len(failed)} goal(s) missed")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
