"""Outbox items: one transformed event waiting, in the byte form the outbox and batches keep.

Split from :mod:`worker.store.outbox` (which re-exports both names): :class:`Item` is one
event with its header; :func:`encode_items` is the ingest's one-pass encoder of a chunk's
items, byte for byte ``Item.of(e, t).dumps()``; :meth:`Item.loads_many` the flush's decoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Item", "encode_items"]


@dataclass(slots=True)
class Item:
    """One transformed event waiting in the outbox, kept as the JSON TikTok will receive.

    Stored as ``b"<enqueued_at> <event_time> <n> <name as JSON, n bytes> <event JSON>"``: the
    flush splices the event's bytes into the request body and reads the age and the name from
    the header, so the common path never decodes or re-encodes an event. No part contains a
    raw newline (JSON escapes them), which lets a batch store items one per line.
    """

    raw: bytes
    enqueued_at: float
    event_time: int
    name: str
    _event: dict[str, Any] | None = None

    @classmethod
    def of(cls, event: dict[str, Any], enqueued_at: float) -> Item:
        t = event.get("event_time")
        return cls(
            raw=orjson.dumps(event),
            enqueued_at=enqueued_at,
            event_time=t if isinstance(t, int) and not isinstance(t, bool) else 0,
            name=str(event.get("event", "")),
            _event=event,
        )

    @property
    def event(self) -> dict[str, Any]:
        """The decoded event (failure paths only: dead letters, poison isolation)."""
        if self._event is None:
            self._event = orjson.loads(self.raw)
        return self._event

    def dumps(self) -> bytes:
        name = orjson.dumps(self.name)
        head = b"%r %d %d " % (self.enqueued_at, self.event_time, len(name))
        return head + name + b" " + self.raw

    @classmethod
    def loads(cls, data: bytes) -> Item:
        q, t, n, rest = data.split(b" ", 3)
        size = int(n)
        return cls(
            raw=rest[size + 1 :],
            enqueued_at=float(q),
            event_time=int(t),
            name=orjson.loads(rest[:size]),
        )

    @classmethod
    def loads_many(cls, lines: Iterable[bytes]) -> list[Item]:
        """``[Item.loads(x) for x in lines if x]``, decoding each distinct time and name once
        (a batch's items share a few of each): the flush's hot path."""
        times: dict[bytes, float] = {}
        names: dict[bytes, str] = {}
        out: list[Item] = []
        for data in lines:
            if not data:
                continue
            q, t, n, rest = data.split(b" ", 3)
            size = int(n)
            head = rest[:size]
            name = names.get(head)
            if name is None:
                name = names[head] = orjson.loads(head)
            at = times.get(q)
            if at is None:
                at = times[q] = float(q)
            out.append(cls(rest[size + 1 :], at, int(t), name))
        return out


def encode_items(events: Iterable[dict[str, Any]], enqueued_at: float) -> list[bytes]:
    """``[Item.of(e, enqueued_at).dumps() for e in events]``, byte for byte, without an
    :class:`Item` per event: the ingest hot path (the header's parts that repeat across a
    chunk, the time and each name, are built once)."""
    when = b"%r " % enqueued_at
    names: dict[str, bytes] = {}
    out: list[bytes] = []
    for event in events:
        t = event.get("event_time")
        key = event.get("event", "")
        if type(key) is not str:
            key = str(key)
        tail = names.get(key)
        if tail is None:
            name = orjson.dumps(key)
            tail = names[key] = b" %d %s " % (len(name), name)
        stamp = t if isinstance(t, int) and not isinstance(t, bool) else 0
        out.append(b"%s%d%s%s" % (when, stamp, tail, orjson.dumps(event)))
    return out
