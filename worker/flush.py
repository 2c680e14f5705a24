"""Flush: one batch of a destination's outbox to TikTok, within its token bucket.

The client's one answer decides what happens to the batch: delivered, retried with backoff,
bisected to isolate a poison event, or the destination paused (its token, or the request's
top level: see :mod:`worker.failures`). Nothing here sleeps: when there is nothing to do
yet (linger, no tokens, a retry not due) a later flush is armed and the function returns, so a
worker is never held by a waiting destination.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from transforms import DropReason, is_too_old
from worker.errors import (
    AuthFailed,
    ConfigError,
    DeliveryError,
    Invalid,
    Misconfigured,
    RateLimited,
    Retryable,
    Timeout,
)
from worker.failures import dead_letter_events, pause_destination
from worker.runtime import Runtime
from worker.settings import Destination
from worker.store import counters
from worker.store.counters import Field, Prefix
from worker.store.deadletter import Category
from worker.store.outbox import Batch, Item, Outbox, new_batch_id
from worker.store.pause import PauseKind, is_paused, paused_info, resume
from worker.store.ratelimit import Grant
from worker.tiktok import describe

__all__ = ["MAX_ARM_COUNTDOWN_S", "Action", "FlushReport", "flush"]

log = logging.getLogger(__name__)

#: a flush arms the next one itself for waits up to this long; longer waits are found by beat
MAX_ARM_COUNTDOWN_S = 30.0


class Action(StrEnum):
    """What one flush did (task results, logs, tests)."""

    #: nothing to send (or nothing left after the age rule, or another worker took it)
    IDLE = "idle"
    #: the destination is paused: nothing sent
    PAUSED = "paused"
    #: a partial batch waits for company (the linger)
    LINGER = "linger"
    #: the token bucket is short: a flush is armed for when it is not
    NO_TOKENS = "no_tokens"
    #: TikTok accepted the batch
    DELIVERED = "delivered"
    #: a transient failure: the batch waits on the retry schedule
    RETRY = "retry"
    #: the batch was split to isolate a poison event (or one that kills its worker)
    ISOLATED = "isolated"
    #: TikTok refused the token: the destination is paused (``PauseKind.AUTH``)
    AUTH = "auth"
    #: TikTok refused the request itself: the destination is paused (``PauseKind.CONFIG``)
    CONFIG = "config"
    #: events were dead-lettered (retries exhausted, a worker lost every time)
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What one flush did, for logs and tests."""

    action: Action
    events: int = 0
    wait_s: float = 0.0
    detail: str = ""


def flush(rt: Runtime, destination: str, *, probe: bool = False, more: bool = False) -> FlushReport:
    """Deliver at most one batch for ``destination``; arm the next flush when needed. ``more``:
    a task's next batch (``tasks.delivery``): the flush it armed for the last one stays armed."""
    now = rt.clock()
    if not more:
        rt.disarm_flush(destination)
    if is_paused(rt.redis, destination) and not probe:
        return FlushReport(Action.PAUSED)
    try:
        dest = rt.settings.destination(destination)
    except ConfigError:
        log.error(
            "flush: destination %r is no longer configured; its events stay queued", destination
        )
        return FlushReport(Action.IDLE, detail="unknown destination")
    box = rt.outbox(destination)
    picked = _pick_work(rt, box, now, 1 if probe else rt.request_size(dest))
    if isinstance(picked, FlushReport):
        return picked
    retry_id, size = picked
    bucket = rt.bucket(dest)
    if retry_id and size > bucket.burst:
        return _split_oversized(rt, dest, box, retry_id, now)
    grant = bucket.take(size)
    if grant.granted < size:
        rt.arm_flush(destination, grant.wait_s)
        return FlushReport(Action.NO_TOKENS, wait_s=grant.wait_s)
    lease_s = rt.settings.lease_s
    batch = (
        box.claim_retry(retry_id, lease_s, now) if retry_id else box.claim_new(size, lease_s, now)
    )
    if batch is None:
        rt.arm_flush(destination)
        return FlushReport(Action.IDLE, detail="lost the race for the batch")
    if retry_id and box.recoveries(batch.id) >= rt.settings.max_recoveries:
        return _quarantine(rt, dest, box, batch, now)
    if not probe and (box.depth() > 0 or _retry_due(box, now)):
        rt.arm_flush(destination)  # let another worker take the next batch meanwhile
    rt.in_flight.add((destination, batch.id))
    try:
        return _deliver(rt, dest, box, batch, probe, grant)
    finally:
        rt.in_flight.discard((destination, batch.id))


