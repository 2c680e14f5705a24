"""Ingest: one intake entry of a destination → outcomes → outbox, counters, dead letters.

The doorbell task calls :func:`ingest_next`: it claims one entry of the destination's intake
stream (a new one, or one whose worker died: :class:`~worker.store.intake.Intake`), rings the
doorbell again so another worker can take the next entry meanwhile, transforms every raw event
(pure), and commits: the outbox append, the counters and the entry's acknowledgement are one
Lua script. Rejects go to the dead-letter queue just before the commit (a crash between the
two repeats them, never loses them). Nothing is acknowledged anywhere else, so a crash, a Redis
restart or a full Redis at any point leaves the entry pending, to be taken over after its lease.

An entry that cannot be decoded is dead-lettered whole (``undecodable``); one whose workers
keep dying (claimed more than ``max_recoveries`` times) is dead-lettered whole as
``worker_lost``: never retried forever, never dropped.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from transforms import transform
from transforms.outcome import Drop, Reject, Send
from worker.errors import ConfigError
from worker.runtime import Runtime
from worker.serialization import json_default
from worker.store.counters import Field, Prefix
from worker.store.deadletter import Category, DeadLetter
from worker.store.intake import Entry, Intake, consumer_name
from worker.store.outbox import encode_items
from worker.store.quality import increments

__all__ = ["IngestReport", "decode_chunk", "ingest", "ingest_next", "transform_chunk"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class IngestReport:
    """What ingesting did: counts by outcome (for Flower, logs and tests)."""

    action: str = "idle"  # idle | ingested | duplicate | dead | memory_wait
    received: int = 0
    queued: int = 0
    dropped: int = 0
    rejected: int = 0
    entries: int = 0
    detail: str = ""
    by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, other: IngestReport) -> None:
        self.received += other.received
        self.queued += other.queued
        self.dropped += other.dropped
        self.rejected += other.rejected
        self.entries += other.entries
        self.by_reason.update(other.by_reason)

    def as_dict(self) -> dict[str, int]:
        return {
            "received": self.received,
            "queued": self.queued,
            "dropped": self.dropped,
            "rejected": self.rejected,
        }


def _raw_event_id(raw: Any) -> str | None:
    if isinstance(raw, dict):
        for key in ("event_id", "id"):  # the transform's precedence (transforms.eventid)
            value = raw.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value)
    return None


def decode_chunk(events: Any) -> list[Any]:
    """A chunk's events: a list, or bytes/a string holding a JSON array.

    Anything else is kept as one event, so it is rejected and dead-lettered with a reason
    instead of failing the whole chunk.
    """
    if isinstance(events, str | bytes | bytearray | memoryview):
        try:
            events = orjson.loads(events)
        except orjson.JSONDecodeError:
            return [events if isinstance(events, str) else bytes(events).decode("utf-8", "replace")]
    return events if isinstance(events, list) else [events]


def encode_chunk(events: list[Any]) -> bytes:
    """One JSON array; ``Decimal`` becomes a numeric string, sets become lists."""
    return orjson.dumps(events, default=json_default)


@dataclass(slots=True)
class Transformed:
    """A chunk's outcomes, ready to commit (``quality``: :mod:`worker.store.quality`);
    ``items``: the outbox items, encoded (:func:`worker.store.outbox.encode_items`)."""

    items: list[bytes]
    tally: Counter[str]
    rejects: list[DeadLetter]
    quality: dict[str, int] = field(default_factory=dict)


def transform_chunk(rt: Runtime, destination: str, events: list[Any], now: float) -> Transformed:
    """Every raw event's outcome. Never raises for an event: a bug becomes a reject."""
    tally: Counter[str] = Counter({Field.RECEIVED: len(events)})
    try:
        dest = rt.settings.destination(destination)
    except ConfigError:
        detail = f"destination {destination!r} is not configured"
        tally[Prefix.REJECTED.of("unknown_destination")] = len(events)
        unknown = [
            _reject_entry(destination, raw, "unknown_destination", detail, now) for raw in events
        ]
        log.error("ingest: %d events for unknown destination %r", len(events), destination)
        return Transformed([], tally, unknown)
    options = dest.transform_options()
    events_out: list[dict[str, Any]] = []
    rejects: list[DeadLetter] = []
    sends: list[Send] = []
    for raw in events:
        try:
            outcome = transform(raw, options, now)
        except Exception as exc:  # a bug must cost one event, never its neighbours
            log.exception("transform raised; event dead-lettered", extra={"destination": dest.id})
            outcome = Reject("internal_error", f"transform raised {type(exc).__name__}")
        if isinstance(outcome, Send):
            events_out.extend(outcome.events)
            sends.append(outcome)
        elif isinstance(outcome, Drop):
            tally[Prefix.DROPPED.of(outcome.reason)] += 1
        elif isinstance(outcome, Reject):
            tally[Prefix.REJECTED.of(outcome.reason)] += 1
            rejects.append(_reject_entry(destination, raw, outcome.reason, outcome.detail, now))
    tally[Field.QUEUED] = len(events_out)
    return Transformed(encode_items(events_out, now), tally, rejects, increments(sends))


