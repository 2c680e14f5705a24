"""The runtime a task needs: settings, Redis, the TikTok client, buckets, the DLQ.

Built once per worker process (after fork) and passed to the plain functions of
:mod:`worker.pipeline` and :mod:`worker.jobs`. Tests build one directly with a real
Redis, an httpx client aimed at the emulator and a ``schedule_flush`` that records or runs.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from worker.settings import Destination, Settings
from worker.store import keys
from worker.store.deadletter import DeadLetterStore
from worker.store.outbox import Outbox
from worker.store.ratelimit import TokenBucket
from worker.tiktok import TikTokClient

__all__ = ["Runtime", "ScheduleFlush"]

#: ``schedule_flush(destination, countdown_s)`` asks for a flush of that destination later.
ScheduleFlush = Callable[[str, float], None]


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    client: TikTokClient
    schedule_flush: ScheduleFlush
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    #: the process that built it; a forked child must build its own
    pid: int = field(default_factory=os.getpid)
    _outboxes: dict[str, Outbox] = field(default_factory=dict)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _dlq: DeadLetterStore | None = None
    #: batches this process holds right now, as (destination, batch id)
    in_flight: set[tuple[str, str]] = field(default_factory=set)

    @property
    def dlq(self) -> DeadLetterStore:
        if self._dlq is None:
            self._dlq = DeadLetterStore(self.redis, max_entries=self.settings.dlq_max_entries)
        return self._dlq

    def outbox(self, destination: str) -> Outbox:
        box = self._outboxes.get(destination)
        if box is None:
            box = self._outboxes[destination] = Outbox(self.redis, destination)
        return box

    def bucket(self, dest: Destination) -> TokenBucket:
        name = dest.bucket_name
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = TokenBucket(
                self.redis,
                name,
                rate=self.settings.rate_for(dest),
                burst=self.settings.bucket_capacity_for(dest),
            )
            self._buckets[name] = bucket
        return bucket

    def release_in_flight(self) -> int:
        """On shutdown: give back every batch this process holds, due now (no lease wait)."""
        released = 0
        for destination, batch_id in list(self.in_flight):
            if self.outbox(destination).release(batch_id, self.clock()):
                released += 1
            self.in_flight.discard((destination, batch_id))
        return released

    def disarm_flush(self, destination: str) -> None:
        """Forget that a flush is armed: the next :meth:`arm_flush` schedules one for sure."""
        self.redis.delete(keys.armed(destination))

    def arm_flush(self, destination: str, countdown: float = 0.0) -> bool:
        """Ask for one flush of ``destination``; coalesces requests while one is pending.

        The flush deletes the flag before it reads the outbox, so an event appended after
        that moment arms a new flush and nothing is stranded. The flag's TTL is a safety net
        should a scheduled flush be lost; beat's recovery re-arms every destination anyway.
        """
        ttl_ms = int((countdown + 30.0) * 1000)
        if self.redis.set(keys.armed(destination), b"1", nx=True, px=ttl_ms):
            self.schedule_flush(destination, max(0.0, countdown))
            return True
        return False
