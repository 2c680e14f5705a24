"""Per-destination intake streams: where an acknowledged event lives until it is ingested.

A producer appends a chunk of raw events to ``mtt:{d}:intake`` (a Redis stream) and rings a
doorbell. The ingest task reads the stream through the consumer group ``ingest``: claiming is
atomic (``XREADGROUP``), and a claimed entry stays in the group's pending list until the
commit script acknowledges and deletes it in the same step as it moves the entry's events
into the outbox and counters. A worker that dies, hangs or loses Redis at any point leaves the
entry pending; after its lease (``min_idle_s``) another worker takes it over
(``XAUTOCLAIM``). A Celery message is therefore only a doorbell: lost or doubled, it costs
nothing, and beat rings again for every destination whose intake is not empty.

Entry fields: ``e`` the chunk (a JSON array of raw Masivo events, bytes), ``n`` its number of
events, ``c`` the events it counted in the destination's backlog (``mtt:{d}:backlog``, field
``intake``) — set by :meth:`Intake.append`; an entry appended by another tool without ``c``
is simply not part of the backlog bound.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import redis

from worker.store import keys, registry
from worker.store.connection import is_cluster
from worker.store.lua import Script

__all__ = ["REPLICA_WAIT_MS", "Entry", "Intake", "NotReplicated", "backlog", "consumer_name"]


#: what a cluster client would retry itself: the node gone or restarting, the slot moved
_RETRIED_ON_A_MASTER = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.AskError,  # MovedError is one
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
)

#: back-off before each retry of an append with ``WAIT`` on a cluster (s): the cluster
#: client's own schedule for the other writes (worker.store.connection)
CLUSTER_RETRY_S = (0.05, 0.1, 0.2, 0.4, 0.8)

#: how long a producer waits for replicas to confirm a chunk (ms): replication on a healthy
#: link takes a round trip; a replica that is down or far behind costs this much per chunk
REPLICA_WAIT_MS = 1000


class NotReplicated(Exception):
    """Fewer replicas than asked confirmed a chunk within :data:`REPLICA_WAIT_MS`."""

    def __init__(self, confirmed: int, wanted: int) -> None:
        super().__init__(f"{confirmed} of {wanted} replicas confirmed within {REPLICA_WAIT_MS} ms")
        self.confirmed = confirmed
        self.wanted = wanted


def _check_replicas(confirmed: int, wanted: int) -> None:
    if confirmed < wanted:
        raise NotReplicated(confirmed, wanted)


def consumer_name() -> str:
    """This process's name in the consumer group (host and pid: unique, readable)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Entry:
    """One claimed intake entry: a chunk as the producer wrote it."""

    id: str
    chunk: bytes | None  # None: the entry has no ``e`` field (not one of ours)
    counted: int  # events it added to the backlog (``c``), subtracted again on commit
    deliveries: int  # how often it was handed to a consumer (1 = first time)


