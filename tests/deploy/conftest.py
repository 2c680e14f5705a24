"""The names the Prometheus exporter really exports, for the dashboard and alert checks.

The real collector of ``masivo-tiktok metrics`` (:func:`cli.metrics.registry_for`) runs
against the session's real Redis after real traffic: events ingested and delivered through
the emulator (one rejected, one dropped), a batch dead-lettered, a destination paused for
auth, a worker heartbeat. Every sample name it yields, and every name its metric families
declare, is an exported name: a renamed metric disappears from this set.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from devstack.credentials import emulator_credentials
from emulator import EmulatorConfig, EmulatorServer
from tests.worker.conftest import FakeClock, drain, write_destinations
from worker.runtime import Runtime
from worker.settings import Settings
from worker.tiktok import TikTokClient

#: sample-name suffixes each metric type exposes
SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def _traffic(rt: Runtime, clock: FakeClock) -> None:
    from worker.heartbeat import write_heartbeat
    from worker.ingest import ingest
    from worker.store.pause import pause

    now = int(time.time())
    events = [
        {"id": "d1", "type": "search", "query": "tenis", "issued_at": now},
        {
            "id": "d2",
            "type": "add_to_cart",
            "customer_id": "c1",
            "issued_at": now,
            "items": [{"sku": "s1", "name": "Tenis", "unit_price": 10, "quantity": 1}],
            "currency": "MXN",
            "value": 10,
        },
        {"id": "d3", "type": "search", "query": "old", "issued_at": now - 30 * 86400},
        "junk",
    ]
    ingest(rt, "brand-a", events)
    drain(rt, "brand-a", clock)
    ingest(rt, "brand-bad", [{"id": "b1", "type": "search", "query": "x", "issued_at": now}])
    drain(rt, "brand-bad", clock)  # the emulator refuses its token: paused for auth
    pause(rt.redis, "brand-b", "operator", "dashboard test", time.time())
    write_heartbeat(rt.settings.data_dir, rt.redis, hostname="worker-1")


@pytest.fixture(scope="session")
def exported_metrics(exporter: tuple[set[str], set[str]]) -> set[str]:
    """Every metric name (families and samples) the exporter yields after real traffic."""
    return exporter[0]


@pytest.fixture(scope="session")
def exported_series(exporter: tuple[set[str], set[str]]) -> set[str]:
    """The exported names, plus ``name{label}`` for every label a sample of it carries."""
    return exporter[0] | exporter[1]


@pytest.fixture(scope="session")
def exporter(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], set[str]]:
    """(names, ``name{label}`` strings) of what the exporter yields after real traffic."""
    from cli.metrics import registry_for

    tmp = tmp_path_factory.mktemp("exporter")
    clock = FakeClock()
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    config = EmulatorConfig(credentials=emulator_credentials(), rate_limit=0, clock=clock)
    with EmulatorServer(config) as emulator:
        settings = Settings(
            redis_url=redis_url,
            api_base_url=emulator.url,
            destinations_file=write_destinations(Path(tmp) / "destinations.yaml"),
            rate_limit=1000,
            linger_s=0,
            data_dir=Path(tmp) / "data",
        )
        tiktok = TikTokClient(settings.api_base_url, timeout_s=5)
        rt = Runtime(
            settings=settings,
            redis=client,
            client=tiktok,
            schedule_flush=lambda *_: None,
            clock=clock,
        )
        try:
            _traffic(rt, clock)
            names: set[str] = set()
            labelled: set[str] = set()
            samples = 0
            for family in registry_for(lambda: rt).collect():
                names.add(family.name)
                names.update(family.name + s for s in SUFFIXES.get(family.type, ()))
                for sample in family.samples:
                    names.add(sample.name)
                    labelled.update(f"{sample.name}{{{label}}}" for label in sample.labels)
                    samples += 1
        finally:
            tiktok.close()
            client.flushall()
            client.close()
    assert samples > 20, "the traffic above should have produced samples"
    return names, labelled
