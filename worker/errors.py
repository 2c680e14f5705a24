"""The error taxonomy: one meaning per branch, decided at one boundary.

::

    DeliveryError                 anything the pipeline knows how to handle
    ├── Retryable                 transient: 5xx, timeouts, network errors, unknown codes
    │   └── RateLimited           TikTok 40100: slow the destination's bucket down
    ├── Invalid                   TikTok 40002: the payload is wrong; bisect the batch
    ├── AuthFailed                TikTok 40001 / 40105: pause the destination
    └── Misconfigured             the request refused (its pixel, HTTP 400) or unsendable
                                  (a token that is no header value): pause
    ConfigError                   bad settings or usage; the CLI exits 2 with one line

The TikTok client (``worker.tiktok``) is the only place that turns httpx exceptions, HTTP
statuses and TikTok's JSON ``code`` into these; whatever else is raised while a request is
built or sent becomes one of them there too (an unknown error: ``Retryable``). Outside that
boundary, anything else (a ``KeyError``) is a bug and is not retried. No message here ever
carries an access token.
"""

from __future__ import annotations

__all__ = [
    "AuthFailed",
    "ConfigError",
    "DeliveryError",
    "Invalid",
    "Misconfigured",
    "RateLimited",
    "Retryable",
    "Timeout",
]


class ConfigError(Exception):
    """Settings or command-line usage that cannot work; the message names the field."""


class DeliveryError(Exception):
    """Base of every outcome of a delivery attempt that is not success."""

    #: what went wrong, in one word; an exhausted batch's dead letters take it as their reason
    #: (a dead letter's *category* is another vocabulary: ``worker.store.deadletter.Category``)
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.request_id = request_id


class Retryable(DeliveryError):
    """Worth trying again later; ``retry_after`` is a hint in seconds, if the cause gave one."""

    kind = "retryable"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        http_status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code, request_id=request_id)
        self.retry_after = retry_after


class Timeout(Retryable):
    """No answer in time: TikTok may still have accepted the events (retries dedupe)."""

    kind = "timeout"


class RateLimited(Retryable):
    """TikTok said 40100: too many requests for this token or pixel."""

    kind = "rate_limited"


class Invalid(DeliveryError):
    """TikTok refused the request as invalid (40002); the same body will never succeed."""

    kind = "invalid"

    def __init__(
        self,
        message: str,
        *,
        event_index: int | None = None,
        http_status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code, request_id=request_id)
        #: the index in ``data[]`` TikTok named as the culprit, when it named one
        self.event_index = event_index


class AuthFailed(DeliveryError):
    """The token is wrong, revoked (40105) or lacks permission on the pixel (40001)."""

    kind = "auth"


class Misconfigured(DeliveryError):
    """TikTok refused the request itself, not an event in it: nothing queued can succeed.

    A 40002 naming a top-level field (the pixel / ``event_source_id``, ``event_source``,
    ``test_event_code``, ``partner_name``) and no ``data.N`` event, or an HTTP 400 that no
    TikTok code explains (a proxy, a wrong API URL). Also a request that cannot be sent at
    all: an access token that is no HTTP header value, an unusable API URL (then no request
    was sent). Every request of the destination carries the same top level and token, so the
    destination is paused, its events kept.
    """

    kind = "config"
