"""Cost of a metrics scrape and of ``dlq stats`` with a full dead-letter queue (issue 11).

Run: ``.venv/bin/python bench/scrape.py [--entries 100000] [--destinations 50] [--scrapes 20]``

A private ``redis-server`` (never the developer's), a destinations file with D configured
destinations, and a dead-letter queue filled to its default bound (100,000 entries) through
:meth:`DeadLetterStore.add` in batches of 1000, across the D destinations and six
(category, reason) pairs, each entry carrying a realistic TikTok payload (~1 KB, as a real
dead letter does). Every destination also has counters (requests by outcome, deliveries by
event) and one event waiting in its intake, so every part of the scrape has something to read.

Measured in the same run:

* **after** - what ``masivo-tiktok metrics`` does per scrape: the exporter's registry
  (:func:`cli.metrics.registry_for`: domain collector + process, platform and GC collectors)
  rendered in the Prometheus text format (:func:`cli.exposition.render`), in process; the same
  over HTTP from the exporter's server (:func:`cli.exposition.serve`, in a thread of this
  process) with httpx; and, for comparison, rendered by prometheus_client's
  ``generate_latest``. ``dlq stats``: :func:`cli.dlq.filtered_stats` without filters (the
  command minus process start-up).
* **before** - the first release's O(entries) path: the same scrape with the DLQ's numbers
  counted in Python from the whole stream (:meth:`DeadLetterStore.iter_raw`), and
  ``dlq stats`` counted the same way.

Reported: median, best and max milliseconds per scrape, bytes Redis sent per scrape (``INFO stats``
``total_net_output_bytes``), the ratio before / after. Goal: a scrape under 20 ms (median,
in process) at 100,000 entries and 50 destinations.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402

from cli.dlq import filtered_stats  # noqa: E402
from cli.exposition import render, serve  # noqa: E402
from cli.metrics import registry_for  # noqa: E402
from devstack import RedisProcess, free_port  # noqa: E402
from worker.producer import enqueue  # noqa: E402
from worker.runtime import Runtime  # noqa: E402
from worker.settings import Settings  # noqa: E402
from worker.store import counters, ratelimit  # noqa: E402
from worker.store.connection import connect  # noqa: E402
from worker.store.counters import REQUEST_OUTCOMES, Field, Prefix  # noqa: E402
from worker.store.deadletter import DeadLetter, DeadLetterStore  # noqa: E402
from worker.tiktok import TikTokClient  # noqa: E402

GOAL_MS = 20.0
BATCH = 1000
REASONS = [
    ("exhausted", "server_error"),
    ("exhausted", "timeout"),
    ("invalid", "tiktok_invalid"),
    ("rejected", "invalid_json"),
    ("rejected", "missing_event_time"),
    ("crashed", "worker_lost"),
]


def _payload(n: int) -> dict[str, Any]:
    """A TikTok ``data[]`` object as a purchase with three products would have it (~1 KB)."""
    h = f"{n:064x}"
    return {
        "event": "CompletePayment",
        "event_time": 1_795_500_000 + n,
        "event_id": f"evt-{n:012d}",
        "user": {
            "email": h,
            "phone": h[::-1],
            "external_id": h[8:] + h[:8],
            "ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148",
        },
        "properties": {
            "currency": "MXN",
            "value": 2599.7,
            "order_id": f"ord-{n}",
            "content_type": "product",
            "contents": [
                {
                    "content_id": f"SKU-{(n + i) % 977:05d}",
                    "content_name": "Tenis de running, edición 2026",
                    "content_category": "calzado/deportivo",
                    "price": 866.57,
                    "quantity": 1,
                }
                for i in range(3)
            ],
        },
        "page": {"url": f"https://tienda.example.mx/checkout/gracias?order=ord-{n}"},
    }


def _letter(n: int, destination: str, pair: tuple[str, str], now: float) -> DeadLetter:
    category, reason = pair
    return DeadLetter(
        destination=destination,
        category=category,
        reason=reason,
        event_id=f"evt-{n:012d}",
        event_name="CompletePayment",
        http_status=503 if reason == "server_error" else None,
        detail="TikTok answered 503 on every attempt" if category == "exhausted" else None,
        attempts=12 if category == "exhausted" else 1,
        first_failure=now - 3600,
        last_failure=now,
        event_time=1_795_500_000 + n,
        payload=_payload(n),
    )


def _destinations_file(path: Path, ids: list[str]) -> Path:
    lines = ["destinations:"]
    for n, dest in enumerate(ids):
        pixel = f"C9{n:018d}"
        lines.append(f"  - {{id: {dest}, pixel_code: {pixel}, access_token: bench-token-{n}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def fill(rt: Runtime, ids: list[str], entries: int) -> float:
    """The DLQ with ``entries`` entries round robin over ``ids`` (every destination gets
    every reason), plus counters and one waiting event per destination; seconds the DLQ
    took."""
    started = time.perf_counter()
    now = time.time()
    for start in range(0, entries, BATCH):
        rt.dlq.add(
            [
                _letter(n, ids[n % len(ids)], REASONS[(n // len(ids)) % len(REASONS)], now)
                for n in range(start, min(entries, start + BATCH))
            ]
        )
    took = time.perf_counter() - started
    for n, dest in enumerate(ids):
        tally: dict[str, int | float] = {
            Field.RECEIVED: 1000 + n,
            Field.QUEUED: 1000 + n,
            Field.DELIVERED: 990,
            Prefix.DELIVERED.of("CompletePayment"): 500,
            Prefix.DELIVERED.of("AddToCart"): 490,
            Field.REQUESTS: 20,
        }
        tally.update({Prefix.REQUESTS.of(o): 2 for o in REQUEST_OUTCOMES[:5]})
        tally[Prefix.REQUESTS.of("other")] = 10
        counters.incr(rt.redis, dest, tally)
        event = {"id": f"w-{n}", "type": "search", "query": "tenis", "issued_at": int(now)}
        enqueue([event], dest, settings=rt.settings, client=rt.redis, doorbell=lambda _d: None)
    return took


def scan_counts(store: DeadLetterStore) -> dict[tuple[str, str, str], int]:
    """The first release's way: every entry read and counted in Python."""
    out: dict[tuple[str, str, str], int] = {}
    for _, raw in store.iter_raw():
        key = (str(raw.get("destination")), str(raw.get("category")), str(raw.get("reason")))
        out[key] = out.get(key, 0) + 1
    return out