def ingest_next(rt: Runtime, destination: str, *, ring: bool = True) -> IngestReport:
    """Claim and ingest one intake entry of ``destination``; ``idle`` when there is none."""
    if rt.memory_tight(destination):
        # moving on could grow Redis past its limit while TikTok is slow to take events:
        # the entries wait in the intake; beat rings again
        return IngestReport("memory_wait", detail="Redis memory is near maxmemory")
    intake = rt.intake(destination)
    entry = intake.claim(consumer_name(), rt.settings.lease_s)
    if entry is None:
        return IngestReport("idle")
    if ring:
        rt.ring(destination)  # another worker may take the next entry meanwhile
    now = rt.clock()
    if entry.deliveries > rt.settings.max_recoveries:
        return _dead_letter_entry(rt, intake, entry, now, "worker_lost")
    if entry.chunk is None:
        return _dead_letter_entry(rt, intake, entry, now, "undecodable")
    with collector_paused:  # the chunk's objects die with it: no collector pass should walk them
        done = _decode_and_transform(rt, destination, entry.chunk, now)
    if done is None:
        return _dead_letter_entry(rt, intake, entry, now, "undecodable")
    if done.rejects:
        rt.dlq.add(done.rejects)  # before the commit: a crash here repeats, never loses
    depth = intake.commit(entry, done.items, dict(done.tally), done.quality)
    rt.note_ingest_growth(sum(len(b) for b in done.items), len(entry.chunk))
    if depth is None:
        return IngestReport("duplicate", entries=1, detail="committed by another worker")
    if done.items:
        dest = rt.settings.destination(destination)
        full = depth >= rt.request_size(dest)
        rt.arm_flush(destination, 0.0 if full else rt.settings.linger_s)
    return _report(done)


class _CollectorPause:
    """``with collector_paused:`` - the cyclic collector off inside, back as it was after.
    Overlapping pauses (threads of one process) share one: the collector stays off until
    the last ends, and comes back only if it was on when the first began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                gc.enable()


collector_paused = _CollectorPause()


def _decode_and_transform(
    rt: Runtime, destination: str, chunk: bytes, now: float
) -> Transformed | None:
    """A chunk's outcomes; ``None`` when it is no JSON. Called with the cyclic collector
    paused: decoding and transforming 2000 events allocates tens of thousands of dicts that
    live until the outcomes are encoded, and a generation-0 pass that fires meanwhile walks
    every one of them (~5 % of the worker's CPU per event). They form no cycles and are
    freed, by reference counting, when this frame returns, before the collector resumes."""
    try:
        events = orjson.loads(chunk)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(events, list):
        events = [events]
    return transform_chunk(rt, destination, events, now)


def _report(done: Transformed) -> IngestReport:
    dropped = sum(v for k, v in done.tally.items() if k.startswith(Prefix.DROPPED.of("")))
    reasons = Counter(
        {
            k: v
            for k, v in done.tally.items()
            if k.startswith((Prefix.DROPPED.of(""), Prefix.REJECTED.of("")))
        }
    )
    return IngestReport(
        "ingested",
        received=done.tally[Field.RECEIVED],
        queued=len(done.items),
        dropped=dropped,
        rejected=len(done.rejects),
        entries=1,
        by_reason=reasons,
    )


def _dead_letter_entry(
    rt: Runtime, intake: Intake, entry: Entry, now: float, reason: str
) -> IngestReport:
    """The whole entry to the dead-letter queue, then acknowledged: kept, never retried."""
    events: Any = None
    if entry.chunk is not None:
        try:
            events = orjson.loads(entry.chunk)
        except orjson.JSONDecodeError:
            events = entry.chunk.decode("utf-8", "replace")
    count = len(events) if isinstance(events, list) else 1
    if reason == "worker_lost":
        detail = f"the workers ingesting this chunk died or hung {entry.deliveries - 1} times"
    else:
        detail = "intake entry is not a JSON chunk of events (field 'e')"
    letter = DeadLetter(
        destination=intake.destination,
        reason=reason,
        category=Category.CRASHED if reason == "worker_lost" else Category.REJECTED,
        detail=f"{detail}; {count} events kept here whole",
        attempts=entry.deliveries,
        first_failure=now,
        last_failure=now,
        raw_event=events,
    )
    rt.dlq.add([letter])
    counts = {Field.RECEIVED.value: count, Prefix.REJECTED.of(reason): count}
    intake.commit(entry, [], counts)
    log.error(
        "intake entry dead-lettered whole (%s)",
        reason,
        extra={"destination": intake.destination, "entry_id": entry.id, "events": count},
    )
    return IngestReport("dead", received=count, rejected=count, entries=1, detail=reason)


def ingest(rt: Runtime, destination: str, raw_events: Iterable[Any]) -> dict[str, int]:
    """Append ``raw_events`` to the intake as one chunk, then ingest until the intake is
    empty (replays, tests and the legacy ``tiktok.ingest`` message that carries events)."""
    events = list(raw_events)
    rt.intake(destination).append(encode_chunk(events), len(events))
    total = IngestReport()
    while (report := ingest_next(rt, destination, ring=False)).action not in (
        "idle",
        "memory_wait",
    ):
        total.add(report)
    return total.as_dict()


def _reject_entry(destination: str, raw: Any, reason: str, detail: str, now: float) -> DeadLetter:
    return DeadLetter(
        destination=destination,
        event_id=_raw_event_id(raw),
        event_name=raw.get("type")
        if isinstance(raw, dict) and isinstance(raw.get("type"), str)
        else None,
        reason=reason,
        category=Category.REJECTED,
        detail=detail,
        attempts=0,
        first_failure=now,
        last_failure=now,
        raw_event=raw,
    )
