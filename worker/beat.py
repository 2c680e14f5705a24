"""Beat's scheduler: Celery's own, plus what beat does when it cannot send a job.

Every job of beat's is a Celery message. When the broker is the data Redis and that Redis is
past its ``maxmemory`` (an operator lowered it, another tenant's keys filled it, a burst of
client buffers pushed it over), Redis refuses every publish: no doorbell, no flush and no
beat job reaches a worker, and so nothing runs that would free the memory delivering frees.
Nothing acknowledged is lost (it stays in Redis), but nothing moves until someone raises
``maxmemory``. So when a job cannot be sent because Redis refuses writes, beat delivers
inline (:func:`worker.jobs.drain`): waiting batches go to TikTok from beat's own process, the
scripts that move them being allowed past ``maxmemory``, until Redis takes writes again and
the workers, reached again by their messages, take over. A broker apart from the data
(``CELERY_BROKER_URL``) never refuses for the data's memory; then this never triggers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery.beat import PersistentScheduler, SchedulingError

if TYPE_CHECKING:
    from worker.runtime import Runtime

__all__ = ["Scheduler", "refused_for_memory"]

log = logging.getLogger(__name__)

#: how long one inline drain may run (s): beat's other due jobs wait meanwhile
DRAIN_BUDGET_S = 10.0


def refused_for_memory(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is Redis refusing a write for memory."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        text = str(seen)
        if (
            "maxmemory" in text
            or text.startswith("OOM")
            or type(seen).__name__ == ("OutOfMemoryError")
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Scheduler(PersistentScheduler):  # type: ignore[misc]
    """``celery beat``'s persistent scheduler; a job refused for memory drains inline. The
    composition root (``worker.celery_app.BeatScheduler``) says where the runtime comes from."""

    def runtime(self) -> Runtime:
        raise NotImplementedError

    def apply_async(self, entry: Any, producer: Any = None, advance: bool = True, **kw: Any) -> Any:
        try:
            return super().apply_async(entry, producer, advance, **kw)
        except SchedulingError as exc:
            if refused_for_memory(exc):
                _drain_inline(entry.name, self.runtime)
            raise


def _drain_inline(job: str, runtime: Callable[[], Runtime]) -> None:
    from worker import jobs

    started = time.monotonic()
    try:
        delivered = jobs.drain(runtime(), DRAIN_BUDGET_S)
    except Exception as exc:  # beat must keep its schedule whatever happens here
        log.warning("beat: inline drain failed (%s)", type(exc).__name__)
        return
    log.warning(
        "beat: %s not sent, Redis refuses writes (maxmemory); delivered %d events inline "
        "in %.1f s", job, delivered, time.monotonic() - started,
    )  # fmt: skip
