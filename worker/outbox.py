"""Per-destination outbox, leased batches and the retry schedule, in Redis.

Keys of one destination share the hash tag ``{dest}`` so they could live on Redis Cluster:

==========================  ======  ==================================================
key                         type    holds
==========================  ======  ==================================================
``mtt:{d}:outbox``          list    transformed events waiting, oldest at the head
``mtt:{d}:batches``         hash    batch id -> batch JSON (items, attempts, failures)
``mtt:{d}:leases``          zset    batch id -> lease deadline (in flight)
``mtt:{d}:retry``           zset    batch id -> when it may be tried again
``mtt:{d}:recoveries``      hash    batch id -> expired leases (crash-loop breaker)
``mtt:{d}:stats``           hash    counters (see :mod:`worker.counters`)
``mtt:{d}:paused``          string  why the destination is paused (auth), JSON
==========================  ======  ==================================================

A batch is always in exactly one of *leases* or *retry* while it exists in *batches*; moving
it is done by Lua so no crash between two commands can lose or duplicate it. A worker killed
mid-request leaves its batch leased; :meth:`Outbox.recover` puts expired leases back on the
retry schedule, due now. The duplicates this may cause are harmless: ``event_id`` is stable and
TikTok deduplicates pixel + event + event_id within 48 h.

Items and batches are stored in the byte formats of :class:`Item` and :class:`Batch`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis

__all__ = ["Batch", "Item", "Outbox", "key"]


def key(destination: str, name: str) -> str:
    return f"mtt:{{{destination}}}:{name}"


DESTINATIONS_KEY = "mtt:destinations"

# KEYS[1] outbox, KEYS[2] batches, KEYS[3] leases
# ARGV[1] max items, ARGV[2] batch id, ARGV[3] lease deadline, ARGV[4] now
# Pops up to ARGV[1] items from the head of the outbox into a new leased batch.
# Returns the popped items (possibly none).
_CLAIM_NEW = """
local items = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not items then return {} end
local batch = '{"attempts":0,"first_failure":null,"last_error":null,"created":' .. ARGV[4] ..
  '}\\n' .. table.concat(items, '\\n')
redis.call('HSET', KEYS[2], ARGV[2], batch)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return items
"""

# KEYS[1] retry, KEYS[2] leases, KEYS[3] batches
# ARGV[1] batch id, ARGV[2] lease deadline
# Moves one scheduled batch into a lease if nobody else took it. Returns its JSON or false.
_CLAIM_RETRY = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local batch = redis.call('HGET', KEYS[3], ARGV[1])
if not batch then return false end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return batch
"""

# KEYS[1] batches, KEYS[2] leases, KEYS[3] retry, KEYS[4] recoveries
# ARGV[1] batch id. Forgets a finished batch wherever it is. Returns 1 if it existed.
_FORGET = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""

# KEYS[1] batches, KEYS[2] leases, KEYS[3] retry, KEYS[4] recoveries
# ARGV[1] old batch id (or ''), then triples (new id, new JSON, due).
# Replaces a batch by zero or more scheduled batches (retry, bisection). Does nothing and
# returns 0 when the old batch no longer exists (someone else finished it).
_RESCHEDULE = """
if ARGV[1] ~= '' then
  if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
end
for i = 2, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[3], ARGV[i + 2], ARGV[i])
end
return 1
"""

# KEYS[1] leases, KEYS[2] retry; ARGV[1] batch id, ARGV[2] now. A lease given back early.
_RELEASE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS[1] leases, KEYS[2] retry, KEYS[3] recoveries; ARGV[1] now.
# Expired leases become due retries; each batch's recoveries are counted (crash-loop breaker).
_RECOVER = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZADD', KEYS[2], ARGV[1], id)
  redis.call('HINCRBY', KEYS[3], id, 1)
