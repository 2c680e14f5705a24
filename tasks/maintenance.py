"""Beat's jobs. Each takes a Redis lock so two beats started by mistake do no harm."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker import jobs
from worker.celery_app import TASK_LIMITS, TASK_NAMES, app, get_runtime
from worker.store.locks import run_once_per_period

__all__ = ["expire", "recover", "replay_dlq"]


def _once(name: str, ttl_s: float, job: Callable[[], Any]) -> Any:
    rt = get_runtime()
    return run_once_per_period(rt.redis, name, ttl_s, job)


@app.task(name=TASK_NAMES["recover"], ignore_result=True, **TASK_LIMITS["recover"])
def recover() -> Any:
    """Expired leases back on the schedule; a flush armed wherever work waits."""
    rt = get_runtime()
    return _once("recover", rt.settings.recover_s * 0.8, lambda: jobs.recover(rt))


@app.task(name=TASK_NAMES["expire"], ignore_result=True, **TASK_LIMITS["expire"])
def expire() -> Any:
    """Drop and count what passed the age limit while waiting."""
    rt = get_runtime()
    return _once("expire", rt.settings.expire_s * 0.8, lambda: jobs.expire(rt))


@app.task(name=TASK_NAMES["replay_dlq"], ignore_result=True, **TASK_LIMITS["replay_dlq"])
def replay_dlq() -> Any:
    """Replay the retryable dead-letter categories through the normal path."""
    rt = get_runtime()
    return _once("replay_dlq", rt.settings.dlq_replay_s * 0.8, lambda: jobs.replay_retryable(rt))
