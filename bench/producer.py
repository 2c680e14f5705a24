"""The producer's cost per ``enqueue`` call, as an upstream request handler pays it.

Run: ``.venv/bin/python bench/producer.py [--calls 2000] [--events 5] [--rounds 3]``

A producer usually calls :func:`worker.producer.enqueue` once per request it serves, with a
handful of events. This measures that call against a private ``redis-server`` (AOF on,
``appendfsync always``, as shipped) in two ways, alternating in the same run:

* ``client per call`` - a new data client for each call, closed after it (what ``enqueue``
  did when no ``client`` was passed, before it kept one per process);
* ``shared client`` - ``enqueue`` as it is: one client per process and URL.

Reported: the call's latency (p50, p99), the connections Redis accepted per call (``INFO
stats total_connections_received``) and how many more sockets this machine holds in
``TIME_WAIT`` towards Redis' port after a block than before it (each closed connection
leaves one for 60 s on Linux: past ~470 calls a second to a remote Redis they exhaust the
~28,000 ephemeral ports; loopback reuses them). The doorbell is a no-op here (the broker's cost is the same either way).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack import RedisProcess  # noqa: E402
from devstack.credentials import default_destinations  # noqa: E402
from worker.producer import enqueue  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.store.connection import connect  # noqa: E402

TIME_WAIT = "06"  # /proc/net/tcp state code


def time_wait_to(port: int) -> int:
    """Sockets in TIME_WAIT whose remote port is ``port`` (IPv4 and IPv6)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == TIME_WAIT and int(fields[2].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def events(n: int, tag: str) -> list[dict[str, Any]]:
    now = int(time.time())
    return [
        {
            "id": f"{tag}-{i}",
            "type": "add_to_cart",
            "customer_id": f"c{i}",
            "email": f"user{i}@shop.mx",
            "issued_at": now,
            "items": [{"sku": "sku-1", "name": "Tenis", "unit_price": 10, "quantity": 1}],
            "currency": "MXN",
            "value": 10,
        }
        for i in range(n)
    ]


def block(settings: Settings, per_call: bool, calls: int, size: int, tag: str) -> list[float]:
    batch = events(size, tag)
    latencies = []
    for _ in range(calls):
        t = time.perf_counter()
        if per_call:
            client = connect(str(settings.redis_url))
            try:
                enqueue(batch, "brand-a", settings=settings, client=client, doorbell=_no_bell)
            finally:
                client.close()
        else:
            enqueue(batch, "brand-a", settings=settings, doorbell=_no_bell)
        latencies.append((time.perf_counter() - t) * 1000)
    return latencies


def _no_bell(destination: str) -> None:
    """The broker's cost is the same either way; left out."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-producer-"))
    (tmp / "destinations.json").write_text(json.dumps(default_destinations()))
    results: dict[str, list[dict[str, float]]] = {"client per call": [], "shared client": []}
    with RedisProcess(tmp / "redis", appendonly=True) as server:
        settings = Settings(
            redis_url=server.url,
            destinations_file=tmp / "destinations.json",
            data_dir=tmp / "data",
            max_backlog_events=0,
        )
        probe = connect(server.url)
        port = int(server.port or 0)
        for r in range(args.rounds):
            modes = ["client per call", "shared client"]
            for mode in modes if r % 2 == 0 else modes[::-1]:
                probe.flushall()
                opened = int(probe.info("stats")["total_connections_received"])
                waiting = time_wait_to(port)
                lat = block(settings, mode == "client per call", args.calls, args.events, mode)
                accepted = int(probe.info("stats")["total_connections_received"]) - opened
                results[mode].append(
                    {
                        "p50": statistics.median(lat),
                        "p99": sorted(lat)[int(0.99 * len(lat)) - 1],
                        "connections_per_call": accepted / args.calls,
                        "time_wait": float(time_wait_to(port) - waiting),
                    }
                )
                print(f"round {r + 1} {mode:<16} {results[mode][-1]}", flush=True)
        probe.close()
    print()
    print(
        f"{'mode':<16} {'p50 ms':>8} {'p99 ms':>8} {'connections/call':>17} {'new TIME_WAIT':>16}"
    )
    for mode, rows in results.items():
        print(
            f"{mode:<16} {statistics.median(x['p50'] for x in rows):>8.2f} "
            f"{statistics.median(x['p99'] for x in rows):>8.2f} "
            f"{statistics.median(x['connections_per_call'] for x in rows):>17.3f} "
            f"{max(x['time_wait'] for x in rows):>16.0f}"
        )
    ratios = [
        old["p50"] / new["p50"]
        for old, new in zip(results["client per call"], results["shared client"], strict=True)
    ]
    print("p50 ratio, client per call / shared client, per round: "
          + ", ".join(f"{x:.2f}x" for x in ratios))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
