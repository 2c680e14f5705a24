"""Redis' memory against its ``maxmemory``, read at most every ``ttl_s`` per process.

Producers stop at ``share`` of ``maxmemory`` (:class:`worker.producer.IntakeGuard`); ingest,
which can grow what it moves (a transformed event carries hashes and TikTok's structure), stops
claiming intake entries halfway between that share and the limit, so the last part is always
left for what drains memory: flushes, their Celery messages, the retry schedule. With no
``maxmemory`` configured every check passes. On a Redis Cluster a destination's reading is
its own master's (every key of a destination lives on one slot, so its writes land there and
a full master elsewhere is not its concern); without a destination, the fullest master's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis

from worker.store.connection import is_cluster

__all__ = ["MemoryGauge"]

log = logging.getLogger(__name__)


class MemoryGauge:
    def __init__(self, client: redis.Redis, ttl_s: float = 0.5) -> None:
        self.r = client
        self.ttl_s = ttl_s
        #: node name ("" = the one server, or the fullest master) -> (monotonic, used, maxmemory)
        self._readings: dict[str, tuple[float, int, int]] = {}

    def read(self, destination: str | None = None) -> tuple[int, int]:
        """``(used_memory, maxmemory)`` in bytes of the server that holds ``destination``'s
        keys (on a cluster, its master; without one, the fullest master); maxmemory 0 means
        no limit."""
        node = _master_of(self.r, destination) if destination and is_cluster(self.r) else None
        name = str(getattr(node, "name", "")) if node is not None else ""
        now = time.monotonic()
        reading = self._readings.get(name)
        if reading is None or now - reading[0] > self.ttl_s:
            if node is not None:
                used, limit = _node_reading(node)
            elif is_cluster(self.r):
                used, limit = _fullest_master(self.r)
            else:
                info: Any = self.r.info("memory")
                used, limit = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
            reading = self._readings[name] = (now, used, limit)
        return reading[1], reading[2]

    def above(self, share: float, destination: str | None = None) -> bool:
        """Whether the server of ``destination`` (or any master) uses more than ``share`` of
        its maxmemory (never, without a limit)."""
        used, limit = self.read(destination)
        return bool(limit) and used > share * limit


def _master_of(client: Any, destination: str) -> Any:
    """The cluster master that holds ``destination``'s slot (None if the map does not say)."""
    from worker.store import keys

    try:
        return client.get_node_from_key(keys.intake(destination))
    except (redis.RedisError, OSError, AttributeError):
        return None


#: a master whose reading timed out is left out for this long (s): one that vanished without a
#: reset (a dead host, a partition) costs a socket timeout per reading, which every producer of
#: every master would otherwise pay on every chunk
SKIP_FAILED_S = 10.0
_skip_until: dict[str, float] = {}  # node name (host:port) -> time.monotonic() deadline


def _fullest_master(client: Any) -> tuple[int, int]:
    """On a Redis Cluster: the reading of the master closest to its maxmemory (any master
    may hold the next write)."""
    best: tuple[int, int] | None = None
    for node in client.get_primaries():
        reading = _node_reading(node)
        if best is None or _fuller(reading, best):
            best = reading
    return best or (0, 0)


def _node_reading(node: Any) -> tuple[int, int]:
    """One master's reading, asked directly, so a master that is down is skipped at once
    instead of being retried (it reads as no limit: its destinations fail on their own writes;
    the others go on). A master that timed out is not asked again for :data:`SKIP_FAILED_S`."""
    name = str(getattr(node, "name", ""))
    if time.monotonic() < _skip_until.get(name, 0.0):
        return 0, 0
    try:
        info: Any = node.redis_connection.info("memory")
    except redis.TimeoutError as exc:  # a refused connection fails fast: no need
        _skip_until[name] = time.monotonic() + SKIP_FAILED_S
        log.warning("memory of master %s unreadable (%s): left out for %.0f s", name,
                    type(exc).__name__, SKIP_FAILED_S)  # fmt: skip
        return 0, 0
    except (redis.RedisError, OSError, AttributeError):
        return 0, 0
    _skip_until.pop(name, None)
    return int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))


def _fuller(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[1] and b[1]:
        return a[0] / a[1] > b[0] / b[1]
    return bool(a[1]) or (not b[1] and a[0] > b[0])
