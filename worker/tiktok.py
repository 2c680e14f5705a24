"""The TikTok Events API client: the one boundary where foreign errors become ours.

TikTok answers API errors with HTTP 200 and a non-zero JSON ``code`` (API notes §6), so
success is HTTP 2xx **and** ``code == 0``. Everything else is translated here, and only here,
into the taxonomy of :mod:`worker.errors`:

=============================  ====================================================
what came back                 raised
=============================  ====================================================
2xx + code 0 (or 20001)        nothing: :class:`Accepted` is returned
code 40100, HTTP 429           :class:`~worker.errors.RateLimited`
HTTP 5xx, 408, timeouts,       :class:`~worker.errors.Retryable`
network errors, unknown codes
code 40002                     :class:`~worker.errors.Invalid` (``event_index`` when the
                               message names ``data.N``)
code 40002 naming a top-level  :class:`~worker.errors.Misconfigured` (the request itself:
field and no ``data.N``;       pixel / ``event_source_id``, ``event_source``,
HTTP 400 no code explains      ``test_event_code``, ``partner_name``)
code 40001 / 40105, 401, 403   :class:`~worker.errors.AuthFailed`
=============================  ====================================================

and what went wrong before an answer came:

=============================  ====================================================
a token that is no HTTP        :class:`~worker.errors.Misconfigured`, before any request
header value; the request      (every request of the destination would fail alike:
cannot be built (encoding,     pause it, keep its events)
local protocol errors), an
unusable API URL
timeouts, connection, read,    :class:`~worker.errors.Retryable`
write, remote protocol and
other httpx errors; anything
else raised while sending
=============================  ====================================================

Nothing escapes :meth:`TikTokClient.send_raw` but a :class:`~worker.errors.DeliveryError`:
tasks never catch ``httpx.*``. The access token travels only in the ``Access-Token`` header;
it is never part of a message, a log line or an exception built here: messages are made of
exception *types* and fixed words, causes that may quote the token (an encoding error holds
the string it failed on, h11 quotes the header it refused) are not chained, and a message
TikTok sends back is stripped of the token should it ever echo it.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import h11
import httpcore
import httpx
import orjson
from pydantic import SecretStr

from worker.errors import (
    AuthFailed,
    DeliveryError,
    Invalid,
    Misconfigured,
    RateLimited,
    Retryable,
    Timeout,
)

__all__ = [
    "API_VERSION",
    "TRACK_PATH",
    "Accepted",
    "TikTokClient",
    "build_body",
    "classify",
]

log = logging.getLogger(__name__)

API_VERSION = "v1.3"
TRACK_PATH = f"/open_api/{API_VERSION}/event/track/"
EVENT_INDEX_RE = re.compile(r"\bdata\.(\d+)\b")
#: fields of the request's top level, the same in every request of a destination: a 40002
#: naming one (``event_source_id: ...``, ``Invalid value for event_source_id``, a pixel) can
#: never be cured by sending other events. ``data`` is not one: its length is the batch's.
TOP_LEVEL_FIELD_RE = re.compile(
    r"(?<![\w.])(event_source_id|event_source|test_event_code|partner_name|pixel_code|pixel)"
    r"(?![\w.])",
    re.IGNORECASE,
)
#: what an HTTP header value may hold (RFC 9110 field-vchar, ASCII only; no spaces)
HEADER_VALUE_RE = re.compile(r"[!-~]+")
#: errors that mean the request could not be put on the wire as built (and never will be)
_UNBUILDABLE = (
    UnicodeError,
    httpx.LocalProtocolError,
    httpcore.LocalProtocolError,
    h11.LocalProtocolError,
)
_AUTH_CODES = frozenset({40001, 40105})
_SUCCESS_CODES = frozenset({0, 20001})


@dataclass(frozen=True, slots=True)
class Accepted:
    """TikTok took the whole request."""

    request_id: str | None
    code: int
    message: str


def build_body(
    pixel_code: str,
    events: Sequence[dict[str, Any]],
    test_event_code: str | None,
    partner_name: str | None,
) -> dict[str, Any]:
    """The Events API 2.0 request body for one pixel and one test code."""
    body: dict[str, Any] = {"event_source": "web", "event_source_id": pixel_code}
    if test_event_code:
        body["test_event_code"] = test_event_code
    if partner_name:
        body["partner_name"] = partner_name
    body["data"] = list(events)
    return body


def _event_index(message: str) -> int | None:
    match = EVENT_INDEX_RE.search(message)
    return int(match.group(1)) if match else None


def classify(status: int, content: bytes) -> Accepted:
    """Turn an HTTP status and body into :class:`Accepted` or raise a :class:`DeliveryError`."""
    envelope: Any
    try:
        envelope = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        envelope = None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), int):
        _raise_for_status(status)
        raise Retryable(f"HTTP {status} without a TikTok envelope", http_status=status)
    code: int = envelope["code"]
    message = str(envelope.get("message") or "")
    request_id = envelope.get("request_id")
    request_id = str(request_id) if request_id is not None else None
    meta: dict[str, Any] = {"http_status": status, "code": code, "request_id": request_id}
    if 200 <= status < 300 and code in _SUCCESS_CODES:
        if code != 0:
            log.warning("TikTok accepted with code %s: %s", code, message)
        return Accepted(request_id=request_id, code=code, message=message)
    if code == 40100:
        raise RateLimited(message or "rate limited", **meta)
    if code in _AUTH_CODES:
        raise AuthFailed(message or "access token refused", **meta)
    if code == 40002:
        index = _event_index(message)
        if index is None and TOP_LEVEL_FIELD_RE.search(message):
            raise Misconfigured(message, **meta)
        raise Invalid(message or "invalid request", event_index=index, **meta)
    if status >= 300:
        _raise_for_status(status, message, meta)
    raise Retryable(f"unexpected TikTok code {code}: {message}", **meta)


def _raise_for_status(status: int, message: str = "", meta: dict[str, Any] | None = None) -> None:
    meta = meta or {"http_status": status}
    text = message or f"HTTP {status}"
    if status in (401, 403):
        raise AuthFailed(text, **meta)
    if status == 429:
        raise RateLimited(text, **meta)
    if status == 400:
        # TikTok answers its own refusals with a code; a bare 400 comes from whatever sits at
        # the API URL (a proxy, a wrong host) and refuses every request alike.
        raise Misconfigured(message or "HTTP 400 without a TikTok answer", **meta)
    if status >= 500 or status == 408:
        raise Retryable(text, **meta)
    if status >= 300:
        # 404 / other 4xx without a TikTok code: a wrong base URL or a proxy, not a bad event.
        raise Retryable(f"unexpected HTTP {status}", **meta)


class TikTokClient:
    """One long-lived ``httpx.Client`` per worker process, with explicit timeouts."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        partner_name: str | None = "Masivo",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.partner_name = partner_name
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            headers={"Content-Type": "application/json", "User-Agent": "masivo-tiktok/0.1"},
            transport=transport,
        )

    def send(
        self,
        pixel_code: str,
        access_token: SecretStr,
        events: Sequence[dict[str, Any]],
        test_event_code: str | None = None,
    ) -> Accepted:
        """POST one batch of event dicts; see :meth:`send_raw`."""
        raw = [orjson.dumps(e) for e in events]
        return self.send_raw(pixel_code, access_token, raw, test_event_code)

    def send_raw(
        self,
        pixel_code: str,
        access_token: SecretStr,
        events: Sequence[bytes],
        test_event_code: str | None = None,
    ) -> Accepted:
        """POST one batch of events already encoded as JSON; :class:`Accepted` or a raise.

        Returning means TikTok accepted every event of the request (it validates whole
        requests); a refusal names at most one offending event (``Invalid.event_index``).
        """
        token = access_token.get_secret_value()
        if not HEADER_VALUE_RE.fullmatch(token):
            # settings refuse such tokens; one that got here anyway must not reach httpx
            raise Misconfigured(
                "the access token is not a valid HTTP header value (visible ASCII only); "
                "no request was sent: fix the destination's access_token"
            )
        # Every failure is classified below. No httpx error is chained: each holds its request
        # (``exc.request``) and with it the Access-Token header, and a chained cause reaches
        # log formatters and Sentry with its frames. Messages keep the safe facts: the type
        # and an OS error code (:func:`_facts`).
        try:
            head = orjson.dumps(build_body(pixel_code, [], test_event_code, self.partner_name))
            body = _splice(head, events)
            response = self._http.post(TRACK_PATH, content=body, headers={"Access-Token": token})
        except DeliveryError:
            raise  # a transport of ours (tests) already speaks the taxonomy
        except _UNBUILDABLE as exc:
            # not chained: these quote the value they refused, which may be the token
            raise Misconfigured(f"the request could not be built ({_facts(exc)})") from None
        except orjson.JSONEncodeError as exc:
            # the pixel code, test code or partner name is no JSON string; the token is in
            # no part of the body, so the cause is safe to keep
            raise Misconfigured(f"the request body could not be encoded ({_facts(exc)})") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            # not chained: the request (and its token) rides on the httpx error
            raise Misconfigured(f"the TikTok API URL is not usable ({_facts(exc)})") from None
        except httpx.TimeoutException as exc:
            # not chained: the request (and its token) rides on the httpx error
            raise Timeout(f"timeout talking to TikTok ({_facts(exc)})") from None
        except httpx.TransportError as exc:
            # not chained: the request (and its token) rides on the httpx error
            raise Retryable(f"network error talking to TikTok ({_facts(exc)})") from None
        except httpx.HTTPError as exc:
            # decoding the answer, redirects: worth another try. Not chained: the request
            # (and its token) rides on the httpx error
            raise Retryable(f"error talking to TikTok ({_facts(exc)})") from None
        except Exception as exc:
            # not chained: an unknown error may quote the request it failed on (its headers)
            raise Retryable(f"unexpected error sending to TikTok ({_facts(exc)})") from None
        try:
            return classify(response.status_code, response.content)
        except DeliveryError as exc:
            _strip(exc, token)
            raise

    def close(self) -> None:
        self._http.close()


