"""One dead-letter stream and its counts hash: a destination's (``mtt:{d}:dlq`` +
``mtt:{d}:dlq:counts``, one slot) or the legacy global one (``mtt:dlq`` + ``mtt:dlq:counts``,
written by versions before issue 12, read and drained until empty).

:class:`worker.store.deadletter.DeadLetterStore` merges these into one read model. An entry's
public id names its stream: ``<destination>/<stream id>`` (``brand-a/1718000000000-0``) for a
destination's stream, the bare stream id for the legacy one (ids printed by older versions
keep working).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, Final

import orjson
import redis

from worker.store import keys
from worker.store.connection import is_cluster
from worker.store.lua import Script

__all__ = ["PAGE", "Stream", "decode_raw", "entry_id", "entry_time", "split_id", "text"]

log = logging.getLogger(__name__)

FIELD: Final = b"d"
PAGE: Final = 500
SEP: Final = "/"


def entry_id(destination: str | None, stream_id: str) -> str:
    """The public id of a stream entry (``destination/stream-id``; legacy: the stream id)."""
    return stream_id if destination is None else f"{destination}{SEP}{stream_id}"


def split_id(public_id: str) -> tuple[str | None, str]:
    """``(destination or None for the legacy stream, stream id)`` of a public id."""
    destination, sep, stream_id = public_id.rpartition(SEP)
    return (destination if sep else None), stream_id


def entry_time(public_id: str) -> float:
    """Unix seconds the entry was dead-lettered (its stream id's milliseconds)."""
    return int(split_id(public_id)[1].split("-", 1)[0]) / 1000


def _sort_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class Stream:
    """One dead-letter stream with its counts (both keys in one slot, or the legacy pair on
    a single Redis)."""

    def __init__(self, client: redis.Redis, destination: str | None) -> None:
        self.r = client
        self.destination = destination
        if destination is None:
            self.key, self.k_counts = keys.LEGACY_DLQ, keys.LEGACY_DLQ_COUNTS
        else:
            self.key, self.k_counts = keys.dlq(destination), keys.dlq_counts(destination)
        self._add = Script(client, "dlq_add")
        self._delete = Script(client, "dlq_delete", allow_oom=True)
        self._counts_checked = False

    def public(self, stream_id: str) -> str:
        return entry_id(self.destination, stream_id)

    def add(self, max_entries: int, pairs: Sequence[tuple[bytes, str]]) -> list[str]:
        """Append (entry JSON, count field) pairs, trimming to ``max_entries``; public ids."""
        self.ensure_counts()
        args: list[Any] = [max_entries]
        for data, field in pairs:
            args.extend([data, field])
        ids: Any = self._add(keys=[self.key, self.k_counts], args=args)
        return [self.public(text(i)) for i in ids]

    def delete(self, stream_ids: Sequence[str]) -> int:
        if self.destination is None and is_cluster(self.r):  # the legacy pair, moved onto a
            return int(self.r.xdel(self.key, *stream_ids)) if stream_ids else 0  # cluster: 2 slots
        self.ensure_counts()
        removed = 0
        for start in range(0, len(stream_ids), PAGE):
            page = list(stream_ids[start : start + PAGE])
            removed += int(self._delete(keys=[self.key, self.k_counts], args=page))
        return removed

    def clear(self) -> int:
        """Delete the stream and its counts; how many entries it held."""
        # one slot (a destination's hash tag; the legacy pair lives only on a single Redis),
        # so a transaction works on a cluster too
        pipe = self.r.pipeline(transaction=True)
        pipe.xlen(self.key)
        pipe.delete(self.key, self.k_counts)
        size, _ = pipe.execute()
        return int(size)

    def drop_unreadable(self) -> int:
        """Delete the entries no read can decode (every read skips them); then, if the stream
        is empty, the stream and its counts. How many entries were dropped."""
        bad: list[str] = []
        start = "-"
        while True:
            rows: Any = self.r.xrange(self.key, min=start, max="+", count=PAGE)
            for raw_id, fields in rows or []:
                sid = text(raw_id)
                if decode_raw(self.public(sid), dict(fields or {})) is None:
                    bad.append(sid)
            if len(rows or []) < PAGE:
                break
            start = "(" + text(rows[-1][0])
        dropped = self.delete(bad) if bad else 0
        if not self.r.xlen(self.key):  # an emptied stream still exists: remove it (key by
            self.r.delete(self.key)  # key: the legacy pair may lie in two slots of a cluster)
            self.r.delete(self.k_counts)
        return dropped

    def get_raw(self, stream_id: str) -> dict[Any, Any] | None:
        try:
            rows: Any = self.r.xrange(self.key, min=stream_id, max=stream_id, count=1)
        except redis.ResponseError:
            return None  # not a stream id
        return dict(rows[0][1] or {}) if rows else None

    def counts_raw(self) -> dict[Any, Any]:
        self.ensure_counts()
        found: dict[Any, Any] = self.r.hgetall(self.k_counts)
        return found

    def ensure_counts(self) -> None:
        """Build the counts once from the entries if they are missing (entries written before
        counts existed, or counts lost): afterwards the scripts keep them."""
        if self._counts_checked:
            return
        if not self.r.exists(self.k_counts) and self.r.xlen(self.key):
            tally: dict[str, int] = {}
            for _, raw in self.scan_raw(None):
                k = "|".join(str(raw.get(f)) for f in ("destination", "category", "reason"))
                tally[k] = tally.get(k, 0) + 1
            if tally:
                self.r.hset(self.k_counts, mapping=tally)  # type: ignore[arg-type]
        self._counts_checked = True

    def scan_raw(self, since_ms: int | None) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
        """Every decodable entry, oldest first, as ``((ms, seq), JSON)``, XRANGE ``PAGE`` at a
        time; :meth:`public` names it."""
        return self._scan("-" if since_ms is None else str(max(0, since_ms)), newest_first=False)

    def scan_raw_newest_first(self) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
        return self._scan("+", newest_first=True)

    def _scan(
        self, start: str, *, newest_first: bool
    ) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
        while True:
            rows: Any = (
                self.r.xrevrange(self.key, max=start, min="-", count=PAGE)
                if newest_first
                else self.r.xrange(self.key, min=start, max="+", count=PAGE)
            )
            for raw_id, fields in rows or []:
                sid = text(raw_id)
                entry = decode_raw(self.public(sid), dict(fields or {}))
                if entry is not None:
                    yield _sort_key(sid), entry
            if len(rows or []) < PAGE:
                return
            start = "(" + text(rows[-1][0])


def stream_id_of(key: tuple[int, int]) -> str:
    return f"{key[0]}-{key[1]}"


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode_raw(public_id: str, fields: dict[Any, Any]) -> dict[str, Any] | None:
    """The entry's JSON object; None (logged) for an entry this version cannot read."""
    raw = fields.get(FIELD, fields.get(FIELD.decode()))
    if raw is None:
        log.warning("dead-letter entry %s has no %r field; skipped", public_id, FIELD)
        return None
    try:
        data = orjson.loads(raw)
    except (TypeError, orjson.JSONDecodeError):
        data = None
    if not isinstance(data, dict):
        log.warning("dead-letter entry %s is unreadable; skipped", public_id)
        return None
    return data
