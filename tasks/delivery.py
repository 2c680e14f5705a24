"""Ingest and delivery tasks."""

from __future__ import annotations

from typing import Any

from worker import pipeline
from worker.celery_app import TASK_NAMES, app, get_runtime
from worker.maintenance import probe_auth as _probe_auth

__all__ = ["flush", "ingest", "probe_auth"]


@app.task(name=TASK_NAMES["ingest"], ignore_result=True)
def ingest(destination: str, events: list[Any]) -> dict[str, int]:
    """Transform a chunk of raw Masivo events and queue, count or dead-letter each."""
    if not isinstance(events, list):
        events = [events]
    return pipeline.ingest(get_runtime(), str(destination), events)


@app.task(name=TASK_NAMES["flush"], ignore_result=True)
def flush(destination: str) -> str:
    """Deliver at most one batch of ``destination``; it re-arms itself while work remains."""
    return pipeline.flush(get_runtime(), destination).action


@app.task(name=TASK_NAMES["probe_auth"], ignore_result=True)
def probe_auth() -> dict[str, str]:
    """Try paused destinations' tokens with one real event; resume those that work."""
    return _probe_auth(get_runtime())
