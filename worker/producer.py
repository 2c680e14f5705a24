"""Producers' API: append raw Masivo events to a destination's intake stream, in chunks.

A chunk (``MASIVO_TIKTOK_CHUNK`` events, one JSON array) is one entry of ``mtt:{d}:intake``;
once :func:`enqueue` returns, every event it counted is acknowledged: it lives in Redis
until the pipeline delivers, drops (with a counter and a reason) or dead-letters it. After each
chunk a doorbell (the ``tiktok.ingest`` task, arguments: the destination only) is rung unless
one is pending; if the broker cannot take it, nothing is lost: beat rings for every destination
whose intake is not empty.

Before each chunk the producer checks two bounds and refuses with :class:`IntakeRefused`
instead of filling Redis: the destination's backlog (``MASIVO_TIKTOK_MAX_BACKLOG`` events
waiting) and Redis' memory (``MASIVO_TIKTOK_MEMORY_SHARE`` of ``maxmemory``). The remaining
memory is the workers' headroom: moving events forward never needs a refused write. A chunk
that Redis itself refuses (OOM) is reported the same way. What was acknowledged before a
refusal stays acknowledged: :attr:`IntakeRefused.accepted` says how many.

Producers in other languages: README, "Producers in other languages".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import orjson
import redis

from worker.runtime import ring
from worker.serialization import json_default
from worker.settings import DEFAULT_DESTINATION, Settings
from worker.store.connection import connect
from worker.store.intake import REPLICA_WAIT_MS, Intake, NotReplicated, backlog
from worker.store.memory import MemoryGauge

__all__ = ["IntakeGuard", "IntakeRefused", "chunked", "enqueue"]

#: how long a reading of Redis' memory is trusted (s): one INFO per producer per interval
MEMORY_READING_TTL_S = 0.5


class IntakeRefused(Exception):
    """The intake refused a chunk: a bound was reached, or too few replicas confirmed it.
    Nothing of that chunk was acknowledged.

    ``reason`` is ``backlog`` (the destination has too many events waiting), ``memory``
    (Redis is near or at its ``maxmemory``) or ``replication`` (fewer replicas than
    ``MASIVO_TIKTOK_INTAKE_REPLICAS`` confirmed the chunk: it is on the primary, and a retry
    may duplicate it, which TikTok's ``event_id`` deduplication absorbs); ``accepted`` is how
    many events of this call were acknowledged before the refusal.
    """

    def __init__(self, reason: str, message: str, accepted: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.accepted = accepted


def chunked(events: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(events)
    while chunk := list(islice(it, size)):
        yield chunk


def _encode(chunk: list[Any]) -> bytes:
    try:
        return orjson.dumps(chunk, default=json_default)
    except TypeError as exc:
        raise TypeError(f"enqueue: events must be JSON-serialisable ({exc})") from None


class IntakeGuard:
    """The two bounds a producer checks before each chunk."""

    def __init__(self, client: redis.Redis, max_backlog: int, memory_share: float) -> None:
        self.r = client
        self.max_backlog = max_backlog
        self.memory_share = memory_share
        self.memory = MemoryGauge(client, MEMORY_READING_TTL_S)

    def check(self, destination: str, adding: int) -> None:
        if self.max_backlog:
            waiting = backlog(self.r, destination)
            if waiting + adding > self.max_backlog:
                raise IntakeRefused(
                    "backlog",
                    f"destination {destination!r} has {waiting} events waiting (bound "
                    f"{self.max_backlog}, MASIVO_TIKTOK_MAX_BACKLOG); retry when it drains",
                )
        if self.memory_share < 1 and self.memory.above(self.memory_share, destination):
            used, limit = self.memory.read(destination)
            raise IntakeRefused(
                "memory",
                f"Redis uses {used} of {limit} bytes (more than "
                f"{self.memory_share:.0%}, MASIVO_TIKTOK_MEMORY_SHARE); the rest is kept "
                "for delivery: retry when it drains",
            )


#: one data client per process and Redis (see :func:`_shared_client`)
_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()
#: the shared client's socket options: a pooled connection must not hang on a peer that
#: vanished (a NAT dropping an idle flow); the timeout stays above the 1 s of ``WAIT``. Over
#: TCP also ``socket_keepalive`` (redis-py refuses it for a unix socket: the embedded Redis)
CLIENT_OPTIONS: dict[str, Any] = {
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "health_check_interval": 30,
}


def _reset_after_fork() -> None:
    """A child must not use its parent's sockets, nor a lock held by a thread that did not
    come along (a fork while another thread was connecting)."""
    global _clients_lock
    _clients.clear()
    _clients_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _client_key(s: Settings) -> str:
    return s.redis_url or f"embedded:{s.data_dir}"


def _shared_client(s: Settings) -> redis.Redis:
    """The process's data client for ``s``'s Redis, made on first use.

    A producer usually calls :func:`enqueue` once per request it serves. A client per call
    opened a TCP connection per call: ~1.5 ms of the call's ~2.7 ms here (redis-py's
    connection set-up and handshake), and one socket left in ``TIME_WAIT`` per call, which
    past ~470 calls a second to a remote Redis exhausts the ephemeral ports. The key is the
    setting, not the resolved URL, so the embedded Redis is looked up (and started) once, not
    pinged per call. The pool is thread-safe and reconnects by itself after a Redis restart;
    :func:`_forget_client` drops it when the server is gone or has become a replica, so the
    next call resolves the address again (an embedded Redis restarted, a primary endpoint
    that moved).
    """
    key = _client_key(s)
    found = _clients.get(key)
    if found is None:
        from worker.celery_app import redis_url

        with _clients_lock:
            found = _clients.get(key)
            if found is None:
                url = redis_url(s)
                tcp = {} if url.startswith("unix:") else {"socket_keepalive": True}
                found = _clients[key] = connect(url, **CLIENT_OPTIONS, **tcp)
    return found


def _forget_client(s: Settings) -> None:
    with _clients_lock:
        found = _clients.pop(_client_key(s), None)
    if found is not None:
        found.close()


def _refused_by_redis(exc: redis.ResponseError) -> bool:
    text = str(exc)
    return text.startswith("OOM") or "maxmemory" in text


def enqueue(
    events: Iterable[Any],
    destination: str = DEFAULT_DESTINATION,
    *,
    chunk_size: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
    settings: Settings | None = None,
    client: redis.Redis | None = None,
    doorbell: Callable[[str], None] | None = None,
) -> int:
    """Append ``events`` (decoded JSON values) to ``destination``'s intake; returns how many
    were acknowledged. Raises :class:`IntakeRefused` when a bound is reached."""
    from worker.celery_app import get_settings, ring_ingest

    s = settings or get_settings()
    r = client or _shared_client(s)
    intake = Intake(r, destination)
    guard = IntakeGuard(r, s.max_backlog_events, s.intake_memory_share)
    send = doorbell or ring_ingest
    size = chunk_size or s.ingest_chunk_size
    total = 0
    try:
        for chunk in chunked(events, size):
            encoded = _encode(chunk)
            try:
                guard.check(destination, len(chunk))
                intake.append(encoded, len(chunk), s.intake_replicas)
            except IntakeRefused as exc:
                exc.accepted = total
                raise
            except NotReplicated as exc:
                raise IntakeRefused(
                    "replication",
                    f"the chunk reached the primary but only {exc.confirmed} of {exc.wanted} "
                    f"replica(s) confirmed it within {REPLICA_WAIT_MS} ms "
                    "(MASIVO_TIKTOK_INTAKE_REPLICAS): not acknowledged; retrying is safe, "
                    "TikTok keeps one event per event_id",
                    total,
                ) from None
            except redis.ResponseError as exc:
                if not _refused_by_redis(exc):
                    raise
                raise IntakeRefused(
                    "memory", "Redis is at its maxmemory and refused the chunk", total
                ) from None
            total += len(chunk)
            ring(r, destination, send)
            if on_chunk is not None:
                on_chunk(len(chunk))
    except (redis.ConnectionError, redis.exceptions.ReadOnlyError):
        # gone, or a replica now (a failover behind a fixed endpoint): the next call
        # resolves the address again instead of reusing this pool
        if client is None:
            _forget_client(s)
        raise
    return total
