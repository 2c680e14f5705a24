"""Per-destination outbox, leased batches and the retry schedule, in Redis.

Keys (names in :mod:`worker.store.keys`): ``outbox`` (list of transformed events, oldest at
the head), ``batches`` (hash: batch id -> batch), ``leases`` (zset: batch id -> lease
deadline), ``retry`` (zset: batch id -> due time), ``recoveries`` (hash: batch id -> expired
leases, the crash-loop breaker).

A batch is always in exactly one of *leases* or *retry* while it exists in *batches*; every
move is one Lua script (``lua/outbox_*.lua``), so no crash between two commands can lose or
duplicate it. A worker killed mid-request leaves its batch leased; :meth:`Outbox.recover` puts
expired leases back on the retry schedule, due now. The duplicates this may cause are
harmless: ``event_id`` is stable and TikTok deduplicates pixel + event + event_id within 48 h.

Items and batches are stored in the byte formats of :class:`Item` and :class:`Batch`, written
by Python only (the claim script receives the batch header from :meth:`Batch.header`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from worker.store import keys, registry
from worker.store.items import Item, encode_items
from worker.store.lua import Script

__all__ = ["Batch", "Item", "Outbox", "batch_id_time", "encode_items", "new_batch_id"]


@dataclass(slots=True)
class Batch:
    """A claimed group of events, with its delivery history.

    Stored as one line of JSON (attempts, failures, creation) followed by one item per line;
    a batch claimed from the outbox is stored as ``@`` + that line, its items in its own list
    (:func:`worker.store.keys.batch_items`), where the claim script copied them inside Redis.
    (A worker of a version before this format fails to decode such a batch and leaves it be:
    it is recovered and retried by a current worker, never taken for empty.)
    """

    id: str
    items: list[Item]
    attempts: int = 0
    first_failure: float | None = None
    last_error: dict[str, Any] | None = None
    created: float = 0.0
    #: how many items the batch holds *in Redis* (items may be filtered in memory before it
    #: is finished): what finishing it subtracts from the backlog, without re-reading it
    stored: int = 0

    def __post_init__(self) -> None:
        if not self.stored:
            self.stored = len(self.items)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [item.event for item in self.items]

    @staticmethod
    def header(
        attempts: int = 0,
        first_failure: float | None = None,
        last_error: dict[str, Any] | None = None,
        created: float = 0.0,
    ) -> bytes:
        """The batch's first line: its delivery history, as JSON."""
        return orjson.dumps(
            {
                "attempts": attempts,
                "first_failure": first_failure,
                "last_error": last_error,
                "created": created,
            }
        )

    def dumps(self) -> bytes:
        head = self.header(self.attempts, self.first_failure, self.last_error, self.created)
        return b"\n".join([head, *(i.dumps() for i in self.items)])

    @classmethod
    def loads(cls, batch_id: str, raw: bytes | str, listed: Sequence[bytes] = ()) -> Batch:
        """A batch from its stored value and, for one stored as ``@`` + header, its list."""
        data = raw.encode() if isinstance(raw, str) else raw
        if data[:1] == LISTED:
            head, lines = data[1:], list(listed)
        else:
            head, *lines = data.split(b"\n")
        meta = orjson.loads(head)
        return cls(
            id=batch_id,
            items=Item.loads_many(lines),
            attempts=int(meta.get("attempts") or 0),
            first_failure=meta.get("first_failure"),
            last_error=meta.get("last_error"),
            created=float(meta.get("created") or 0.0),
        )


#: marks a stored batch whose items are in its own list (:meth:`Batch.loads`)
LISTED = b"@"


def new_batch_id(since: float) -> str:
    """A unique batch id that starts with ``since`` (unix ms, 13 digits): when its oldest event
    started waiting (or, for a new claim, the claim). Ids sort by age, and the age of the
    oldest waiting batch is read from ``HKEYS`` alone, without loading a batch."""
    return f"{int(since * 1000):013d}-{uuid.uuid4().hex[:16]}"


def batch_id_time(batch_id: str) -> float | None:
    """The unix seconds a batch id starts with; None for ids without one (older versions)."""
    head = batch_id.split("-", 1)[0]
    return int(head) / 1000 if len(head) == 13 and head.isdigit() else None


