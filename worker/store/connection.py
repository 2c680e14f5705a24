"""The one place a data Redis client is made: one server, or a Redis Cluster.

``REDIS_URL`` forms (the broker is configured apart, ``CELERY_BROKER_URL``):

* ``redis://[user:password@]host:port[/db]``, ``rediss://...`` (TLS), ``unix:///path.sock`` -
  one Redis server (``redis.Redis``);
* ``redis+cluster://[user:password@]host:port[,host:port...]`` and ``rediss+cluster://...``
  (TLS) - a Redis Cluster (``redis.cluster.RedisCluster``). The listed nodes are only the
  seeds: the client reads the slot map from the first one that answers and follows
  ``MOVED``/``ASK`` redirections. No database number (a cluster has only db 0); a path other
  than ``/`` or ``/0`` is refused.

Every key we use is single-slot (a destination's keys share the hash tag ``{d}``, the few
global keys are touched by single-key commands only; see :mod:`worker.store.keys`), so the
same store code runs on both. :func:`connect` returns ``redis.Redis`` as its static type; a
``RedisCluster`` offers the same command methods. What differs, and is handled where it
matters: a cluster client has no ``connection_pool`` (:func:`pool_id`), and a cluster
pipeline is not a :class:`redis.client.Pipeline` (:func:`is_pipeline`, :func:`is_cluster`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final, cast
from urllib.parse import unquote, urlsplit

import redis
from pydantic import AfterValidator, ValidationInfo
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

__all__ = [
    "BROKER_SCHEMES",
    "CLUSTER_SCHEMES",
    "BrokerUrl",
    "ClusterUrl",
    "Reachability",
    "RedisUrl",
    "check_broker_url",
    "check_redis_url",
    "connect",
    "is_cluster",
    "is_cluster_url",
    "is_pipeline",
    "parse_cluster_url",
    "pool_id",
]

log = logging.getLogger(__name__)

#: URL scheme -> TLS
CLUSTER_SCHEMES: Final = {"redis+cluster": False, "rediss+cluster": True}


class ClusterUrl:
    """A parsed ``redis+cluster://`` URL (the password is kept out of ``repr``)."""

    __slots__ = ("nodes", "password", "ssl", "username")

    def __init__(
        self, nodes: list[tuple[str, int]], username: str | None, password: str | None, ssl: bool
    ) -> None:
        self.nodes = nodes
        self.username = username
        self.password = password
        self.ssl = ssl

    def __repr__(self) -> str:
        return f"ClusterUrl(nodes={self.nodes!r}, ssl={self.ssl})"


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://`` / ``rediss+cluster://``)."""
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> ClusterUrl:
    """Seeds, credentials and TLS of a cluster URL; ``ValueError`` (never quoting the URL,
    which may hold a password) when it is malformed."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError("not a redis+cluster:// or rediss+cluster:// URL")
    netloc, _, path = rest.partition("/")
    path = path.split("?", 1)[0]
    if path not in ("", "0"):
        raise ValueError("a Redis Cluster has only database 0: no path after the nodes")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes: list[tuple[str, int]] = []
    for part in hosts.split(","):
        part = part.strip()
        if not part:
            continue
        parsed = urlsplit(f"//{part}")
        try:
            port = parsed.port or 6379
        except ValueError:
            raise ValueError("a cluster node's port is not a number") from None
        if not parsed.hostname:
            raise ValueError("a cluster node has no host")
        nodes.append((parsed.hostname, port))
    if not nodes:
        raise ValueError("a cluster URL needs at least one host:port")
    return ClusterUrl(nodes, username, password, CLUSTER_SCHEMES[scheme.lower()])


#: what CELERY_BROKER_URL may name: one Redis server (kombu's Redis transport, hardened by
#: worker/broker.py) or RabbitMQ (kombu's amqp transport)
BROKER_SCHEMES: Final = frozenset(
    {"redis", "rediss", "unix", "redis+socket", "amqp", "amqps", "pyamqp"}
)


def check_redis_url(value: str | None) -> str | None:
    """Settings' check of ``REDIS_URL``: a cluster URL must parse (errors never quote it)."""
    if value is not None and is_cluster_url(value):
        parse_cluster_url(value)
    return value


