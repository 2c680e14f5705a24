"""Producers' API: hand raw Masivo events to the ingest queue in chunks.

One Celery message carries a chunk of events (a message costs about a millisecond, a pure
transform about ten microseconds). The chunk travels as one pre-encoded JSON string: Celery's
prefork parent decodes every message and pickles it to a child, and one string costs a
fraction of thousands of small objects (``bench/pipeline.py``). The task accepts a plain
list too, which is simpler for producers in other languages. What Flower shows of a message is a summary (``argsrepr`` /
``kwargsrepr``): the destination and the number of events, never the events (PII) themselves.

Message contract for producers in other languages: see README, "Task message format".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

import orjson

from worker.serialization import json_default
from worker.settings import DEFAULT_DESTINATION

__all__ = ["chunked", "enqueue", "ingest_summary"]


def chunked(events: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(events)
    while chunk := list(islice(it, size)):
        yield chunk


def _encode(chunk: list[Any]) -> str:
    """One JSON string; ``Decimal`` becomes a numeric string, sets become lists."""
    try:
        return orjson.dumps(chunk, default=json_default).decode()
    except TypeError as exc:
        raise TypeError(f"enqueue: events must be JSON-serialisable ({exc})") from None


def ingest_summary(destination: str, count: int) -> str:
    return f"{{'destination': {destination!r}, 'events': '<{count} events>'}}"


def enqueue(
    events: Iterable[Any],
    destination: str = DEFAULT_DESTINATION,
    *,
    chunk_size: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Queue ``events`` (decoded JSON values) for ``destination``; returns how many."""
    from worker.celery_app import TASK_NAMES, app, get_settings

    size = chunk_size or get_settings().ingest_chunk_size
    total = 0
    with app.producer_or_acquire() as producer:
        for chunk in chunked(events, size):
            app.send_task(
                TASK_NAMES["ingest"],
                kwargs={"destination": destination, "events": _encode(chunk)},
                queue="ingest",
                argsrepr="()",
                kwargsrepr=ingest_summary(destination, len(chunk)),
                producer=producer,
            )
            total += len(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return total
