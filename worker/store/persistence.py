"""What each data Redis promises about the events it acknowledged, read from the server.

Every queued event lives only in Redis, so Redis' persistence decides what a Redis crash
loses, and it is configured outside this program. Three settings matter:

* **AOF off**: whatever was acknowledged since the last snapshot dies with the process.
* **``appendfsync everysec``**: Redis answers before the data is on disk, and while a
  background ``fsync`` is still running (a busy or slow disk) it also postpones *writing* its
  AOF buffer, for up to two seconds, still answering clients. A ``kill -9`` or an OOM kill in
  that window loses writes it had acknowledged (two seconds of its clock, which counts whole
  seconds: up to three in real time). Redis counts only the postponements that ran
  the whole two seconds (``aof_delayed_fsync``, with "Asynchronous AOF fsync is taking too
  long" in its log); shorter ones leave no trace, so the counter shows a disk that cannot keep
  up, not every window. A machine crash loses up to about a second of writes more.
* **``appendfsync always``**: every write is written and fsynced before the reply leaves
  (``flushAppendOnlyFile`` runs before the replies in Redis' event loop): nothing acknowledged
  is lost by a crash of the process or of the machine. The shipped configurations use it;
  ``bench/durability.py`` measures its cost.

The readings feed the exporter (``masivo_tiktok_redis_durable`` and its neighbours) and one
warning per worker at start-up, so a Redis that cannot keep the promise is visible before it is
tested by a crash.
``CONFIG GET`` is refused by some managed services; the policy is then ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from worker.store.connection import is_cluster

__all__ = ["Persistence", "read_persistence"]


@dataclass(frozen=True, slots=True)
class Persistence:
    """One data server's persistence (every master of a cluster)."""

    #: ``host:port`` on a cluster, ``""`` for the one server
    node: str
    #: ``INFO persistence`` ``aof_enabled``
    aof: bool
    #: ``appendfsync`` from ``CONFIG GET``: ``always``, ``everysec``, ``no`` or ``unknown``
    fsync: str
    #: ``aof_delayed_fsync``: AOF writes Redis postponed for the whole 2 s grace (answering
    #: clients meanwhile; shorter postponements are not counted); since the server started
    delayed_fsync: int
    #: False under ``no-appendfsync-on-rewrite yes``: no fsync while an AOF rewrite or an RDB
    #: save runs (``unknown`` policies read as True: the policy's own risk is reported)
    fsync_on_rewrite: bool = True

    @property
    def risk(self) -> str | None:
        """What a crash of this server may lose that a producer was told was accepted, or
        ``None`` when nothing (``appendonly yes`` with ``appendfsync always``)."""
        where = f"Redis {self.node}" if self.node else "Redis"
        if not self.aof:
            return (
                f"{where} runs without AOF (appendonly no): a restart loses every event "
                "acknowledged since its last snapshot"
            )
        if self.fsync == "always":
            if self.fsync_on_rewrite:
                return None
            return (
                f"{where} runs appendfsync always with no-appendfsync-on-rewrite yes: while it "
                "rewrites its AOF or saves a snapshot it skips fsync, and a machine crash then "
                "loses acknowledged events"
            )
        if self.fsync == "unknown":
            return (
                f"{where}: appendfsync unreadable (CONFIG GET refused); unless it is 'always', "
                "a crash may lose recently acknowledged events"
            )
        if self.fsync == "no":
            return (
                f"{where} runs appendfsync no: the OS writes to disk when it likes, and a "
                "machine crash loses up to ~30 s of acknowledged events (appendfsync always "
                "keeps them; docs/reliability.md)"
            )
        return (
            f"{where} runs appendfsync {self.fsync}: a crash while its disk is busy loses up "
            "to ~2-3 s of acknowledged events (appendfsync always keeps them; "
            "docs/reliability.md)"
        )


def read_persistence(client: Any) -> list[Persistence]:
    """One reading per data server: the server, or each reachable master of a cluster (a
    master that does not answer is left out: its destinations already fail on their own)."""
    if not is_cluster(client):
        return [_reading("", client)]
    found = []
    for node in client.get_primaries():
        try:
            found.append(_reading(str(node.name), node.redis_connection))
        except (redis.RedisError, OSError):
            continue
    return found


def _reading(name: str, server: redis.Redis) -> Persistence:
    info: Any = server.info("persistence")
    config = _config(server)
    return Persistence(
        node=name,
        aof=bool(int(info.get("aof_enabled", 0))),
        fsync=config.get("appendfsync") or "unknown",
        delayed_fsync=int(info.get("aof_delayed_fsync", 0)),
        fsync_on_rewrite=config.get("no-appendfsync-on-rewrite", "no") != "yes",
    )


def _config(server: redis.Redis) -> dict[str, str]:
    """``appendfsync`` and ``no-appendfsync-on-rewrite`` (one ``CONFIG GET`` pattern); empty
    where ``CONFIG`` is disabled or renamed (managed services)."""
    try:
        found: Any = server.config_get("*appendfsync*")
    except redis.ResponseError:
        return {}
    return {_text(k): _text(v) for k, v in (found or {}).items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def risks(readings: list[Persistence]) -> Iterator[str]:
    """The risk of each server that has one."""
    for reading in readings:
        if reading.risk is not None:
            yield reading.risk
