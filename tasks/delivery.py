"""Ingest and delivery tasks: doorbells. Their arguments are destination names only.

An event never travels in a Celery message: it lives in the destination's intake stream, its
outbox or a batch (``worker.store``), moved by atomic scripts. So a doorbell lost with a Redis
crash, doubled by a redelivery or dropped as malformed costs nothing: beat rings again for
every destination with work. Redis trouble is therefore logged, not retried through the broker
(a retry republishes through the same broken Redis, and Celery turns a failed republish into
a dropped message).

A task takes several units (intake entries, full batches) while more are ready, for up to
:data:`MORE_FOR_S`: a task per unit cost ~4 µs per event in the pool's processes. Each
unit is exactly what one task did before (its claim, lease, memory check, doorbell or flush
armed for the next unit), except that the doorbell flag is cleared (the flush disarmed) only
before the first: the doorbell rung (flush armed) for the next unit stays pending, so at most
one waits while a task works and nothing is stranded when it stops (that one takes over).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery.exceptions import Reject

from worker import flush as flushing
from worker import ingest as ingesting
from worker.celery_app import TASK_LIMITS, TASK_NAMES, app, get_runtime
from worker.jobs import probe_auth as _probe_auth
from worker.runtime import Runtime

__all__ = ["flush", "ingest", "probe_auth"]

log = logging.getLogger(__name__)

#: a task goes on to the next ready unit while it has run less than this (and less than a
#: tenth of its soft time limit and of a lease): fewer tasks per event, each still short
MORE_FOR_S = 0.3

#: ingest outcomes that committed an entry: the task may go on to the next one
_COMMITTED = ("ingested", "dead")


def _until(task: str, lease_s: float) -> float:
    """The monotonic time after which a ``task`` (a :data:`TASK_LIMITS` key) takes no more."""
    budget = min(MORE_FOR_S, TASK_LIMITS[task]["soft_time_limit"] / 10, lease_s / 10)
    return time.monotonic() + budget


@app.task(name=TASK_NAMES["ingest"], ignore_result=True, **TASK_LIMITS["ingest"])
def ingest(destination: str, events: Any = None) -> dict[str, Any]:
    """Ingest intake entries of ``destination`` while they wait, for up to :data:`MORE_FOR_S`
    (each rings again for the next, so another worker may take it meanwhile).

    ``events`` is the legacy message format (events inside the message): they are appended to
    the intake first, and from then on are as safe as any other; until then they live only in
    the broker's list, with kombu's weaker guarantees (README, "Producers in other languages").
    """
    d = str(destination)
    rt = get_runtime()
    if events is not None:
        _keep_legacy_events(rt, d, events)
    try:
        until = _until("ingest", rt.settings.lease_s)
        rt.unring(d)
        report = last = ingesting.ingest_next(rt, d)
        while last.action in _COMMITTED and time.monotonic() < until and _roomy(rt, d):
            last = ingesting.ingest_next(rt, d)
            report.add(last)
    except redis.RedisError as exc:
        log.warning(
            "ingest: Redis unavailable (%s); the intake keeps the events, beat rings again",
            type(exc).__name__,
            extra={"destination": d},
        )
        return {"destination": d, "action": "redis_unavailable"}
    return {
        "destination": d,
        "action": report.action,
        **report.as_dict(),
        "entries": report.entries,
    }


def _roomy(rt: Runtime, destination: str) -> bool:
    """Whether ``destination``'s Redis is below the producers' share of maxmemory (or has no
    limit). Past it, one entry per task as before: the memory rule's reading is up to 0.5 s
    old, and entries taken back to back within it (their commits may exceed maxmemory)
    overshot the limit in tests/system/test_reliability.py's full-Redis scenario."""
    share = rt.settings.intake_memory_share
    return share >= 1 or not rt.memory.above(share, destination)


def _keep_legacy_events(rt: Any, destination: str, events: Any) -> None:
    """Append a legacy message's events to the intake. If Redis refuses, the message is
    rejected back to the broker (it stays in kombu's unacked set if even that fails, and is
    redelivered after the visibility timeout) instead of being acknowledged and lost."""
    chunk = ingesting.decode_chunk(events)
    try:
        rt.intake(destination).append(ingesting.encode_chunk(chunk), len(chunk))
    except redis.RedisError as exc:
        log.warning(
            "ingest: could not keep a legacy message's %d events (%s); message requeued",
            len(chunk),
            type(exc).__name__,
            extra={"destination": destination},
        )
        raise Reject(f"Redis unavailable ({type(exc).__name__})", requeue=True) from None


@app.task(name=TASK_NAMES["flush"], ignore_result=True, **TASK_LIMITS["flush"])
def flush(destination: str) -> dict[str, Any]:
    """Deliver batches of ``destination`` while full ones are ready and granted, for up to
    :data:`MORE_FOR_S`; a flush is armed whenever work remains (``worker.flush``)."""
    d = str(destination)
    rt = get_runtime()
    try:
        until = _until("flush", rt.settings.lease_s)
        report = last = flushing.flush(rt, d)
        events, batches = report.events, 1
        while _full(rt, d, last) and time.monotonic() < until:
            last = flushing.flush(rt, d, more=True)
            events, batches = events + last.events, batches + 1
    except redis.RedisError as exc:
        log.warning(
            "flush: Redis unavailable (%s); batches keep their leases, beat re-arms",
            type(exc).__name__,
            extra={"destination": d},
        )
        return {"destination": d, "action": "redis_unavailable"}
    return {"destination": d, "action": str(report.action), "events": events, "batches": batches}


def _full(rt: Runtime, destination: str, report: flushing.FlushReport) -> bool:
    """Whether ``report`` delivered a full request: then more may be ready right away (a
    partial one was all there was; anything else armed the next flush, or needs none)."""
    if report.action is not flushing.Action.DELIVERED:
        return False
    return report.events >= rt.request_size(rt.settings.destination(destination))


@app.task(name=TASK_NAMES["probe_auth"], ignore_result=True, **TASK_LIMITS["probe_auth"])
def probe_auth() -> dict[str, str]:
    """Try paused destinations' tokens with one real event; resume those that work."""
    return _probe_auth(get_runtime())
