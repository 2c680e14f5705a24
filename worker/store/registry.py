"""Which destinations exist, which may have work, which may have dead letters: three sets that
work on a Redis Cluster because each is touched only by its own single-key commands (never in
a multi-key script or transaction).

* ``mtt:destinations`` - every destination seen (``status``, ``quality``, the CLI's check of
  ``--destination``, beat's fallback scan). Only ever added to.
* ``mtt:active`` - destinations that may have work: anything in their intake, outbox, leases
  or retry schedule. Beat's jobs walk this set, so a tick costs Redis work in proportion to
  the destinations with work, not to the configured ones (issue 12).
* ``mtt:dlq:destinations`` - destinations that may have dead-letter entries (the DLQ's read
  model, beat's expiry and replay of dead letters).

The invariant, "a destination with work is in ``mtt:active``", holds because:

1. **Adding comes after the write it announces.** A producer adds the destination after its
   chunk is in the intake and before ``enqueue`` returns (on one Redis in the same pipeline,
   which one connection executes in order; on a cluster in a second round trip, since a
   cluster pipeline's commands to different nodes have no order). Everything else that creates
   work for ``d`` moves it from ``d``'s own keys by one script (intake -> outbox -> batches)
   or appends to the outbox (replay), which adds ``d`` too.
2. **Removing is verified.** Beat removes ``d`` only after seeing its keys empty, then looks
   again and adds it back if work appeared (:func:`retire_if_idle`): a producer whose append
   landed before the second look is seen by it; one whose append landed after it also adds
   ``d`` after the removal.
3. **A fallback.** A failed or skipped add (Redis gone between the append and the add; on a
   cluster, :func:`announce` skips adding for a while after a failure; an older version's
   producer) is caught by beat's full scan of configured and registered destinations, every
   ``MASIVO_TIKTOK_EXPIRE`` seconds (default 300): the same jobs, over every destination.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any, cast

import redis
from redis.exceptions import RedisClusterException

from worker.store import keys
from worker.store.connection import is_cluster, is_pipeline

__all__ = [
    "active",
    "announce",
    "dlq_destinations",
    "has_work",
    "known",
    "mark_active",
    "mark_dlq",
    "register",
    "retire_dlq_if_empty",
    "retire_if_idle",
]

log = logging.getLogger(__name__)


def register(client: Any, destination: str) -> None:
    """Add ``destination`` to the registry and to the active set (idempotent). Given a
    pipeline, the two commands join it; given a client, they run now (one round trip)."""
    if is_pipeline(client):
        client.sadd(keys.DESTINATIONS, destination)
        client.sadd(keys.ACTIVE, destination)
        return
    pipe = client.pipeline(transaction=False)
    pipe.sadd(keys.DESTINATIONS, destination)
    pipe.sadd(keys.ACTIVE, destination)
    pipe.execute()


#: after an announcement timed out, this process skips announcing on that client for this long
#: (s): an unreachable registry master (a vanished host sends no reset) costs a socket timeout
#: per attempt, which every producer of every master would otherwise pay on every chunk
ANNOUNCE_BACKOFF_S = 10.0
_announce_skip_until: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def announce(client: redis.Redis, destination: str) -> bool:
    """:func:`register` now, best effort, after a write already made durable (a producer's
    chunk, a replay's events); False (logged) if Redis refused. On a cluster the two sets live
    on one master: while it is down, producers of every other master's destinations must go
    on, and their events are safe in their intake whatever the registry says. The doorbell
    still rings; beat's full scan, which also walks the configured destinations, finds them.
    So on a cluster each set gets one attempt (no retries), and after a timeout announcing is
    skipped for :data:`ANNOUNCE_BACKOFF_S` (the same fallback covers what was skipped)."""
    pool = _pool(client)  # the connections behind the client (a cluster's: its nodes manager)
    if time.monotonic() < _announce_skip_until.get(pool, 0.0):
        return False
    try:
        if is_cluster(client):
            cluster = cast(Any, client)
            for key in (keys.DESTINATIONS, keys.ACTIVE):  # target_nodes: redis-py's no-retry path
                node = cluster.get_node_from_key(key)
                if node is None:
                    raise redis.ConnectionError("no node serves the registry's slot")
                cluster.execute_command("SADD", key, destination, target_nodes=node)
        else:
            register(client, destination)
    except (redis.RedisError, RedisClusterException) as exc:
        if isinstance(exc, redis.TimeoutError):  # a refusal fails fast: no need to skip
            _announce_skip_until[pool] = time.monotonic() + ANNOUNCE_BACKOFF_S
        log.warning(
            "destination not registered as active (%s); beat's full scan finds it",
            type(exc).__name__,
            extra={"destination": destination},
        )
        return False
    _announce_skip_until.pop(pool, None)
    return True


def _pool(client: Any) -> Any:
    return client.nodes_manager if is_cluster(client) else client.connection_pool


def mark_active(client: Any, destination: str) -> None:
    """Add ``destination`` to the active set (joins a pipeline if given one)."""
    client.sadd(keys.ACTIVE, destination)


def mark_dlq(client: redis.Redis, destination: str) -> None:
    client.sadd(keys.DLQ_DESTINATIONS, destination)


def known(client: redis.Redis) -> list[str]:
    return _members(client, keys.DESTINATIONS)


def active(client: redis.Redis) -> list[str]:
    return _members(client, keys.ACTIVE)


def dlq_destinations(client: redis.Redis) -> list[str]:
    return _members(client, keys.DLQ_DESTINATIONS)


def has_work(client: redis.Redis, destination: str) -> bool:
    """Anything in the intake (new or pending entries), outbox, leases or retry schedule:
    one round trip to the destination's slot. (A batch is always in leases or retry.)"""
    pipe = client.pipeline(transaction=False)
    pipe.xlen(keys.intake(destination))
    pipe.llen(keys.outbox(destination))
    pipe.zcard(keys.leases(destination))
    pipe.zcard(keys.retry(destination))
    return any(int(n) for n in pipe.execute())


def retire_if_idle(client: redis.Redis, destination: str) -> bool:
    """Remove ``destination`` from the active set if it has no work; True if removed.

    Remove, then look again: work that appeared meanwhile puts it back (see the module)."""
    if has_work(client, destination):
        return False
    client.srem(keys.ACTIVE, destination)
    if has_work(client, destination):
        client.sadd(keys.ACTIVE, destination)
        return False
    return True


def retire_dlq_if_empty(client: redis.Redis, destination: str) -> bool:
    """Remove ``destination`` from the dead-letter index if its stream is empty (same
    remove-then-look-again rule; the DLQ adds the destination after each append)."""
    if client.xlen(keys.dlq(destination)):
        return False
    client.srem(keys.DLQ_DESTINATIONS, destination)
    if client.xlen(keys.dlq(destination)):
        client.sadd(keys.DLQ_DESTINATIONS, destination)
        return False
    return True


def _members(client: redis.Redis, key: str) -> list[str]:
    found: Any = client.smembers(key)
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in found)
