"""Coalescing flags: at most one pending flush (``armed``) and one pending doorbell (``rung``)
per destination. Set by an allow-oom script: at ``maxmemory`` Redis refuses a plain ``SET``,
and the work these flags schedule is exactly what frees memory."""

from __future__ import annotations

import redis

from worker.store import keys
from worker.store.lua import Script

__all__ = ["Flags"]


class Flags:
    def __init__(self, client: redis.Redis) -> None:
        self.r = client
        self._set = Script(client, "flag_set", allow_oom=True)

    def _raise(
        self, key: str, ttl_ms: int, due_ms: int | None = None, sooner: bool = False
    ) -> bool:
        args: list[object] = [ttl_ms]
        if due_ms is not None:
            args += [due_ms, "sooner" if sooner else ""]
        return bool(self._set(keys=[key], args=args))

    def arm(
        self, destination: str, ttl_ms: int, due_ms: int | None = None, *, sooner: bool = False
    ) -> bool:
        """Mark a flush of ``destination``, due at ``due_ms`` (unix ms), as scheduled; False if
        one already is -- with ``sooner``, only if that one is due no later."""
        return self._raise(keys.armed(destination), ttl_ms, due_ms, sooner)

    def disarm(self, destination: str) -> None:
        self.r.delete(keys.armed(destination))

    def ring(self, destination: str, ttl_ms: int) -> bool:
        """Mark an ingest doorbell of ``destination`` as pending; False if one already is."""
        return self._raise(keys.rung(destination), ttl_ms)

    def unring(self, destination: str) -> None:
        self.r.delete(keys.rung(destination))
