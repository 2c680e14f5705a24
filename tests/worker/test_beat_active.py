"""Beat's cost is O(active destinations), not O(configured) (issue 12, point 2): with 1,000
configured destinations and 10 with work, a tick of recover / expire / probe_auth / replay
sends the same number of Redis commands as with 20 configured (counted by the server,
``INFO commandstats``); and the active set can never strand work."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from worker import jobs
from worker.runtime import Runtime
from worker.settings import Settings
from worker.store import keys, registry
from worker.store.outbox import Item

pytestmark = pytest.mark.integration

ACTIVE = 10


def _runtime(tmp_path: Path, client: redis.Redis, configured: int) -> Runtime:
    dests = [
        {"id": f"d{n:04d}", "pixel_code": f"C{n:019d}", "access_token": f"tok-{n}"}
        for n in range(configured)
    ]
    path = tmp_path / f"destinations-{configured}.yaml"
    path.write_text(yaml.safe_dump({"destinations": dests}))
    settings = Settings(
        redis_url="redis://unused",
        destinations_file=path,
        api_base_url="http://127.0.0.1:9",
        data_dir=tmp_path / "data",
    )
    return Runtime(
        settings=settings,
        redis=client,
        client=None,  # type: ignore[arg-type]  # no destination is paused: nothing is sent
        schedule_flush=lambda *_: None,
    )


def _commands(client: redis.Redis) -> int:
    stats: Any = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def _tick(rt: Runtime) -> dict[str, int]:
    """One tick of every beat job (no full scan), and the commands each sent."""
    cost: dict[str, int] = {}
    for name, job in (
        ("recover", lambda: jobs.recover(rt, full=False)),
        ("expire", lambda: jobs.expire(rt, full=False)),
        ("probe_auth", lambda: jobs.probe_auth(rt, full=False)),
        ("replay", lambda: jobs.replay_retryable(rt)),
    ):
        before = _commands(rt.redis)
        job()
        cost[name] = _commands(rt.redis) - before  # INFO itself is not counted
    return cost


def _setup(rt: Runtime, configured: int) -> None:
    rt.redis.flushall()
    for n in range(configured):  # every destination ever seen, as after months of traffic
        rt.redis.sadd(keys.DESTINATIONS, f"d{n:04d}")
    now = time.time()
    for n in range(ACTIVE):
        rt.outbox(f"d{n:04d}").append(
            [Item.of({"event": "ViewContent", "event_time": int(now)}, now)]
        )


def test_a_tick_costs_the_same_with_1000_or_20_configured_destinations(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    small = _runtime(tmp_path, redis_client, 20)
    _setup(small, 20)
    _tick(small)  # warm: scripts loaded, flags armed (the steady state)
    small_cost = _tick(small)
    large = _runtime(tmp_path, redis_client, 1000)
    _setup(large, 1000)
    _tick(large)
    large_cost = _tick(large)
    print("beat tick commands, 1000 configured / 10 active:", large_cost)
    assert large_cost == small_cost, (small_cost, large_cost)
    per_active = sum(large_cost.values()) / ACTIVE
    assert per_active <= 20, large_cost  # a handful of commands per active destination
    assert registry.active(large.redis) == [f"d{n:04d}" for n in range(ACTIVE)]


def test_the_full_scan_walks_everything_and_retires_the_idle(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    rt = _runtime(tmp_path, redis_client, 200)
    _setup(rt, 200)
    redis_client.srem(keys.ACTIVE, "d0003")  # an announcement lost (Redis down in between)
    redis_client.sadd(keys.ACTIVE, "d0150")  # announced, then its work finished
    before = _commands(redis_client)
    jobs.recover(rt, full=True)
    full_cost = _commands(redis_client) - before
    assert registry.active(redis_client) == [f"d{n:04d}" for n in range(ACTIVE)]
    before = _commands(redis_client)
    jobs.recover(rt, full=False)
    assert _commands(redis_client) - before < full_cost / 10


def test_each_job_takes_its_own_full_scan_once_per_period(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    rt = _runtime(tmp_path, redis_client, 30)
    _setup(rt, 30)
    redis_client.delete(keys.ACTIVE)  # an upgrade: no active set yet
    jobs.recover(rt)  # full=None: takes the period's full scan
    assert registry.active(redis_client) == [f"d{n:04d}" for n in range(ACTIVE)]
    redis_client.delete(keys.ACTIVE)
    jobs.recover(rt)  # the same period: no second full scan
    assert registry.active(redis_client) == []
    jobs.probe_auth(rt)  # another job's full scan is its own: recover's comes next period
    redis_client.delete(keys.lock("full-scan-recover"))  # the next period
    jobs.recover(rt)
    assert registry.active(redis_client) == [f"d{n:04d}" for n in range(ACTIVE)]


def test_work_that_appears_while_a_destination_is_retired_puts_it_back(
    tmp_path: Path, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = _runtime(tmp_path, redis_client, 5)
    redis_client.flushall()
    redis_client.sadd(keys.ACTIVE, "d0001")
    real = registry.has_work
    looks = 0

    def racing(client: redis.Redis, destination: str) -> bool:
        nonlocal looks
        looks += 1
        if looks == 2:  # between the removal and the second look: a producer's append lands
            # (its own announcement came before the removal, as a cluster may order them)
            rt.redis.rpush(keys.outbox(destination), b'0 0 2 "x" {}')
        return real(client, destination)

    monkeypatch.setattr(registry, "has_work", racing)
    assert not registry.retire_if_idle(redis_client, "d0001")
    assert registry.active(redis_client) == ["d0001"]
