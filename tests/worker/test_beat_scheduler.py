"""worker.beat: which scheduling failures make beat deliver inline.

The whole behaviour (Redis pushed far past maxmemory with work waiting: beat delivers it
all) is tests/system/test_reliability.py::test_redis_pushed_past_maxmemory_still_drains_once_tiktok_is_back.
"""

from __future__ import annotations

import kombu.exceptions
import redis
from celery.beat import SchedulingError

from worker.beat import refused_for_memory
from worker.celery_app import app


def _chain(inner: BaseException) -> SchedulingError:
    """As beat raises it: SchedulingError from kombu's OperationalError from the cause."""
    try:
        try:
            raise kombu.exceptions.OperationalError(str(inner)) from inner
        except kombu.exceptions.OperationalError as op:
            raise SchedulingError("Couldn't apply scheduled task recover-leases") from op
    except SchedulingError as exc:
        return exc


def test_a_publish_refused_at_maxmemory_is_recognised_through_the_chain() -> None:
    # our transport's words (worker/broker.py) and Redis' own OOM reply
    assert refused_for_memory(_chain(redis.ConnectionError("Redis refuses writes (maxmemory)")))
    oom = redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'")
    assert refused_for_memory(_chain(oom))


def test_other_scheduling_failures_do_not_drain() -> None:
    assert not refused_for_memory(_chain(redis.ConnectionError("Connection refused")))
    assert not refused_for_memory(_chain(redis.TimeoutError("Timeout reading from socket")))


def test_beat_uses_the_scheduler_that_drains() -> None:
    assert app.conf.beat_scheduler == "worker.celery_app:BeatScheduler"