def _split_oversized(
    rt: Runtime, dest: Destination, box: Outbox, batch_id: str, now: float
) -> FlushReport:
    """A scheduled batch bigger than the bucket's burst (made before a lower limit or the
    issue-12 sizing) could never be granted: split it into requests of today's size, due now,
    keeping its retry history."""
    batch = box.load(batch_id)
    if batch is None:
        rt.arm_flush(dest.id)
        return FlushReport(Action.IDLE, detail="lost the race for the batch")
    step = rt.request_size(dest)
    parts = [batch.items[i : i + step] for i in range(0, len(batch.items), step)]
    _requeue_parts(rt, dest, box, batch, parts, now)
    return FlushReport(Action.IDLE, events=len(batch.items), detail="split an oversized batch")


def _retry_due(box: Outbox, now: float) -> bool:
    nxt = box.next_retry()
    return nxt is not None and nxt[1] <= now


def _pick_work(
    rt: Runtime, box: Outbox, now: float, batch_size: int
) -> tuple[str | None, int] | FlushReport:
    """A due retry batch first, else new events (after the linger); or why there is none."""
    nxt = box.next_retry()
    while nxt is not None and nxt[1] <= now:
        batch = box.load(nxt[0])
        if batch is not None:
            return nxt[0], len(batch.items)
        box.drop_stale_retry(nxt[0])  # a stale id: its batch was finished elsewhere
        nxt = box.next_retry()
    depth = box.depth()
    if depth == 0:
        if nxt is not None and nxt[1] - now <= MAX_ARM_COUNTDOWN_S:
            rt.arm_flush(box.destination, nxt[1] - now, sooner=True)
        return FlushReport(Action.IDLE)
    size = min(depth, batch_size)
    if size < batch_size and batch_size > 1:
        oldest = box.oldest_enqueued_at()
        waited = now - oldest if oldest is not None else rt.settings.linger_s
        if waited < rt.settings.linger_s:
            rt.arm_flush(box.destination, rt.settings.linger_s - waited)
            return FlushReport(Action.LINGER, wait_s=rt.settings.linger_s - waited)
    return None, size


def _deliver(
    rt: Runtime, dest: Destination, box: Outbox, batch: Batch, probe: bool, grant: Grant
) -> FlushReport:
    now = rt.clock()
    options = dest.transform_options()
    fresh = batch.items  # the rule per item only when the oldest breaks it (the usual: none)
    if fresh and is_too_old(min([i.event_time for i in fresh]), options, now):
        fresh = [i for i in batch.items if not is_too_old(i.event_time, options, now)]
    expired = len(batch.items) - len(fresh)
    if expired:
        counters.incr(rt.redis, dest.id, {Prefix.DROPPED.of(DropReason.TOO_OLD): expired})
        log.info(
            "flush %s: %d events passed the age limit while waiting; dropped", dest.id, expired
        )
    if not fresh:
        box.forget(batch)
        return FlushReport(Action.IDLE, detail="everything expired")
    batch.items = fresh
    rt.bucket(dest).restamp(grant)  # the window counts the request from when it leaves
    try:
        accepted = rt.client.send_raw(
            dest.pixel_code, dest.access_token, [i.raw for i in batch.items], dest.test_event_code
        )
    except DeliveryError as exc:
        return _handle_failure(rt, dest, box, batch, exc, probe)
    box.forget(batch)
    if box.release_retries(now):  # TikTok is back: retries waiting out an outage go now
        rt.arm_flush(dest.id, sooner=True)
    names = Counter(i.name for i in batch.items)
    tally: dict[str, int | float] = {
        Field.DELIVERED: len(batch.items),
        Field.REQUESTS: 1,
        Prefix.REQUESTS.of("delivered"): 1,
    }
    tally.update({Prefix.DELIVERED.of(n): c for n, c in names.items()})
    tally[Field.DELIVERY_AGE_SUM] = float(sum(max(0.0, now - i.event_time) for i in batch.items))
    tally[Field.DELIVERY_AGE_COUNT] = len(batch.items)
    tally[Field.DELIVERY_LATENCY_SUM] = float(
        sum(max(0.0, now - i.enqueued_at) for i in batch.items)
    )
    counters.incr(rt.redis, dest.id, tally)
    log.info(
        "delivered %d events",
        len(batch.items),
        extra={"destination": dest.id, "batch_id": batch.id, "request_id": accepted.request_id},
    )
    if probe:
        info = paused_info(rt.redis, dest.id)
        resume(rt.redis, dest.id)
        rt.arm_flush(dest.id)
        log.warning(
            "destination %s: TikTok accepts its events again; resumed (was paused: %s)",
            dest.id,
            info.get("kind") if info else None,
            extra={"destination": dest.id},
        )
    return FlushReport(Action.DELIVERED, events=len(batch.items))


