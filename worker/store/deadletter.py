"""The dead-letter store: per-destination Redis streams of events we gave up on, with why,
merged into one read model.

Why streams: entries are append-only and time-ordered (the entry id *is* the time it was
dead-lettered), and ``XRANGE`` pages through them for the CLI (list / show), for replay and
for purge. Each destination has its own stream, ``mtt:{d}:dlq``, with its counts hash
``mtt:{d}:dlq:counts`` in the same slot, so the scripts that keep them together run on a
Redis Cluster (issue 12). :class:`DeadLetterStore` merges the streams: ``list`` and
``iter_raw`` oldest first across destinations, ``counts`` and ``stats`` summed. Which
destinations to read comes from ``mtt:dlq:destinations`` (:mod:`worker.store.registry`),
which :meth:`DeadLetterStore.add` updates before and after each append.

An entry's id names its stream: ``<destination>/<stream id>``. The legacy global stream
``mtt:dlq`` written by earlier versions is read too (bare stream ids, as those versions
printed them): listed, shown, counted, replayed, expired and purged like the others, never
written, so an upgrade loses nothing and it drains away (or ``masivo-tiktok dlq migrate``
moves it into the per-destination streams; needed before moving the data to a Redis Cluster,
where the legacy keys are not read).

Entry fields: ``d``, the :class:`DeadLetter` as JSON, and ``k``, its count field
``destination|category|reason``; the add, trim and delete scripts keep the counts exact, so
``stats``, ``status`` and a scrape read one hash per destination (in one round trip).

The bound (``dlq_max_entries``) is exact and **per destination**: the add script deletes the
destination's oldest entries beyond it and subtracts them from the counts (rq's failed job
registry has a TTL for the same reason: a bad deploy must not fill Redis with failures). It
was one global bound before issue 12; a global bound would need a cross-slot trim.

Defence in depth: tokens must never reach the DLQ. Any key named like ``access_token`` /
``Access-Token`` (or ``authorization``) anywhere inside ``payload`` or ``raw_event`` is removed
when a :class:`DeadLetter` is built, and again when it is stored.
"""

from __future__ import annotations

import builtins
import heapq
import itertools
import logging
import math
import re
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any

import orjson
import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worker.store import keys, registry
from worker.store.connection import is_cluster
from worker.store.dlqstream import (
    PAGE,
    Stream,
    decode_raw,
    entry_time,
    split_id,
    stream_id_of,
    text,
)

__all__ = [
    "Category",
    "DeadLetter",
    "DeadLetterStore",
    "count_field",
    "entry_time",
    "scrub",
    "split_id",
]

log = logging.getLogger(__name__)


class Category(StrEnum):
    """Why delivery gave up on an event, in four words (``reason`` says more).

    An auth or configuration failure never dead-letters: the destination is paused and its
    events wait (``worker.store.pause``).
    """

    #: ingest: the raw event cannot be turned into a TikTok event (kept, with the reason)
    REJECTED = "rejected"
    #: TikTok refused this event (40002 named it, or bisection found it): fix, then replay
    INVALID = "invalid"
    #: retries or the retry age used up; ``reason`` is the last error's kind. Beat replays
    EXHAUSTED = "exhausted"
    #: the worker sending it died or hung every time (``reason`` ``worker_lost``)
    CRASHED = "crashed"


_SECRET_KEY = re.compile(r"^(access[-_ ]?token|authorization)$", re.IGNORECASE)


def scrub(value: Any) -> Any:
    """``value`` with every dict key that names a token removed, at any depth.

    Only keys: the project's one value-based scrubber (every spelling of every configured
    token, raw PII in text) is :class:`worker.observability.Scrubber`, for logs and Sentry.
    ``worker.store`` may import only ``worker.store``, so it cannot be used here; and dropping
    a key before an entry is stored is another job than redacting a value on its way out.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and _SECRET_KEY.match(key.strip()):
                log.warning("dead-letter: dropped a %r key; tokens are never stored", key)
                continue
            out[key] = scrub(item)
        return out
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


class DeadLetter(BaseModel):
    """One dead-lettered event and everything an operator needs to understand or replay it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    destination: str = Field(description="destination id")
    reason: str = Field(description="short code, e.g. invalid_event, token_revoked, too_old")
    category: str = Field(description="a Category value (read as an open set)")
    event_id: str | None = Field(None, description="TikTok event_id (deduplication key)")
    event_name: str | None = Field(None, description="TikTok event name")
    http_status: int | None = Field(None, description="HTTP status of the last attempt")
    tiktok_code: int | None = Field(None, description="TikTok's JSON code of the last attempt")
    tiktok_message: str | None = Field(None, description="TikTok's JSON message")
    detail: str | None = Field(None, description="why, in words: the field a reject names")
    request_id: str | None = Field(None, description="TikTok's request_id, for their support")
    attempts: int = Field(1, ge=0, description="delivery attempts made")
    first_failure: float = Field(description="unix seconds of the first failed attempt")
    last_failure: float = Field(description="unix seconds of the last failed attempt")
    event_time: int | None = Field(None, description="the event's unix time (7-day limit)")
    payload: dict[str, Any] | None = Field(None, description="the TikTok data[] object")
    raw_event: Any = Field(None, description="the raw Masivo event (for rejects)")
    test_event_code: str | None = Field(None, description="test_event_code it was sent with")

    @field_validator("payload", "raw_event", mode="after")
    @classmethod
    def _no_tokens(cls, value: Any) -> Any:
        return scrub(value)

    def to_json(self) -> bytes:
        return orjson.dumps(scrub(self.model_dump(mode="json")))


