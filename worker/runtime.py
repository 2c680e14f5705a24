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
from worker.store import ratelimit
from worker.store.deadletter import DeadLetterStore
from worker.store.flags import Flags
from worker.store.intake import Intake
from worker.store.memory import MemoryGauge
from worker.store.outbox import Outbox
from worker.store.ratelimit import TokenBucket
from worker.tiktok import TikTokClient

__all__ = ["Runtime", "ScheduleFlush", "ScheduleIngest", "ring"]

#: ``schedule_flush(destination, countdown_s)`` asks for a flush of that destination later.
ScheduleFlush = Callable[[str, float], None]
#: ``schedule_ingest(destination)`` rings the ingest doorbell of that destination.
ScheduleIngest = Callable[[str], None]

#: a doorbell flag outlives a lost doorbell by this much; beat rings again anyway
RUNG_TTL_MS = 30_000


def _no_doorbell(destination: str) -> None:
    """Tests that ingest inline need no doorbell."""


def ring(client: redis.Redis, destination: str, send: ScheduleIngest) -> bool:
    """Ring the ingest doorbell of ``destination`` unless one is pending; best effort.

    The ingest task clears the flag before it claims an entry, so an entry appended after
    that moment rings again and nothing is stranded. A doorbell that cannot be rung (Redis
    full or gone) is not an error: the events are already in the intake, and beat rings for
    every destination whose intake is not empty (the flag's TTL is only a safety net).
    """
    try:
        if not Flags(client).ring(destination, RUNG_TTL_MS):
            return False
    except redis.RedisError:
        return False
    send(destination)
    return True


@dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    client: TikTokClient
    schedule_flush: ScheduleFlush
    schedule_ingest: ScheduleIngest = _no_doorbell
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    #: the process that built it; a forked child must build its own
    pid: int = field(default_factory=os.getpid)
    _outboxes: dict[str, Outbox] = field(default_factory=dict)
    _intakes: dict[str, Intake] = field(default_factory=dict)
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)
    _dlq: DeadLetterStore | None = None
    _flags: Flags | None = None
    _memory: MemoryGauge | None = None
    #: the most one ingest commit grew Redis by, in bytes (items added less the entry removed)
    ingest_growth: int = 1 << 19  # until measured: about half a default chunk
    #: batches this process holds right now, as (destination, batch id)
    in_flight: set[tuple[str, str]] = field(default_factory=set)

    @property
    def memory(self) -> MemoryGauge:
        if self._memory is None:
            self._memory = MemoryGauge(self.redis)
        return self._memory

    def memory_tight(self, destination: str) -> bool:
        """Whether ingest should wait: Redis must never reach maxmemory through our own writes
        (at maxmemory the broker cannot take a doorbell), and a transformed event is bigger
        than its raw form. Ingest waits when one more commit could reach maxmemory; and, while
        the destination has events to deliver (delivering frees memory), already halfway from
        the producers' share to maxmemory or within three commits of it. With nothing to
        deliver, ingest is the only way forward, so only the first rule applies, and only
        while the broker shares the data's Redis. On a cluster the reading is the
        destination's own master."""
        share = self.settings.intake_memory_share
        if share >= 1:
            return False
        used, limit = self.memory.read(destination)
        if not limit:
            return False
        box = self.outbox(destination)
        deliverable = bool(box.depth() or box.scheduled_events())
        if used + self.ingest_growth > limit:
            # With nothing to deliver, only ingestion can free this memory (the commit deletes
            # the entry it transforms; its script may pass maxmemory). Waiting would strand the
            # intake for good, so go on where a full data Redis cannot block the broker.
            return deliverable or not self.broker_apart
        if not deliverable:
            return False
        return used > (share + (1 - share) / 2) * limit or used + 3 * self.ingest_growth > limit

    @property
    def broker_apart(self) -> bool:
        """Whether Celery's broker is another server than the data (CELERY_BROKER_URL)."""
        broker = self.settings.celery_broker_url
        return bool(broker) and broker != self.settings.redis_url

    def note_ingest_growth(self, added_bytes: int, removed_bytes: int) -> None:
        """Remember how much one ingest commit grew Redis by (for :meth:`memory_tight`)."""
        self.ingest_growth = max(self.ingest_growth, max(0, added_bytes - removed_bytes))

    @property
    def flags(self) -> Flags:
        if self._flags is None:
            self._flags = Flags(self.redis)
        return self._flags

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

    def intake(self, destination: str) -> Intake:
        found = self._intakes.get(destination)
        if found is None:
            found = self._intakes[destination] = Intake(self.redis, destination)
        return found

    def ring(self, destination: str) -> bool:
        """Ring the ingest doorbell of ``destination`` (see :func:`ring`)."""
        try:
            if not self.flags.ring(destination, RUNG_TTL_MS):
                return False
        except redis.RedisError:
            return False  # best effort: see ring()
        self.schedule_ingest(destination)
        return True

    def unring(self, destination: str) -> None:
        """Clear the doorbell flag: called by the ingest task before it claims an entry."""
        self.flags.unring(destination)

    def _rate_limit(self, dest: Destination) -> float:
        """The destination's events/s, else the default (0 = unlimited)."""
        return dest.rate_limit if dest.rate_limit is not None else self.settings.rate_limit

    def request_size(self, dest: Destination) -> int:
        """Events per TikTok request for ``dest`` (:func:`~worker.store.ratelimit.request_size`)."""
        s = self.settings
        return ratelimit.request_size(self._rate_limit(dest), s.batch_size, s.burst)

    def bucket(self, dest: Destination) -> TokenBucket:
        name = dest.bucket_name
        bucket = self._buckets.get(name)
        if bucket is None:
            s, limit = self.settings, self._rate_limit(dest)
            burst = ratelimit.bucket_capacity(limit, s.batch_size, s.burst)
            bucket = TokenBucket(
                self.redis,
                name,
                rate=ratelimit.refill_rate(limit, s.rate_headroom),
                burst=burst,
                window_s=ratelimit.window_s(limit, s.rate_headroom, burst),
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
        self.flags.disarm(destination)

    def arm_flush(self, destination: str, countdown: float = 0.0, *, sooner: bool = False) -> bool:
        """Ask for one flush of ``destination``; coalesces requests while one is pending.

        The flush deletes the flag before it reads the outbox, so an event appended after
        that moment arms a new flush and nothing is stranded. The flag's TTL is a safety net
        should a scheduled flush be lost; beat's recovery re-arms every destination anyway.
        With ``sooner`` (scheduled retries), a flush pending for later does not hold this
        earlier one back: a retry due in 1 s must not wait for a flush armed 25 s out.
        """
        ttl_ms = int((countdown + 30.0) * 1000)
        due_ms = int((self.clock() + max(0.0, countdown)) * 1000)
        if self.flags.arm(destination, ttl_ms, due_ms, sooner=sooner):
            self.schedule_flush(destination, max(0.0, countdown))
            return True
        return False
