"""The one data-Redis connection factory (worker/store/connection.py) and the URL settings."""

from __future__ import annotations

import pytest
import redis
from redis.cluster import RedisCluster

from worker.celery_app import broker_url, celery_config
from worker.errors import ConfigError
from worker.settings import Settings, load_settings
from worker.store.connection import (
    connect,
    is_cluster,
    is_cluster_url,
    is_pipeline,
    parse_cluster_url,
    pool_id,
)


@pytest.mark.parametrize(
    ("url", "nodes", "user", "password", "ssl"),
    [
        ("redis+cluster://10.0.0.1:7000", [("10.0.0.1", 7000)], None, None, False),
        (
            "redis+cluster://a:7000,b:7001,c",
            [("a", 7000), ("b", 7001), ("c", 6379)],
            None,
            None,
            False,
        ),
        ("rediss+cluster://:s%40cret@h:6380/0", [("h", 6380)], None, "s@cret", True),
        ("REDIS+CLUSTER://app:pw@h1:1,h2:2/", [("h1", 1), ("h2", 2)], "app", "pw", False),
    ],
)
def test_cluster_urls_parse(
    url: str, nodes: list[tuple[str, int]], user: str | None, password: str | None, ssl: bool
) -> None:
    assert is_cluster_url(url)
    spec = parse_cluster_url(url)
    assert (spec.nodes, spec.username, spec.password, spec.ssl) == (nodes, user, password, ssl)
    assert "pw" not in repr(spec) and "cret" not in repr(spec)


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://h:notaport",
        "redis+cluster://user:topsecret@h:1/3",  # a cluster has only db 0
        "redis+cluster://:1",
    ],
)
def test_malformed_cluster_urls_are_refused_without_quoting_them(url: str) -> None:
    with pytest.raises(ValueError, match=r"cluster|node|host") as caught:
        parse_cluster_url(url)
    assert "topsecret" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["redis://h:1/0", "rediss://h:1", "unix:///tmp/r.sock", "amqp://guest@h//"]
)
def test_other_urls_are_not_cluster_urls(url: str) -> None:
    assert not is_cluster_url(url)


def test_a_plain_url_makes_a_plain_client(redis_url: str) -> None:
    client = connect(redis_url, socket_timeout=2)
    assert type(client) is redis.Redis and not is_cluster(client)
    assert client.ping()
    pipe = client.pipeline(transaction=False)
    assert is_pipeline(pipe) and not is_pipeline(client)
    assert pool_id(pipe) == pool_id(client)


@pytest.mark.integration
def test_a_cluster_url_makes_a_cluster_client(cluster_client: redis.Redis) -> None:
    assert isinstance(cluster_client, RedisCluster) and is_cluster(cluster_client)
    for d in ("a", "b", "c", "d", "e"):
        cluster_client.set(f"mtt:{{{d}}}:x", d)
    assert [cluster_client.get(f"mtt:{{{d}}}:x") for d in "abcde"] == [b"a", b"b", b"c", b"d", b"e"]
    pipe = cluster_client.pipeline(transaction=False)
    assert is_pipeline(pipe) and is_cluster(pipe)


def test_settings_refuse_a_cluster_broker_and_name_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            REDIS_URL="redis+cluster://a:1", CELERY_BROKER_URL="redis+cluster://u:hunter2@b:2"
        )
    message = str(caught.value)
    assert "CELERY_BROKER_URL" in message and "cannot be a Redis Cluster" in message
    assert "hunter2" not in message


def test_settings_want_a_broker_when_the_data_is_on_a_cluster() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(REDIS_URL="redis+cluster://a:1,b:2")
    assert "CELERY_BROKER_URL" in str(caught.value)


def test_settings_refuse_a_malformed_cluster_url_without_quoting_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(REDIS_URL="redis+cluster://u:hunter2@h:x", CELERY_BROKER_URL="redis://b")
    assert "REDIS_URL" in str(caught.value) and "hunter2" not in str(caught.value)


def test_settings_refuse_an_unknown_broker_scheme() -> None:
    with pytest.raises(ConfigError, match="CELERY_BROKER_URL"):
        load_settings(CELERY_BROKER_URL="http://broker")


def test_the_broker_defaults_to_the_data_redis_and_keeps_the_hardened_transport() -> None:
    s = Settings(redis_url="redis://127.0.0.1:1/0")
    assert broker_url(s) == "redis://127.0.0.1:1/0"
    assert celery_config(s)["broker_transport"] == "worker.broker:Transport"


def test_a_separate_redis_broker_keeps_the_hardened_transport() -> None:
    s = Settings(redis_url="redis+cluster://a:1,b:2", celery_broker_url="redis://broker:6379/0")
    conf = celery_config(s)
    assert conf["broker_url"] == "redis://broker:6379/0"
    assert conf["broker_transport"] == "worker.broker:Transport"


def test_an_amqp_broker_uses_kombus_own_transport() -> None:
    s = Settings(redis_url="redis+cluster://a:1", celery_broker_url="amqp://guest:guest@mq//")
    conf = celery_config(s)
    assert conf["broker_url"] == "amqp://guest:guest@mq//"
    assert "broker_transport" not in conf


def test_broker_and_cluster_passwords_are_scrubbed() -> None:
    from worker.observability import scrubber_for

    s = Settings(
        redis_url="rediss+cluster://app:data-secret@a:1,b:2",
        celery_broker_url="amqp://mq:broker-secret@mq//",
    )
    scrub = scrubber_for(s)
    assert "data-secret" not in str(scrub("url rediss+cluster://app:data-secret@a:1,b:2"))
    assert "broker-secret" not in str(scrub("amqp://mq:broker-secret@mq//"))
