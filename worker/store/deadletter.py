"""The dead-letter store: a bounded Redis stream of events we gave up on, with why.

Why a stream: entries are append-only and time-ordered (the entry id *is* the time it was
dead-lettered), and ``XRANGE`` pages through it for the CLI (list / show), for replay and for
purge. The stream is one key, ``mtt:dlq``, so it lives on one Cluster slot.

Each entry has two fields: ``d``, the :class:`DeadLetter` as JSON (orjson), and ``k``, its
count field ``destination|category|reason``. The scripts that add (``lua/dlq_add.lua``), trim
and delete (``lua/dlq_delete.lua``) entries keep ``mtt:dlq:counts`` (field -> entries) exact,
so ``stats``, ``status`` and a metrics scrape read one hash instead of the whole stream.
Filtering by destination, reason or time for ``list`` happens in Python while paging.

The bound (``dlq_max_entries``) is exact: the add script deletes the oldest entries beyond it
and subtracts them from the counts (rq's failed job registry has a TTL for the same reason: a
bad deploy must not fill Redis with failures).

Defence in depth: tokens must never reach the DLQ. Any key named like ``access_token`` /
``Access-Token`` (or ``authorization``) anywhere inside ``payload`` or ``raw_event`` is removed
when a :class:`DeadLetter` is built, and again when it is stored.
"""

from __future__ import annotations

import builtins
import logging
import math
import re
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any, Final

import orjson
import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worker.store import keys
from worker.store.lua import Script

__all__ = ["Category", "DeadLetter", "DeadLetterStore", "count_field", "scrub"]

log = logging.getLogger(__name__)

FIELD: Final = b"d"
PAGE: Final = 500


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


