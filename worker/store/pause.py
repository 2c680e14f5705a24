"""Pausing a destination: its events stay queued, none are sent, none are dead-lettered.

A destination is paused automatically when TikTok refuses its token (40001 / 40105: kind
``auth``) or the request itself (its pixel / ``event_source_id`` or another top-level field,
or an HTTP 400 no TikTok code explains: kind ``config``), and by operators (``masivo-tiktok
pause``: kind ``operator``). Beat's probe resumes an ``auth`` or ``config`` pause as soon as
TikTok accepts the destination's events again; an ``operator`` pause waits for ``masivo-tiktok
resume``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

import orjson
import redis

from worker.store import keys

__all__ = ["PROBED", "PauseKind", "is_paused", "pause", "paused_info", "resume"]


class PauseKind(StrEnum):
    """Why a destination is paused: ``kind`` in ``mtt:{d}:paused``."""

    #: TikTok refused the access token (40001 / 40105)
    AUTH = "auth"
    #: TikTok refused the request itself: the pixel, another top-level field, a bare HTTP 400
    CONFIG = "config"
    #: ``masivo-tiktok pause``
    OPERATOR = "operator"


#: the kinds beat's probe tries to lift (one real request; resumed when it is accepted)
PROBED: Final = frozenset({PauseKind.AUTH, PauseKind.CONFIG})


def pause(
    client: redis.Redis,
    destination: str,
    kind: PauseKind | str,
    reason: str,
    now: float,
    **extra: Any,
) -> bool:
    """Pause; True when this call paused it, or changed why (log it, report it).

    False: it already was paused for this kind, or by an operator. An automatic pause (a
    :data:`PROBED` kind) whose cause changed - the fixed token met a wrong pixel - takes the new
    kind and reason, so ``status`` shows what to fix now; an operator's pause is never touched.
    ``kind`` must be a :class:`PauseKind` value (ValueError otherwise).
    """
    kind = PauseKind(kind)
    key = keys.paused(destination)
    info = orjson.dumps({"kind": kind.value, "reason": reason, "since": now, **extra})
    if client.set(key, info, nx=True):
        return True
    if kind not in PROBED:
        return False
    with client.pipeline(transaction=True) as pipe:
        try:
            pipe.watch(key)  # type: ignore[no-untyped-call]
            was = _kind(pipe.get(key))
            if was == kind or was not in PROBED:
                return False  # the same cause, an operator's pause, or resumed meanwhile
            pipe.multi()
            pipe.set(key, info)
            pipe.execute()
        except redis.WatchError:
            return False  # changed meanwhile: whoever changed it decided
    return True


def _kind(raw: Any) -> str | None:
    try:
        info = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:
        return None
    return str(info.get("kind")) if isinstance(info, dict) else None


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