class Intake:
    """One destination's intake stream and its consumer group."""

    def __init__(self, client: redis.Redis, destination: str) -> None:
        self.r = client
        self.destination = destination
        self.k_intake = keys.intake(destination)
        self.k_backlog = keys.backlog(destination)
        self._append = Script(client, "intake_append")
        self._commit = Script(client, "intake_commit", allow_oom=True)
        self._group_ready = False

    # -- producing -------------------------------------------------------------------------
    def append(self, chunk: bytes, count: int, replicas: int = 0) -> str:
        """Append one encoded chunk of ``count`` events; returns the entry id.

        Once this returns, the events are acknowledged: they live in Redis until ingested.
        With ``replicas``, also on that many replicas: Redis replication is asynchronous, so
        a replica promoted after its primary died may lack what the primary had answered.
        ``WAIT`` on the connection that wrote blocks until ``replicas`` of them have this
        write (and everything before it), at most :data:`REPLICA_WAIT_MS`; fewer raises
        :class:`NotReplicated` (the chunk is on the primary and may still be delivered:
        a retry can only duplicate, and TikTok keeps one per ``event_id``).
        """
        args = [chunk, count, keys.INTAKE_GROUP]
        if is_cluster(self.r):
            # the registry's sets live on other nodes: a cluster pipeline would not keep the
            # order "append, then announce" (worker.store.registry), so two round trips
            if not replicas:
                entry_id = self._append(keys=[self.k_intake, self.k_backlog], args=args)
                registry.announce(self.r, self.destination)
                return _text(entry_id)
            entry_id, confirmed = self._append_on_master(args, replicas)
            registry.announce(self.r, self.destination)  # on the primary either way
            _check_replicas(confirmed, replicas)
            return _text(entry_id)
        pipe = self.r.pipeline(transaction=False)  # one connection: executed in this order
        self._append(keys=[self.k_intake, self.k_backlog], args=args, client=pipe)
        registry.register(pipe, self.destination)
        if replicas:
            pipe.wait(replicas, REPLICA_WAIT_MS)
        entry_id, *rest = pipe.execute()
        if replicas:
            _check_replicas(int(rest[-1]), replicas)
        return _text(entry_id)

    def _append_on_master(self, args: list[Any], replicas: int) -> tuple[Any, int]:
        """The append and ``WAIT`` on one connection to the master of the slot: ``WAIT``
        counts the writes of its own connection. That bypasses the cluster client's own
        retries, so a moved slot (``MOVED``/``ASK``) or a master restarting (connection
        refused) is retried here the same way: slot map read again, backing off. A retry
        after a lost reply may append the chunk twice; TikTok keeps one per ``event_id``."""
        attempts = len(CLUSTER_RETRY_S) + 1
        for attempt in range(attempts):
            try:
                node = self.r.get_node_from_key(self.k_intake)  # type: ignore[attr-defined]
                pipe = node.redis_connection.pipeline(transaction=False)
                self._append(keys=[self.k_intake, self.k_backlog], args=args, client=pipe)
                pipe.wait(replicas, REPLICA_WAIT_MS)
                entry_id, confirmed = pipe.execute()
                return entry_id, int(confirmed)
            except _RETRIED_ON_A_MASTER:
                if attempt == attempts - 1:
                    raise
                time.sleep(CLUSTER_RETRY_S[attempt])
                with contextlib.suppress(redis.RedisError, OSError):
                    self.r.nodes_manager.initialize()  # type: ignore[attr-defined]
        raise AssertionError("unreachable")

    # -- consuming -------------------------------------------------------------------------
    def ensure_group(self) -> None:
        """Create the consumer group (from the stream's start) unless it exists."""
        if self._group_ready:
            return
        try:
            self.r.xgroup_create(self.k_intake, keys.INTAKE_GROUP, id="0", mkstream=True)
        except redis.exceptions.OutOfMemoryError:
            # XGROUP CREATE is refused at maxmemory even when the group exists; then it is
            # only a question of whether it does (claiming and committing work under OOM)
            if not self._group_exists():
                raise
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def _group_exists(self) -> bool:
        try:
            groups: Any = self.r.xinfo_groups(self.k_intake)
        except redis.ResponseError:
            return False
        return any(_text(g.get("name")) == keys.INTAKE_GROUP for g in groups)

    def claim(self, consumer: str, min_idle_s: float) -> Entry | None:
        """An entry whose lease ran out (its worker died or hung), else a new one, else None."""
        self.ensure_group()
        try:
            return self._claim_stale(consumer, min_idle_s) or self._claim_new(consumer)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # the stream was deleted (purged): make the group again
            self.ensure_group()
            return self._claim_new(consumer)

    def _claim_new(self, consumer: str) -> Entry | None:
        found: Any = self.r.xreadgroup(keys.INTAKE_GROUP, consumer, {self.k_intake: ">"}, count=1)
        if not found:
            return None
        entry_id, fields = found[0][1][0]
        return _entry(entry_id, fields, deliveries=1)

    def _claim_stale(self, consumer: str, min_idle_s: float) -> Entry | None:
        answer: Any = self.r.xautoclaim(
            self.k_intake, keys.INTAKE_GROUP, consumer, int(min_idle_s * 1000), "0-0", count=1
        )
        claimed = answer[1] if len(answer) > 1 else []
        for entry_id, fields in claimed:
            if fields is None:  # deleted while pending (Redis 6.2 reports it so): let it go
                self.r.xack(self.k_intake, keys.INTAKE_GROUP, entry_id)
                continue
            return _entry(entry_id, fields, deliveries=self._deliveries(entry_id))
        return None

    def _deliveries(self, entry_id: Any) -> int:
        info: Any = self.r.xpending_range(
            self.k_intake, keys.INTAKE_GROUP, min=entry_id, max=entry_id, count=1
        )
        return int(info[0]["times_delivered"]) if info else 1

    def commit(
        self,
        entry: Entry,
        items: list[bytes],
        counts: dict[str, int],
        quality: dict[str, int] | None = None,
    ) -> int | None:
        """Acknowledge and delete ``entry`` while appending ``items`` to the outbox, adding
        ``counts`` to the counters and ``quality`` to the match-quality counters
        (:mod:`worker.store.quality`), atomically. Returns the outbox's new length, or None
        when the entry was already committed by a worker that took it over."""
        pairs = [(f, int(n)) for f, n in counts.items() if n]
        args: list[Any] = [entry.id, keys.INTAKE_GROUP, entry.counted, len(items), *items]
        args.append(len(pairs))
        for pair in (*pairs, *((f, int(n)) for f, n in (quality or {}).items() if n)):
            args.extend(pair)
        depth = int(
            self._commit(
                keys=[
                    self.k_intake,
                    keys.outbox(self.destination),
                    keys.stats(self.destination),
                    self.k_backlog,
                    keys.quality(self.destination),
                ],
                args=args,
            )
        )
        return None if depth < 0 else depth

    # -- inspecting ------------------------------------------------------------------------
    def has_work(self, min_idle_s: float) -> bool:
        """Entries not yet handed out, or pending longer than a lease (their worker died)."""
        if not self.r.exists(self.k_intake):
            return False
        try:
            groups: Any = self.r.xinfo_groups(self.k_intake)
        except redis.ResponseError:
            groups = []
        group = next((g for g in groups if _text(g.get("name")) == keys.INTAKE_GROUP), None)
        if group is None:
            return bool(self.r.xlen(self.k_intake))
        if int(self.r.xlen(self.k_intake)) > int(group.get("pending") or 0):
            return True
        if not group.get("pending"):
            return False
        stale: Any = self.r.xpending_range(
            self.k_intake, keys.INTAKE_GROUP, "-", "+", 1, idle=int(min_idle_s * 1000)
        )
        return bool(stale)

    def oldest_since(self) -> float | None:
        """Unix seconds of the oldest entry (pending or not; an entry id is its append time)."""
        first: Any = self.r.xrange(self.k_intake, count=1)
        return int(_text(first[0][0]).split("-", 1)[0]) / 1000 if first else None

    def entries(self) -> int:
        """Entries in the stream (pending ones included)."""
        return int(self.r.xlen(self.k_intake))

    def pending(self) -> int:
        """Entries claimed by a worker and not yet committed."""
        try:
            summary: Any = self.r.xpending(self.k_intake, keys.INTAKE_GROUP)
        except redis.ResponseError:
            return 0
        return int(summary.get("pending") or 0)


def backlog(client: redis.Redis | Any, destination: str) -> int:
    """Events of ``destination`` not yet delivered or finished: intake + outbox + batches."""
    pipe = client.pipeline(transaction=False)
    pipe.hmget(keys.backlog(destination), "intake", "batched")
    pipe.llen(keys.outbox(destination))
    (intake, batched), outbox = pipe.execute()
    return max(0, int(intake or 0)) + max(0, int(batched or 0)) + int(outbox)


def _entry(entry_id: Any, fields: dict[Any, Any], deliveries: int) -> Entry:
    chunk = fields.get(b"e", fields.get("e"))
    counted = fields.get(b"c", fields.get("c"))
    try:
        n = int(counted) if counted is not None else 0
    except ValueError:
        n = 0
    return Entry(
        id=_text(entry_id),
        chunk=chunk.encode() if isinstance(chunk, str) else chunk,
        counted=max(0, n),
        deliveries=deliveries,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