#: XRANGE rows with decoded ids (``list`` is a method name inside the class)
_Rows = builtins.list[tuple[str, dict[Any, Any]]]

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
    """The ``mtt:dlq`` stream. Entry ids (``"1718000000000-0"``) name entries everywhere."""

    def __init__(self, redis: redis.Redis, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.redis = redis
        self.max_entries = max_entries
        self.key = keys.DLQ
        self.k_counts = keys.DLQ_COUNTS
        self._add = Script(redis, "dlq_add")
        self._delete = Script(redis, "dlq_delete", allow_oom=True)
        self._counts_checked = False

    def add(self, entries: Sequence[DeadLetter]) -> list[str]:
        """Append ``entries`` in one script (trimming the oldest beyond the bound, exactly, and
        keeping the counts by destination, category and reason); their ids, in order."""
        if not entries:
            return []
        self._ensure_counts()
        args: list[Any] = [self.max_entries]
        for entry in entries:
            args.extend([entry.to_json(), count_field(entry.destination, entry.category,
                                                      entry.reason)])  # fmt: skip
        ids: Any = self._add(keys=[self.key, self.k_counts], args=args)
        return [_text(entry_id) for entry_id in ids]

    def list(
        self,
        destination: str | None = None,
        reason: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, DeadLetter]]:
        """Matching entries, oldest first. ``since``: unix seconds it was added."""
        found: list[tuple[str, DeadLetter]] = []
        if limit is not None and limit <= 0:
            return found
        for entry_id, entry in self._scan(since):
            if (destination is None or entry.destination == destination) and (
                reason is None or entry.reason == reason
            ):
                found.append((entry_id, entry))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def get(self, entry_id: str) -> DeadLetter | None:
        """The entry ``entry_id``, None if it is gone (trimmed, replayed, purged)."""
        try:
            rows = self._xrange(entry_id, entry_id, 1)
        except redis.ResponseError:
            return None  # not a stream id
        return _decode(entry_id, rows[0][1]) if rows else None

    def delete(self, ids: Sequence[str]) -> int:
        """Remove entries by id (replayed, purged, expired); how many existed."""
        self._ensure_counts()
        removed = 0
        for start in range(0, len(ids), PAGE):
            page = list(ids[start : start + PAGE])
            removed += int(self._delete(keys=[self.key, self.k_counts], args=page))
        return removed

    def purge(
        self,
        destination: str | None = None,
        reason: str | None = None,
        since: float | None = None,
    ) -> int:
        """Delete every matching entry (all of them with no filter); how many."""
        if all(f is None for f in (destination, reason, since)):
            pipe = self.redis.pipeline(transaction=True)
            pipe.xlen(self.key)
            pipe.delete(self.key, self.k_counts)
            size, _ = pipe.execute()
            return int(size)
        ids = [
            entry_id
            for entry_id, raw in self._scan_raw(since)
            if (destination is None or raw.get("destination") == destination)
            and (reason is None or raw.get("reason") == reason)
        ]
        return self.delete(ids)

    def size(self) -> int:
        return int(self.redis.xlen(self.key))

    def counts(self) -> dict[tuple[str, str, str], int]:
        """Entries by (destination, category, reason): one HGETALL, whatever the DLQ's size."""
        self._ensure_counts()
        raw: dict[Any, Any] = self.redis.hgetall(self.k_counts)
        out: dict[tuple[str, str, str], int] = {}
        for field, value in raw.items():
            parts = _text(field).split("|", 2)
            if len(parts) == 3 and int(value) > 0:
                out[(parts[0], parts[1], parts[2])] = int(value)
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
        first: Any = self.redis.xrange(self.key, count=1)
        last: Any = self.redis.xrevrange(self.key, count=1)
        return {
            "size": self.size(),
            "by_destination": by_dest,
            "by_reason": by_reason,
            "by_category": by_cat,
            "oldest": _id_time(_text(first[0][0])) if first else None,
            "newest": _id_time(_text(last[0][0])) if last else None,
        }

    def _ensure_counts(self) -> None:
        """Build the counts once from the entries if they are missing (a DLQ written by an
        older version, or counts lost): afterwards the scripts keep them."""
        if self._counts_checked:
            return
        if not self.redis.exists(self.k_counts) and self.redis.xlen(self.key):
            tally: dict[str, int] = {}
            for _, raw in self._scan_raw(None):
                k = count_field(
                    str(raw.get("destination")), str(raw.get("category")), str(raw.get("reason"))
                )
                tally[k] = tally.get(k, 0) + 1
            if tally:
                self.redis.hset(self.k_counts, mapping=tally)  # type: ignore[arg-type]
        self._counts_checked = True

    def iter_raw(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every entry as plain JSON, oldest first: for jobs that read a field or two."""
        return self._scan_raw(None)

    def _scan(self, since: float | None) -> Iterator[tuple[str, DeadLetter]]:
        """Every readable entry in id order, as models."""
        for entry_id, raw in self._scan_raw(since):
            entry = _model(entry_id, raw)
            if entry is not None:
                yield entry_id, entry

    def _scan_raw(self, since: float | None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every decodable entry in id order as plain JSON, XRANGE ``PAGE`` at a time.

        ``stats`` counts from these directly: building a model per entry made a scrape of a
        full dead-letter queue cost seconds.
        """
        start = "-" if since is None else str(max(0, math.ceil(since * 1000)))
        while True:
            rows = self._xrange(start, "+", PAGE)
            for entry_id, fields in rows:
                entry = _decode_raw(entry_id, fields)
                if entry is not None:
                    yield entry_id, entry
            if len(rows) < PAGE:
                return
            start = "(" + rows[-1][0]

    def _xrange(self, start: str, end: str, count: int) -> _Rows:
        rows: Any = self.redis.xrange(self.key, min=start, max=end, count=count)
        return [(_text(entry_id), dict(fields or {})) for entry_id, fields in rows or []]


def count_field(destination: str, category: str, reason: str) -> str:
    """The counts hash's field of an entry: ``destination|category|reason``."""
    return f"{destination}|{category}|{reason}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _decode(entry_id: str, fields: dict[Any, Any]) -> DeadLetter | None:
    """The entry's model; None (logged) for an entry this version cannot read."""
    raw = _decode_raw(entry_id, fields)
    return None if raw is None else _model(entry_id, raw)


def _model(entry_id: str, raw: dict[str, Any]) -> DeadLetter | None:
    try:
        return DeadLetter.model_validate(raw)
    except ValidationError:
        log.warning("dead-letter entry %s is unreadable; skipped", entry_id)
        return None


def _decode_raw(entry_id: str, fields: dict[Any, Any]) -> dict[str, Any] | None:
    """The entry's JSON object; None (logged) for an entry this version cannot read."""
    raw = fields.get(FIELD, fields.get(FIELD.decode()))
    if raw is None:
        log.warning("dead-letter entry %s has no %r field; skipped", entry_id, FIELD)
        return None
    try:
        data = orjson.loads(raw)
    except (TypeError, orjson.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        log.warning("dead-letter entry %s is unreadable; skipped", entry_id)
        return None
    return data


def _id_time(entry_id: str | None) -> float | None:
    """Unix seconds encoded in a stream id (``ms-seq``)."""
    return None if entry_id is None else int(entry_id.split("-", 1)[0]) / 1000