def _was_sent(exc: DeliveryError) -> bool:
    """False for a request refused before it left (a token that is no header value, an
    unusable URL): no HTTP answer, no TikTok code, a configuration error."""
    return not (isinstance(exc, Misconfigured) and exc.http_status is None and exc.code is None)


def request_outcome(exc: DeliveryError) -> str:
    """How a failed request ended, as one of ``counters.REQUEST_OUTCOMES``."""
    if isinstance(exc, RateLimited | Timeout | AuthFailed | Misconfigured | Invalid):
        return exc.kind
    if exc.http_status is not None and exc.http_status >= 500:
        return "server_error"
    if exc.http_status is None and exc.code is None:
        return "network"
    return "other"


def _handle_failure(
    rt: Runtime, dest: Destination, box: Outbox, batch: Batch, exc: DeliveryError, probe: bool
) -> FlushReport:
    now = rt.clock()
    if _was_sent(exc):
        counters.incr(
            rt.redis, dest.id, {Field.REQUESTS: 1, Prefix.REQUESTS.of(request_outcome(exc)): 1}
        )
    if isinstance(exc, AuthFailed | Misconfigured):
        kind = PauseKind.AUTH if isinstance(exc, AuthFailed) else PauseKind.CONFIG
        pause_destination(rt, dest.id, box, batch, exc, now, kind)
        action = Action.AUTH if kind is PauseKind.AUTH else Action.CONFIG
        return FlushReport(action, events=len(batch.items), detail=exc.message)
    log.warning(
        "delivery failed: %s",
        describe(exc),
        extra={"destination": dest.id, "batch_id": batch.id, "events": len(batch.items)},
    )
    if isinstance(exc, Invalid):
        return _isolate(rt, dest, box, batch, exc, now)
    if isinstance(exc, RateLimited):
        rt.bucket(dest).penalize()
        counters.incr(rt.redis, dest.id, {Field.RATE_LIMITED: 1})
    return _retry_later(rt, dest, box, batch, exc, now)


def _error_info(exc: DeliveryError, now: float) -> dict[str, Any]:
    return {
        "kind": exc.kind,
        "message": exc.message,
        "http_status": exc.http_status,
        "code": exc.code,
        "request_id": exc.request_id,
        "at": now,
    }


def backoff_s(rt: Runtime, attempts: int, hint: float | None = None) -> float:
    """Exponential backoff with full jitter (AWS architecture blog), floored by a hint."""
    s = rt.settings
    cap = min(s.retry_max_s, s.retry_base_s * (2 ** max(0, attempts - 1)))
    delay = rt.rng.uniform(cap / 2, cap)
    return max(delay, hint or 0.0)