def scan_stats(store: DeadLetterStore) -> dict[str, Any]:
    """The first release's ``dlq stats``: one pass over the whole stream."""
    by: dict[str, dict[str, int]] = {"destination": {}, "reason": {}, "category": {}}
    size, first, last = 0, None, None
    for entry_id, raw in store.iter_raw():
        size += 1
        first = first or entry_id
        last = entry_id
        for field, counts in by.items():
            key = str(raw.get(field))
            counts[key] = counts.get(key, 0) + 1
    return {"size": size, "by_destination": by["destination"], "first": first, "last": last}


class Timing:
    def __init__(self, name: str, ms: list[float], sent: float) -> None:
        self.name, self.ms, self.sent = name, ms, sent

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    def line(self) -> str:
        return (
            f"{self.name:<44} {self.median:>10.2f} ms {min(self.ms):>10.2f} ms "
            f"{max(self.ms):>10.2f} ms {self.sent / 1e6:>10.2f} MB"
        )


def measure(name: str, client: redis.Redis, runs: int, work: Callable[[], Any]) -> Timing:
    work()  # warm: scripts loaded, connections open, counts checked
    out_before = int(client.info("stats")["total_net_output_bytes"])
    ms = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        ms.append((time.perf_counter() - started) * 1000)
    sent = (int(client.info("stats")["total_net_output_bytes"]) - out_before) / runs
    timing = Timing(name, ms, sent)
    print(timing.line(), flush=True)
    return timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--destinations", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=20, help="timed runs of each (after)")
    parser.add_argument("--baseline-runs", type=int, default=3, help="timed runs (before)")
    args = parser.parse_args()

    ids = [f"brand-{n:02d}" for n in range(args.destinations)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-scrape-") as tmp,
        RedisProcess(Path(tmp) / "redis", port=0, appendonly=False) as server,
    ):
        settings = Settings(
            redis_url=server.url,
            destinations_file=_destinations_file(Path(tmp) / "destinations.yaml", ids),
            data_dir=Path(tmp) / "data",
            dlq_max_entries=max(args.entries, 100_000),
        )
        client = connect(server.url)
        tiktok = TikTokClient("http://127.0.0.1:9")  # never called: nothing is sent
        rt = Runtime(settings=settings, redis=client, client=tiktok, schedule_flush=lambda *_: None)
        took = fill(rt, ids, args.entries)
        used = int(client.info("memory")["used_memory"])
        print(
            f"DLQ: {rt.dlq.size():,} entries, {args.destinations} destinations, "
            f"{len(REASONS)} reasons; filled in {took:.1f} s; Redis uses {used / 1e6:.0f} MB"
        )
        registry = registry_for(lambda: rt)
        port = free_port()
        http, thread = serve(registry, "127.0.0.1", port)
        web = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        print(f"{'':<44} {'median':>13} {'best':>13} {'max':>13} {'Redis sent':>13}")
        try:
            after = measure("after: scrape (collect + render, in process)", client,
                            args.scrapes, lambda: render(registry))  # fmt: skip
            lib = measure("after, rendered by prometheus_client", client,
                          args.scrapes, lambda: generate_latest(registry))  # fmt: skip
            after_http = measure("after: scrape over HTTP", client, args.scrapes,
                                 lambda: web.get("/metrics").raise_for_status())  # fmt: skip
            after_stats = measure("after: dlq stats", client, args.scrapes,
                                  lambda: filtered_stats(rt))  # fmt: skip
            buckets = [rt.bucket(settings.destinations[d]) for d in ids]
            part = measure("  part of a scrape: the D bucket reads", client, args.scrapes,
                           lambda: ratelimit.states(client, buckets))  # fmt: skip
            alone = measure("  the same, one round trip each", client, args.scrapes,
                            lambda: [b.state() for b in buckets])  # fmt: skip
            assert filtered_stats(rt)["size"] == args.entries
            text = render(registry).decode()
            if args.entries >= args.destinations * len(REASONS):  # every pair has entries
                pairs = args.destinations * len(REASONS)
                assert text.count("masivo_tiktok_dlq_entries{") == pairs

            counted = rt.dlq.counts
            rt.dlq.counts = lambda: scan_counts(rt.dlq)  # type: ignore[method-assign]
            try:
                assert rt.dlq.counts() == counted()
                before = measure("before: scrape, DLQ scanned (in process)", client,
                                 args.baseline_runs, lambda: render(registry))  # fmt: skip
            finally:
                rt.dlq.counts = counted  # type: ignore[method-assign]
            before_stats = measure("before: dlq stats, DLQ scanned", client,
                                   args.baseline_runs, lambda: scan_stats(rt.dlq))  # fmt: skip
        finally:
            web.close()
            http.shutdown()
            thread.join(timeout=5)
            tiktok.close()
            client.close()

    print()
    print(f"scrape:    {before.median:9.1f} ms -> {after.median:6.2f} ms "
          f"({before.median / after.median:,.0f}x faster; over HTTP {after_http.median:.2f} ms, "
          f"with prometheus_client's renderer {lib.median:.2f} ms); "
          f"Redis sent {before.sent / 1e6:.1f} MB -> {after.sent / 1e3:.1f} KB per scrape")  # fmt: skip
    print(f"dlq stats: {before_stats.median:9.1f} ms -> {after_stats.median:6.2f} ms "
          f"({before_stats.median / after_stats.median:,.0f}x faster)")  # fmt: skip
    print(f"of a scrape, {part.median:.2f} ms are the {args.destinations} rate-limit bucket "
          f"reads in one round trip ({alone.median:.2f} ms one by one)")  # fmt: skip
    ok = after.median < GOAL_MS
    print(f"goal: a scrape under {GOAL_MS:.0f} ms at {args.entries:,} entries and "
          f"{args.destinations} destinations: {'PASS' if ok else 'FAIL'} "
          f"({after.median:.2f} ms)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
