"""Pausing a destination: its events stay queued, none are sent, none are dead-lettered.

A destination is paused automatically when TikTok refuses its token (40001 / 40105: kind
``auth``) and by operators (``masivo-tiktok pause``: kind ``operator``). Beat's auth probe
resumes an ``auth`` pause as soon as the token works again; an ``operator`` pause waits for
``masivo-tiktok resume``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson
import redis

from worker.store import keys

__all__ = ["PauseKind", "is_paused", "pause", "paused_info", "resume"]


class PauseKind(StrEnum):
    """Why a destination is paused: ``kind`` in ``mtt:{d}:paused``."""

    #: TikTok refused the access token (40001 / 40105)
    AUTH = "auth"
    #: ``masivo-tiktok pause``
    OPERATOR = "operator"


def pause(
    client: redis.Redis,
    destination: str,
    kind: PauseKind | str,
    reason: str,
    now: float,
    **extra: Any,
) -> bool:
    """Pause; returns True when this call paused it (False: it already was).

    ``kind`` must be a :class:`PauseKind` value (ValueError otherwise).
    """
    info = {"kind": PauseKind(kind).value, "reason": reason, "since": now, **extra}
    return bool(client.set(keys.paused(destination), orjson.dumps(info), nx=True))


def resume(client: redis.Redis, destination: str) -> bool:
    return bool(client.delete(keys.paused(destination)))


def paused_info(client: redis.Redis, destination: str) -> dict[str, Any] | None:
    raw = client.get(keys.paused(destination))
    if raw is None:
        return None
    info: dict[str, Any] = orjson.loads(raw)
    return info


def is_paused(client: redis.Redis, destination: str) -> bool:
    return bool(client.exists(keys.paused(destination)))
