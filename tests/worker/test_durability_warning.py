"""A worker says, once at start-up, when its Redis can lose events it acknowledged.

Real ``redis-server`` processes with the three persistence settings that matter; the warning
is the worker's own (``worker.celery_app._warn_if_not_durable``, run on ``worker_ready``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devstack import RedisProcess
from worker import celery_app


@pytest.fixture
def server_client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[redis.Redis]:
    appendonly, fsync = request.param
    extra = {"appendfsync": fsync} if fsync else {}
    with RedisProcess(tmp_path, appendonly=appendonly, extra=extra) as server:
        client = redis.Redis.from_url(server.url)
        monkeypatch.setattr(celery_app, "_heartbeat_redis", client)
        yield client
        client.close()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("server_client", [(True, None)], indirect=True)
def test_a_redis_with_aof_always_draws_no_warning(
    server_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    assert server_client.config_get("appendfsync")["appendfsync"] == "always"  # our default
    with caplog.at_level(logging.INFO, logger="worker.celery_app"):
        celery_app._warn_if_not_durable()
    assert _warnings(caplog) == []


@pytest.mark.parametrize("server_client", [(False, None)], indirect=True)
def test_a_redis_without_aof_is_named_as_losing_acknowledged_events(
    server_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="worker.celery_app"):
        celery_app._warn_if_not_durable()
    (warning,) = _warnings(caplog)
    assert "without AOF" in warning
    assert "loses every event acknowledged" in warning


@pytest.mark.parametrize("server_client", [(True, "everysec")], indirect=True)
def test_everysec_is_named_with_its_window(
    server_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="worker.celery_app"):
        celery_app._warn_if_not_durable()
    (warning,) = _warnings(caplog)
    assert "appendfsync everysec" in warning
    assert "~2-3 s of acknowledged events" in warning


def test_an_unreachable_redis_costs_the_worker_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    monkeypatch.setattr(celery_app, "_heartbeat_redis", dead)
    with caplog.at_level(logging.INFO, logger="worker.celery_app"):
        celery_app._warn_if_not_durable()  # no exception
    assert _warnings(caplog) == []
    assert any("not checked (ConnectionError)" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("server_client", [(True, None)], indirect=True)
def test_always_without_fsync_during_rewrites_is_named(
    server_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    server_client.config_set("no-appendfsync-on-rewrite", "yes")
    with caplog.at_level(logging.INFO, logger="worker.celery_app"):
        celery_app._warn_if_not_durable()
    (warning,) = _warnings(caplog)
    assert "no-appendfsync-on-rewrite yes" in warning
