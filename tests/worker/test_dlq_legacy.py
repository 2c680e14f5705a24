"""An upgrade loses no dead letter: entries of the legacy global stream ``mtt:dlq`` (written
before issue 12) are replayed, expired and migrated by the jobs of this version."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

from emulator import EmulatorServer
from tests.worker.conftest import PIXEL_A, FakeClock, drain
from worker import jobs
from worker.runtime import Runtime
from worker.store import counters, keys
from worker.store.deadletter import DeadLetter

pytestmark = pytest.mark.integration


def _legacy(client: redis.Redis, event_id: str, event_time: int, **extra: Any) -> str:
    letter = DeadLetter(
        destination="brand-a",
        reason="server_error",
        category="exhausted",
        event_id=event_id,
        first_failure=time.time(),
        last_failure=time.time(),
        event_time=event_time,
        payload={"event": "ViewContent", "event_id": event_id, "event_time": event_time},
        **extra,
    )
    k = f"{letter.destination}|{letter.category}|{letter.reason}"
    entry_id: Any = client.xadd(keys.LEGACY_DLQ, {b"d": letter.to_json(), b"k": k})
    client.hincrby(keys.LEGACY_DLQ_COUNTS, k, 1)
    return entry_id.decode()


def test_legacy_entries_are_replayed_and_expired(
    rt: Runtime, redis_client: redis.Redis, emulator: EmulatorServer, clock: FakeClock
) -> None:
    now = int(clock())
    _legacy(redis_client, "old-fresh", now - 60)
    _legacy(redis_client, "old-stale", now - 8 * 86400)
    assert rt.dlq.size() == 2
    assert jobs.expire(rt, full=False) == {"brand-a": 1}
    assert counters.read(redis_client, "brand-a")["dropped:too_old"] == 1
    assert [e.event_id for _, e in rt.dlq.list()] == ["old-fresh"]
    assert jobs.replay_retryable(rt)["replayed"] == 1
    drain(rt, "brand-a", clock)
    assert "old-fresh" in {e["event_id"] for e in emulator.events(pixel=PIXEL_A, limit=100)}
    assert rt.dlq.size() == 0
    assert rt.dlq.counts() == {}


def test_migrate_then_the_legacy_keys_are_gone(rt: Runtime, redis_client: redis.Redis) -> None:
    legacy_id = _legacy(redis_client, "e-1", int(time.time()))
    entry = rt.dlq.get(legacy_id)
    assert entry is not None and entry.event_id == "e-1"
    assert rt.dlq.migrate_legacy() == 1
    assert not redis_client.exists(keys.LEGACY_DLQ, keys.LEGACY_DLQ_COUNTS)
    [(new_id, moved)] = rt.dlq.list()
    assert new_id.startswith("brand-a/") and moved == entry
    assert rt.dlq.counts() == {("brand-a", "exhausted", "server_error"): 1}