def _splice(head: bytes, events: Sequence[bytes]) -> bytes:
    """``head[:-2] + b",".join(events) + b"]}"`` (``head`` ends with ``"data":[]}``) in one
    copy of the events' bytes, not three: a request carries ~800 kB of them."""
    if not events:
        return head
    parts = list(events)
    parts[0] = head[:-2] + parts[0]
    parts[-1] += b"]}"
    return b",".join(parts)


def _facts(exc: BaseException) -> str:
    """What can be said of ``exc`` without quoting it: its type and an OS error code below it.

    The text of a foreign exception may hold anything it was given, the token included.
    """
    facts = type(exc).__name__
    seen: BaseException | None = exc
    for _ in range(8):  # causes can form a cycle
        if seen is None or isinstance(seen, OSError):
            break
        seen = seen.__cause__ or seen.__context__
    if isinstance(seen, OSError) and seen.errno is not None and seen.errno in errno.errorcode:
        facts += f": {errno.errorcode[seen.errno]}"
    return facts


def _strip(error: DeliveryError, secret: str) -> None:
    """Remove ``secret`` from ``error``'s message, should TikTok ever echo it back."""
    if secret and secret in error.message:
        error.message = error.message.replace(secret, "[redacted]")
        error.args = (error.message,)


def describe(error: DeliveryError) -> str:
    """A log-safe one-liner (no token can be in any of these fields)."""
    parts = [error.kind, error.message]
    if error.code is not None:
        parts.append(f"code={error.code}")
    if error.http_status is not None:
        parts.append(f"http={error.http_status}")
    if error.request_id:
        parts.append(f"request_id={error.request_id}")
    return " ".join(parts)
