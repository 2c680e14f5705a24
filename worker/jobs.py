"""What beat runs on a schedule, and what operators run by hand.

* :func:`recover` - expired leases back on the retry schedule; every destination with work
  gets a flush armed (the safety net under every lost task).
* :func:`expire` - what passed the age limit while waiting (outbox head, scheduled batches,
  the dead-letter queue) is dropped and counted as ``too_old``, never sent or replayed.
* :func:`replay` - dead-letter entries back through the normal path: a TikTok payload into the
  outbox (so the age rule and the rate limit apply), a rejected raw event through ingest.
* :func:`probe_auth` - a paused destination tries one real event; success resumes it.

Each walks the active set (:mod:`worker.store.registry`), so a tick costs Redis work in
proportion to the destinations with work, not the configured ones; once per
``MASIVO_TIKTOK_EXPIRE`` seconds each job walks every known destination.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
import redis

from transforms import is_too_old
from transforms.options import TransformOptions
from transforms.reasons import DropReason
from worker.errors import ConfigError
from worker.flush import Action, flush
from worker.ingest import ingest
from worker.runtime import Runtime
from worker.store import counters, keys, registry
from worker.store.connection import Reachability, is_cluster
from worker.store.counters import Field, Prefix
from worker.store.deadletter import Category, DeadLetter
from worker.store.locks import claim_period
from worker.store.outbox import Batch, Item, new_batch_id
from worker.store.pause import PROBED, paused_info, resume

__all__ = ["RETRYABLE_CATEGORIES", "expire", "probe_auth", "recover", "replay"]

log = logging.getLogger(__name__)

#: dead-letter categories that beat replays by itself (a fix on TikTok's side may help)
RETRYABLE_CATEGORIES = frozenset({Category.EXHAUSTED})


def _destinations(rt: Runtime, job: str, full: bool | None = None) -> list[str]:
    """Beat's worklist: the active set (:mod:`worker.store.registry`), O(destinations with
    work); and, once per ``expire_s`` for each job (``full=None``: the job's first run in the
    period, lock ``full-scan-<job>``), every configured and registered destination too, the
    fallback under the active set."""
    return sorted(_worklist(rt, job, full)[0])


def _only_on_a_cluster(rt: Runtime) -> None:
    """Re-raise the error being handled unless the data lives on a cluster: one Redis down
    stops the whole job, as a job cannot do anything else (no master is left to serve)."""
    if not is_cluster(rt.redis):
        raise


def _worklist(
    rt: Runtime, job: str, full: bool | None, reach: Reachability | None = None
) -> tuple[set[str], set[str]]:
    """(destinations to visit, those of them already in the active set).

    On a cluster the registry's sets live on one master; while it is down (or refuses),
    every configured destination is visited instead: the other masters' destinations must
    not wait for it (a lost doorbell is rung again only here)."""
    reach = reach or Reachability(rt.redis)
    try:
        if not reach.reaches(keys.ACTIVE):
            raise redis.ConnectionError("its master did not answer")
        active = set(registry.active(rt.redis))
    except redis.RedisError as exc:
        _only_on_a_cluster(rt)
        log.warning("%s: the active set is unreadable (%s); visiting every configured "
                    "destination", job, type(exc).__name__)  # fmt: skip
        return set(rt.settings.destinations), set()
    if full is None:
        full = claim_period(rt.redis, f"full-scan-{job}", rt.settings.expire_s)
    if not full:
        return active, active
    try:
        known = set(registry.known(rt.redis)) if reach.reaches(keys.DESTINATIONS) else set()
    except redis.RedisError as exc:
        _only_on_a_cluster(rt)
        log.warning("%s: the registry is unreadable (%s)", job, type(exc).__name__)
        known = set()
    return active | set(rt.settings.destinations) | known, active


def recover(rt: Runtime, full: bool | None = None) -> dict[str, int]:
    """Recover expired leases, ring the ingest doorbell wherever the intake holds entries
    (new, or pending past their lease), and arm a flush wherever work waits: the safety net
    under every lost or dropped Celery message. A destination found idle leaves the active
    set; one with work found by the full scan joins it. Returns recovered batch counts."""
    now = rt.clock()
    recovered: dict[str, int] = {}
    reach = Reachability(rt.redis)
    visit, active = _worklist(rt, "recover", full, reach)
    for d in sorted(visit):
        if not reach.reaches(keys.intake(d)):
            continue  # its master did not answer (logged once): the next tick tries again
        try:  # one destination's master down (a cluster) must not stop the others' recovery
            n = _recover_one(rt, d, d in active or not reach.reaches(keys.ACTIVE), now)
        except redis.RedisError as exc:
            _only_on_a_cluster(rt)
            log.warning("recover: skipped (%s); the next tick tries again", type(exc).__name__,
                        extra={"destination": d})  # fmt: skip
            continue
        if n:
            recovered[d] = n
            log.warning("recovered %d expired batch leases", n, extra={"destination": d})
    return recovered


def _recover_one(rt: Runtime, d: str, listed: bool, now: float) -> int:
    if registry.retire_if_idle(rt.redis, d):
        return 0
    if not listed:  # found by the full scan: back on the worklist
        try:
            registry.mark_active(rt.redis, d)
        except redis.RedisError:  # the registry's master is down, this destination's is not
            _only_on_a_cluster(rt)
            log.warning("recover: not marked active; rung anyway", extra={"destination": d})
    if rt.intake(d).has_work(rt.settings.lease_s):
        rt.unring(d)
        rt.ring(d)
    box = rt.outbox(d)
    n = box.recover(now)
    nxt = box.next_retry()
    if box.depth() > 0 or (nxt is not None and nxt[1] <= now):
        rt.disarm_flush(d)
        rt.arm_flush(d)
    return n


def _options(rt: Runtime, destinations: Sequence[str]) -> dict[str, TransformOptions]:
    options: dict[str, TransformOptions] = {}
    for d in destinations:
        try:
            options[d] = rt.settings.destination(d).transform_options()
        except ConfigError:
            continue
    return options


def expire(rt: Runtime, full: bool | None = None) -> dict[str, int]:
    """Drop, and count as ``too_old``, everything that passed its destination's age limit:
    queued events of the active destinations, dead letters of those that have some."""
    now = rt.clock()
    reach = Reachability(rt.redis)
    queued = _options(rt, sorted(_worklist(rt, "expire", full, reach)[0]))
    try:  # a master down (a cluster): the dead letters wait for the next tick
        if not reach.reaches(keys.DLQ_DESTINATIONS):
            raise redis.ConnectionError("its master did not answer")
        with_dlq = registry.dlq_destinations(rt.redis)
        if any(stream.destination is None for stream in rt.dlq.streams()):
            with_dlq += list(rt.settings.destinations)  # the legacy stream: anyone's entries
        dropped = _expire_dlq(rt, _options(rt, with_dlq), now)
    except redis.RedisError as exc:
        _only_on_a_cluster(rt)
        log.warning("expire: dead letters skipped (%s); the next tick tries again",
                    type(exc).__name__)  # fmt: skip
        dropped = {}
    for d in set(queued) | set(dropped):
        opts = queued.get(d)
        if not reach.reaches(keys.intake(d)):
            continue
        try:  # one destination's master down must not stop the others' expiry
            n = dropped.get(d, 0) + (_expire_queued(rt, d, opts, now) if opts else 0)
            if n:
                counters.incr(rt.redis, d, {Prefix.DROPPED.of(DropReason.TOO_OLD): n})
        except redis.RedisError as exc:
            _only_on_a_cluster(rt)
            log.warning("expire: skipped (%s); the next tick tries again", type(exc).__name__,
                        extra={"destination": d})  # fmt: skip
            continue
        dropped[d] = n
    return {d: n for d, n in dropped.items() if n}


def _expire_queued(rt: Runtime, destination: str, options: TransformOptions, now: float) -> int:
    """The outbox head and the batches waiting for a retry (a leased batch checks itself)."""
    box = rt.outbox(destination)

    def old(item: Item) -> bool:
        return is_too_old(item.event_time, options, now)

    n = len(box.drop_expired_head(old))
    for batch_id in box.batch_ids():
        due = box.due_at(batch_id)
        batch = box.load(batch_id) if due is not None else None
        if batch is None or due is None:
            continue
        keep = [i for i in batch.items if not old(i)]
        if len(keep) == len(batch.items):
            continue
        rest = Batch(
            id=new_batch_id(min(i.enqueued_at for i in keep) if keep else now),
            items=keep,
            attempts=batch.attempts,
            first_failure=batch.first_failure,
            created=batch.created,
        )
        if box.reschedule(batch, [(rest, due)] if keep else []):
            n += len(batch.items) - len(keep)
    return n


def _expire_dlq(rt: Runtime, options: dict[str, TransformOptions], now: float) -> dict[str, int]:
    """One pass over each dead-letter stream (and the legacy one, if any); a destination
    whose stream is empty leaves the dead-letter index."""
    stale: list[str] = []
    counts: dict[str, int] = {}
    for entry_id, entry in rt.dlq.iter_raw():
        dest, event_time = entry.get("destination"), entry.get("event_time")
        opts = options.get(str(dest))
        if opts is not None and isinstance(event_time, int) and is_too_old(event_time, opts, now):
            stale.append(entry_id)
            counts[str(dest)] = counts.get(str(dest), 0) + 1
    if stale:
        rt.dlq.delete(stale)
    for d in registry.dlq_destinations(rt.redis):
        registry.retire_dlq_if_empty(rt.redis, d)
    return counts


def replay(
    rt: Runtime,
    entries: Sequence[tuple[str, DeadLetter]],
) -> dict[str, int]:
    """Send dead-letter entries through the normal path again, then remove them."""
    now = rt.clock()
    payloads: dict[str, list[Item]] = {}
    raws: dict[str, list[Any]] = {}
    done: list[str] = []
    skipped = still_invalid = 0
    for entry_id, entry in entries:
        if entry.destination not in rt.settings.destinations:
            skipped += 1
            continue
        if entry.payload is not None:
            payloads.setdefault(entry.destination, []).append(Item.of(entry.payload, now))
        elif entry.reason == "invalid_json" and isinstance(entry.raw_event, str):
            try:  # a line that was not JSON: replayable only once someone fixed it in place
                raws.setdefault(entry.destination, []).append(orjson.loads(entry.raw_event))
            except orjson.JSONDecodeError:
                still_invalid += 1
                continue
        elif entry.raw_event is not None:
            raws.setdefault(entry.destination, []).append(entry.raw_event)
        else:
            skipped += 1
            continue
        done.append(entry_id)
    for d, items in payloads.items():
        rt.outbox(d).append(items)
        counters.incr(rt.redis, d, {Field.REPLAYED: len(items)})
        rt.arm_flush(d)
    rt.dlq.delete(done)  # delete before re-ingesting: a reject that fails again gets a new entry
    for d, raw_events in raws.items():
        counters.incr(rt.redis, d, {Field.REPLAYED: len(raw_events)})
        ingest(rt, d, raw_events)
    return {"replayed": len(done), "skipped": skipped, "still_invalid": still_invalid}


def replay_retryable(rt: Runtime, limit: int = 10_000) -> dict[str, int]:
    """Beat's replay: the retryable categories, for destinations that are not paused."""
    paused: dict[str, bool] = {}

    def is_paused(d: str) -> bool:
        if d not in paused:
            paused[d] = paused_info(rt.redis, d) is not None
        return paused[d]

    entries = [
        (entry_id, entry)
        for entry_id, entry in rt.dlq.list(limit=limit)
        if entry.category in RETRYABLE_CATEGORIES and not is_paused(entry.destination)
    ]
    return replay(rt, entries) if entries else {"replayed": 0, "skipped": 0, "still_invalid": 0}


