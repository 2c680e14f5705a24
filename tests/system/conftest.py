"""Fixtures for the deployed-shape tests: a fresh Redis, a Redis Cluster and an emulator per
test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import RedisProcess
from devstack.cluster import ClusterUnavailable, RedisCluster
from devstack.credentials import emulator_credentials
from emulator import EmulatorConfig, EmulatorServer


@pytest.fixture
def fresh_redis(tmp_path: Path) -> Iterator[str]:
    with RedisProcess(tmp_path / "redis", port=0) as server:
        yield server.url


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(credentials=emulator_credentials(), rate_limit=1000)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    """A local 3-master Redis Cluster per test (skipped where none can be started)."""
    try:
        found = RedisCluster(tmp_path / "cluster").start()
    except ClusterUnavailable as exc:
        pytest.skip(f"no local Redis Cluster: {exc}")
    try:
        yield found
    finally:
        found.stop()
