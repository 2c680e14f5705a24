"""Per-destination counters: every event ends in exactly one of these buckets.

Stored in the hash ``mtt:{dest}:stats``. Field names, in one place: plain ones are
:class:`Field`, labelled ones ``<prefix>:<label>`` are :class:`Prefix` (``Prefix.X.of(label)``).
The stored strings are a wire format (dashboards, ``status``): never rename a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import redis

from worker.store import keys, registry
from worker.store.connection import is_pipeline, pool_id
from worker.store.lua import Script

__all__ = ["REQUEST_OUTCOMES", "Field", "Prefix", "incr", "known_destinations", "read"]


class Field(StrEnum):
    """Plain counter fields."""

    #: raw events handed to ingest
    RECEIVED = "received"
    #: TikTok events appended to the outbox (one raw event may make several)
    QUEUED = "queued"
    #: accepted by TikTok (also the prefix of ``delivered:<EventName>``)
    DELIVERED = "delivered"
    #: events put back on the retry schedule
    RETRIED = "retried"
    #: HTTP requests sent to TikTok
    REQUESTS = "requests"
    #: 40100 answers
    RATE_LIMITED = "rate_limited"
    #: 40001 / 40105 answers (the destination is paused, kind ``auth``)
    AUTH_FAILURES = "auth_failures"
    #: answers refusing the request itself (paused, kind ``config``)
    CONFIG_FAILURES = "config_failures"
    #: dead-letter entries sent through the normal path again
    REPLAYED = "replayed"
    #: seconds from event_time to acceptance, summed, and how many events
    DELIVERY_AGE_SUM = "delivery_age_sum"
    DELIVERY_AGE_COUNT = "delivery_age_count"
    #: seconds from the outbox to acceptance, summed (count: ``delivery_age_count``)
    DELIVERY_LATENCY_SUM = "delivery_latency_sum"


class Prefix(StrEnum):
    """Labelled counter fields, ``<prefix>:<label>``."""

    #: ``delivered:<EventName>`` - accepted by TikTok, by TikTok event name
    DELIVERED = "delivered"
    #: ``dropped:<reason>`` - policy (``transforms.reasons.DropReason``)
    DROPPED = "dropped"
    #: ``rejected:<reason>`` - invalid input, dead-lettered with the raw event
    REJECTED = "rejected"
    #: ``dead_lettered:<category>`` - delivery gave up (``deadletter.Category``)
    DEAD_LETTERED = "dead_lettered"
    #: ``requests:<outcome>`` - HTTP requests by how they ended (``REQUEST_OUTCOMES``)
    REQUESTS = "requests"

    def of(self, label: str) -> str:
        """The field name ``<prefix>:<label>``."""
        return f"{self.value}:{label}"


#: how a request to TikTok ended, for ``requests:<outcome>``: a fixed set (stable labels)
REQUEST_OUTCOMES = (
    "delivered",
    "server_error",
    "timeout",
    "network",
    "rate_limited",
    "auth",
    "config",
    "invalid",
    "other",
)


def incr(
    client: redis.Redis | redis.client.Pipeline,
    destination: str,
    counts: Mapping[str, int | float],
) -> None:
    """Add ``counts`` (field name -> amount) to the destination's counters, in one script.

    Given a pipeline, the call joins it (and its transaction); given a client, it runs now.
    The script is allowed under OOM: a full Redis still counts what it delivers.
    """
    args: list[Any] = [destination]
    for field, amount in counts.items():
        if amount:
            args.extend([str(field), amount, "f" if isinstance(amount, float) else "i"])
    is_pipe = is_pipeline(client)
    _script(client)(
        keys=[keys.stats(destination)],
        args=args,
        client=client if is_pipe else None,
    )


_scripts: dict[int, Script] = {}


def _script(client: redis.Redis | redis.client.Pipeline) -> Script:
    """One registered script per connection pool (a pipeline shares its client's pool)."""
    pool = pool_id(client)
    found = _scripts.get(pool)
    if found is None or pool_id(found.client) != pool:
        if isinstance(client, redis.client.Pipeline):  # a Pipeline is also a Redis
            owner: Any = redis.Redis(connection_pool=client.connection_pool)
        elif is_pipeline(client):
            raise TypeError("counters.incr: give a cluster client, not a cluster pipeline")
        else:
            owner = client
        found = _scripts[pool] = Script(owner, "counters_incr", allow_oom=True)
    return found


def read(client: redis.Redis, destination: str) -> dict[str, float]:
    raw: dict[Any, Any] = client.hgetall(keys.stats(destination))
    out: dict[str, float] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        number = float(value)
        out[name] = int(number) if number.is_integer() else number
    return out


def known_destinations(client: redis.Redis) -> list[str]:
    """Every destination seen (:func:`worker.store.registry.known`)."""
    return registry.known(client)
