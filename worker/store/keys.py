"""Every Redis key name the product uses, in one place: the code twin of the key table in
``docs/architecture.md``.

All keys start with ``mtt:``. Every key is **single-slot** on a Redis Cluster: a destination's
keys share the hash tag ``{d}`` so that they live on one slot and one Lua script may touch
several of them; the few global keys (``mtt:destinations``, ``mtt:active``,
``mtt:dlq:destinations``, locks, heartbeats) are only ever touched by single-key commands,
never inside a multi-key script or transaction.

==============================  ======  ====================================================
key                             type    holds
==============================  ======  ====================================================
``mtt:{d}:intake``              stream  raw chunks from producers (consumer group ``ingest``)
``mtt:{d}:outbox``              list    transformed events waiting, oldest at the head
``mtt:{d}:batches``             hash    batch id -> batch (header line + one item per line,
                                        or ``@`` + header when its items are in its list)
``mtt:{d}:batch:<id>``          list    a claimed batch's items (:func:`batch_items`)
``mtt:{d}:leases``              zset    batch id -> lease deadline (in flight)
``mtt:{d}:retry``               zset    batch id -> when it may be tried again
``mtt:{d}:recoveries``          hash    batch id -> expired leases (crash-loop breaker)
``mtt:{d}:backlog``             hash    events waiting: ``intake`` (appended, not ingested),
                                        ``batched`` (in leased or scheduled batches)
``mtt:{d}:stats``               hash    counters (:mod:`worker.store.counters`)
``mtt:{d}:quality``             hash    match-quality counters per event name
                                        (:mod:`worker.store.quality`)
``mtt:{d}:paused``              string  why the destination is paused, JSON
``mtt:{d}:armed``               string  a flush is scheduled (coalesces flush requests)
``mtt:{d}:rung``                string  an ingest doorbell is pending (coalesces doorbells)
``mtt:{b}:bucket``              hash    token bucket ``b`` (destination or rate-limit group)
``mtt:{d}:dlq``                 stream  the destination's dead-letter entries
``mtt:{d}:dlq:counts``          hash    its entries by destination|category|reason
``mtt:destinations``            set     destination ids seen (:mod:`worker.store.registry`)
``mtt:active``                  set     destinations that may have work (beat's worklist)
``mtt:dlq:destinations``        set     destinations that may have dead-letter entries
``mtt:dlq``                     stream  legacy (before issue 12) global dead-letter stream:
                                        read, replayed and purged, never written
``mtt:dlq:counts``              hash    the legacy stream's counts
``mtt:lock:<job>``              string  once-per-period lock of a beat job
``mtt:heartbeat:<host>``        string  worker heartbeat (TTL)
==============================  ======  ====================================================
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTIVE",
    "DESTINATIONS",
    "DLQ_DESTINATIONS",
    "HEARTBEAT_PREFIX",
    "INTAKE_GROUP",
    "LEGACY_DLQ",
    "LEGACY_DLQ_COUNTS",
    "armed",
    "backlog",
    "batches",
    "bucket",
    "dest_key",
    "dlq",
    "dlq_counts",
    "heartbeat",
    "intake",
    "leases",
    "lock",
    "outbox",
    "paused",
    "quality",
    "recoveries",
    "retry",
    "rung",
    "stats",
]

PREFIX: Final = "mtt"
#: the global dead-letter stream of versions before issue 12 (cross-slot: never written now)
LEGACY_DLQ: Final = "mtt:dlq"
#: its counts: "destination|category|reason" -> entries
LEGACY_DLQ_COUNTS: Final = "mtt:dlq:counts"
#: every destination seen (single-key commands only)
DESTINATIONS: Final = "mtt:destinations"
#: destinations that may have work: beat's worklist (single-key commands only)
ACTIVE: Final = "mtt:active"
#: destinations that may have dead-letter entries (single-key commands only)
DLQ_DESTINATIONS: Final = "mtt:dlq:destinations"
#: a plain write that tells whether Redis takes writes (past maxmemory it does not)
WRITABLE_PROBE: Final = "mtt:writable-probe"
HEARTBEAT_PREFIX: Final = "mtt:heartbeat:"
#: the consumer group every ingest worker reads intake streams through
INTAKE_GROUP: Final = "ingest"


def dest_key(destination: str, name: str) -> str:
    """``mtt:{destination}:name``; the braces are the Redis Cluster hash tag."""
    return f"mtt:{{{destination}}}:{name}"


def intake(destination: str) -> str:
    return dest_key(destination, "intake")


def outbox(destination: str) -> str:
    return dest_key(destination, "outbox")


def batches(destination: str) -> str:
    return dest_key(destination, "batches")


def batch_items(destination: str, batch_id: str) -> str:
    """The items of a batch claimed from the outbox, copied there inside Redis (no Lua string
    per item): ``mtt:{d}:batch:<id>``, deleted when the batch is finished or rescheduled."""
    return dest_key(destination, f"batch:{batch_id}")


def leases(destination: str) -> str:
    return dest_key(destination, "leases")


def retry(destination: str) -> str:
    return dest_key(destination, "retry")


def recoveries(destination: str) -> str:
    return dest_key(destination, "recoveries")


def backlog(destination: str) -> str:
    return dest_key(destination, "backlog")


def stats(destination: str) -> str:
    return dest_key(destination, "stats")


def quality(destination: str) -> str:
    return dest_key(destination, "quality")


def paused(destination: str) -> str:
    return dest_key(destination, "paused")


def armed(destination: str) -> str:
    return dest_key(destination, "armed")


def rung(destination: str) -> str:
    return dest_key(destination, "rung")


def dlq(destination: str) -> str:
    """The destination's dead-letter stream."""
    return dest_key(destination, "dlq")


def dlq_counts(destination: str) -> str:
    """Its counts: "destination|category|reason" -> entries (kept by the DLQ's scripts)."""
    return dest_key(destination, "dlq:counts")


def bucket(name: str) -> str:
    """A token bucket: a destination id or a ``rate_limit_group`` name."""
    return dest_key(name, "bucket")


def lock(job: str) -> str:
    return f"mtt:lock:{job}"


def heartbeat(host: str) -> str:
    return f"{HEARTBEAT_PREFIX}{host}"
