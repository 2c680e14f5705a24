"""Pipeline fixtures: real Redis, the emulator over real sockets, a Runtime with a fake clock.

The fake clock only moves retry schedules and leases forward; the emulator and the age rule
see the same "now", so no test waits on the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from devstack.credentials import (
    PIXEL_A,
    PIXEL_B,
    PIXEL_BAD,
    TEST_EVENT_CODE,
    TOKEN_A,
    TOKEN_B,
    TOKEN_BAD,
    destination,
    emulator_credentials,
)
from emulator import EmulatorConfig, EmulatorServer
from worker.flush import flush
from worker.runtime import Runtime
from worker.settings import Settings
from worker.tiktok import TikTokClient


class FakeClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def emulator(clock: FakeClock) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        credentials=emulator_credentials(),
        rate_limit=0,
        clock=clock,
    )
    with EmulatorServer(config) as server:
        yield server


def write_destinations(path: Path, extra: list[dict[str, Any]] | None = None) -> Path:
    dests = [
        destination("brand-a", PIXEL_A, TOKEN_A, default_currency="MXN"),
        destination("brand-b", PIXEL_B, TOKEN_B, test_event_code=TEST_EVENT_CODE),
        destination("brand-bad", PIXEL_BAD, TOKEN_BAD),
        destination("brand-limited", PIXEL_A, TOKEN_A, rate_limit=1000),
    ]
    path.write_text(yaml.safe_dump({"destinations": dests + (extra or [])}))
    return path


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, emulator: EmulatorServer) -> Settings:
    return Settings(
        redis_url=redis_url,
        api_base_url=emulator.url,
        destinations_file=write_destinations(tmp_path / "destinations.yaml"),
        rate_limit=0,
        linger_s=0,
        batch_size=100,
        max_attempts=4,
        http_timeout_s=2,
        data_dir=tmp_path / "data",
    )


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def __call__(self, destination: str, countdown: float) -> None:
        self.calls.append((destination, countdown))


@pytest.fixture
def rt(
    settings: Settings, redis_client: redis.Redis, emulator: EmulatorServer, clock: FakeClock
) -> Iterator[Runtime]:
    emulator.reset()
    emulator.set_faults("")
    client = TikTokClient(settings.api_base_url, timeout_s=settings.http_timeout_s)
    runtime = Runtime(
        settings=settings, redis=redis_client, client=client, schedule_flush=Recorder(), clock=clock
    )
    try:
        yield runtime
    finally:
        client.close()


def drain(rt: Runtime, destination: str, clock: FakeClock, rounds: int = 200) -> list[str]:
    """Flush until nothing is left to do, jumping the clock over backoffs."""
    actions = []
    for _ in range(rounds):
        report = flush(rt, destination)
        actions.append(report.action)
        if report.action in ("idle", "paused"):
            box = rt.outbox(destination)
            nxt = box.next_retry()
            if box.depth() == 0 and nxt is None:
                break
            if nxt is not None:
                clock.advance(max(0.0, nxt[1] - clock()) + 0.001)
            elif report.action == "paused":
                break
        elif report.action == "retry":
            clock.advance(report.wait_s + 0.001)
    return actions


# -- a runtime on the local 3-master Redis Cluster (tests/conftest.py's redis_cluster) ------


def view(i: int, prefix: str = "evt") -> dict[str, Any]:
    return {
        "id": f"{prefix}-{i}",
        "type": "view_item",
        "customer_id": f"c{i}",
        "issued_at": int(time.time()) - 60,
        "items": [{"id": f"sku-{i}", "name": "Socks", "price": 9.5}],
    }


class IngestRecorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, destination: str) -> None:
        self.calls.append(destination)


@pytest.fixture
def crt(
    tmp_path: Path,
    redis_url: str,
    redis_cluster: Any,
    cluster_client: redis.Redis,
    emulator: EmulatorServer,
    clock: FakeClock,
) -> Iterator[Runtime]:
    emulator.reset()
    emulator.set_faults("")
    settings = Settings(
        redis_url=redis_cluster.url,
        celery_broker_url=redis_url,
        api_base_url=emulator.url,
        destinations_file=write_destinations(tmp_path / "destinations.yaml"),
        rate_limit=0,
        linger_s=0,
        batch_size=100,
        max_attempts=4,
        http_timeout_s=2,
        data_dir=tmp_path / "data",
    )
    client = TikTokClient(settings.api_base_url, timeout_s=settings.http_timeout_s)
    rt = Runtime(
        settings=settings,
        redis=cluster_client,
        client=client,
        schedule_flush=Recorder(),
        schedule_ingest=IngestRecorder(),
        clock=clock,
    )
    try:
        yield rt
    finally:
        client.close()
