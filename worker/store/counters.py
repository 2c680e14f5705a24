"""Per-destination counters: every event ends in exactly one of these buckets.

Stored in the hash ``mtt:{dest}:stats``. Field names, in one place:

* ``received`` - raw events handed to ingest;
* ``queued`` - TikTok events appended to the outbox (one raw event may make several);
* ``delivered`` and ``delivered:<EventName>`` - accepted by TikTok;
* ``dropped:<reason>`` - policy (too_old, feature_disabled, not_fulfilled, no_consent, ...);
* ``rejected:<reason>`` - invalid input, dead-lettered with the raw event;
* ``dead_lettered:<category>`` - delivery gave up (invalid, exhausted, ...);
* ``retried`` - events put back on the retry schedule; ``requests`` - HTTP requests sent;
* ``rate_limited`` - 40100 answers; ``auth_failures`` - 40001/40105 answers;
* ``delivery_age_sum`` / ``delivery_age_count`` - seconds from event_time to acceptance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from worker.store import keys

__all__ = ["Counts", "incr", "read", "read_all"]

Counts = Mapping[str, int | float]


def incr(
    client: redis.Redis | redis.client.Pipeline,
    destination: str,
    counts: Mapping[str, int | float],
) -> None:
    """Add ``counts`` to the destination's counters, in one round trip.

    Given a pipeline, the commands join it (and its transaction); given a client, they are
    sent as one pipeline of their own.
    """
    own = not isinstance(client, redis.client.Pipeline)
    pipe: redis.client.Pipeline = (
        client if isinstance(client, redis.client.Pipeline) else client.pipeline(transaction=False)
    )
    k = keys.stats(destination)
    for field, amount in counts.items():
        if not amount:
            continue
        if isinstance(amount, float):
            pipe.hincrbyfloat(k, field, amount)
        else:
            pipe.hincrby(k, field, amount)
    pipe.sadd(keys.DESTINATIONS, destination)
    if own:
        pipe.execute()


def by_prefix(names: Iterable[str], prefix: str) -> Counter[str]:
    return Counter(f"{prefix}:{n}" for n in names)


def read(client: redis.Redis, destination: str) -> dict[str, float]:
    raw: dict[Any, Any] = client.hgetall(keys.stats(destination))
    out: dict[str, float] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        number = float(value)
        out[name] = int(number) if number.is_integer() else number
    return out


def known_destinations(client: redis.Redis) -> list[str]:
    return sorted(
        m.decode() if isinstance(m, bytes) else str(m) for m in client.smembers(keys.DESTINATIONS)
    )


def read_all(client: redis.Redis) -> dict[str, dict[str, float]]:
    return {d: read(client, d) for d in known_destinations(client)}
