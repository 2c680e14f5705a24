"""The emulator's own per-pixel rate limit (separate from the worker's limiter on purpose).

Why a sliding window of *events*: TikTok documents 1,000 QPS per endpoint without saying how
it counts, and the worker budgets events, so the emulator checks the strictest reading we can
think of: a pixel may have at most ``rate`` events accepted in *every* one-second window,
``(now - 1 s, now]``, whatever their pattern. (Until issue 12 it was a token bucket of
``max(rate, 1000)`` tokens, which let a pixel limited to 100/s take 1,000 events at once and
up to twice its rate in one second: it could not tell a worker that held its limit per second
from one that did not.) A request that would take the window past ``rate`` is refused as a
whole and counts for nothing -- TikTok does not half-accept a batch; so a request of more than
``rate`` events is never accepted (the worker never sends one: half of its per-second burst at
most, see ``worker/store/ratelimit.py``). Not thread-safe by itself: the caller
(``TrackService``) holds its lock.
"""

from __future__ import annotations

from collections import deque

__all__ = ["WINDOW_S", "PixelBuckets", "SlidingWindow"]

#: the window in which at most ``rate`` events are accepted, in seconds
WINDOW_S = 1.0


class SlidingWindow:
    """At most ``rate`` events accepted in any window of ``WINDOW_S``; ``now`` is explicit."""

    __slots__ = ("_accepted", "_limit", "_used")

    def __init__(self, rate: float) -> None:
        self._limit = rate * WINDOW_S
        self._accepted: deque[tuple[float, int]] = deque()  # (time, events), oldest first
        self._used = 0

    def try_take(self, count: int, now: float) -> bool:
        """Accept ``count`` events now if the window has room for all; else accept none."""
        accepted = self._accepted
        while accepted and accepted[0][0] <= now - WINDOW_S:
            self._used -= accepted.popleft()[1]
        if self._used + count > self._limit:
            return False
        accepted.append((now, count))
        self._used += count
        return True


class PixelBuckets:
    """One window per pixel code, empty on first use; ``rate <= 0`` disables limiting."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._buckets: dict[str, SlidingWindow] = {}

    def try_take(self, pixel: str, count: int, now: float) -> bool:
        """True when the pixel may send ``count`` events now."""
        if self._rate <= 0:
            return True
        bucket = self._buckets.get(pixel)
        if bucket is None:
            bucket = self._buckets[pixel] = SlidingWindow(self._rate)
        return bucket.try_take(count, now)

    def clear(self) -> None:
        """Forget all windows (they come back empty)."""
        self._buckets.clear()
