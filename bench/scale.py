"""Throughput as worker hosts are added: several "hosts" on one data store.

Run: ``.venv/bin/python bench/scale.py [--topology cluster|single] [--hosts 1,2,4]
[--events 60000] [--brands 12] [--latency-ms 100] [--concurrency 2]``

Each worker host is its own ``celery -A worker worker`` process tree with its own node name
(``-n host<i>@bench``) and data dir (``MASIVO_TIKTOK_DATA_DIR``), configured exactly as an
operator configures a machine: ``REDIS_URL`` names the data store, ``CELERY_BROKER_URL`` the
broker. With ``--topology cluster`` (the default) the data lives on a local 3-master Redis
Cluster (:class:`devstack.RedisCluster`) and the broker is a separate plain Redis; with
``single`` both are one Redis, as in the first releases. One beat runs beside the hosts.

The TikTok emulator answers every request after ``--latency-ms`` (TikTok's real API answers
in 100-300 ms), unlimited rate: a delivering process waits on the network most of the time,
which is the situation that more hosts (more processes holding requests in flight) improves
until the machine's cores are busy. On this 2-core machine the CPU is the ceiling soon; on
real hosts each brings its own cores, so the CPU-bound part scales too (docs/scaling.md).

For each host count: a fresh data store, the hosts, a warm-up event per brand, then
``--events`` events across ``--brands`` destinations enqueued by this process (the producer
API, acknowledged into the intake streams); throughput = events accepted by the emulator /
time from the first enqueue to the last acceptance. Every event is counted: the books
(acknowledged = delivered + dropped + rejected + pending) are checked after each run.
Reported as events/s and as the ratio to one host, measured in the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _stack import make_events  # noqa: E402
from pipeline import tree_cpu  # noqa: E402

import devstack  # noqa: E402
from devstack import EmulatorProcess, credentials, wait_until  # noqa: E402
from devstack.processes import terminate  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.store.connection import connect  # noqa: E402


def brands(n: int) -> list[tuple[str, str, str]]:
    """(destination id, pixel code, token) for ``n`` brands; ids spread over cluster slots."""
    out = []
    for i in range(n):
        pixel = f"C9S{i:017d}"
        out.append((f"brand-{i:03d}", pixel, f"scale-token-{i:04d}-5e1f"))
    return out


class DataStore:
    """The data Redis (one server, or a 3-master cluster) and the broker Redis."""

    def __init__(self, directory: Path, topology: str) -> None:
        self.topology = topology
        self.broker = devstack.RedisProcess(directory / "broker", port=0)
        self.cluster: Any = None
        self.single: devstack.RedisProcess | None = None
        if topology == "cluster":
            from devstack.cluster import RedisCluster

            self.cluster = RedisCluster(directory / "cluster", masters=3, appendfsync="everysec")
        else:
            self.single = devstack.RedisProcess(
                directory / "redis", port=0, appendonly=True, extra={"appendfsync": "everysec"}
            )

    def start(self) -> DataStore:
        if self.cluster is not None:
            self.cluster.start()
            self.broker.start()
        else:
            assert self.single is not None
            self.single.start()
        return self

    @property
    def url(self) -> str:
        return self.cluster.url if self.cluster is not None else self.single.url  # type: ignore[union-attr]

    @property
    def broker_url(self) -> str:
        return self.broker.url if self.cluster is not None else self.url

    def servers(self) -> list[devstack.RedisProcess]:
        """The data servers: the cluster's masters, or the one Redis."""
        if self.cluster is not None:
            return list(self.cluster.nodes)
        return [self.single] if self.single is not None else []

    def pids(self) -> list[int]:
        return [s.pid for s in self.servers() if s.pid]

    def flush(self) -> None:
        for server in [*self.servers(), self.broker] if self.cluster else self.servers():
            client = redis.Redis.from_url(server.url)
            client.flushall()
            client.close()

    def net_bytes(self) -> int:
        """Bytes in + out of every data server so far (INFO stats)."""
        total = 0
        for server in self.servers():
            client = redis.Redis.from_url(server.url)
            stats = client.info("stats")
            total += int(stats["total_net_input_bytes"]) + int(stats["total_net_output_bytes"])
            client.close()
        return total

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.broker.stop()
        elif self.single is not None:
            self.single.stop()


