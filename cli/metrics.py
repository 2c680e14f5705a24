"""``masivo-tiktok metrics``: Prometheus metrics, the domain figures Flower lacks.

Read from Redis on each scrape. Every metric name is defined here, once. The collector is
stateless: counters live in Redis (``worker.store.counters``), so any number of
``masivo-tiktok metrics`` processes report the same values, and a restart loses nothing.

A scrape costs O(destinations x reasons), whatever the size of the dead-letter queue (its
numbers come from the counts its scripts keep; ``bench/scrape.py``). Label sets are stable: a
series never changes its labels when a state changes (``paused`` has one series per
destination and kind, ``requests_total`` one per destination and outcome, 0 when none;
the one exception is ``redis_appendfsync_info``, whose ``policy`` label is the reading).
With Redis unreachable a scrape still answers: ``masivo_tiktok_redis_up 0``, the build info
and the process, platform and GC collectors, never an HTTP 500.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click
import redis
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from cli._common import settings
from cli._group import Command
from cli.exposition import serve
from cli.redis_persistence import PersistenceFamilies
from cli.status import status
from transforms import EVENT_NAME_SWITCH, STANDARD_EVENTS
from worker.celery_app import QUEUES
from worker.store.counters import REQUEST_OUTCOMES
from worker.store.pause import PauseKind

if TYPE_CHECKING:
    from cli.broker_queues import BrokerQueues
    from worker.runtime import Runtime

__all__ = [
    "PREFIX",
    "DomainCollector",
    "exporter_runtime",
    "metrics",
    "registry_for",
]

log = logging.getLogger(__name__)

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
    "rate_limited": ("rate_limited_responses", "40100 answers from TikTok"),
    "auth_failures": ("auth_failures", "40001/40105 answers from TikTok"),
    "config_failures": (
        "config_failures",
        "Answers refusing the request itself (pixel, a top-level field, a bare HTTP 400)",
    ),
}
#: a paused destination has exactly one of these kinds; every kind always has a series
PAUSE_KINDS = tuple(kind.value for kind in PauseKind)


def _redis_unusable() -> tuple[type[BaseException], ...]:
    """What a scrape answers with ``redis_up 0``: Redis unreachable, loading, refusing."""
    from worker.embedded import EmbeddedRedisError

    return (redis.RedisError, EmbeddedRedisError, OSError)


def _version() -> str:
    try:
        return importlib.metadata.version("masivo-tiktok")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class DomainCollector(Collector):
    """Reads counters and state from Redis when Prometheus scrapes.

    Redis down (or the embedded server not starting) is an answer, not an error: the scrape
    says ``masivo_tiktok_redis_up 0`` and the build info; everything read from Redis is left
    out of that scrape (one log line when Redis goes away, one when it is back).
    """

    def __init__(self, runtime_factory: Callable[[], Any]) -> None:
        self._runtime_factory = runtime_factory
        self._was_up = True
        self._queues: BrokerQueues | None = None
        self._durability = PersistenceFamilies()
        self._version = _version()

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self._from_redis(self._runtime_factory()))
        except _redis_unusable() as exc:
            families = []
            if self._was_up:
                log.warning(
                    "metrics: cannot read Redis (%s: %s); exporting redis_up 0",
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                )
            self._was_up = False
        else:
            if not self._was_up:
                log.warning("metrics: Redis is reachable again")
            self._was_up = True
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_up",
            "1 when the last scrape read Redis, 0 when Redis was unreachable",
            value=1.0 if self._was_up else 0.0,
        )
        info = InfoMetricFamily(f"{PREFIX}_build", "The exporter's version", labels=["version"])
        info.add_metric([self._version], {})
        yield info
        yield from families

    def _from_redis(self, rt: Runtime) -> Iterator[Metric]:
        from worker.heartbeat import live_workers

        report = status(rt)
        yield from self._counters(report)
        yield from self._requests(report)
        yield from self._state(report)
        yield from self._dlq(report)
        yield from self._quality(report)
        yield from self._broker(rt)
        yield from self._persistence(rt)
        yield GaugeMetricFamily(
            f"{PREFIX}_workers_alive",
            "Workers with a fresh heartbeat",
            value=float(len(live_workers(rt.redis))),
        )

    def _broker(self, rt: Runtime) -> Iterator[Metric]:
        """Queue lengths from the broker, wherever CELERY_BROKER_URL puts it (cli.broker_queues)."""
        from cli.broker_queues import BrokerQueues

        if self._queues is None or self._queues.url != rt.settings.celery_broker_url:
            self._queues = BrokerQueues(rt.settings, rt.redis)
        yield from self._queues.families(PREFIX, QUEUES)

    def _persistence(self, rt: Runtime) -> Iterator[Metric]:
        """Each data Redis' persistence (cli.redis_persistence); never fails the scrape."""
        yield from self._durability.families(PREFIX, rt.redis)

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
            "intake": GaugeMetricFamily(
                f"{PREFIX}_intake_backlog_events",
                "Events acknowledged to producers and not yet ingested (KEDA scales on it)",
                labels=["destination"],
            ),
            "outbox": GaugeMetricFamily(
                f"{PREFIX}_outbox_depth", "Events waiting in the outbox", labels=["destination"]
            ),
            "in_flight": GaugeMetricFamily(
                f"{PREFIX}_in_flight_batches", "Batches leased by a worker", labels=["destination"]
            ),
            "scheduled_retries": GaugeMetricFamily(
                f"{PREFIX}_scheduled_retries", "Batches waiting for a retry", labels=["destination"]
            ),
        }
        oldest = GaugeMetricFamily(
            f"{PREFIX}_oldest_waiting_seconds",
            "Age of the oldest event not yet delivered (intake, outbox, in flight or on the "
            "retry schedule); 0 when none waits",
            labels=["destination"],
        )
        paused = GaugeMetricFamily(
            f"{PREFIX}_paused",
            "1 when the destination is paused for this kind (auth, config, operator), else 0",
            labels=["destination", "kind"],
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
            oldest.add_metric([dest], float(s.get("oldest_waiting_s") or 0.0))
            info = s.get("paused")
            kind = str(info.get("kind")) if info else None
            for k in PAUSE_KINDS:
                paused.add_metric([dest, k], 1.0 if k == kind else 0.0)
            bucket = s.get("bucket")
            if bucket:
                t = bucket.get("tokens")
                if t is not None and t != float("inf"):
                    tokens.add_metric([dest], float(t))
                rate.add_metric([dest], float(bucket.get("rate", 0.0)))
        yield from gauges.values()
        yield from (oldest, paused, tokens, rate)

    def _requests(self, report: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        """Requests to TikTok by outcome: every outcome for every destination (0 when none),
        so ``sum by (destination)`` is the total and no series appears out of nowhere."""
        family = CounterMetricFamily(
            f"{PREFIX}_requests",
            "HTTP requests sent to TikTok, by outcome (delivered, server_error, timeout, "
            "network, rate_limited, auth, config, invalid, other)",
            labels=["destination", "outcome"],
        )
        for dest, data in report.items():
            by_outcome = data["requests"]
            for outcome in REQUEST_OUTCOMES:
                family.add_metric([dest, outcome], float(by_outcome.get(outcome, 0)))
        yield family

    def _dlq(self, report: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        """Dead-letter entries by destination, category and reason, from the counts the DLQ's
        scripts keep (never from its entries)."""
        family = GaugeMetricFamily(
            f"{PREFIX}_dlq_entries",
            "Dead-letter entries, by destination, category and reason",
            labels=["destination", "category", "reason"],
        )
        for dest, data in report.items():
            for category, reasons in data["state"].get("dlq_by_category", {}).items():
                for reason, n in reasons.items():
                    family.add_metric([dest, category, reason], float(n))
        yield family

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
    """The exporter's registry: the domain collector, plus prometheus_client's process
    (``process_*``: CPU, memory, file descriptors), platform (``python_info``) and GC
    (``python_gc_*``) collectors of this process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DomainCollector(runtime_factory))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


_exporter_rt: Runtime | None = None

#: a scrape must answer within Prometheus' scrape timeout (10 s by default), Redis or not
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_TIMEOUT_S = 5.0


def exporter_runtime() -> Runtime:
    """The exporter's runtime: the worker's, on a Redis client with timeouts, so an
    unreachable Redis makes a scrape say ``redis_up 0`` in seconds instead of hanging it.
    Built on the first scrape that can (an embedded Redis that cannot start is retried)."""
    global _exporter_rt
    if _exporter_rt is None:
        from worker.celery_app import get_settings, redis_url
        from worker.runtime import Runtime
        from worker.store.connection import connect
        from worker.tiktok import TikTokClient

        config = get_settings()
        client = connect(
            redis_url(config),
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
        )
        _exporter_rt = Runtime(
            settings=config,
            redis=client,
            client=TikTokClient(config.api_base_url),  # never used: the exporter sends nothing
            schedule_flush=lambda *_: None,
        )
    return _exporter_rt


@click.command(cls=Command, short_help="Serve Prometheus metrics (destinations, queues, DLQ).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=9108, show_default=True, help="TCP port."
)
def metrics(host: str, port: int) -> int:
    """Serve Prometheus metrics (per destination, queues, DLQ) until interrupted."""
    settings()  # bad settings: exit 2 now, not an error on every scrape
    server, thread = serve(registry_for(exporter_runtime), host, port)
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
        server.server_close()
        thread.join(timeout=5)
    return 0
