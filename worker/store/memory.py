"""Redis' memory against its ``maxmemory``, read at most every ``ttl_s`` per process.

Producers stop at ``share`` of ``maxmemory`` (:class:`worker.producer.IntakeGuard`); ingest,
which can grow what it moves (a transformed event carries hashes and TikTok's structure), stops
claiming intake entries halfway between that share and the limit, so the last part is always
left for what drains memory: flushes, their Celery messages, the retry schedule. With no
``maxmemory`` configured every check passes.
"""

from __future__ import annotations

import time
from typing import Any

import redis

__all__ = ["MemoryGauge"]


class MemoryGauge:
    def __init__(self, client: redis.Redis, ttl_s: float = 0.5) -> None:
        self.r = client
        self.ttl_s = ttl_s
        self._reading: tuple[float, int, int] | None = None  # (monotonic, used, maxmemory)

    def read(self) -> tuple[int, int]:
        """``(used_memory, maxmemory)`` in bytes; maxmemory 0 means no limit."""
        now = time.monotonic()
        if self._reading is None or now - self._reading[0] > self.ttl_s:
            info: Any = self.r.info("memory")
            self._reading = (now, int(info.get("used_memory", 0)), int(info.get("maxmemory", 0)))
        return self._reading[1], self._reading[2]

    def above(self, share: float) -> bool:
        """Whether Redis uses more than ``share`` of its maxmemory (never, without a limit)."""
        used, limit = self.read()
        return bool(limit) and used > share * limit
