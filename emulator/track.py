"""The ``/event/track/`` decision, free of HTTP: token, JSON, validation, permission, rate limit.

Order of checks (mirrors what a gateway then a service would do): missing/unknown token ->
40105; body not JSON or bad envelope -> 40002; a pixel the ``bad_source`` fault names -> 40002
"Invalid value for event_source_id"; token not allowed on the pixel -> 40001; any bad
event -> 40002 (whole request); per-pixel bucket short of tokens -> 40100 (nothing consumed);
else code 0 and every event is recorded. Only valid requests consume rate-limit tokens.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import orjson

from emulator.config import EmulatorConfig
from emulator.ratelimit import PixelBuckets
from emulator.state import EmulatorState
from emulator.validation import InvalidRequestError, validate_envelope, validate_events

__all__ = [
    "CODE_INVALID",
    "CODE_NO_PERMISSION",
    "CODE_OK",
    "CODE_RATE_LIMITED",
    "CODE_TOKEN",
    "TrackResult",
    "TrackService",
]

CODE_OK = 0
CODE_NO_PERMISSION = 40001
CODE_INVALID = 40002
CODE_RATE_LIMITED = 40100
CODE_TOKEN = 40105
MSG_TOKEN = "Access token is incorrect or has been revoked."  # noqa: S105
MSG_RATE_LIMITED = "Too many requests. Please retry in some time."
MSG_BAD_SOURCE = "Invalid value for event_source_id: no pixel {pixel} was found."
MSG_NO_PERMISSION = (
    "No permission to operate pixel code: {pixel}. "
    "You must be an admin or operator of this advertiser account."
)


@dataclass(frozen=True, slots=True)
class TrackResult:
    """The JSON envelope TikTok answers with (always HTTP 200)."""

    code: int
    message: str
    request_id: str

    def body(self) -> bytes:
        """Serialised ``{code, message, request_id, data: {}}``."""
        return orjson.dumps(
            {"code": self.code, "message": self.message, "request_id": self.request_id, "data": {}}
        )


class TrackService:
    """Stateful handler for track requests; safe to call from several threads."""

    def __init__(self, config: EmulatorConfig, state: EmulatorState) -> None:
        self._config = config
        self._state = state
        self._credentials: Mapping[str, frozenset[str]] | None = config.credentials or None
        self._lock = threading.Lock()
        self._buckets = PixelBuckets(config.rate_limit)
        self._ids = random.Random(config.seed)

    def reset(self) -> None:
        """Refill every bucket and restart the request-id sequence."""
        with self._lock:
            self._buckets.clear()
            self._ids = random.Random(self._config.seed)

    def request_id(self, now: float) -> str:
        """``YYYYMMDDhhmmss`` (UTC) + 20 upper-case hex characters, like TikTok's."""
        with self._lock:
            suffix = self._ids.getrandbits(80)
        return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + f"{suffix:020X}"

    def refuse(
        self, code: int, message: str, now: float, pixel: str | None = None, events: int = 0
    ) -> TrackResult:
        """Build and record an API-level refusal."""
        result = TrackResult(code, message, self.request_id(now))
        self._state.record_refused(code, message, result.request_id, pixel, events, now)
        return result

    def handle(
        self, token: str | None, raw: bytes, now: float, bad_sources: Collection[str] = ()
    ) -> TrackResult:
        """Decide one request; see the module docstring for the order of checks.

        ``bad_sources``: pixels refused as unknown (the ``bad_source`` fault).
        """
        credentials = self._credentials
        if not token or (credentials is not None and token not in credentials):
            return self.refuse(CODE_TOKEN, MSG_TOKEN, now)
        try:
            request = validate_envelope(orjson.loads(raw))
        except orjson.JSONDecodeError:
            return self.refuse(CODE_INVALID, "Invalid request body: not valid JSON.", now)
        except InvalidRequestError as exc:
            return self.refuse(CODE_INVALID, exc.message, now)
        pixel, count = request.pixel, len(request.events)
        if pixel in bad_sources:
            self._state.record_fault("bad_source")
            return self.refuse(CODE_INVALID, MSG_BAD_SOURCE.format(pixel=pixel), now, pixel, count)
        if credentials is not None and pixel not in credentials[token]:
            return self.refuse(
                CODE_NO_PERMISSION, MSG_NO_PERMISSION.format(pixel=pixel), now, pixel, count
            )
        config = self._config
        try:
            validate_events(request.events, now, config.max_age_s, config.max_future_s)
        except InvalidRequestError as exc:
            return self.refuse(CODE_INVALID, exc.message, now, pixel, count)
        with self._lock:
            allowed = self._buckets.try_take(pixel, count, now)
        if not allowed:
            return self.refuse(CODE_RATE_LIMITED, MSG_RATE_LIMITED, now, pixel, count)
        result = TrackResult(CODE_OK, "OK", self.request_id(now))
        self._state.record_accepted(
            pixel, request.test_event_code, request.events, raw, result.request_id, now
        )
        return result