def check_broker_url(value: str | None, info: ValidationInfo) -> str | None:
    """Settings' check of ``CELERY_BROKER_URL``: never a Redis Cluster, a known scheme, and
    given whenever ``REDIS_URL`` names a cluster (validated after it)."""
    if value is None:
        data = info.data.get("redis_url")
        if isinstance(data, str) and is_cluster_url(data):
            raise ValueError(
                "REDIS_URL names a Redis Cluster, which cannot carry Celery's broker: set "
                "CELERY_BROKER_URL to one plain Redis or RabbitMQ (amqp://)"
            )
        return value
    if is_cluster_url(value):
        raise ValueError(
            "the Celery broker cannot be a Redis Cluster (kombu has no cluster transport): "
            "give one plain Redis (redis://, rediss://, unix://) or RabbitMQ (amqp://)"
        )
    if value.split("://", 1)[0].lower() not in BROKER_SCHEMES or "://" not in value:
        raise ValueError("not a broker URL: redis://, rediss://, unix:// or amqp:// expected")
    return value


#: settings' field types (``worker.settings``)
RedisUrl = Annotated[str | None, AfterValidator(check_redis_url)]
BrokerUrl = Annotated[str | None, AfterValidator(check_broker_url)]


class _ClusterClient(RedisCluster):
    """redis-py's cluster client, resolving the keys of commands whose keys move (``XREADGROUP``,
    ``XREAD``: the ingest claim) without asking a server.

    redis-py asks its *default node* (``COMMAND GETKEYS``) for them, before and outside its
    retry loop: with that node's master down, every claim of every destination failed, not only
    those of the dead master's slots (found by tests/worker/test_cluster_store.py). Any other
    such command falls back to another node when the default one does not answer.
    """

    def _get_command_keys(self, *args: Any) -> Any:
        name = _word(args[0]) if args else ""
        if name in ("XREADGROUP", "XREAD"):
            words = [_word(a) for a in args]
            if "STREAMS" in words:
                rest = args[words.index("STREAMS") + 1 :]
                return list(rest[: len(rest) // 2])
        try:
            return super()._get_command_keys(*args)  # type: ignore[no-untyped-call]
        except (redis.ConnectionError, redis.TimeoutError):
            self.replace_default_node()
            return super()._get_command_keys(*args)  # type: ignore[no-untyped-call]


def _word(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").upper()
    return str(value).upper()


def connect(url: str, **options: Any) -> redis.Redis:
    """A data Redis client for ``url`` (see the module's URL forms).

    ``options`` are redis-py connection options (``socket_timeout``,
    ``socket_connect_timeout``, ``decode_responses``...), valid for both client kinds.
    """
    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    spec = parse_cluster_url(url)
    client = _ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in spec.nodes],  # type: ignore[no-untyped-call]
        username=spec.username,
        password=spec.password,
        ssl=spec.ssl,
        # a master that is down or restarting: ask again, backing off (the slot map is read
        # again between attempts); the other masters' slots keep working meanwhile
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=5),
        require_full_coverage=False,
        **options,
    )
    return cast(redis.Redis, client)


def is_cluster(client: Any) -> bool:
    """Whether ``client`` (a client or a pipeline) talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def is_pipeline(client: Any) -> bool:
    """Whether ``client`` is a pipeline, of one server or of a cluster."""
    return isinstance(client, redis.client.Pipeline | ClusterPipeline)


def pool_id(client: Any) -> int:
    """A stable identity of the connections behind ``client``: its connection pool for one
    server, its nodes manager for a cluster (a pipeline shares its client's)."""
    if isinstance(client, RedisCluster):
        return id(client.nodes_manager)
    return id(client.connection_pool)


class Reachability:
    """Which cluster masters answer, each asked once (one ``PING``, no retries) per instance.

    A job that walks many destinations (beat's) skips the keys of a master that did not
    answer instead of paying the client's retries for every one of them: a host that vanished
    without resetting its connections costs a socket timeout per attempt, and a handful of
    destinations on it outlasted the job's time limit, so the other masters' were never
    reached. On one Redis every key counts as reachable (nothing is asked).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.answers: dict[str, bool] = {}

    def reaches(self, key: str) -> bool:
        if not is_cluster(self.client):
            return True
        try:
            node = self.client.get_node_from_key(key)
        except RedisClusterException:  # its slot is not served
            return False
        if node is None:
            return False
        if node.name not in self.answers:
            try:
                self.client.execute_command("PING", target_nodes=node)  # no retries
                self.answers[node.name] = True
            except (redis.RedisError, RedisClusterException) as exc:
                log.warning("master %s did not answer (%s): its keys wait for the next run",
                            node.name, type(exc).__name__)  # fmt: skip
                self.answers[node.name] = False
        return self.answers[node.name]
