"""Where a failed delivery stops short of a retry: a paused destination, dead-lettered events.

* :func:`pause_destination` - TikTok refused the destination, not its events: its token
  (``auth``) or the request's top level (``config``: the pixel / ``event_source_id`` or another
  top-level field, a bare HTTP 400). Nothing is dead-lettered; the batch waits, due now, for
  beat's probe or an operator.
* :func:`dead_letter_events` - one entry per event, with TikTok's diagnostics: a poison event
  (``invalid``), retries used up (``exhausted``), a worker lost every time (``crashed``).

Both are called by :mod:`worker.flush` only; they count what they do.
"""

from __future__ import annotations

import logging

from worker.errors import DeliveryError
from worker.runtime import Runtime
from worker.store import counters
from worker.store.counters import Field, Prefix
from worker.store.deadletter import Category, DeadLetter
from worker.store.outbox import Batch, Outbox
from worker.store.pause import PauseKind, pause
from worker.tiktok import describe

__all__ = ["dead_letter_events", "pause_destination"]

log = logging.getLogger(__name__)

#: per pause kind: its counter and the log's words
_PAUSES: dict[PauseKind, tuple[Field, str]] = {
    PauseKind.AUTH: (Field.AUTH_FAILURES, "TikTok refused its access token"),
    PauseKind.CONFIG: (
        Field.CONFIG_FAILURES,
        "TikTok refused the request itself (pixel code / event_source_id or another "
        "top-level field, or an HTTP 400): fix the destination's configuration",
    ),
}


def pause_destination(
    rt: Runtime,
    destination: str,
    box: Outbox,
    batch: Batch,
    exc: DeliveryError,
    now: float,
    kind: PauseKind,
) -> None:
    """Pause ``destination``; the batch waits, due now, for the probe or an operator.

    Nothing is dead-lettered: the events are fine, every request of the destination would be
    refused alike. Each refusal is counted; the pause itself is logged and reported to Sentry
    once (other batches in flight meet the pause already set).
    """
    box.reschedule(batch, [(batch, now)])
    counter, why = _PAUSES[kind]
    counters.incr(rt.redis, destination, {counter: 1})
    paused = pause(
        rt.redis,
        destination,
        kind,
        exc.message,
        now,
        code=exc.code,
        http_status=exc.http_status,
        request_id=exc.request_id,
    )
    extra = {"destination": destination, "batch_id": batch.id}
    if paused:
        log.error("destination %s paused: %s (%s)", destination, why, describe(exc), extra=extra)
        _report_to_sentry(destination, exc)
    else:
        log.info("destination %s: refused again while paused (%s)", destination, describe(exc))


def _report_to_sentry(destination: str, exc: DeliveryError) -> None:
    try:
        import sentry_sdk
    except ImportError:  # pragma: no cover
        return
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("destination", destination)
        scope.set_tag("tiktok_code", str(exc.code))
        sentry_sdk.capture_message(
            f"TikTok destination {destination} paused: {exc.kind} ({exc.code})", level="error"
        )


def dead_letter_events(
    rt: Runtime,
    destination: str,
    batch: Batch,
    exc: DeliveryError,
    category: Category,
    now: float,
    *,
    test_code: str | None = None,
    reason: str | None = None,
) -> None:
    """One dead-letter entry per event of ``batch``, with the TikTok diagnostics.

    ``reason`` defaults to the error's kind for an exhausted batch, else ``tiktok_invalid``.
    """
    entries = [
        DeadLetter(
            destination=destination,
            event_id=str(item.event.get("event_id"))
            if item.event.get("event_id") is not None
            else None,
            event_name=str(item.event.get("event"))
            if item.event.get("event") is not None
            else None,
            reason=reason or (exc.kind if category is Category.EXHAUSTED else "tiktok_invalid"),
            category=category,
            detail=exc.message,
            http_status=exc.http_status,
            tiktok_code=exc.code,
            tiktok_message=exc.message,
            request_id=exc.request_id,
            attempts=max(1, batch.attempts),
            first_failure=batch.first_failure or now,
            last_failure=now,
            event_time=int(item.event["event_time"])
            if isinstance(item.event.get("event_time"), int)
            else None,
            payload=item.event,
            test_event_code=test_code,
        )
        for item in batch.items
    ]
    rt.dlq.add(entries)
    counters.incr(rt.redis, destination, {Prefix.DEAD_LETTERED.of(category): len(entries)})