def _retry_later(
    rt: Runtime, dest: Destination, box: Outbox, batch: Batch, exc: DeliveryError, now: float
) -> FlushReport:
    if not isinstance(exc, RateLimited):
        batch.attempts += 1  # TikTok asking us to slow down is no fault of the batch
    batch.first_failure = batch.first_failure or now
    batch.last_error = _error_info(exc, now)
    s = rt.settings
    if batch.attempts >= s.max_attempts or now - batch.first_failure >= s.max_retry_age_s:
        dead_letter_events(
            rt, dest.id, batch, exc, Category.EXHAUSTED, now, test_code=dest.test_event_code
        )
        box.forget(batch)
        return FlushReport(Action.DEAD, events=len(batch.items), detail="retries exhausted")
    hint = exc.retry_after if isinstance(exc, Retryable) else None
    delay = backoff_s(rt, max(1, batch.attempts), hint)
    box.reschedule(batch, [(batch, now + delay)])
    counters.incr(rt.redis, dest.id, {Field.RETRIED: len(batch.items)})
    if delay <= MAX_ARM_COUNTDOWN_S:
        rt.arm_flush(dest.id, delay, sooner=True)
    return FlushReport(Action.RETRY, events=len(batch.items), wait_s=delay, detail=exc.kind)


def _isolate(
    rt: Runtime, dest: Destination, box: Outbox, batch: Batch, exc: Invalid, now: float
) -> FlushReport:
    """TikTok refused the whole request for one bad event: find it, deliver the rest."""
    index = exc.event_index
    if len(batch.items) == 1 or (index is not None and 0 <= index < len(batch.items)):
        poison_at = 0 if len(batch.items) == 1 else int(index or 0)
        poison = Batch(
            id=batch.id,
            items=[batch.items[poison_at]],
            attempts=batch.attempts + 1,
            first_failure=batch.first_failure or now,
        )
        dead_letter_events(
            rt, dest.id, poison, exc, Category.INVALID, now, test_code=dest.test_event_code
        )
        rest = [item for i, item in enumerate(batch.items) if i != poison_at]
        parts = [rest] if rest else []
    else:
        mid = len(batch.items) // 2
        parts = [batch.items[:mid], batch.items[mid:]]
    _requeue_parts(rt, dest, box, batch, parts, now)
    return FlushReport(Action.ISOLATED, events=len(batch.items), detail=exc.message)


def _requeue_parts(
    rt: Runtime,
    dest: Destination,
    box: Outbox,
    batch: Batch,
    parts: list[list[Item]],
    now: float,
) -> None:
    """Replace ``batch`` by new batches of ``parts``, due now, keeping its retry history."""
    new = [
        (
            Batch(
                id=new_batch_id(min(i.enqueued_at for i in part)),
                items=part,
                attempts=batch.attempts,
                first_failure=batch.first_failure,
                created=now,
            ),
            now,
        )
        for part in parts
    ]
    box.reschedule(batch, new)
    if new:
        rt.arm_flush(dest.id)


def _quarantine(
    rt: Runtime, dest: Destination, box: Outbox, batch: Batch, now: float
) -> FlushReport:
    """A batch whose worker died or hung every time: split it; a lone event is dead-lettered.
    Something in it (a huge event, a bug) kills the process that sends it. Bisecting finds the
    culprit in about log2(batch) more rounds while its neighbours go through."""
    recoveries = box.recoveries(batch.id)
    log.error(
        "batch lost its worker %d times; isolating its events",
        recoveries,
        extra={"destination": dest.id, "batch_id": batch.id, "events": len(batch.items)},
    )
    if len(batch.items) == 1:
        error = DeliveryError(f"the worker sending this event died or hung {recoveries} times")
        dead_letter_events(
            rt,
            dest.id,
            batch,
            error,
            Category.CRASHED,
            now,
            test_code=dest.test_event_code,
            reason="worker_lost",
        )
        box.forget(batch)
        return FlushReport(Action.DEAD, events=1, detail="worker lost")
    mid = len(batch.items) // 2
    _requeue_parts(rt, dest, box, batch, [batch.items[:mid], batch.items[mid:]], now)
    return FlushReport(Action.ISOLATED, events=len(batch.items), detail="worker lost")
