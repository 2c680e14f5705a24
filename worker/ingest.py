"""Ingest: raw Masivo events of one destination → outcomes → outbox, counters, dead letters.

The pure transform decides each event's outcome: *send* → the destination's outbox, *drop* →
a counter by reason, *reject* → the dead-letter queue with the raw event. Nothing here sleeps
or sends HTTP; a flush is armed when events wait.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson

from transforms import transform
from transforms.outcome import Drop, Reject, Send
from worker.errors import ConfigError
from worker.runtime import Runtime
from worker.store import counters
from worker.store.deadletter import DeadLetter
from worker.store.outbox import Item

__all__ = ["decode_chunk", "ingest"]

log = logging.getLogger(__name__)


def _raw_event_id(raw: Any) -> str | None:
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def decode_chunk(events: Any) -> list[Any]:
    """An ingest message's ``events``: a list, or a string holding a JSON array.

    Anything else is kept as one event, so it is rejected and dead-lettered with a reason
    instead of failing the whole message.
    """
    if isinstance(events, str | bytes):
        try:
            events = orjson.loads(events)
        except orjson.JSONDecodeError:
            return [events]
    return events if isinstance(events, list) else [events]


def ingest(rt: Runtime, destination: str, raw_events: Iterable[Any]) -> dict[str, int]:
    """Transform a chunk of raw events for ``destination``; returns counts by outcome."""
    now = rt.clock()
    events = list(raw_events)
    try:
        dest = rt.settings.destination(destination)
    except ConfigError:
        _reject_all(rt, destination, events, now, "unknown_destination")
        return {"received": len(events), "rejected": len(events)}
    options = dest.transform_options()
    items: list[Item] = []
    tally: Counter[str] = Counter(received=len(events))
    rejects: list[DeadLetter] = []
    for raw in events:
        outcome = transform(raw, options, now)
        if isinstance(outcome, Send):
            items.extend(Item.of(e, now) for e in outcome.events)
        elif isinstance(outcome, Drop):
            tally[f"dropped:{outcome.reason}"] += 1
        elif isinstance(outcome, Reject):
            tally[f"rejected:{outcome.reason}"] += 1
            rejects.append(_reject_entry(destination, raw, outcome.reason, outcome.detail, now))
    tally["queued"] = len(items)
    if rejects:
        rt.dlq.add(rejects)  # before the counters: a crash here repeats, never loses
    pipe = rt.redis.pipeline(transaction=True)
    rt.outbox(destination).append(items, pipe)
    counters.incr(pipe, destination, tally)
    results = pipe.execute()
    if items:
        depth = int(results[0])  # RPUSH answers the outbox's new length
        full = depth >= rt.settings.request_size_for(dest)
        rt.arm_flush(destination, 0.0 if full else rt.settings.linger_s)
    return {
        "received": len(events),
        "queued": len(items),
        "dropped": sum(v for k, v in tally.items() if k.startswith("dropped:")),
        "rejected": len(rejects),
    }


def _reject_entry(destination: str, raw: Any, reason: str, detail: str, now: float) -> DeadLetter:
    return DeadLetter(
        destination=destination,
        event_id=_raw_event_id(raw),
        event_name=raw.get("type")
        if isinstance(raw, dict) and isinstance(raw.get("type"), str)
        else None,
        reason=reason,
        category="rejected",
        detail=detail,
        attempts=0,
        first_failure=now,
        last_failure=now,
        raw_event=raw,
    )


def _reject_all(rt: Runtime, destination: str, events: list[Any], now: float, reason: str) -> None:
    detail = f"destination {destination!r} is not configured"
    rt.dlq.add([_reject_entry(destination, raw, reason, detail, now) for raw in events])
    counters.incr(
        rt.redis, destination, {"received": len(events), f"rejected:{reason}": len(events)}
    )
    log.error(
        "ingest: %d events for unknown destination %r dead-lettered", len(events), destination
    )