class DeadLetterStore:
    """The merged read model of every dead-letter stream (see the module)."""

    def __init__(self, redis: redis.Redis, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.redis = redis
        self.max_entries = max_entries
        self._streams: dict[str | None, Stream] = {}

    def stream(self, destination: str | None) -> Stream:
        """A destination's stream; ``None``: the legacy global one."""
        found = self._streams.get(destination)
        if found is None:
            found = self._streams[destination] = Stream(self.redis, destination)
        return found

    def streams(self, destination: str | None = None) -> builtins.list[Stream]:
        """The streams to read: the destination's (or every indexed one), then the legacy
        stream where it can exist (a single Redis that holds it)."""
        names = [destination] if destination is not None else registry.dlq_destinations(self.redis)
        found = [self.stream(d) for d in names]
        if not is_cluster(self.redis) and self.redis.exists(keys.LEGACY_DLQ):
            found.append(self.stream(None))
        return found

    def add(self, entries: Sequence[DeadLetter]) -> builtins.list[str]:
        """Append ``entries`` (one script per destination, trimming its oldest beyond the
        bound, exactly, and keeping its counts); their ids, in order."""
        if not entries:
            return []
        by_dest: dict[str, builtins.list[int]] = {}
        for n, entry in enumerate(entries):
            by_dest.setdefault(entry.destination, []).append(n)
        ids: builtins.list[str] = [""] * len(entries)
        for dest, positions in by_dest.items():
            # indexed before (a crash after the append still finds it) and after (a prune
            # racing the append puts it back: worker.store.registry)
            registry.mark_dlq(self.redis, dest)
            pairs = [(entries[n].to_json(), _field(entries[n])) for n in positions]
            for n, entry_id in zip(positions, self.stream(dest).add(self.max_entries, pairs),
                                   strict=True):  # fmt: skip
                ids[n] = entry_id
            registry.mark_dlq(self.redis, dest)
        return ids

    def list(
        self,
        destination: str | None = None,
        reason: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> builtins.list[tuple[str, DeadLetter]]:
        """Matching entries, oldest first. ``since``: unix seconds it was added."""
        found: builtins.list[tuple[str, DeadLetter]] = []
        if limit is not None and limit <= 0:
            return found
        for entry_id, raw in self._merged(destination, since):
            if (destination is None or raw.get("destination") == destination) and (
                reason is None or raw.get("reason") == reason
            ):
                entry = _model(entry_id, raw)
                if entry is None:
                    continue
                found.append((entry_id, entry))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def get(self, entry_id: str) -> DeadLetter | None:
        """The entry ``entry_id``, None if it is gone (trimmed, replayed, purged)."""
        destination, stream_id = split_id(entry_id)
        if destination is None and is_cluster(self.redis):
            return None
        fields = self.stream(destination).get_raw(stream_id)
        if fields is None:
            return None
        raw = decode_raw(entry_id, fields)
        return None if raw is None else _model(entry_id, raw)

    def delete(self, ids: Sequence[str]) -> int:
        """Remove entries by id (replayed, purged, expired); how many existed."""
        by_stream: dict[str | None, builtins.list[str]] = {}
        for entry_id in ids:
            destination, stream_id = split_id(entry_id)
            by_stream.setdefault(destination, []).append(stream_id)
        return sum(self.stream(d).delete(sids) for d, sids in by_stream.items())

    def purge(
        self,
        destination: str | None = None,
        reason: str | None = None,
        since: float | None = None,
    ) -> int:
        """Delete every matching entry (all of them with no filter); how many."""
        if reason is None and since is None:
            removed = 0
            for stream in self.streams(destination):
                if stream.destination is None and destination is not None:
                    removed += self.delete(
                        [
                            stream.public(stream_id_of(k))
                            for k, raw in stream.scan_raw(None)
                            if raw.get("destination") == destination
                        ]
                    )
                else:
                    removed += stream.clear()
            return removed
        ids = [
            entry_id
            for entry_id, raw in self._merged(destination, since)
            if (destination is None or raw.get("destination") == destination)
            and (reason is None or raw.get("reason") == reason)
        ]
        return self.delete(ids)

    def size(self) -> int:
        streams = self.streams()
        if not streams:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for stream in streams:
            pipe.xlen(stream.key)
        return sum(int(n) for n in pipe.execute())

    def counts(self) -> dict[tuple[str, str, str], int]:
        """Entries by (destination, category, reason): one HGETALL per stream, whatever the
        streams' sizes."""
        out: dict[tuple[str, str, str], int] = {}
        streams = self.streams()
        for stream in streams:
            stream.ensure_counts()
        pipe = self.redis.pipeline(transaction=False)  # one round trip (per node, on a cluster)
        for stream in streams:
            pipe.hgetall(stream.k_counts)
        for found in pipe.execute() if streams else []:
            for field, value in found.items():
                parts = text(field).split("|", 2)
                if len(parts) == 3 and int(value) > 0:
                    k = (parts[0], parts[1], parts[2])
                    out[k] = out.get(k, 0) + int(value)
        return out

    def stats(self) -> dict[str, Any]:
        """``size``, counts ``by_destination`` / ``by_reason`` / ``by_category``, and the
        unix seconds of the ``oldest`` and ``newest`` entries (None when empty).

        O(destinations x reasons), not O(entries): the counts are kept by the scripts that add,
        trim and delete entries (a scrape of a full DLQ used to read all of it)."""
        by_dest: dict[str, int] = {}
        by_reason: dict[str, int] = {}
        by_cat: dict[str, int] = {}
        for (dest, cat, reason), n in self.counts().items():
            by_dest[dest] = by_dest.get(dest, 0) + n
            by_reason[reason] = by_reason.get(reason, 0) + n
            by_cat[cat] = by_cat.get(cat, 0) + n
        oldest = newest = None
        streams = self.streams()
        pipe = self.redis.pipeline(transaction=False)
        for stream in streams:
            pipe.xrange(stream.key, count=1)
            pipe.xrevrange(stream.key, count=1)
        ends: Any = pipe.execute() if streams else []
        for first, last in zip(ends[::2], ends[1::2], strict=True):
            if first:
                t = entry_time(text(first[0][0]))
                oldest = t if oldest is None else min(oldest, t)
            if last:
                t = entry_time(text(last[0][0]))
                newest = t if newest is None else max(newest, t)
        return {
            "size": self.size(),
            "by_destination": by_dest,
            "by_reason": by_reason,
            "by_category": by_cat,
            "oldest": oldest,
            "newest": newest,
        }

    def iter_raw(self, destination: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every entry as plain JSON, oldest first: for jobs that read a field or two."""
        return self._merged(destination, None)

    def newest_first(self, destination: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every entry as plain JSON, newest first."""
        streams = self.streams(destination)
        merged = heapq.merge(
            *(_tagged(n, s, s.scan_raw_newest_first()) for n, s in enumerate(streams)),
            key=lambda row: row[0],
            reverse=True,
        )
        for _, entry_id, raw in merged:
            yield entry_id, raw

    def _merged(
        self, destination: str | None, since: float | None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        since_ms = None if since is None else math.ceil(since * 1000)
        streams = self.streams(destination)
        merged = heapq.merge(
            *(_tagged(n, s, s.scan_raw(since_ms)) for n, s in enumerate(streams)),
            key=lambda row: row[0],
        )
        for _, entry_id, raw in merged:
            yield entry_id, raw

    def migrate_legacy(self) -> int:
        """Move the legacy global stream's entries into their destinations' streams (new
        ids; the entry's content is unchanged), oldest first, a page at a time, each page
        deleted from the legacy stream after it is written (a crash between repeats the page:
        duplicates, never losses); entries no version can read are dropped. How many moved."""
        legacy = self.stream(None)  # on a cluster too: moved there with the data, it is unread
        moved = 0
        while True:
            page = [(legacy.public(stream_id_of(k)), raw)
                    for k, raw in itertools.islice(legacy.scan_raw(None), PAGE)]  # fmt: skip
            if not page:
                legacy.drop_unreadable()  # nobody can read them: they cannot be moved
                return moved
            letters = [(i, _model(i, raw)) for i, raw in page]
            self.add([e for _, e in letters if e is not None])
            legacy.delete([i for i, _ in page])
            moved += sum(1 for _, e in letters if e is not None)


def _tagged(
    position: int, stream: Stream, rows: Iterator[tuple[tuple[int, int], dict[str, Any]]]
) -> Iterator[tuple[tuple[int, int, int], str, dict[str, Any]]]:
    """Rows keyed for the merge: by millisecond, then stream, then sequence (sequences count
    per stream, so within one millisecond a stream's entries stay together, in order)."""
    for (ms, seq), raw in rows:
        yield (ms, position, seq), stream.public(stream_id_of((ms, seq))), raw


def _field(entry: DeadLetter) -> str:
    return count_field(entry.destination, entry.category, entry.reason)


def count_field(destination: str, category: str, reason: str) -> str:
    """The counts hash's field of an entry: ``destination|category|reason``."""
    return f"{destination}|{category}|{reason}"


def _model(entry_id: str, raw: dict[str, Any]) -> DeadLetter | None:
    try:
        return DeadLetter.model_validate(raw)
    except ValidationError:
        log.warning("dead-letter entry %s is unreadable; skipped", entry_id)
        return None
