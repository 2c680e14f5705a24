"""``masivo-tiktok metrics``: Prometheus metrics, the domain figures Flower lacks.

Read from Redis on each scrape. Every metric name is defined here, once. The collector is
stateless: counters live in Redis (``worker.store.counters``), so any number of
``masivo-tiktok metrics`` processes report the same values, and a restart loses nothing.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import click
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from cli._common import runtime, settings
from cli._group import Command
from cli.status import status
from transforms import EVENT_NAME_SWITCH, STANDARD_EVENTS
from worker.celery_app import QUEUES

__all__ = ["PREFIX", "DomainCollector", "metrics", "registry_for"]

#: delivered events keep their name as a label only for these; custom event names (one per
#: brand idea) are summed under ``event="custom"`` so label cardinality stays bounded
KNOWN_EVENT_NAMES = frozenset(EVENT_NAME_SWITCH) | STANDARD_EVENTS

PREFIX = "masivo_tiktok"

#: counter field prefix in Redis -> (metric name, label name, help)
LABELLED_COUNTERS = {
    "delivered:": ("events_delivered", "event", "Events accepted by TikTok, by TikTok event name"),
    "dropped:": ("events_dropped", "reason", "Events dropped by policy, by reason"),
    "rejected:": ("events_rejected", "reason", "Invalid events rejected, by reason"),
    "dead_lettered:": ("events_dead_lettered", "category", "Events dead-lettered, by category"),
}
PLAIN_COUNTERS = {
    "received": ("events_received", "Raw events handed to ingest"),
    "queued": ("events_queued", "TikTok events appended to the outbox"),
    "retried": ("events_retried", "Events put back on the retry schedule"),
    "replayed": ("events_replayed", "Dead-letter entries replayed"),
    "requests": ("requests", "HTTP requests sent to TikTok"),
    "rate_limited": ("rate_limited_responses", "40100 answers from TikTok"),
    "auth_failures": ("auth_failures", "40001/40105 answers from TikTok"),
}


class DomainCollector(Collector):
    """Reads counters and state from Redis when Prometheus scrapes."""

    def __init__(self, runtime_factory: Callable[[], Any]) -> None:
        self._runtime_factory = runtime_factory

    def collect(self) -> Iterator[Metric]:
        from worker.heartbeat import live_workers

        rt = self._runtime_factory()
        report = status(rt)
        yield from self._counters(report)
        yield from self._state(report)
        yield from self._quality(report)
        queue = GaugeMetricFamily(
            f"{PREFIX}_celery_queue_length", "Messages waiting in a Celery queue", labels=["queue"]
        )
        for name in QUEUES:
            queue.add_metric([name], float(rt.redis.llen(name)))
        yield queue
        yield GaugeMetricFamily(
            f"{PREFIX}_workers_alive",
            "Workers with a fresh heartbeat",
            value=float(len(live_workers(rt.redis))),
        )

    def _counters(self, report: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        plain = {
            f: CounterMetricFamily(f"{PREFIX}_{n}", h, labels=["destination"])
            for f, (n, h) in PLAIN_COUNTERS.items()
        }
        labelled = {
            p: CounterMetricFamily(f"{PREFIX}_{n}", h, labels=["destination", label])
            for p, (n, label, h) in LABELLED_COUNTERS.items()
        }
        age = SummaryMetricFamily(
            f"{PREFIX}_event_age_at_delivery_seconds",
            "Seconds from event_time to TikTok's acceptance",
            labels=["destination"],
        )
        for dest, data in report.items():
            c = data["counters"]
            for field, family in plain.items():
                family.add_metric([dest], float(c.get(field, 0)))
            custom: dict[str, float] = {}
            for name, value in c.items():
                for prefix, family in labelled.items():
                    if not name.startswith(prefix):
                        continue
                    label = name[len(prefix) :]
                    if prefix == "delivered:" and label not in KNOWN_EVENT_NAMES:
                        custom[prefix] = custom.get(prefix, 0.0) + float(value)
                    else:
                        family.add_metric([dest, label], float(value))
            for prefix, total in custom.items():
                labelled[prefix].add_metric([dest, "custom"], total)
            age.add_metric(
                [dest],
                count_value=int(c.get("delivery_age_count", 0)),
                sum_value=float(c.get("delivery_age_sum", 0.0)),
            )
        yield from plain.values()
        yield from labelled.values()
        yield age

    def _state(self, report: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        gauges = {
            "outbox": GaugeMetricFamily(
                f"{PREFIX}_outbox_depth", "Events waiting in the outbox", labels=["destination"]
            ),
            "in_flight": GaugeMetricFamily(
                f"{PREFIX}_in_flight_batches", "Batches leased by a worker", labels=["destination"]
            ),
            "scheduled_retries": GaugeMetricFamily(
                f"{PREFIX}_scheduled_retries", "Batches waiting for a retry", labels=["destination"]
            ),
            "dlq": GaugeMetricFamily(
                f"{PREFIX}_dlq_entries", "Dead-letter entries", labels=["destination"]
            ),
        }
        paused = GaugeMetricFamily(
            f"{PREFIX}_paused", "1 when the destination is paused", labels=["destination", "kind"]
        )
        tokens = GaugeMetricFamily(
            f"{PREFIX}_bucket_tokens", "Tokens in the rate-limit bucket", labels=["destination"]
        )
        rate = GaugeMetricFamily(
            f"{PREFIX}_bucket_rate", "Effective events/s of the bucket", labels=["destination"]
        )
        for dest, data in report.items():
            s = data["state"]
            for field, family in gauges.items():
                family.add_metric([dest], float(s.get(field, 0)))
            info = s.get("paused")
            paused.add_metric([dest, str(info.get("kind")) if info else ""], 1.0 if info else 0.0)
            bucket = s.get("bucket")
            if bucket:
                t = bucket.get("tokens")
                if t is not None and t != float("inf"):
                    tokens.add_metric([dest], float(t))
                rate.add_metric([dest], float(bucket.get("rate", 0.0)))
        yield from gauges.values()
        yield from (paused, tokens, rate)

    def _quality(self, report: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        """Match quality (:mod:`cli.quality`): keys and warnings are fixed sets, custom event
        names are summed under ``event="custom"``, as for deliveries."""
        labels = ["destination", "event"]
        events = CounterMetricFamily(
            f"{PREFIX}_match_events", "Events queued for TikTok, by event name", labels=labels
        )
        keys = CounterMetricFamily(
            f"{PREFIX}_match_key", "Queued events carrying a match key", labels=[*labels, "key"]
        )
        warnings = CounterMetricFamily(
            f"{PREFIX}_quality_warnings",
            "Queued events that raised a match-quality warning",
            labels=[*labels, "warning"],
        )
        for dest, data in report.items():
            totals: dict[tuple[str, ...], float] = {}
            for event, figures in data.get("quality", {}).items():
                name = event if event in KNOWN_EVENT_NAMES else "custom"
                totals[("e", name)] = totals.get(("e", name), 0.0) + figures["events"]
                for kind, counts in (("k", figures["keys"]), ("w", figures["warnings"])):
                    for label, value in counts.items():
                        totals[(kind, name, label)] = totals.get((kind, name, label), 0.0) + value
            family = {"e": events, "k": keys, "w": warnings}
            for (kind, *rest), value in totals.items():
                family[kind].add_metric([dest, *rest], value)
        yield from (events, keys, warnings)


def registry_for(runtime_factory: Callable[[], Any]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DomainCollector(runtime_factory))
    return registry


@click.command(cls=Command, short_help="Serve Prometheus metrics (destinations, queues, DLQ).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=9108, show_default=True, help="TCP port."
)
def metrics(host: str, port: int) -> int:
    """Serve Prometheus metrics (per destination, queues, DLQ) until interrupted."""
    from prometheus_client import start_http_server

    settings()  # bad settings: exit 2 now, not an error on every scrape
    server, thread = start_http_server(port, addr=host, registry=registry_for(runtime))
    click.echo(f"metrics on http://{host}:{port}/metrics")
    sys.stdout.flush()
    stop = threading.Event()
    # As PID 1 in a container a signal without a handler is ignored: without this, every
    # rollout waits out the grace period and SIGKILLs the exporter (issue 11).
    import signal

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        thread.join(timeout=5)
    return 0