end
return #expired
"""


@dataclass(slots=True)
class Item:
    """One transformed event waiting in the outbox, kept as the JSON TikTok will receive.

    Stored as ``b"<enqueued_at> <event_time> <n> <name as JSON, n bytes> <event JSON>"``: the
    flush splices the event's bytes into the request body and reads the age and the name from
    the header, so the common path never decodes or re-encodes an event. No part contains a
    raw newline (JSON escapes them), which lets a batch store items one per line.
    """

    raw: bytes
    enqueued_at: float
    event_time: int
    name: str
    _event: dict[str, Any] | None = None

    @classmethod
    def of(cls, event: dict[str, Any], enqueued_at: float) -> Item:
        t = event.get("event_time")
        return cls(
            raw=orjson.dumps(event),
            enqueued_at=enqueued_at,
            event_time=t if isinstance(t, int) and not isinstance(t, bool) else 0,
            name=str(event.get("event", "")),
            _event=event,
        )

    @property
    def event(self) -> dict[str, Any]:
        """The decoded event (failure paths only: dead letters, poison isolation)."""
        if self._event is None:
            self._event = orjson.loads(self.raw)
        return self._event

    def dumps(self) -> bytes:
        name = orjson.dumps(self.name)
        head = b"%r %d %d " % (self.enqueued_at, self.event_time, len(name))
        return head + name + b" " + self.raw

    @classmethod
    def loads(cls, data: bytes) -> Item:
        q, t, n, rest = data.split(b" ", 3)
        size = int(n)
        return cls(
            raw=rest[size + 1 :],
            enqueued_at=float(q),
            event_time=int(t),
            name=orjson.loads(rest[:size]),
        )


@dataclass(slots=True)
class Batch:
    """A claimed group of events, with its delivery history.

    Stored as one line of JSON (attempts, failures, creation) followed by one item per line.
    """

    id: str
    items: list[Item]
    attempts: int = 0
    first_failure: float | None = None
    last_error: dict[str, Any] | None = None
    created: float = 0.0

    @property
    def events(self) -> list[dict[str, Any]]:
        return [item.event for item in self.items]

    def dumps(self) -> bytes:
        head = orjson.dumps(
            {
                "attempts": self.attempts,
                "first_failure": self.first_failure,
                "last_error": self.last_error,
                "created": self.created,
            }
        )
        return b"\n".join([head, *(i.dumps() for i in self.items)])

    @classmethod
    def loads(cls, batch_id: str, raw: bytes | str) -> Batch:
        data = raw.encode() if isinstance(raw, str) else raw
        head, *lines = data.split(b"\n")
        meta = orjson.loads(head)
        return cls(
            id=batch_id,
            items=[Item.loads(line) for line in lines if line],
            attempts=int(meta.get("attempts") or 0),
            first_failure=meta.get("first_failure"),
            last_error=meta.get("last_error"),
            created=float(meta.get("created") or 0.0),
        )


def new_batch_id() -> str:
    return uuid.uuid4().hex


class Outbox:
    """One destination's queue of transformed events and its batches."""

    def __init__(self, client: redis.Redis, destination: str) -> None:
        self.r = client
        self.destination = destination
        self.k_outbox = key(destination, "outbox")
        self.k_batches = key(destination, "batches")
        self.k_leases = key(destination, "leases")
        self.k_retry = key(destination, "retry")
        self.k_recoveries = key(destination, "recoveries")
        self._claim_new = client.register_script(_CLAIM_NEW)
        self._claim_retry = client.register_script(_CLAIM_RETRY)
        self._forget = client.register_script(_FORGET)
        self._reschedule = client.register_script(_RESCHEDULE)
        self._recover = client.register_script(_RECOVER)
        self._release = client.register_script(_RELEASE)

    # -- producing -------------------------------------------------------------------------
    def append(self, items: Sequence[Item], pipe: redis.client.Pipeline | None = None) -> None:
        if not items:
            return
        target = pipe if pipe is not None else self.r
        target.rpush(self.k_outbox, *[i.dumps() for i in items])
        target.sadd(DESTINATIONS_KEY, self.destination)

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

    def load(self, batch_id: str) -> Batch | None:
        raw = self.r.hget(self.k_batches, batch_id)
        return Batch.loads(batch_id, raw) if raw is not None else None

    def counts(self) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        pipe.llen(self.k_outbox)
        pipe.zcard(self.k_leases)
        pipe.zcard(self.k_retry)
        depth, leased, scheduled = pipe.execute()
        return {"outbox": int(depth), "in_flight": int(leased), "scheduled_retries": int(scheduled)}

    def scheduled_events(self) -> int:
        """Events inside batches (leased or scheduled); reads every batch, for status only."""
        total = 0
        for raw in self.r.hvals(self.k_batches):
            total += _bytes(raw).count(b"\n")
        return total

    # -- claiming --------------------------------------------------------------------------
    def claim_new(self, max_items: int, lease_s: float, now: float) -> Batch | None:
        batch_id = new_batch_id()
        raw_items = self._claim_new(
            keys=[self.k_outbox, self.k_batches, self.k_leases],
            args=[max_items, batch_id, now + lease_s, repr(now)],
        )
        if not raw_items:
            return None
        items = [Item.loads(x) for x in raw_items]
        return Batch(id=batch_id, items=items, created=now)

    def claim_retry(self, batch_id: str, lease_s: float, now: float) -> Batch | None:
        raw = self._claim_retry(
            keys=[self.k_retry, self.k_leases, self.k_batches], args=[batch_id, now + lease_s]
        )
        return Batch.loads(batch_id, raw) if raw else None

    # -- finishing -------------------------------------------------------------------------
    def forget(self, batch_id: str) -> bool:
        return bool(
            self._forget(
                keys=[self.k_batches, self.k_leases, self.k_retry, self.k_recoveries],
                args=[batch_id],
            )
        )

    def reschedule(self, old_id: str | None, batches: Sequence[tuple[Batch, float]]) -> bool:
        """Replace ``old_id`` by ``batches`` (each due at its time); atomic."""
        args: list[Any] = [old_id or ""]
        for batch, due in batches:
            args.extend([batch.id, batch.dumps(), due])
        return bool(
            self._reschedule(
                keys=[self.k_batches, self.k_leases, self.k_retry, self.k_recoveries], args=args
            )
        )

    def release(self, batch_id: str, now: float) -> bool:
        """Give a leased batch back (shutdown): it becomes a retry due now, attempts unchanged."""
        return bool(self._release(keys=[self.k_leases, self.k_retry], args=[batch_id, now]))

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
            with self.r.pipeline() as pipe:
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

    def batch_ids(self) -> list[str]:
        return [_text(b) for b in self.r.hkeys(self.k_batches)]


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _text(value: bytes | str | Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
