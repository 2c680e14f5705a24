"""How many messages wait in each Celery queue, read from the broker wherever it is.

The broker is ``CELERY_BROKER_URL`` (one plain Redis or RabbitMQ) and may be apart from the
data Redis, so the queue lengths are never read from the data store. A Redis broker keeps
each queue as a list named after it (kombu's Redis transport); RabbitMQ answers a passive
``queue.declare`` with the message count. Either way the numbers are doorbells and flush
requests, coalesced per destination: a health signal, not a measure of work (that is the
intake backlog).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import redis
from prometheus_client.core import GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from worker.settings import Settings

__all__ = ["BrokerQueues"]

log = logging.getLogger(__name__)


class BrokerQueues:
    """Reads queue lengths from the broker of ``settings``; keeps one client between scrapes.

    ``data`` is the data Redis client, used as is when the broker is that same Redis (no
    ``CELERY_BROKER_URL``). Raises what the broker raises when it is unreachable: the caller
    decides how a scrape says so.
    """

    def __init__(self, settings: Settings, data: redis.Redis, timeout_s: float = 2.0) -> None:
        self.url = settings.celery_broker_url
        self.timeout_s = timeout_s
        self._data = data
        self._redis: redis.Redis | None = None
        self._was_up = True

    def families(self, prefix: str, queues: Sequence[str]) -> Iterator[Metric]:
        """``<prefix>_broker_up`` and, when the broker answered, ``<prefix>_celery_queue_length``
        per queue. A broker that does not answer is an answer (``broker_up 0``, one log line
        when it goes away), never a failed scrape."""
        try:
            lengths: dict[str, int] | None = self.lengths(queues)
        except Exception as exc:  # any broker, any client: the scrape answers anyway
            if self._was_up:
                log.warning("metrics: cannot read the broker's queues (%s)", type(exc).__name__)
            lengths = None
        self._was_up = lengths is not None
        yield GaugeMetricFamily(
            f"{prefix}_broker_up",
            "1 when the last scrape read the broker's queue lengths, else 0",
            value=1.0 if lengths is not None else 0.0,
        )
        if lengths is not None:
            family = GaugeMetricFamily(
                f"{prefix}_celery_queue_length",
                "Messages waiting in a Celery queue (doorbells and flushes, coalesced per "
                "destination)",
                labels=["queue"],
            )
            for name, length in lengths.items():
                family.add_metric([name], float(length))
            yield family

    def lengths(self, queues: Sequence[str]) -> dict[str, int]:
        from worker.celery_app import is_amqp

        if self.url and is_amqp(self.url):
            return self._amqp(queues)
        client = self._client()
        pipe = client.pipeline(transaction=False)
        for name in queues:
            pipe.llen(name)
        return {name: int(n) for name, n in zip(queues, pipe.execute(), strict=True)}

    def _client(self) -> redis.Redis:
        if not self.url:
            return self._data
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s
            )
        return self._redis

    def _amqp(self, queues: Sequence[str]) -> dict[str, int]:
        from amqp.exceptions import NotFound  # type: ignore[import-untyped]
        from kombu import Connection

        assert self.url is not None
        out: dict[str, int] = {}
        with Connection(self.url, connect_timeout=self.timeout_s) as conn:
            conn.ensure_connection(max_retries=1)
            for name in queues:
                channel = conn.channel()
                try:
                    out[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
                except NotFound:
                    out[name] = 0  # not declared yet: no worker has consumed from it
                finally:
                    with contextlib.suppress(Exception):  # a NotFound already closed it
                        channel.close()
        return out
