"""Worker heartbeats, and ``masivo-tiktok health`` that turns one into an exit code.

The worker's main process writes a heartbeat at start and on every Celery event heartbeat
(about every 2 s): a small JSON file in ``data_dir`` (read by a liveness probe in the same
container, no network needed) and a Redis key with a TTL (read by ``status`` and metrics, to
count live workers across machines).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import redis

from worker.store import keys

__all__ = ["check_health", "live_workers", "write_heartbeat"]

HEARTBEAT_TTL_S = 60


def heartbeat_file(data_dir: Path) -> Path:
    return data_dir / "heartbeat.json"


def write_heartbeat(
    data_dir: Path, client: redis.Redis | None, hostname: str | None = None
) -> None:
    """Record that this worker is alive now (file first: it needs nothing else to work)."""
    name = hostname or socket.gethostname()
    beat = orjson.dumps({"hostname": name, "pid": os.getpid(), "at": time.time()})
    data_dir.mkdir(parents=True, exist_ok=True)
    path = heartbeat_file(data_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(beat)
    tmp.replace(path)
    if client is not None:
        # the file beat is what liveness reads; Redis trouble shows up elsewhere
        with contextlib.suppress(redis.RedisError):
            client.set(keys.heartbeat(name), beat, ex=HEARTBEAT_TTL_S)


def live_workers(client: redis.Redis) -> list[dict[str, Any]]:
    out = []
    for k in client.scan_iter(match=keys.HEARTBEAT_PREFIX + "*", count=500):
        raw = client.get(k)
        if raw is not None:
            out.append(orjson.loads(raw))
    return out


def check_health(data_dir: Path, max_age_s: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, one-line reason) from this container's heartbeat file."""
    path = heartbeat_file(data_dir)
    try:
        beat = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: the worker has not started"
    except (OSError, orjson.JSONDecodeError) as exc:
        return False, f"unreadable heartbeat {path}: {exc}"
    age = (now if now is not None else time.time()) - float(beat.get("at", 0))
    if age > max_age_s:
        return (
            False,
            f"last heartbeat {age:.0f}s ago (limit {max_age_s:.0f}s) from {beat.get('hostname')}",
        )
    return True, f"ok: heartbeat {age:.1f}s ago from {beat.get('hostname')} pid {beat.get('pid')}"
