"""The exporter's view of each data Redis' persistence (:mod:`worker.store.persistence`).

One series per data server (each master of a cluster), labelled ``node``: ``host:port`` or
the unix socket path, taken from the client's connection settings, never from its URL (which
may hold a password). A reading that fails (``INFO persistence`` refused, the server gone
mid-scrape) leaves these families out of that scrape, logged once when it starts failing and
once when it is readable again; the rest of the scrape is unaffected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

__all__ = ["PersistenceFamilies", "node_address"]

log = logging.getLogger(__name__)


def node_address(client: Any) -> str:
    """The one data server's address for a ``node`` label: ``host:port`` or the unix socket
    path, from the client's connection settings (never its URL: no credentials); ``redis``
    when the client does not say."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None) or {}
    if kwargs.get("path"):
        return str(kwargs["path"])
    if kwargs.get("host"):
        return f"{kwargs['host']}:{kwargs.get('port', 6379)}"
    return "redis"


class PersistenceFamilies:
    """Builds the four families on each scrape; remembers only whether the last read worked."""

    def __init__(self) -> None:
        self._readable = True

    def families(self, prefix: str, client: Any) -> Iterator[Metric]:
        from worker.store.persistence import read_persistence

        try:
            readings = read_persistence(client)
        except Exception as exc:  # a missing reading must not cost the other figures
            if self._readable:
                log.warning(
                    "metrics: cannot read Redis persistence (%s); its metrics are left out",
                    type(exc).__name__,
                )
            self._readable = False
            return
        if not self._readable:
            log.warning("metrics: Redis persistence is readable again")
        self._readable = True
        labels = ["node"]
        aof = GaugeMetricFamily(
            f"{prefix}_redis_aof_enabled",
            "1 when the data Redis runs with AOF (appendonly yes), else 0",
            labels=labels,
        )
        policy = InfoMetricFamily(
            f"{prefix}_redis_appendfsync",
            "The data Redis' appendfsync policy (always, everysec, no; unknown when CONFIG GET "
            "is refused)",
            labels=labels,
        )
        delayed = CounterMetricFamily(
            f"{prefix}_redis_aof_delayed_fsync",
            "AOF writes Redis postponed for their whole 2 s grace (a fsync still running) while "
            "answering clients: a disk that cannot keep up; shorter postponements, also windows "
            "in which a crash loses acknowledged events, are not counted by Redis",
            labels=labels,
        )
        durable = GaugeMetricFamily(
            f"{prefix}_redis_durable",
            "1 when a crash of the data Redis loses nothing it acknowledged (AOF with "
            "appendfsync always), else 0",
            labels=labels,
        )
        for reading in readings:
            node = [reading.node or node_address(client)]
            aof.add_metric(node, 1.0 if reading.aof else 0.0)
            policy.add_metric(node, {"policy": reading.fsync})
            delayed.add_metric(node, float(reading.delayed_fsync))
            durable.add_metric(node, 1.0 if reading.risk is None else 0.0)
        yield from (aof, policy, delayed, durable)