class Outbox:
    """One destination's queue of transformed events and its batches."""

    def __init__(self, client: redis.Redis, destination: str) -> None:
        self.r = client
        self.destination = destination
        self.k_outbox = keys.outbox(destination)
        self.k_batches = keys.batches(destination)
        self.k_leases = keys.leases(destination)
        self.k_retry = keys.retry(destination)
        self.k_recoveries = keys.recoveries(destination)
        self.k_backlog = keys.backlog(destination)
        self._claim_new = Script(client, "outbox_claim_new", allow_oom=True)
        self._claim_retry = Script(client, "outbox_claim_retry", allow_oom=True)
        self._forget = Script(client, "outbox_forget", allow_oom=True)
        self._reschedule = Script(client, "outbox_reschedule", allow_oom=True)
        self._recover = Script(client, "outbox_recover", allow_oom=True)
        self._release = Script(client, "outbox_release", allow_oom=True)
        self._release_retries = Script(client, "outbox_release_retries", allow_oom=True)

    # -- producing -------------------------------------------------------------------------
    def append(self, items: Sequence[Item], pipe: redis.client.Pipeline | None = None) -> None:
        if not items:
            return
        target = pipe if pipe is not None else self.r
        target.rpush(self.k_outbox, *[i.dumps() for i in items])
        if pipe is not None:  # after the push (worker.store.registry)
            registry.register(pipe, self.destination)
        else:
            registry.announce(self.r, self.destination)

    # -- inspecting ------------------------------------------------------------------------
    def depth(self) -> int:
        return int(self.r.llen(self.k_outbox))

    def oldest_enqueued_at(self) -> float | None:
        head = self.r.lindex(self.k_outbox, 0)
        if head is None:
            return None
        return float(_bytes(head).split(b" ", 1)[0])

    def next_retry(self) -> tuple[str, float] | None:
        found: list[Any] = self.r.zrange(self.k_retry, 0, 0, withscores=True)
        if not found:
            return None
        member, score = found[0]
        return _text(member), float(score)

    def due_at(self, batch_id: str) -> float | None:
        """When a scheduled batch is due; None when it is not on the retry schedule."""
        score = self.r.zscore(self.k_retry, batch_id)
        return float(score) if score is not None else None

    def drop_stale_retry(self, batch_id: str) -> None:
        """Forget a schedule entry whose batch no longer exists (finished elsewhere)."""
        self.r.zrem(self.k_retry, batch_id)

    def load(self, batch_id: str) -> Batch | None:
        pipe = self.r.pipeline(transaction=False)
        pipe.hget(self.k_batches, batch_id)
        pipe.lrange(keys.batch_items(self.destination, batch_id), 0, -1)
        raw, listed = pipe.execute()
        return Batch.loads(batch_id, raw, listed) if raw is not None else None

    def counts(self) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        pipe.llen(self.k_outbox)
        pipe.zcard(self.k_leases)
        pipe.zcard(self.k_retry)
        depth, leased, scheduled = pipe.execute()
        return {"outbox": int(depth), "in_flight": int(leased), "scheduled_retries": int(scheduled)}

    def scheduled_events(self) -> int:
        """Events inside batches (leased or scheduled): the backlog's ``batched`` count, kept
        by the scripts that claim, finish and reschedule batches (no batch is read)."""
        return max(0, int(self.r.hget(self.k_backlog, "batched") or 0))

    # -- claiming --------------------------------------------------------------------------
    def claim_new(self, max_items: int, lease_s: float, now: float) -> Batch | None:
        """Up to ``max_items`` from the outbox's head as a new leased batch: the claim script,
        then a read of the batch's list (nobody else touches a batch while it is leased; two
        round trips, as a cluster pipeline cannot carry a script)."""
        batch_id = new_batch_id(now)
        k_items = keys.batch_items(self.destination, batch_id)
        moved = self._claim_new(
            keys=[self.k_outbox, self.k_batches, self.k_leases, self.k_backlog, k_items],
            args=[max_items, batch_id, now + lease_s, LISTED + Batch.header(created=now)],
        )
        if not moved:
            return None
        listed: Any = self.r.lrange(k_items, 0, -1)
        items = Item.loads_many(listed)
        return Batch(id=batch_id, items=items, created=now)

    def claim_retry(self, batch_id: str, lease_s: float, now: float) -> Batch | None:
        raw = self._claim_retry(
            keys=[self.k_retry, self.k_leases, self.k_batches], args=[batch_id, now + lease_s]
        )
        if not raw:
            return None
        listed: Any = self.r.lrange(keys.batch_items(self.destination, batch_id), 0, -1)
        return Batch.loads(batch_id, raw, listed if raw[:1] == LISTED else ())

    # -- finishing -------------------------------------------------------------------------
    def forget(self, batch: Batch) -> bool:
        """The batch is finished (delivered, dead-lettered, expired): it leaves every index."""
        return bool(
            self._forget(
                keys=[
                    self.k_batches,
                    self.k_leases,
                    self.k_retry,
                    self.k_recoveries,
                    self.k_backlog,
                    keys.batch_items(self.destination, batch.id),
                ],
                args=[batch.id, batch.stored],
            )
        )

    def reschedule(self, old: Batch | None, batches: Sequence[tuple[Batch, float]]) -> bool:
        """Replace ``old`` by ``batches`` (each due at its time); atomic. Each new batch is
        stored as it is now (``stored`` becomes its item count)."""
        args: list[Any] = [old.id if old else "", old.stored if old else 0]
        for batch, due in batches:
            args.extend([batch.id, batch.dumps(), due, len(batch.items)])
            batch.stored = len(batch.items)
        return bool(
            self._reschedule(
                keys=[
                    self.k_batches,
                    self.k_leases,
                    self.k_retry,
                    self.k_recoveries,
                    self.k_backlog,
                    keys.batch_items(self.destination, old.id if old else ""),
                ],
                args=args,
            )
        )

    def release(self, batch_id: str, now: float) -> bool:
        """Give a leased batch back (shutdown): it becomes a retry due now, attempts unchanged."""
        return bool(self._release(keys=[self.k_leases, self.k_retry], args=[batch_id, now]))

    def release_retries(self, sent_at: float, limit: int = 1000) -> int:
        """A request sent at ``sent_at`` succeeded: batches that wait only because TikTok (or
        the way to it) was down become due at ``sent_at``; how many. One atomic script; which
        batches stay on their schedule, and why: ``lua/outbox_release_retries.lua``."""
        return int(
            self._release_retries(keys=[self.k_retry, self.k_batches], args=[sent_at, limit])
        )

    def recover(self, now: float) -> int:
        """Expired leases (their worker died or hung) become retries due now."""
        return int(self._recover(keys=[self.k_leases, self.k_retry, self.k_recoveries], args=[now]))

    def recoveries(self, batch_id: str) -> int:
        """How often this batch's lease expired: its worker died or hung while sending it."""
        return int(self.r.hget(self.k_recoveries, batch_id) or 0)

    def drop_expired_head(self, is_expired: Any, limit: int = 10_000) -> list[Item]:
        """Pop items from the head while ``is_expired(item)``; for the beat expiry job.

        The head is checked with a WATCH/MULTI so a concurrent claim never loses an item.
        """
        dropped: list[Item] = []
        while len(dropped) < limit:
            # transaction=True: a cluster pipeline watches only in its transactional mode
            with self.r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self.k_outbox)  # type: ignore[no-untyped-call]
                    head = pipe.lindex(self.k_outbox, 0)
                    if head is None:
                        break
                    item = Item.loads(_bytes(head))
                    if not is_expired(item):
                        break
                    pipe.multi()
                    pipe.lpop(self.k_outbox)
                    pipe.execute()
                    dropped.append(item)
                except redis.WatchError:
                    continue
        return dropped

    def oldest_waiting_since(self) -> float | None:
        """Unix seconds since which the oldest event of this outbox has waited: the outbox's
        head, or the oldest leased or scheduled batch (from its id); None when empty."""
        times = [batch_id_time(b) for b in self.batch_ids()]
        found = [t for t in (*times, self.oldest_enqueued_at()) if t is not None]
        return min(found) if found else None

    def batch_ids(self) -> list[str]:
        return [_text(b) for b in self.r.hkeys(self.k_batches)]


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _text(value: bytes | str | Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
