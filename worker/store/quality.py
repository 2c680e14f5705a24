"""Match-quality counters: per destination and TikTok event name, in one Redis hash.

``mtt:{d}:quality`` (:func:`worker.store.keys.quality`) holds, for every outgoing event name
``<E>``:

=========================  ==========================================================
field                      counts events named ``<E>`` queued for TikTok ...
=========================  ==========================================================
``<E>|events``             ... all of them
``<E>|key:<match key>``    ... whose ``user`` had that match key (``email``, ``phone``,
                           ``external_id``, ``ttclid``, ``ttp``, ``ip_user_agent``,
                           ``name_address``)
``<E>|warn:<warning>``     ... that raised that quality warning (``no_match_key``,
                           ``email_unusable``, ``phone_unusable``, ``currency_missing``,
                           ``recommended_missing``, ``params_ignored``)
=========================  ==========================================================

The key and warning vocabularies are the transform's fixed enums
(:mod:`transforms.quality`), so a destination has at most 14 fields per event name. Event
names themselves are what the ``stats`` hash already keeps (``delivered:<E>``); metrics fold
custom names into one label.

Written by the ingest commit script (``lua/intake_commit.lua``) in the same atomic step as
the outbox append and the stats: :func:`increments` turns a chunk's ``Send`` outcomes into
the mapping it adds. Counted when events are queued (the transform decided what they carry),
not when TikTok accepts them; an event replayed from the dead-letter queue as a payload is
not counted twice, one replayed as a raw event is (it is transformed again).

This module imports nothing from ``transforms`` (the store stays below it): a ``Send`` is
anything with a ``quality`` sequence of items with ``event``, ``keys`` and ``warnings``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import redis

from worker.store import keys

__all__ = ["EVENTS", "KEY_PREFIX", "SEP", "WARN_PREFIX", "fields_of", "increments", "read"]

SEP = "|"
EVENTS = "events"
KEY_PREFIX = "key:"
WARN_PREFIX = "warn:"


class _Quality(Protocol):
    @property
    def event(self) -> str: ...
    @property
    def keys(self) -> Sequence[str]: ...
    @property
    def warnings(self) -> Sequence[str]: ...


class _Send(Protocol):
    @property
    def quality(self) -> Sequence[_Quality]: ...


def fields_of(quality: _Quality) -> list[str]:
    """The hash fields one event increments."""
    head = f"{quality.event}{SEP}"
    return [
        head + EVENTS,
        *(f"{head}{KEY_PREFIX}{key}" for key in quality.keys),
        *(f"{head}{WARN_PREFIX}{warning}" for warning in quality.warnings),
    ]


def increments(sends: Iterable[_Send]) -> dict[str, int]:
    """Field → amount for a chunk's ``Send`` outcomes (pure; equal qualities are counted
    once and multiplied, so a chunk of 2000 events costs a few dozen field builds)."""
    same = Counter(quality for send in sends for quality in send.quality)
    out: Counter[str] = Counter()
    for quality, count in same.items():
        for field in fields_of(quality):
            out[field] += count
    return dict(out)


def read(client: redis.Redis | Any, destination: str) -> dict[str, dict[str, Any]]:
    """``{event: {"events": n, "keys": {key: n}, "warnings": {warning: n}}}``, the most
    frequent event name first."""
    raw: dict[Any, Any] = client.hgetall(keys.quality(destination))
    report: dict[str, dict[str, Any]] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        event, sep, what = name.rpartition(SEP)
        if not sep:
            continue
        entry = report.setdefault(event, {"events": 0, "keys": {}, "warnings": {}})
        amount = int(value)
        if what == EVENTS:
            entry["events"] = amount
        elif what.startswith(KEY_PREFIX):
            entry["keys"][what.removeprefix(KEY_PREFIX)] = amount
        elif what.startswith(WARN_PREFIX):
            entry["warnings"][what.removeprefix(WARN_PREFIX)] = amount
    return dict(sorted(report.items(), key=lambda item: (-item[1]["events"], item[0])))
