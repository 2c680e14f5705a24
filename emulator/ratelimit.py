"""The emulator's own per-pixel token bucket (separate from the worker's limiter on purpose).

Why a token bucket in *events* per second: TikTok documents 1,000 QPS per endpoint, and the
worker budgets events, so the emulator checks the stricter reading. The bucket holds
``max(rate, 1000)`` tokens, i.e. one full 1,000-event batch may always go through at once, and
refills continuously at ``rate`` tokens/s. A request needing more tokens than are available is
refused as a whole and consumes nothing -- TikTok does not half-accept a batch. Not thread-safe
by itself: the caller (``TrackService``) holds its lock.
"""

from __future__ import annotations

__all__ = ["PixelBuckets", "TokenBucket"]

BATCH_BURST = 1000.0


class TokenBucket:
    """A classic token bucket driven by an explicit ``now`` (no clock reads inside)."""

    __slots__ = ("_capacity", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, now: float) -> None:
        self._rate = rate
        self._capacity = max(rate, BATCH_BURST)
        self._tokens = self._capacity
        self._updated = now

    def try_take(self, count: int, now: float) -> bool:
        """Take ``count`` tokens if all are available; otherwise take none and return False."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._updated = now
        if count > self._tokens:
            return False
        self._tokens -= count
        return True


class PixelBuckets:
    """One bucket per pixel code, created full on first use; ``rate <= 0`` disables limiting."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._buckets: dict[str, TokenBucket] = {}

    def try_take(self, pixel: str, count: int, now: float) -> bool:
        """True when the pixel may send ``count`` events now."""
        if self._rate <= 0:
            return True
        bucket = self._buckets.get(pixel)
        if bucket is None:
            bucket = self._buckets[pixel] = TokenBucket(self._rate, now)
        return bucket.try_take(count, now)

    def clear(self) -> None:
        """Forget all buckets (they come back full)."""
        self._buckets.clear()