def run(
    store: DataStore,
    emulator: EmulatorProcess,
    directory: Path,
    hosts: int,
    events: int,
    brand_list: list[tuple[str, str, str]],
    concurrency: int,
) -> dict[str, float]:
    """One measurement with ``hosts`` worker hosts; returns events/s and CPU per event."""
    store.flush()
    destinations = [credentials.destination(d, p, t) for d, p, t in brand_list]
    env = {
        "CELERY_BROKER_URL": store.broker_url,
        "TIKTOK_RATE_LIMIT": "0",
        "MASIVO_TIKTOK_HTTP_TIMEOUT": "10",
        "PYTHONPATH": str(ROOT),
    }
    stack = devstack.Stack(
        directory / f"hosts-{hosts}",
        redis_url=store.url,
        api_base_url=emulator.url,
        destinations=destinations,
        env=env,
    ).start()
    try:
        for i in range(hosts):
            stack.start_worker(
                concurrency=concurrency,
                loglevel="WARNING",
                env={"MASIVO_TIKTOK_DATA_DIR": str(stack.directory / f"host{i}")},
                args=["--without-heartbeat"],
                name=f"host{i}",
            )
        stack.start_beat(loglevel="WARNING")
        # this process is the producer, configured like the hosts (its doorbells go to the
        # broker through the Celery app)
        for name in ("REDIS_URL", "CELERY_BROKER_URL", "MASIVO_TIKTOK_DESTINATIONS"):
            os.environ[name] = stack.env[name]
        os.environ["MASIVO_TIKTOK_DATA_DIR"] = str(stack.data_dir)
        settings = Settings()
        from worker.celery_app import use_settings
        from worker.producer import enqueue

        use_settings(settings)
        client = connect(store.url)

        def accepted() -> int:
            return int(sum(v.get("unique", 0) for v in emulator.summary()["by_pixel"].values()))

        base = accepted()
        for dest, _pixel, _token in brand_list:  # warm-up: every host ready to deliver
            enqueue(make_events(1, f"warm-{hosts}-{dest}"), dest, settings=settings, client=client)
        if not wait_until(lambda: accepted() >= base + len(brand_list), 120, every_s=0.1):
            raise RuntimeError("the hosts did not deliver the warm-up events in 120 s")
        per_brand = events // len(brand_list)
        batches = {
            dest: make_events(per_brand, f"sc{hosts}-{dest}", seed=i)
            for i, (dest, _p, _t) in enumerate(brand_list)
        }
        total = per_brand * len(brand_list)
        base = accepted()
        gc.collect()
        gc.freeze()
        workers = [p.pid for p in stack.workers]
        cpu0 = (tree_cpu(workers), tree_cpu(store.pids()), time.process_time())
        net0 = store.net_bytes()
        t0 = time.perf_counter()
        for start in range(0, per_brand, 2000):
            for dest, evs in batches.items():
                enqueue(evs[start : start + 2000], dest, settings=settings, client=client)
        done = wait_until(lambda: accepted() >= base + total, 60 + total / 500, every_s=0.05)
        elapsed = time.perf_counter() - t0
        cpu1 = (tree_cpu(workers), tree_cpu(store.pids()), time.process_time())
        net1 = store.net_bytes()
        got = accepted() - base
        gc.unfreeze()
        books = stack.cli("status", "--json")
        return {
            "hosts": hosts,
            "events": total,
            "delivered": got,
            "complete": float(done and got >= total),
            "events_per_s": got / elapsed,
            "elapsed_s": elapsed,
            "worker_us": (cpu1[0] - cpu0[0]) / max(got, 1) * 1e6,
            "redis_us": (cpu1[1] - cpu0[1]) / max(got, 1) * 1e6,
            "producer_us": (cpu1[2] - cpu0[2]) / max(got, 1) * 1e6,
            "redis_bytes": (net1 - net0) / max(got, 1),
            "books_ok": float(_books_balance(books.stdout)),
        }
    finally:
        terminate(stack.procs, 20)
        stack.procs.clear()
        stack.workers.clear()
        stack.stop()


def _books_balance(status_json: str) -> bool:
    """acknowledged = delivered + dropped + rejected + dead-lettered + waiting, per destination."""
    import orjson

    try:
        report = orjson.loads(status_json)
    except orjson.JSONDecodeError:
        return False
    for data in report.values():
        c, s = data["counters"], data["state"]

        def total(prefix: str, c: dict[str, Any] = c) -> int:
            return int(sum(v for k, v in c.items() if k.startswith(prefix)))

        settled = (
            int(c.get("delivered", 0))
            + total("dropped:")
            + total("rejected:")
            + total("dead_lettered:")
        )
        waiting = int(s.get("intake", 0)) + int(s["outbox"])
        if (
            int(c.get("received", 0)) != settled + waiting
            or s["in_flight"]
            or s["scheduled_retries"]
        ):
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", choices=["cluster", "single"], default="cluster")
    parser.add_argument("--hosts", default="1,2,4", help="host counts to measure, in order")
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--brands", type=int, default=12)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=2, help="-c of every host")
    args = parser.parse_args()
    counts = [int(h) for h in args.hosts.split(",")]
    brand_list = brands(args.brands)
    directory = Path(tempfile.mkdtemp(prefix="mtt-scale-"))
    store = DataStore(directory, args.topology).start()
    emulator = EmulatorProcess(
        directory / "emulator.log",
        credentials={t: frozenset({p}) for _d, p, t in brand_list},
        rate_limit=0,
        capacity=10_000,
        faults=f"latency={args.latency_ms:g}ms" if args.latency_ms else "",
        env=devstack.processes.inherited_env() | {"PYTHONPATH": str(ROOT)},
        cwd=directory,
    ).start()
    print(
        f"scale: topology={args.topology} brands={args.brands} events={args.events:,} "
        f"latency={args.latency_ms:g}ms -c {args.concurrency} on {os.cpu_count()} cores",
        flush=True,
    )
    print(
        f"{'hosts':>5} {'events/s':>10} {'x 1 host':>9} {'worker µs/ev':>13} "
        f"{'redis µs/ev':>12} {'producer µs/ev':>15} {'redis B/ev':>11} {'books':>6}",
        flush=True,
    )
    results: list[dict[str, float]] = []
    ok = True
    try:
        for hosts in counts:
            r = run(store, emulator, directory, hosts, args.events, brand_list, args.concurrency)
            results.append(r)
            ratio = r["events_per_s"] / results[0]["events_per_s"]
            books = "ok" if r["books_ok"] and r["complete"] else "FAIL"
            ok = ok and books == "ok"
            print(
                f"{hosts:>5} {r['events_per_s']:>10,.0f} {ratio:>8.2f}x {r['worker_us']:>13.1f} "
                f"{r['redis_us']:>12.1f} {r['producer_us']:>15.1f} {r['redis_bytes']:>11,.0f} "
                f"{books:>6}",
                flush=True,
            )
    finally:
        emulator.stop()
        store.stop()
        if ok and len(results) == len(counts):
            shutil.rmtree(directory, ignore_errors=True)
        else:
            print(f"logs kept in {directory}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
