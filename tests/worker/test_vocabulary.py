"""One vocabulary per concept (issue 8): each is a StrEnum whose values are wire formats.

Counter fields name Prometheus series and ``status`` lines, dead-letter categories and pause
kinds are stored in Redis, flush actions are Celery task results. Renaming a value breaks
dashboards and stored data, so the values are pinned here; adding one is a deliberate change.
"""

from __future__ import annotations

import redis

from worker.errors import AuthFailed, DeliveryError, Invalid, Misconfigured, RateLimited, Retryable
from worker.flush import Action
from worker.store import counters
from worker.store.counters import Field, Prefix
from worker.store.deadletter import Category
from worker.store.pause import PROBED, PauseKind


def test_flush_actions() -> None:
    assert [a.value for a in Action] == [
        "idle",
        "paused",
        "linger",
        "no_tokens",
        "delivered",
        "retry",
        "isolated",
        "auth",
        "config",
        "dead",
    ]


def test_dead_letter_categories() -> None:
    # ``auth`` never reaches the dead-letter queue (the destination pauses); ``crashed`` does
    assert [c.value for c in Category] == ["rejected", "invalid", "exhausted", "crashed"]


def test_pause_kinds_and_the_ones_beat_probes() -> None:
    assert [k.value for k in PauseKind] == ["auth", "config", "operator"]
    assert frozenset({"auth", "config"}) == PROBED


def test_error_kinds_are_another_vocabulary() -> None:
    """An error's ``kind`` (no longer ``category``) - an exhausted dead letter's reason."""
    kinds = {
        e.kind for e in (DeliveryError, Retryable, RateLimited, Invalid, AuthFailed, Misconfigured)
    }
    assert kinds == {"error", "retryable", "rate_limited", "invalid", "auth", "config"}
    assert not hasattr(DeliveryError, "category")
    # the pauses are named after the errors that cause them
    assert {AuthFailed.kind, Misconfigured.kind} == PROBED


def test_counter_fields_are_stored_as_plain_strings(redis_client: redis.Redis) -> None:
    assert [f.value for f in Field] == [
        "received",
        "queued",
        "delivered",
        "retried",
        "requests",
        "rate_limited",
        "auth_failures",
        "config_failures",
        "replayed",
        "delivery_age_sum",
        "delivery_age_count",
        "delivery_latency_sum",
    ]
    assert [p.value for p in Prefix] == [
        "delivered",
        "dropped",
        "rejected",
        "dead_lettered",
        "requests",
    ]
    counters.incr(
        redis_client,
        "d",
        {
            Field.REQUESTS: 2,
            Field.DELIVERY_AGE_SUM: 1.5,
            Prefix.DEAD_LETTERED.of(Category.INVALID): 1,
            Prefix.DROPPED.of("too_old"): 3,
        },
    )
    assert redis_client.hgetall("mtt:{d}:stats") == {
        b"requests": b"2",
        b"delivery_age_sum": b"1.5",
        b"dead_lettered:invalid": b"1",
        b"dropped:too_old": b"3",
    }
    assert counters.read(redis_client, "d")[Field.REQUESTS] == 2
