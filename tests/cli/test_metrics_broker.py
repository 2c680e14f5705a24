"""The exporter reads Celery's queue lengths from the broker, wherever CELERY_BROKER_URL puts
it (issue 12: the broker apart from the data): a separate Redis, RabbitMQ, or gone.

The exporter is the installed ``masivo-tiktok metrics`` process, scraped over HTTP."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from devstack import RedisProcess
from tests.cli.support import destinations_env
from tests.cli.test_metrics import Exporter, named, value

pytestmark = pytest.mark.integration

RABBITMQ = ("127.0.0.1", 5672)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisProcess]:
    with RedisProcess(tmp_path / "broker", port=0, appendonly=False) as server:
        yield server


def _exporter(env: dict[str, str], tmp_path: Path, name: str) -> Exporter:
    return Exporter(env, tmp_path / f"{name}.log")


def test_queue_lengths_come_from_the_broker_not_the_data_redis(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, broker: RedisProcess
) -> None:
    env = destinations_env(tmp_path, redis_url, "brand-a") | {"CELERY_BROKER_URL": broker.url}
    broker_client = redis.Redis.from_url(broker.url)
    broker_client.rpush("ingest", b"d1", b"d2", b"d3")
    broker_client.rpush("deliver", b"f1")
    redis_client.rpush("ingest", *[b"x"] * 50)  # the data Redis: never read for queues
    proc = _exporter(env, tmp_path, "metrics")
    try:
        samples = proc.scrape()
        assert value(samples, "masivo_tiktok_broker_up") == 1.0
        assert value(samples, "masivo_tiktok_celery_queue_length", queue="ingest") == 3.0
        assert value(samples, "masivo_tiktok_celery_queue_length", queue="deliver") == 1.0
    finally:
        proc.close()


def test_a_broker_that_is_gone_says_broker_up_0_and_the_scrape_goes_on(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis, broker: RedisProcess
) -> None:
    env = destinations_env(tmp_path, redis_url, "brand-a") | {"CELERY_BROKER_URL": broker.url}
    proc = _exporter(env, tmp_path, "metrics")
    try:
        assert value(proc.scrape(), "masivo_tiktok_broker_up") == 1.0
        broker.kill()
        samples = proc.scrape()
        assert value(samples, "masivo_tiktok_broker_up") == 0.0
        assert not named(samples, "masivo_tiktok_celery_queue_length")
        assert value(samples, "masivo_tiktok_redis_up") == 1.0  # the data is still read
        assert named(samples, "masivo_tiktok_outbox_depth")
    finally:
        proc.close()


def test_without_a_broker_url_the_queues_are_on_the_data_redis(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    env = destinations_env(tmp_path, redis_url, "brand-a")
    redis_client.rpush("deliver", b"f1", b"f2")
    proc = _exporter(env, tmp_path, "metrics")
    try:
        samples = proc.scrape()
        assert value(samples, "masivo_tiktok_celery_queue_length", queue="deliver") == 2.0
    finally:
        proc.close()


def _rabbitmq_up() -> bool:
    try:
        with socket.create_connection(RABBITMQ, timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _rabbitmq_up(), reason="no RabbitMQ on 127.0.0.1:5672")
def test_queue_lengths_from_rabbitmq(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    """A passive declare answers the count; a queue nobody declared yet counts 0. The queue
    has a unique name, so other users of the server don't matter; it is deleted at the end."""
    from kombu import Connection

    from cli.broker_queues import BrokerQueues
    from worker.settings import Settings

    url = "amqp://guest:guest@127.0.0.1:5672//"
    name = f"mtt-test-{uuid.uuid4().hex[:8]}"
    with Connection(url) as conn:
        channel = conn.channel()
        channel.queue_declare(queue=name, durable=False, auto_delete=False)
        producer = conn.Producer()
        for n in range(4):
            producer.publish(f"m{n}", routing_key=name, exchange="")
        try:
            queues = BrokerQueues(
                Settings(redis_url=redis_url, celery_broker_url=url), redis_client
            )
            assert queues.lengths([name, f"{name}-never-declared"]) == {
                name: 4,
                f"{name}-never-declared": 0,
            }
        finally:
            channel.queue_delete(queue=name)
