"""Lua scripts, one file each, documented at their top (KEYS, ARGV, what they return).

A package so that package data ships them. :func:`script` reads one by name;
:class:`Script` registers one with a client, adding the ``allow-oom`` flag to the scripts
that move events forward: at ``maxmemory`` Redis refuses every write command of a script that
lacks it, and a full Redis must still be able to drain (deliver, free) what it holds. Flags
exist from Redis 7.0; on 6.2 the script runs unflagged (and can then not write under OOM).
"""

from __future__ import annotations

import threading
from functools import cache
from importlib import resources
from typing import Any

import redis

from worker.store.connection import is_cluster, is_pipeline, pool_id

__all__ = ["Script", "script"]

ALLOW_OOM = "#!lua flags=allow-oom\n"


@cache
def script(name: str) -> str:
    """The source of ``lua/<name>.lua``."""
    return resources.files(__name__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


_flags_by_pool: dict[int, bool] = {}
_flags_lock = threading.Lock()


def _server_knows_flags(client: redis.Redis) -> bool:
    """Whether the server accepts script flags (Redis >= 7); asked once per connection pool."""
    pool = pool_id(client)
    known = _flags_by_pool.get(pool)
    if known is None:
        info: Any = client.info("server")  # a cluster client asks one node (all alike)
        version = str(info.get("redis_version", "0"))
        known = int(version.split(".", 1)[0] or 0) >= 7
        with _flags_lock:
            _flags_by_pool[pool] = known
    return known


class Script:
    """A registered script; resolved (and its server's flag support read) on first call."""

    def __init__(self, client: redis.Redis, name: str, *, allow_oom: bool = False) -> None:
        self.client = client
        self.name = name
        self.allow_oom = allow_oom
        self._registered: Any = None

    def __call__(self, keys: list[Any], args: list[Any], client: Any = None) -> Any:
        if self._registered is None:
            source = script(self.name)
            if self.allow_oom and _server_knows_flags(self.client):
                source = ALLOW_OOM + source
            self._registered = self.client.register_script(source)
        if is_cluster(client if client is not None else self.client):
            return self._call_on_cluster(keys, args, client)
        return self._registered(keys=keys, args=args, client=client)

    def _call_on_cluster(self, keys: list[Any], args: list[Any], client: Any) -> Any:
        """On a Redis Cluster the script runs on the node of its keys' slot (every script is
        single-slot). A node that does not know it (a master restarted since, or never asked)
        gets it by ``EVAL``, which caches it there: redis-py's own fallback, ``SCRIPT LOAD``
        on every master, fails while any master is down. A cluster pipeline cannot recover
        from ``NOSCRIPT`` at execution, so in a pipeline the script always goes by ``EVAL``."""
        source = self._registered.script
        if is_pipeline(client):  # (ClusterPipeline.eval is a stub: the command itself)
            return client.execute_command("EVAL", source, len(keys), *keys, *args)
        target = client if client is not None else self.client
        try:
            return target.evalsha(self._registered.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return target.eval(source, len(keys), *keys, *args)