def probe_auth(rt: Runtime, full: bool | None = None) -> dict[str, str]:
    """Try one real request for each destination TikTok paused (its token, kind ``auth``, or
    the request's top level, kind ``config``); resume those TikTok accepts again.

    An operator's pause is left alone. The name stays (beat's task and schedule use it).
    """
    results: dict[str, str] = {}
    reach = Reachability(rt.redis)
    for d in sorted(_worklist(rt, "probe_auth", full, reach)[0]):
        if not reach.reaches(keys.intake(d)):
            continue
        try:  # one destination's master down must not stop the others' probes
            info = paused_info(rt.redis, d)
        except redis.RedisError:
            _only_on_a_cluster(rt)
            continue
        if info is None or info.get("kind") not in PROBED:
            continue
        if d not in rt.settings.destinations:
            continue
        report = flush(rt, d, probe=True)
        if report.action == Action.IDLE and not _has_work(rt, d):
            resume(rt.redis, d)  # nothing to risk: the next delivery checks again
            report_action = "resumed (nothing queued)"
        elif report.action == Action.DELIVERED:
            report_action = "resumed"
        else:
            report_action = f"still paused ({report.action})"
        results[d] = report_action
    return results


def _has_work(rt: Runtime, destination: str) -> bool:
    box = rt.outbox(destination)
    c = box.counts()
    return bool(c["outbox"] or c["scheduled_retries"] or c["in_flight"])


