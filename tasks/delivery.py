"""Ingest and delivery tasks."""

from __future__ import annotations

from typing import Any

import redis

from worker import flush as flushing
from worker import ingest as ingesting
from worker.celery_app import TASK_NAMES, app, get_runtime
from worker.jobs import probe_auth as _probe_auth

__all__ = ["flush", "ingest", "probe_auth"]


#: Redis trouble is infrastructure, not the events' fault: the message is sent again (Celery
#: republishes it with a countdown) instead of being acknowledged as failed and lost.
INFRASTRUCTURE_RETRY: dict[str, Any] = {
    "autoretry_for": (redis.RedisError, ConnectionError),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": None,
}


@app.task(name=TASK_NAMES["ingest"], ignore_result=True, **INFRASTRUCTURE_RETRY)
def ingest(destination: str, events: list[Any] | str) -> dict[str, int]:
    """Transform a chunk of raw Masivo events and queue, count or dead-letter each.

    ``events`` is a list, or one string holding a JSON array (what our producer sends).
    """
    return ingesting.ingest(get_runtime(), str(destination), ingesting.decode_chunk(events))


@app.task(name=TASK_NAMES["flush"], ignore_result=True, **INFRASTRUCTURE_RETRY)
def flush(destination: str) -> str:
    """Deliver at most one batch of ``destination``; it re-arms itself while work remains."""
    return flushing.flush(get_runtime(), destination).action


@app.task(name=TASK_NAMES["probe_auth"], ignore_result=True)
def probe_auth() -> dict[str, str]:
    """Try paused destinations' tokens with one real event; resume those that work."""
    return _probe_auth(get_runtime())
