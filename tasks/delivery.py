"""Ingest and delivery tasks: doorbells. Their arguments are destination names only.

An event never travels in a Celery message: it lives in the destination's intake stream, its
outbox or a batch (``worker.store``), moved by atomic scripts. So a doorbell lost with a Redis
crash, doubled by a redelivery or dropped as malformed costs nothing: beat rings again for
every destination with work. Redis trouble is therefore logged, not retried through the broker
(a retry republishes through the same broken Redis, and Celery turns a failed republish into
a dropped message).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery.exceptions import Reject

from worker import flush as flushing
from worker import ingest as ingesting
from worker.celery_app import TASK_LIMITS, TASK_NAMES, app, get_runtime
from worker.jobs import probe_auth as _probe_auth

__all__ = ["flush", "ingest", "probe_auth"]

log = logging.getLogger(__name__)


@app.task(name=TASK_NAMES["ingest"], ignore_result=True, **TASK_LIMITS["ingest"])
def ingest(destination: str, events: Any = None) -> dict[str, Any]:
    """Ingest one intake entry of ``destination`` (and ring again while entries wait).

    ``events`` is the legacy message format (events inside the message): they are appended to
    the intake first, and from then on are as safe as any other; until then they live only in
    the broker's list, with kombu's weaker guarantees (README, "Producers in other languages").
    """
    d = str(destination)
    rt = get_runtime()
    if events is not None:
        _keep_legacy_events(rt, d, events)
    try:
        rt.unring(d)
        report = ingesting.ingest_next(rt, d)
    except redis.RedisError as exc:
        log.warning(
            "ingest: Redis unavailable (%s); the intake keeps the events, beat rings again",
            type(exc).__name__,
            extra={"destination": d},
        )
        return {"destination": d, "action": "redis_unavailable"}
    return {"destination": d, "action": report.action, **report.as_dict()}


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
    """Deliver at most one batch of ``destination``; it re-arms itself while work remains."""
    d = str(destination)
    try:
        report = flushing.flush(get_runtime(), d)
    except redis.RedisError as exc:
        log.warning(
            "flush: Redis unavailable (%s); batches keep their leases, beat re-arms",
            type(exc).__name__,
            extra={"destination": d},
        )
        return {"destination": d, "action": "redis_unavailable"}
    return {"destination": d, "action": str(report.action), "events": report.events}


@app.task(name=TASK_NAMES["probe_auth"], ignore_result=True, **TASK_LIMITS["probe_auth"])
def probe_auth() -> dict[str, str]:
    """Try paused destinations' tokens with one real event; resume those that work."""
    return _probe_auth(get_runtime())
