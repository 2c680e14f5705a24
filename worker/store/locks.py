"""Once-per-period jobs: safe when two beats are started by mistake.

Each periodic job first takes ``mtt:lock:<job>`` with ``SET NX PX`` for most of its period and
does not release it: a second beat firing the same job in the same period finds the key and
skips. A process that dies mid-job loses the lock when the TTL runs out, so nothing sticks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import redis

from worker.store import keys

__all__ = ["claim_period", "run_once_per_period"]


def claim_period(client: redis.Redis, name: str, period_s: float) -> bool:
    """Whether this caller is the first in the current period of ``name`` (``SET NX PX``)."""
    ttl_ms = max(500, int(period_s * 1000))
    return bool(client.set(keys.lock(name), os.getpid(), nx=True, px=ttl_ms))


def run_once_per_period(
    client: redis.Redis, name: str, period_s: float, job: Callable[[], Any]
) -> Any:
    """Run ``job`` unless it already ran in this period; returns its result or ``"skipped"``."""
    ttl_ms = max(500, int(period_s * 1000))
    if not client.set(keys.lock(name), os.getpid(), nx=True, px=ttl_ms):
        return "skipped"
    return job()
