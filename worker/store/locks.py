"""Once-per-period jobs: safe when two beats are started by mistake.

Each periodic job first takes ``mtt:lock:<job>`` with ``SET NX PX`` for most of its period and
does not release it: a second beat firing the same job in the same period finds the key and
skips. A process that dies mid-job loses the lock when the TTL runs out, so nothing sticks.

On a Redis Cluster, a lock that cannot be taken because its master is down or refuses counts
as taken by this caller: the jobs are safe to run twice, and beat's safety net must not wait
for one master (its rings and flushes serve every other master's destinations).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import redis

from worker.store import keys
from worker.store.connection import is_cluster

__all__ = ["claim_period", "run_once_per_period"]

log = logging.getLogger(__name__)


def claim_period(client: redis.Redis, name: str, period_s: float) -> bool:
    """Whether this caller is the first in the current period of ``name`` (``SET NX PX``);
    True as well when Redis refuses the lock (see the module)."""
    ttl_ms = max(500, int(period_s * 1000))
    try:
        return bool(client.set(keys.lock(name), os.getpid(), nx=True, px=ttl_ms))
    except redis.RedisError as exc:
        if not is_cluster(client):  # one Redis down: the job could do nothing else either
            raise
        log.warning("lock %s not taken (%s): running without it", name, type(exc).__name__)
        return True


def run_once_per_period(
    client: redis.Redis, name: str, period_s: float, job: Callable[[], Any]
) -> Any:
    """Run ``job`` unless it already ran in this period; returns its result or ``"skipped"``."""
    if not claim_period(client, name, period_s):
        return "skipped"
    return job()