def drain(rt: Runtime, budget_s: float) -> int:
    """Deliver inline, from the calling process, while Redis refuses writes (past its
    ``maxmemory``): then no Celery message can be sent, so no worker is told to flush, and
    only delivering frees the memory (worker.beat). Visits the active destinations, one batch
    each per pass, through the same path a flush task takes (bucket, leases, retries), until
    Redis takes a write again, a pass delivers nothing, or ``budget_s`` is spent. Returns the
    events delivered."""
    deadline = time.monotonic() + budget_s
    visit, _ = _worklist(rt, "drain", False)
    delivered = 0
    while time.monotonic() < deadline and not _writable(rt):
        progress = False
        for d in sorted(visit):
            try:
                rt.outbox(d).recover(rt.clock())  # batches whose workers gave up meanwhile
                report = flush(rt, d)
            except redis.RedisError as exc:
                log.warning("drain: skipped (%s)", type(exc).__name__, extra={"destination": d})
                continue
            if report.action == Action.DELIVERED:
                delivered += report.events
                progress = True
        if not progress:
            break
    return delivered


def _writable(rt: Runtime) -> bool:
    """Whether Redis takes an ordinary write (not one flagged ``allow-oom``)."""
    try:
        rt.redis.set(keys.WRITABLE_PROBE, b"1", px=60_000)
    except redis.exceptions.OutOfMemoryError:
        return False
    except redis.RedisError:
        return True  # down or elsewhere: not this function's question
    return True
